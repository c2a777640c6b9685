"""The notification service's records in Redis: the only code that knows their keys.

Records (under ``notification:``):
- ``case:<case id>``: a case's record as JSON: its number, court, account and amounts, the
  nodes shown on its progress page (one per node and date). Small, whatever the number of
  parties or notices: it is rewritten when a node comes, never when a notice is sent;
- ``parties:<case id>``: hash of the case's parties by key (a0.., d0..) as JSON (role, name,
  the contact book's reference);
- ``notice:<case id>:<notice id>``: one notice as JSON, with its state: a send changes
  its notice alone;
- ``notice-order:<case id>``: sorted set (by member) of "<queued at ms, 15 digits>|<notice
  id>": the case's notices in the order they were queued, read a page at a time;
- ``undelivered-of:<case id>``: hash notice id → when it was listed for the court (ms): what
  moves with the case to another court;
- ``told:<case id>``: set of the ids of the events the case's nodes were read from (an event
  delivered twice is told once);
- ``court:<code>``: the ids of the cases a court handles;
- ``due-cases``: sorted set of case ids by when they are next to be served (ms): the time a
  notice of theirs is first due, or, for a case served with notices still due, the time it
  was served (round robin); ``due-of:<case id>``: sorted set of the case's notice ids by when each
  is due. The sender takes a few of each due case's in turn (``due``): one case's backlog
  never holds back another's notices. ``due`` (a sorted set of "<case id>|<notice id>")
  is the one queue of the versions before, moved into these as it is read;
- ``undelivered-at:<court>``: sorted set of "<case id>|<notice id>" of the notices that
  court must deliver another way, by when each was found undelivered (ms); kept bounded:
  entries older than the retention and the oldest beyond the per-court cap drop out (the
  notice itself stays, undelivered, in its case's notices);
- ``code:<code hash>``: "<case id>|<party key>" of a case query code (its keyed hash only;
  the code itself is derived, never kept);
- ``rate:<scope>:<who>:<window>``: the progress page's counters;
- ``early:<case id>``: the events of nodes read before their case's filing (a service
  consumes several topics, and Kafka orders each partition, not the topics between them),
  as they came; told when the filing is read, and kept ``EARLY_TTL_S`` (wall clock) at most,
  ``EARLY_KEPT`` of a case at most.

A case kept by a version before this one holds its parties and every notice in its record
(``parties``, ``notices``): it is split into the keys above, in one transaction, the first
time it is read or changed (``upgrade``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import Pipeline

from services.notification.domain import UNDELIVERED, listed_ms
from zhixing.courts import directory
from zhixing.errors import NotFound
from zhixing.paging import not_a_cursor
from zhixing.polling import WorkSignal
from zhixing.records import IndexedRecords
from zhixing.state import KeySpace, as_text, transact

log = structlog.get_logger(__name__)

T = TypeVar("T")
Record = dict[str, Any]

# How long, and how many, nodes of a case not yet filed here are kept: a filing comes
# moments after its case's first nodes if it comes at all (a case filed before this service
# ran never does); the bounds keep such cases from piling up.
EARLY_TTL_S = 7 * 24 * 3600
EARLY_KEPT = 256

DUE_PER_CASE = 10
"""The most notices of one case the sender takes in a round (``due``): a case with
thousands queued (a hundred parties on each side, told on two channels) is sent a few at a
time beside every other case due, never ahead of them all."""

LEGACY_MOVED_PER_READ = 500
"""Entries of the queue of the versions before (``due``) moved into the per-case queues
each time the due notices are read."""

_INLINE = ("parties", "notices")
"""What a record of the versions before holds inline (``upgrade``)."""

# The due notices, a few of each due case in turn; each case read has its place in
# ``due-cases`` set to its earliest notice (or dropped, with none left). The queue of the
# versions before is moved in first, a chunk at a time.
# KEYS: due-cases, the old queue. ARGV: now ms, cases, per case, limit, due-of prefix, chunk.
_DUE = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[4])
local old = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[6]) - 1, 'WITHSCORES')
for i = 1, #old, 2 do
  local member = old[i]
  local bar = string.find(member, '|', 1, true)
  if bar then
    local case = string.sub(member, 1, bar - 1)
    redis.call('ZADD', ARGV[5] .. case, old[i + 1], string.sub(member, bar + 1))
    redis.call('ZADD', KEYS[1], 'LT', old[i + 1], case)
  end
  redis.call('ZREM', KEYS[2], member)
end
local found = {}
local cases = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, case in ipairs(cases) do
  local key = ARGV[5] .. case
  local room = limit - #found / 2
  -- A case the round does not reach keeps its place (it waited longest): only the cases
  -- served move.
  if room <= 0 then break end
  local served = false
  local take = math.min(room, tonumber(ARGV[3]))
  for _, notice in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, take)) do
    table.insert(found, case)
    table.insert(found, notice)
    served = true
  end
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', KEYS[1], case)
  elseif served then
    -- Served: behind every case due before now (round robin), not first again. (Its notices
    -- just taken are still in its queue until sent: it is due, and this is its place.)
    redis.call('ZADD', KEYS[1], now, case)
  else
    redis.call('ZADD', KEYS[1], first[2], case)
  end
end
return found
"""


