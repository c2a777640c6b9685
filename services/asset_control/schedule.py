"""The agency worker's work, scheduled fairly across courts and cases.

A filing queues one query unit per debtor and channel. With one sorted set by due time, a
filing with many debtors put all its units ahead of every case filed after it: one case's
burst starved property search for every court (issue 13). Now each case's query units wait
in a sorted set of their own (``due-case:<case id>``), and a set of pointers
(``due-cases``, member ``<court>|<case id>``, scored by the earliest time any of its units
may be due) says which cases have work. A round takes the cases whose work is due, oldest
first, interleaves them court by court, and takes at most ``SHARE_PER_CASE`` units of each:
a case filed behind a huge one is served in the next round, and a court with many cases
does not crowd out a court with one.

Controls (``c|<asset id>``), few and asked for by officers, stay in ``due`` by due time.

A pointer's score may be earlier than its case's earliest unit (units leave without
touching it); a round that finds nothing due for a case corrects the pointer in one atomic
script, so a unit queued at the same moment is never orphaned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.polling import WorkSignal
from zhixing.state import KeySpace, as_text

SHARE_PER_CASE = 8
"""Query units one case may send per round (a debtor's channels)."""

CASE_WINDOW = 1000
"""Cases with due work looked at per round, oldest first."""

ANY_DUE_PAGE = 100
"""Cases pointed to as due looked at per round trip when asking whether any work is due."""

_REPOINT = """
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], first[2], ARGV[1])
end
return #first
"""


def case_of(member: str) -> str:
    """The case of a query unit's member ``q|<case id>|<round>|<unit>``."""
    return member.split("|")[1]


class WorkQueue:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self.redis = redis
        self.controls_key = keys.key("due")
        self.cases_key = keys.key("due-cases")
        self._keys = keys
        self._repoint = redis.register_script(_REPOINT)
        # Published with whatever is queued: wakes the worker resting after empty rounds.
        self.signal = WorkSignal(redis, keys.key("work-queued"))

    def case_key(self, case_id: str) -> str:
        return self._keys.key("due-case", case_id)

    # --- queueing, inside the caller's transaction ----------------------------------------

    def schedule_query(self, pipe: Pipeline, member: str, court: str, at_ms: int) -> None:
        case_id = case_of(member)
        pipe.zadd(self.case_key(case_id), {member: at_ms})
        # LT: an existing pointer only moves earlier; a missing one is added.
        pipe.zadd(self.cases_key, {f"{court}|{case_id}": at_ms}, lt=True)
        self.signal.notify(pipe)

    def hasten_query(self, pipe: Pipeline, member: str, court: str, at_ms: int) -> None:
        """Make a queued unit due by ``at_ms`` if it is due later; a unit no longer queued
        stays out (XX)."""
        case_id = case_of(member)
        pipe.zadd(self.case_key(case_id), {member: at_ms}, xx=True, lt=True)
        pipe.zadd(self.cases_key, {f"{court}|{case_id}": at_ms}, lt=True)
        self.signal.notify(pipe)

    def unschedule_query(self, pipe: Pipeline, *members: str) -> None:
        """Queue the removal of query units (on a pipeline: one removal per case)."""
        by_case: dict[str, list[str]] = {}
        for member in members:
            by_case.setdefault(case_of(member), []).append(member)
        for case_id, units in by_case.items():
            pipe.zrem(self.case_key(case_id), *units)
        # Units queued before the fair schedule existed wait in the controls' set.
        pipe.zrem(self.controls_key, *members)

    def schedule_control(self, pipe: Pipeline, asset_id: str, at_ms: int) -> None:
        pipe.zadd(self.controls_key, {f"c|{asset_id}": at_ms})
        self.signal.notify(pipe)

    def unschedule_control(self, pipe: Pipeline | aioredis.Redis, asset_id: str) -> Any:
        return pipe.zrem(self.controls_key, f"c|{asset_id}")

    async def queued_cases(self) -> list[str]:
        """Every case with query units queued, due or not."""
        pointers = await self.redis.zrange(self.cases_key, 0, -1)
        return sorted({as_text(p).split("|", 1)[1] for p in pointers if isinstance(p, bytes | str)})

    async def queued_controls(self) -> list[str]:
        """Every asset with a control queued, due or not."""
        members = await self.redis.zrange(self.controls_key, 0, -1)
        texts = [as_text(m) for m in members if isinstance(m, bytes | str)]
        return [m.removeprefix("c|") for m in texts if m.startswith("c|")]

    async def hasten_control(self, asset_id: str, at_ms: int) -> None:
        await self.redis.zadd(self.controls_key, {f"c|{asset_id}": at_ms}, xx=True, lt=True)

    # --- the worker's side --------------------------------------------------------------------

    async def due(self, now_ms: int, limit: int) -> list[str]:
        """At most ``limit`` members due by ``now_ms``: controls first (by due time), then
        query units, court by court and case by case, ``SHARE_PER_CASE`` at most each."""
        raw = await self.redis.zrangebyscore(self.controls_key, 0, now_ms, start=0, num=limit)
        chosen = [as_text(r) for r in raw if isinstance(r, bytes | str)]
        window = await self.redis.zrangebyscore(self.cases_key, 0, now_ms, start=0, num=CASE_WINDOW)
        pointers = [as_text(p) for p in window if isinstance(p, bytes | str)]
        order = _court_by_court(pointers)
        seen: set[str] = set()
        for start in range(0, len(order), 100):
            batch = [p for p in order[start : start + 100] if p.split("|", 1)[1] not in seen]
            seen.update(p.split("|", 1)[1] for p in batch)
            async with self.redis.pipeline(transaction=False) as pipe:
                for pointer in batch:
                    pipe.zrangebyscore(
                        self.case_key(pointer.split("|", 1)[1]), 0, now_ms,
                        start=0, num=SHARE_PER_CASE,
                    )  # fmt: skip
                found = await pipe.execute()
            for pointer, units in zip(batch, found, strict=True):
                if not units:
                    await self._repoint(
                        keys=[self.cases_key, self.case_key(pointer.split("|", 1)[1])],
                        args=[pointer],
                    )
                    continue
                chosen += [as_text(u) for u in units[: max(0, limit - len(chosen))]]
                if len(chosen) >= limit:
                    return chosen
        return chosen

    async def any_due(self, now_ms: int) -> bool:
        """Whether any member is due by ``now_ms`` (the simulator waits until none is). It
        stops at the first case found with a unit due, looking at the oldest due pointers a
        hundred at a time: with thousands of cases queued, a check is a few round trips,
        not a count per case (``count``), which made the simulator's polls the busiest work
        on the machine during a national day. Pages are read by position: a pointer that a
        round repoints meanwhile can be passed over, so a caller asks again (the settle
        waits for quiet polls in a row)."""
        if await self.redis.zcount(self.controls_key, 0, now_ms):
            return True
        start = 0
        while pointers := await self.redis.zrangebyscore(
            self.cases_key, 0, now_ms, start=start, num=ANY_DUE_PAGE
        ):
            async with self.redis.pipeline(transaction=False) as pipe:
                for pointer in pointers:
                    assert isinstance(pointer, bytes | str)  # no scores asked for
                    pipe.zcount(self.case_key(as_text(pointer).split("|", 1)[1]), 0, now_ms)
                if any(int(count) for count in await pipe.execute()):
                    return True
            start += len(pointers)
        return False

    async def count(self, now_ms: int) -> int:
        """Members due by ``now_ms``, every one counted (one count per case pointed to)."""
        total = int(await self.redis.zcount(self.controls_key, 0, now_ms))
        pointers = await self.redis.zrangebyscore(self.cases_key, 0, now_ms)
        case_ids = {as_text(p).split("|", 1)[1] for p in pointers if isinstance(p, bytes | str)}
        async with self.redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.zcount(self.case_key(case_id), 0, now_ms)
            counts: Sequence[int] = await pipe.execute()
        return total + sum(int(c) for c in counts)


def _court_by_court(pointers: Sequence[str]) -> list[str]:
    """Pointers (oldest first) reordered round-robin across courts: the oldest case of each
    court, then the second oldest of each, and so on."""
    courts: dict[str, list[str]] = {}
    for pointer in pointers:
        courts.setdefault(pointer.split("|", 1)[0], []).append(pointer)
    ordered: list[str] = []
    depth = 0
    while len(ordered) < len(pointers):
        ordered += [cases[depth] for cases in courts.values() if depth < len(cases)]
        depth += 1
    return ordered
