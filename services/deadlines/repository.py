"""The deadlines service's records in Redis: the only code that knows their keys.

* ``deadline:clock:<id>``: the clock's state (JSON);
* ``deadline:schedule``: a sorted set, clock id → epoch ms of its next timer; adding,
  moving and taking the earliest are O(log n); a drainer claims the due ones by moving
  them a little later (``claim_due``), so drainers in several replicas share a burst;
* ``deadline:subject:<subject id>``: the clocks of a case, asset, dispute, ...;
* ``deadline:provisional``: clocks whose due time is an estimate (a year not loaded:
  weekends and the holidays fixed by date off);
* ``deadline:horizon-alerted``: years already reported as missing from the calendar;
* ``deadline:early-stop:<rule>:<subject>``: a stop read before its clock's start (kept for
  ``EARLY_STOP_TTL_S``);
* ``deadline:moves:<subject>``: a subject's moves to another court in the order applied
  (from, to, when made), kept as long as an early stop after the last;
* ``deadline:early-acts:<rule>:<subject>``: the pauses and resumes read before it (a hash
  by event id, kept as long after the last).

Every change of clocks is one MULTI/EXEC that WATCHes their keys (``change_clocks``, or the
consumer's transaction), with the events it causes staged in the same transaction. A batch of
saves may be queued as one script call (``ClockWrites``): the same writes, one command in the
transaction instead of four per clock (the cost of a burst of timers was the client's, per
command, not Redis's).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from services.deadlines.domain import ClockState, Status, Timer
from zhixing.state import KeySpace, as_text, watch_and_read

R = TypeVar("R")
Kept = tuple[str, str]  # (rule id, subject id): what is kept for a clock not started yet


class BatchIndex(NamedTuple):
    """What ``ClockStore.watch_and_read_batch`` read for a batch."""

    ids: set[str]  # the clocks of the subjects asked for
    alerted: set[int]  # the years already reported missing from the calendar
    early: dict[Kept, Any]  # the stops kept, by (rule, subject)
    acts: dict[Kept, list[Any]]  # the pauses and resumes kept, by (rule, subject)
    moves: dict[str, list[dict[str, str]]]  # the moves of the starts' moved subjects


EARLY_STOP_TTL_S = 7 * 24 * 3600
"""How long a stop that found no clock is kept for its start arriving late. Topics are not
ordered with each other (a query's completion, on the asset topic, can be read before the
filing that started its clock, on the case topic), so the engine keeps such a stop and
applies it when its clock opens, if the stop happened at or after the start."""


CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id)
end
return due
"""
"""``ClockStore.claim_due``: take the due clocks (at most ARGV[2], due by ARGV[1]) and move
them to ARGV[3], in one step."""
RELEASE_CLAIM = """
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[i])
  end
end
return 0
"""
"""``ClockStore.release_claim``: the clocks ARGV[3..] still at their claim's time ARGV[1]
(not saved since) are due again at ARGV[2]."""