class Kept(enum.Enum):
    """A node kept for its case's filing (``change_case_or_keep_early``)."""

    KEPT = "kept"


KEPT = Kept.KEPT


class _Inline(Exception):
    """A record of the versions before met inside a transaction: split it, run again."""


def member(case_id: str, notice_id: str) -> str:
    return f"{case_id}|{notice_id}"


def split(value: bytes | str) -> tuple[str, str]:
    case_id, _, rest = as_text(value).partition("|")
    return case_id, rest


def order_member(notice: Record) -> str:
    """A notice's place in its case's order: when it was queued, then its id."""
    return f"{_queued_ms(notice):015d}|{notice['notice_id']}"


def _queued_ms(notice: Record) -> int:
    return int(dt.datetime.fromisoformat(notice["queued_at"]).timestamp() * 1000)


def cursor_of(order: str) -> str:
    return base64.urlsafe_b64encode(order.encode()).decode().rstrip("=")


def order_of(cursor: str) -> str:
    """The order member a cursor names; Invalid (naming ``after``) if it names none."""
    try:
        order = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        order = ""
    stamp, bar, notice_id = order.partition("|")
    if not (bar and stamp.isdigit() and len(stamp) == 15 and notice_id):
        raise not_a_cursor()
    return order


def is_inline(record: Record) -> bool:
    return any(field in record for field in _INLINE)


class NotificationRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "case", index="court")
        self.redis = redis
        self.keys = keys
        self.due_cases_key = keys.key("due-cases")
        # Scored by when: counted up to now, it counts the cases with notices due (what the
        # simulator waits on to be quiet, under the name it has always read).
        self.due_key = self.due_cases_key
        self.old_due_key = keys.key("due")
        # Published with every notice scheduled: wakes the sender resting after empty rounds.
        self.signal = WorkSignal(redis, keys.key("queued"))

    def undelivered_key(self, court: str) -> str:
        # A sorted set by the time each notice was found undelivered: the oldest first.
        return self.keys.key("undelivered-at", court)

    def code_key(self, hashed: str) -> str:
        return self.keys.key("code", hashed)

    def rate_key(self, scope: str, who: str, window: int) -> str:
        return self.keys.key("rate", scope, who, str(window))

    def early_key(self, case_id: str) -> str:
        return self.keys.key("early", case_id)

    def parties_key(self, case_id: str) -> str:
        return self.keys.key("parties", case_id)

    def notice_key(self, case_id: str, notice_id: str) -> str:
        return self.keys.key("notice", case_id, notice_id)

    def order_key(self, case_id: str) -> str:
        return self.keys.key("notice-order", case_id)

    def undelivered_of_key(self, case_id: str) -> str:
        return self.keys.key("undelivered-of", case_id)

    def told_key(self, case_id: str) -> str:
        return self.keys.key("told", case_id)

    def due_of_key(self, case_id: str) -> str:
        return self.keys.key("due-of", case_id)

    # --- reading ---------------------------------------------------------------------------

    async def case(self, case_id: str) -> Record | None:
        """A case's record (split first if kept by a version before: ``upgrade``)."""
        record = await self.get(case_id)
        if record is not None and is_inline(record):
            await self.upgrade(case_id)
            record = await self.get(case_id)
        return record

    async def parties(
        self, case_id: str, client: aioredis.Redis | Pipeline | None = None
    ) -> dict[str, Record]:
        """The case's parties by key, in the filing's order (a0.., d0..)."""
        raw = await (client or self.redis).hgetall(self.parties_key(case_id))
        found = {as_text(k): json.loads(v) for k, v in raw.items()}
        return dict(sorted(found.items(), key=lambda kv: (kv[0][0], int(kv[0][1:] or 0))))

    async def party(self, case_id: str, key: str) -> Record | None:
        raw = await self.redis.hget(self.parties_key(case_id), key)
        return json.loads(raw) if raw is not None else None

    async def notice(
        self, case_id: str, notice_id: str, client: aioredis.Redis | Pipeline | None = None
    ) -> Record | None:
        raw = await (client or self.redis).get(self.notice_key(case_id, notice_id))
        return json.loads(raw) if raw is not None else None

    async def notices(self, pairs: Sequence[tuple[str, str]]) -> list[Record | None]:
        """The notices of (case id, notice id) pairs, in that order (None: gone)."""
        if not pairs:
            return []
        raws = await self.redis.mget([self.notice_key(c, n) for c, n in pairs])
        return [json.loads(raw) if raw is not None else None for raw in raws]

    async def notice_page(
        self, case_id: str, limit: int, after: str | None
    ) -> tuple[list[Record], str | None]:
        """The case's notices in the order queued, ``limit`` of them after the cursor
        ``after``; the cursor of the next page, if there is one."""
        low = f"({order_of(after)}" if after is not None else "-"
        raw = await self.redis.zrange(
            self.order_key(case_id), low, "+", bylex=True, offset=0, num=limit + 1
        )
        orders = [as_text(m) for m in raw if isinstance(m, bytes | str)]
        shown = orders[:limit]
        found = await self.notices([(case_id, o.partition("|")[2]) for o in shown])
        notices = [n for n in found if n is not None]
        more = len(orders) > limit
        return notices, cursor_of(shown[-1]) if more and shown else None

    async def due(
        self, now_ms: int, limit: int, per_case: int | None = None
    ) -> list[tuple[str, str]]:
        """(case id, notice id) of notices due to be sent by ``now_ms``: of the cases with
        notices due, the ones waiting longest first (a case served goes behind those due
        before it), and of each at most ``per_case`` (``DUE_PER_CASE``), soonest first;
        ``limit`` in all."""
        per_case = per_case or DUE_PER_CASE
        raw = await self.redis.eval(
            _DUE, 2, self.due_cases_key, self.old_due_key, now_ms, limit, per_case, limit,
            self.due_of_key("-")[:-1], LEGACY_MOVED_PER_READ,
        )  # fmt: skip
        items = [as_text(v) for v in raw]
        return list(zip(items[0::2], items[1::2], strict=True))

    async def undelivered_in_jurisdiction(
        self, court: str, since_ms: int, limit: int
    ) -> list[tuple[str, str]]:
        """(case id, notice id) of the ``limit`` oldest undelivered notices of ``court`` and the
        courts below listed at ``since_ms`` or later, oldest first; older entries are pruned
        on the way (each court's list is read ``limit`` deep, never whole)."""
        keys = [self.undelivered_key(c) for c in directory().jurisdiction(court)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zremrangebyscore(key, "-inf", f"({since_ms}")
                pipe.zrange(key, 0, limit - 1, withscores=True)
            answers = await pipe.execute()
        found: list[tuple[float, str]] = []
        for listed in answers[1::2]:
            found.extend((float(score), as_text(m)) for m, score in listed)
        found.sort()
        return [split(m) for _, m in found[:limit]]

    async def party_of_code(self, hashed: str) -> tuple[str, str] | None:
        raw = await self.redis.get(self.code_key(hashed))
        return split(raw) if raw is not None else None

    async def was_told(self, pipe: Pipeline, case_id: str, event_id: str) -> bool:
        """Whether the case's nodes were read from this event already."""
        return bool(await pipe.sismember(self.told_key(case_id), event_id))

    # --- writing ---------------------------------------------------------------------------

    def put(self, pipe: Pipeline, record_id: str, record: Record) -> None:
        # A case's record never holds its parties or notices again (``upgrade``).
        super().put(pipe, record_id, {k: v for k, v in record.items() if k not in _INLINE})

    def keep_parties(self, pipe: Pipeline, case_id: str, parties: Mapping[str, Record]) -> None:
        if parties:
            pipe.hset(self.parties_key(case_id), mapping={
                key: json.dumps(party, ensure_ascii=False) for key, party in parties.items()
            })  # fmt: skip

    def mark_told(self, pipe: Pipeline, case_id: str, event_id: str) -> None:
        pipe.sadd(self.told_key(case_id), event_id)

    def put_notice(
        self, pipe: Pipeline, case_id: str, notice: Record, *, new: bool = False
    ) -> None:
        """Queue a notice's write (a new one takes its place in the case's order)."""
        pipe.set(self.notice_key(case_id, notice["notice_id"]),
                 json.dumps(notice, ensure_ascii=False))  # fmt: skip
        if new:
            pipe.zadd(self.order_key(case_id), {order_member(notice): 0})

    async def open_once(
        self, record: Record, act: Callable[[Pipeline, Record], None]
    ) -> bool:  # fmt: skip
        """Keep a new case's record with what ``act`` queues beside it, unless the case is
        kept already (a filing delivered twice changes nothing)."""
        key = self.key(record["case_id"])

        async def body(pipe: Pipeline) -> bool:
            if await pipe.exists(key):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            act(pipe, record)
            self.add(pipe, record["case_id"], record, [record["court_code"]])
            return True

        return await transact(self.redis, [key], body)

    async def _split_first(self, case_id: str, run: Callable[[], Awaitable[T]]) -> T:
        """``run`` a transaction over the case; if it meets the case kept by a version
        before (``_Inline``), split the case and run it again."""
        while True:
            try:
                return await run()
            except _Inline:
                await self.upgrade(case_id)

    async def _current(self, pipe: Pipeline, case_id: str) -> Record | None:
        """The case's record read in a transaction (``_Inline`` if it is not split yet)."""
        record = await self.get(case_id, pipe)
        if record is not None and is_inline(record):
            raise _Inline(case_id)
        return record

    async def change_case_or_keep_early(
        self, case_id: str, act: Callable[[Pipeline, Record], Awaitable[bool]], event: bytes
    ) -> bool | Kept:  # fmt: skip
        """Run ``act(pipe, record)`` in one transaction over the case's record (its answer);
        if the case is not kept yet, keep ``event`` (a node's, encoded) for its filing
        instead (``KEPT``), or drop it if the case has ``EARLY_KEPT`` kept already (False).
        The record's key is watched either way: a filing kept meanwhile runs this again, so
        a node is either kept before the filing reads what was kept, or acted on."""
        key, early = self.key(case_id), self.early_key(case_id)

        async def body(pipe: Pipeline) -> bool | Kept:
            record = await self._current(pipe, case_id)
            if record is not None:
                changed = await act(pipe, record)
                if pipe.explicit_transaction:
                    self.put(pipe, case_id, record)
                return changed
            if await pipe.llen(early) >= EARLY_KEPT:
                log.warning("node of a case not yet filed dropped: too many kept",
                            case_id=case_id, kept=EARLY_KEPT)  # fmt: skip
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.rpush(early, event)
            pipe.expire(early, EARLY_TTL_S)
            return KEPT

        return await self._split_first(case_id, lambda: transact(self.redis, [key], body))

    async def early_events(self, case_id: str) -> list[bytes]:
        """The nodes' events kept for the case before its filing, in the order read."""
        raw = await self.redis.lrange(self.early_key(case_id), 0, -1)
        return [item for item in raw if isinstance(item, bytes)]

    async def drop_early(self, case_id: str) -> None:
        await self.redis.delete(self.early_key(case_id))

    def keep_code(self, pipe: Pipeline, hashed: str, case_id: str, party_key: str) -> None:
        pipe.set(self.code_key(hashed), member(case_id, party_key))

    def schedule(self, pipe: Pipeline, case_id: str, notice_id: str, at_ms: int) -> None:
        pipe.zadd(self.due_of_key(case_id), {notice_id: at_ms})
        # The case's place: its earliest due notice (LT: an earlier place is kept).
        pipe.zadd(self.due_cases_key, {case_id: at_ms}, lt=True)
        self.signal.notify(pipe)

    def unschedule(self, pipe: Pipeline, case_id: str, notice_id: str) -> None:
        pipe.zrem(self.due_of_key(case_id), notice_id)
        pipe.zrem(self.old_due_key, member(case_id, notice_id))

    async def drop_due(self, case_id: str, notice_id: str) -> None:
        """Forget a due entry whose notice is gone or settled."""
        async with self.redis.pipeline(transaction=False) as pipe:
            self.unschedule(pipe, case_id, notice_id)
            await pipe.execute()

    def list_undelivered(
        self, pipe: Pipeline, court: str, case_id: str, notice_id: str, at_ms: int,
        since_ms: int, keep: int,
    ) -> None:  # fmt: skip
        """List the notice for the court at ``at_ms``; drop entries listed before
        ``since_ms`` and the oldest beyond ``keep``: a court's list stays bounded. The case
        keeps its own list, to take to another court (``move``)."""
        key = self.undelivered_key(court)
        pipe.zadd(key, {member(case_id, notice_id): at_ms})
        pipe.zremrangebyscore(key, "-inf", f"({since_ms}")
        pipe.zremrangebyrank(key, 0, -(keep + 1))
        pipe.hset(self.undelivered_of_key(case_id), notice_id, at_ms)

    async def undelivered_of(self, pipe: Pipeline, case_id: str) -> list[tuple[str, int]]:
        """(notice id, listed at ms) of the case's undelivered notices, read in a
        transaction."""
        raw = await pipe.hgetall(self.undelivered_of_key(case_id))
        return sorted((as_text(k), int(v)) for k, v in raw.items())

    def move(
        self, pipe: Pipeline, case_id: str, from_court: str, to_court: str,
        undelivered: Sequence[tuple[str, int]],
    ) -> None:  # fmt: skip
        """The case and its undelivered notices ((notice id, listed at ms)) are listed under
        the court handling it, each as old as it was."""
        pipe.srem(self.index_key(from_court), case_id)
        self.index(pipe, to_court, case_id)
        for notice_id, at_ms in undelivered:
            pipe.zrem(self.undelivered_key(from_court), member(case_id, notice_id))
            pipe.zadd(self.undelivered_key(to_court), {member(case_id, notice_id): at_ms})

    async def change_case(
        self, case_id: str, act: Callable[[Pipeline, Record], Awaitable[T]],
        watch: Sequence[str] = (),
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record)`` in one transaction over the case's record (and
        ``watch``)."""

        async def checked(pipe: Pipeline, record: Record) -> T:
            if is_inline(record):
                raise _Inline(case_id)
            return await act(pipe, record)

        return await self._split_first(case_id, lambda: self.change(
            case_id, checked, missing=f"no notices of case {case_id}", watch=watch,
        ))  # fmt: skip

    async def change_notice(
        self, case_id: str, notice_id: str,
        act: Callable[[Pipeline, Record, Record | None], Awaitable[T]],
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record, notice)`` in one transaction over the case's record and
        the notice (None if there is none); the notice, if ``act`` queues writes, is written
        with them. The case's record is read, not written: a send writes its notice alone.
        NotFound if there is no such case."""
        key, notice_key = self.key(case_id), self.notice_key(case_id, notice_id)

        async def body(pipe: Pipeline) -> T:
            record = await self._current(pipe, case_id)
            if record is None:
                raise NotFound(f"no notices of case {case_id}")
            notice = await self.notice(case_id, notice_id, pipe)
            result = await act(pipe, record, notice)
            if pipe.explicit_transaction and notice is not None:
                self.put_notice(pipe, case_id, notice)
            return result

        return await self._split_first(
            case_id, lambda: transact(self.redis, [key, notice_key], body)
        )

    async def upgrade(self, case_id: str) -> bool:
        """Split a case kept by a version before (its parties and every notice inline in
        its record) into the keys of this one, in one transaction; False if it is split
        already. Its due notices are moved by ``due``, their undelivered listings stay."""

        async def body(pipe: Pipeline) -> bool:
            record = await self.get(case_id, pipe)
            if record is None or not is_inline(record):
                return False
            parties: dict[str, Record] = record.get("parties", {})
            notices: dict[str, Record] = record.get("notices", {})
            pipe.multi()  # type: ignore[no-untyped-call]
            self.keep_parties(pipe, case_id, parties)
            for notice in notices.values():
                party = parties.get(notice["party_key"], {})
                notice.setdefault("party_name", party.get("name", ""))
                notice.setdefault("party_ref", party.get("ref", ""))
                self.put_notice(pipe, case_id, notice, new=True)
                if notice["status"] == UNDELIVERED:
                    pipe.hset(self.undelivered_of_key(case_id), notice["notice_id"],
                              listed_ms(notice))  # fmt: skip
            told = [n["event_id"] for n in record.get("nodes", []) if n.get("event_id")]
            if told:
                pipe.sadd(self.told_key(case_id), *told)
            self.put(pipe, case_id, record)
            return True

        upgraded = await transact(self.redis, [self.key(case_id)], body)
        if upgraded:
            log.info("case split into notices stored per notice", case_id=case_id)
        return upgraded

    async def count(self, key: str, ttl_s: int) -> int:
        """Add one to a rate counter; its count. The key expires (wall clock) well after its
        window, only to clear old windows away."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl_s)
            count, _ = await pipe.execute()
        return int(count)
