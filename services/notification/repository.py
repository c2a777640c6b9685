"""The notification service's records in Redis: the only code that knows their keys.

Records (under ``notification:``):
- ``case:<case id>``: a case's record as JSON (number, court, parties with their contact
  references, the nodes told and every notice with its state);
- ``court:<code>``: the ids of the cases a court handles;
- ``due``: sorted set of "<case id>|<notice id>" by when the notice is to be sent (ms);
- ``undelivered-at:<court>``: sorted set of "<case id>|<notice id>" of the notices that
  court must deliver another way, by when each was found undelivered (ms); kept bounded:
  entries older than the retention and the oldest beyond the per-court cap drop out (the
  notice itself stays, undelivered, in its case's record);
- ``code:<code hash>``: "<case id>|<party key>" of a case query code (its keyed hash only;
  the code itself is derived, never kept);
- ``rate:<scope>:<who>:<window>``: the progress page's counters;
- ``early:<case id>``: the events of nodes read before their case's filing (a service
  consumes several topics, and Kafka orders each partition, not the topics between them),
  as they came; told when the filing is read, and kept ``EARLY_TTL_S`` (wall clock) at most,
  ``EARLY_KEPT`` of a case at most.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import Pipeline

from zhixing.courts import directory
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


class Kept(enum.Enum):
    """A node kept for its case's filing (``change_case_or_keep_early``)."""

    KEPT = "kept"


KEPT = Kept.KEPT


def member(case_id: str, notice_id: str) -> str:
    return f"{case_id}|{notice_id}"


def split(value: bytes | str) -> tuple[str, str]:
    case_id, _, rest = as_text(value).partition("|")
    return case_id, rest


class NotificationRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "case", index="court")
        self.redis = redis
        self.keys = keys
        self.due_key = keys.key("due")
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

    # --- reading ---------------------------------------------------------------------------

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        """(case id, notice id) of the notices due to be sent by ``now_ms``, soonest first."""
        raw = await self.redis.zrangebyscore(self.due_key, "-inf", now_ms, start=0, num=limit)
        return [split(m) for m in raw if isinstance(m, bytes | str)]

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

    # --- writing ---------------------------------------------------------------------------

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
            record = await self.get(case_id, pipe)
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

        return await transact(self.redis, [key], body)

    async def early_events(self, case_id: str) -> list[bytes]:
        """The nodes' events kept for the case before its filing, in the order read."""
        raw = await self.redis.lrange(self.early_key(case_id), 0, -1)
        return [item for item in raw if isinstance(item, bytes)]

    async def drop_early(self, case_id: str) -> None:
        await self.redis.delete(self.early_key(case_id))

    def keep_code(self, pipe: Pipeline, hashed: str, case_id: str, party_key: str) -> None:
        pipe.set(self.code_key(hashed), member(case_id, party_key))

    def schedule(self, pipe: Pipeline, case_id: str, notice_id: str, at_ms: int) -> None:
        pipe.zadd(self.due_key, {member(case_id, notice_id): at_ms})
        self.signal.notify(pipe)

    def unschedule(self, pipe: Pipeline, case_id: str, notice_id: str) -> None:
        pipe.zrem(self.due_key, member(case_id, notice_id))

    async def drop_due(self, case_id: str, notice_id: str) -> None:
        """Forget a due entry whose notice is gone or settled."""
        await self.redis.zrem(self.due_key, member(case_id, notice_id))

    def list_undelivered(
        self, pipe: Pipeline, court: str, case_id: str, notice_id: str, at_ms: int,
        since_ms: int, keep: int,
    ) -> None:  # fmt: skip
        """List the notice for the court at ``at_ms``; drop entries listed before
        ``since_ms`` and the oldest beyond ``keep``: a court's list stays bounded."""
        key = self.undelivered_key(court)
        pipe.zadd(key, {member(case_id, notice_id): at_ms})
        pipe.zremrangebyscore(key, "-inf", f"({since_ms}")
        pipe.zremrangebyrank(key, 0, -(keep + 1))

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
        self, case_id: str, act: Callable[[Pipeline, Record], Awaitable[T]]
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record)`` in one transaction over the case's record."""
        return await self.change(case_id, act, missing=f"no notices of case {case_id}")

    async def count(self, key: str, ttl_s: int) -> int:
        """Add one to a rate counter; its count. The key expires (wall clock) well after its
        window, only to clear old windows away."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl_s)
            count, _ = await pipe.execute()
        return int(count)