def epoch_ms(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


# The writes of ``ClockStore.save`` for many clocks, in one call. KEYS: the schedule, the
# provisional set, then each clock's key and its subject's key; ARGV: four per clock, its id,
# state, next timer's epoch ms ("" when none) and "+" / "-" / "" to add it to, remove it from
# or leave the provisional set.
SAVE_MANY = """
local schedule, provisional = KEYS[1], KEYS[2]
local n = (#KEYS - 2) / 2
for i = 1, n do
  local a = (i - 1) * 4
  local id = ARGV[a + 1]
  redis.call('SET', KEYS[2 * i + 1], ARGV[a + 2])
  redis.call('SADD', KEYS[2 * i + 2], id)
  if ARGV[a + 3] == '' then
    redis.call('ZREM', schedule, id)
  else
    redis.call('ZADD', schedule, ARGV[a + 3], id)
  end
  local mark = ARGV[a + 4]
  if mark == '+' then
    redis.call('SADD', provisional, id)
  elseif mark == '-' then
    redis.call('SREM', provisional, id)
  end
end
return n
"""


def _encode(state: ClockState) -> bytes:
    # orjson: a burst reads and writes every clock it fires, and the standard library's
    # JSON took about 16 µs of the 70–90 µs a clock cost (its decoding and encoding of one
    # state, microbenchmarked). Its output is JSON as before (compact, UTF-8), so clocks
    # saved by either read the same. orjson serializes the dataclass itself (fields in
    # order, datetimes and dates as ISO 8601, the status by value): the same bytes as
    # ``state.to_json()`` (a unit test holds them equal) at a quarter of the cost.
    return orjson.dumps(state)


def _states(clock_ids: Sequence[str], raws: Sequence[Any]) -> dict[str, ClockState]:
    """The clocks read with one MGET, by id (a missing one left out)."""
    return {i: _decode(raw) for i, raw in zip(clock_ids, raws, strict=True) if raw}


def _decode(raw: bytes | str) -> ClockState:
    return ClockState.from_json(orjson.loads(raw))


def _provisional_mark(state: ClockState, was_provisional: bool) -> str:
    """How a save changes the provisional set (as ``ClockStore.save``)."""
    # Most clocks are never provisional: only recomputation and clearing take one out.
    if state.provisional and state.status is not Status.CLEARED:
        return "+"
    if was_provisional or state.status is Status.CLEARED:
        return "-"
    return ""


class ClockWrites:
    """Saves gathered for one transaction and queued on it as one script call (``queue``):
    exactly the writes ``ClockStore.save`` queues for each, in one command."""

    def __init__(self, store: ClockStore) -> None:
        self._store = store
        # Bytes throughout: the client passes them as they are (encoding each argument was
        # a third of the cost of a burst's writes).
        self._keys: list[bytes] = [store.schedule_key.encode(), store.provisional_key.encode()]
        self._args: list[bytes] = []

    def __len__(self) -> int:
        return len(self._args) // 4

    def save(
        self, state: ClockState, timer: Timer | None, *, was_provisional: bool = False
    ) -> None:
        store = self._store
        self._keys += (
            store.clock_key(state.clock_id).encode(),
            store.subject_key(state.subject_id).encode(),
        )
        self._args += (
            state.clock_id.encode(),
            _encode(state),
            b"" if timer is None else b"%d" % epoch_ms(timer.at),
            _provisional_mark(state, was_provisional).encode(),
        )

    def queue(self, pipe: Pipeline) -> None:
        """Queue the gathered saves on ``pipe`` (in MULTI mode); nothing if there are none."""
        if self._args:
            pipe.execute_command("EVAL", SAVE_MANY, len(self._keys), *self._keys, *self._args)


class ClockStore:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self.redis = redis
        self._keys = keys
        self.schedule_key = keys.key("deadline", "schedule")
        self.provisional_key = keys.key("deadline", "provisional")
        self.horizon_key = keys.key("deadline", "horizon-alerted")

    def clock_key(self, clock_id: str) -> str:
        return self._keys.key("deadline", "clock", clock_id)

    def early_stop_key(self, rule_id: str, subject_id: str) -> str:
        return self._keys.key("deadline", "early-stop", rule_id, subject_id)

    def moves_key(self, subject_id: str) -> str:
        return self._keys.key("deadline", "moves", subject_id)

    def early_acts_key(self, rule_id: str, subject_id: str) -> str:
        return self._keys.key("deadline", "early-acts", rule_id, subject_id)

    def subject_key(self, subject_id: str) -> str:
        return self._keys.key("deadline", "subject", subject_id)

    # --- reading ---------------------------------------------------------------------------

    async def get(self, clock_id: str) -> ClockState | None:
        raw = await self.redis.get(self.clock_key(clock_id))
        return _decode(raw) if raw else None

    async def clocks_of(self, subject_id: str) -> list[ClockState]:
        ids = sorted(as_text(i) for i in await self.redis.smembers(self.subject_key(subject_id)))
        states = await self.redis.mget([self.clock_key(i) for i in ids]) if ids else []
        return [_decode(raw) for raw in states if raw]

    async def load(self, pipe: Pipeline, clock_ids: Sequence[str]) -> dict[str, ClockState]:
        if not clock_ids:
            return {}
        raws = await pipe.mget([self.clock_key(i) for i in clock_ids])
        return _states(clock_ids, raws)

    async def watch_and_load(
        self, pipe: Pipeline, clock_ids: Sequence[str]
    ) -> dict[str, ClockState]:
        """WATCH these clocks and load them, in one round trip."""
        if not clock_ids:
            return {}
        keys = [self.clock_key(i) for i in clock_ids]
        (raws,) = await watch_and_read(pipe, keys, [("MGET", *keys)])
        return _states(clock_ids, raws)

    async def watch_and_read_batch(
        self, pipe: Pipeline, subjects: Sequence[str], starts: Sequence[Kept],
        pausable: Sequence[Kept] = (),
    ) -> BatchIndex:  # fmt: skip
        """What a batch reads before its clocks, watched and read in one round trip: the
        clock ids of ``subjects``, the years already alerted (the calendar horizon), the
        stops kept for these (rule, subject) ``starts``, the pauses and resumes kept for
        the ``pausable`` ones among them (those of rules that pause), and the moves of the
        starts' subjects to other courts (``record_move``; a missing key watched is one
        a move creates)."""
        subject_keys = [self.subject_key(s) for s in subjects]
        early_keys = [self.early_stop_key(rule_id, subject) for rule_id, subject in starts]
        act_keys = [self.early_acts_key(rule_id, subject) for rule_id, subject in pausable]
        started = sorted({subject for _, subject in starts})
        move_keys = [self.moves_key(subject) for subject in started]
        reads: list[tuple[str, ...]] = [("SMEMBERS", key) for key in subject_keys]
        reads.append(("SMEMBERS", self.horizon_key))
        reads += [("HVALS", key) for key in act_keys]
        reads += [("LRANGE", key, "0", "-1") for key in move_keys]
        if early_keys:
            reads.append(("MGET", *early_keys))
        watched = [self.horizon_key, *subject_keys, *early_keys, *act_keys, *move_keys]
        replies = await watch_and_read(pipe, watched, reads)
        ids = {as_text(m) for members in replies[: len(subject_keys)] for m in members}
        alerted = {int(year) for year in replies[len(subject_keys)]}
        at = len(subject_keys) + 1
        acts = {
            pair: [json.loads(raw) for raw in kept]
            for pair, kept in zip(pausable, replies[at : at + len(act_keys)], strict=True)
            if kept
        }
        at += len(act_keys)
        moves = {
            subject: [json.loads(raw) for raw in kept]
            for subject, kept in zip(started, replies[at : at + len(move_keys)], strict=True)
            if kept
        }
        early = (
            {pair: json.loads(raw) for pair, raw in zip(starts, replies[-1], strict=True) if raw}
            if early_keys
            else {}
        )
        return BatchIndex(ids, alerted, early, acts, moves)

    async def scheduled(self) -> int:
        """How many clocks have a pending timer."""
        return int(await self.redis.zcard(self.schedule_key))

    async def provisional(self) -> set[str]:
        return {as_text(i) for i in await self.redis.smembers(self.provisional_key)}

    async def earliest(self) -> dt.datetime | None:
        first = await self.redis.zrange(self.schedule_key, 0, 0, withscores=True)
        if not first:
            return None
        return dt.datetime.fromtimestamp(float(first[0][1]) / 1000, tz=dt.UTC)

    async def due(self, now: dt.datetime, limit: int) -> list[str]:
        """Clocks whose next timer is due at ``now``, earliest first."""
        due = await self.redis.zrangebyscore(self.schedule_key, "-inf", epoch_ms(now), 0, limit)
        return [as_text(member) for member in due]  # type: ignore[arg-type]

    async def claim_due(self, now: dt.datetime, limit: int, hold: dt.timedelta) -> list[str]:
        """``due``, and each clock returned is scheduled ``hold`` after ``now`` in the same
        step, so that another drainer (another replica's, or a concurrent pass) does not
        take it too. Firing saves each claimed clock's real next timer; a claim whose
        drainer died is due again after ``hold``, and fired then (a timer fires once: the
        clock records it). ``hold`` is on the engine's clock: a simulation that moves it
        on by more while a chunk is being fired lets another drainer take the chunk too,
        and one of the two finds the clocks changed under its WATCH (work done twice,
        nothing fired twice)."""
        claimed = await self.redis.eval(
            CLAIM_DUE, 1, self.schedule_key, epoch_ms(now), limit, epoch_ms(now + hold)
        )  # fmt: skip
        return [as_text(member) for member in claimed]

    async def release_claim(self, ids: Sequence[str], now: dt.datetime, hold: dt.timedelta) -> None:
        """Give back the clocks of a ``claim_due(now, ..., hold)`` that were not fired (the
        chunk failed): due again at ``now``, each unless it was saved since."""
        if ids:
            await self.redis.eval(
                RELEASE_CLAIM, 1, self.schedule_key, epoch_ms(now + hold), epoch_ms(now), *ids
            )  # fmt: skip

    # --- writing (queued on the caller's transaction) --------------------------------------

    def save(
        self, pipe: Pipeline, state: ClockState, timer: Timer | None, *,
        was_provisional: bool = False,
    ) -> None:  # fmt: skip
        """Queue the state, its schedule entry (its next ``timer``) and its indexes."""
        pipe.set(self.clock_key(state.clock_id), _encode(state))
        pipe.sadd(self.subject_key(state.subject_id), state.clock_id)
        if timer is None:
            pipe.zrem(self.schedule_key, state.clock_id)
        else:
            pipe.zadd(self.schedule_key, {state.clock_id: epoch_ms(timer.at)})
        mark = _provisional_mark(state, was_provisional)
        if mark == "+":
            pipe.sadd(self.provisional_key, state.clock_id)
        elif mark == "-":
            pipe.srem(self.provisional_key, state.clock_id)

    def writes(self) -> ClockWrites:
        """A batch of saves to queue as one command (``ClockWrites``)."""
        return ClockWrites(self)

    def unschedule(self, pipe: Pipeline, clock_id: str) -> None:
        pipe.zrem(self.schedule_key, clock_id)

    def alert_year(self, pipe: Pipeline, year: int) -> None:
        pipe.sadd(self.horizon_key, year)

    def keep_early_stop(self, pipe: Pipeline, rule_id: str, subject_id: str, stop: Any) -> None:
        pipe.set(self.early_stop_key(rule_id, subject_id), json.dumps(stop, ensure_ascii=False),
                 ex=EARLY_STOP_TTL_S)  # fmt: skip

    def drop_early_stop(self, pipe: Pipeline, rule_id: str, subject_id: str) -> None:
        pipe.delete(self.early_stop_key(rule_id, subject_id))

    def record_move(self, pipe: Pipeline, signal: Any) -> dict[str, str] | None:
        """Keep a subject's move to another court (``signal``'s from_court and to_court, and
        when it was made), for the starts read after it that were made before it (the
        engine moves their clocks as it opens them), as long as a stop is kept; the move
        as kept, or None if it names no courts."""
        old, new = signal.attributes.get("from_court", ""), signal.attributes.get("to_court", "")
        if not old or not new or old == new:
            return None
        moved = {"from": old, "to": new, "at": signal.occurred_at.isoformat()}
        key = self.moves_key(signal.subject_id)
        pipe.rpush(key, json.dumps(moved))
        pipe.expire(key, EARLY_STOP_TTL_S)
        return moved

    def keep_early_act(self, pipe: Pipeline, rule_id: str, subject_id: str, act: Any) -> None:
        """Keep a pause or resume read before its clock's start, by its event id (a
        redelivery keeps it once: the acts kept are those one subject's courts made), for as
        long as a stop is kept after the last."""
        key = self.early_acts_key(rule_id, subject_id)
        pipe.hset(key, act["event_id"], json.dumps(act, ensure_ascii=False))
        pipe.expire(key, EARLY_STOP_TTL_S)

    def drop_early_acts(
        self, pipe: Pipeline, rule_id: str, subject_id: str, event_ids: Sequence[str]
    ) -> None:
        pipe.hdel(self.early_acts_key(rule_id, subject_id), *event_ids)

    # --- transactions ----------------------------------------------------------------------

    async def change_clocks(
        self, ids: Sequence[str], change: Callable[[Pipeline, dict[str, ClockState]], R]
    ) -> R:
        """Read clocks, let ``change`` queue their new states and events, write it all in one
        transaction; if an event changed one of them meanwhile, read again and redo."""
        while True:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(*[self.clock_key(i) for i in ids])
                    states = await self.load(pipe, ids)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    result = change(pipe, states)
                    await self.execute(pipe)
                return result
            except WatchError:
                continue

    async def execute(self, pipe: Pipeline) -> None:
        """The one point where changed clocks and their events become recorded (tests crash
        around it)."""
        await pipe.execute()
