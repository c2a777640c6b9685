"""Records kept as JSON strings in Redis, changed in optimistic transactions, listed per
owner, and the history each keeps of who did what. Entrustments, disputes and command
actions keep theirs so."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio.client import Pipeline

from zhixing.auth import Identity
from zhixing.clock import Clock
from zhixing.courts import directory
from zhixing.errors import NotFound
from zhixing.state import KeySpace, as_text, transact

__all__ = [
    "HistoryEntry",
    "IndexedRecords",
    "JsonRecords",
    "Record",
    "ids_in_jurisdiction",
    "log_act",
]

T = TypeVar("T")
Record = dict[str, Any]


class HistoryEntry(BaseModel):
    """One act in a record's history (``log_act``): when, what, and, for a person's act,
    who from which court; an act may add its own details."""

    model_config = ConfigDict(extra="allow")

    at: str = Field(description="RFC 3339")
    act: str


class JsonRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace, kind: str) -> None:
        self._redis = redis
        self._keys = keys
        self.kind = kind

    def key(self, record_id: str) -> str:
        return self._keys.key(self.kind, record_id)

    async def get(
        self, record_id: str, client: aioredis.Redis | Pipeline | None = None
    ) -> Record | None:
        raw = await (client or self._redis).get(self.key(record_id))
        return json.loads(raw) if raw is not None else None

    def put(self, pipe: Pipeline, record_id: str, record: Record) -> None:
        pipe.set(self.key(record_id), json.dumps(record, ensure_ascii=False))

    async def many(self, record_ids: Sequence[str]) -> list[Record]:
        """The records that exist of ``record_ids``, in that order (one round trip)."""
        if not record_ids:
            return []
        raws = await self._redis.mget([self.key(i) for i in record_ids])
        return [json.loads(raw) for raw in raws if raw is not None]

    async def change(
        self, record_id: str, act: Callable[[Pipeline, Record], Awaitable[T]], *,
        visible: Callable[[Record], bool] | None = None, missing: str | None = None,
        watch: Sequence[str] = (),
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record)`` in a transaction over the record (and ``watch``); it
        raises to refuse, or calls ``pipe.multi()`` and queues its writes; the changed record
        is written with them. A missing record, or one ``visible`` rejects, is
        NotFound(``missing``)."""

        async def body(pipe: Pipeline) -> T:
            record = await self.get(record_id, pipe)
            if record is None or (visible is not None and not visible(record)):
                raise NotFound(missing or f"no {self.kind} {record_id}")
            result = await act(pipe, record)
            if pipe.explicit_transaction:
                self.put(pipe, record_id, record)
            return result

        return await transact(self._redis, [self.key(record_id), *watch], body)

    async def keep_until_kept(self, record_id: str, keep: Callable[[Pipeline], object]) -> bool:
        """Queue ``keep``'s writes (what was read before the record exists, kept for it)
        unless the record exists by now (False: act on the record instead). The record's
        key is watched: one written meanwhile makes this look again, so what is kept is kept
        before the record's writer reads it, or not kept at all."""
        key = self.key(record_id)

        async def body(pipe: Pipeline) -> bool:
            if await pipe.exists(key):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            keep(pipe)
            return True

        return await transact(self._redis, [key], body)

    async def set_once(self, record_id: str, field: str, value: Any) -> bool:
        """Set ``field`` unless it has that value already (idempotent); False if nothing
        changed or there is no such record."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            if record.get(field) == value:
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            record[field] = value
            return True

        try:
            return await self.change(record_id, act)
        except NotFound:
            return False


class IndexedRecords(JsonRecords):
    """JSON records listed in one set per owner (a court, or an agency): what a court, the
    courts above it, or an agency lists. ``<kind>:<id>`` holds a record, ``<index>:<owner>``
    the ids of the records that owner is party to."""

    def __init__(self, redis: aioredis.Redis, keys: KeySpace, kind: str, index: str) -> None:
        super().__init__(redis, keys, kind)
        self._index = index

    def index_key(self, owner: str) -> str:
        return self._keys.key(self._index, owner)

    def add(self, pipe: Pipeline, record_id: str, record: Record, owners: Sequence[str]) -> None:
        """Queue a new record and its place in the index of each owner."""
        self.put(pipe, record_id, record)
        for owner in owners:
            self.index(pipe, owner, record_id)

    def index(self, pipe: Pipeline, owner: str, record_id: str) -> None:
        """List the record under ``owner``."""
        pipe.sadd(self.index_key(owner), record_id)

    async def ids_of(self, owner: str) -> list[str]:
        """The ids of the records ``owner`` is party to, sorted."""
        return sorted(as_text(i) for i in await self._redis.smembers(self.index_key(owner)))

    async def ids_in_jurisdiction(self, court: str) -> list[str]:
        """The ids of the records of ``court`` and of every court below it."""
        return await ids_in_jurisdiction(self._redis, self.index_key, court)

    async def in_jurisdiction(self, court: str) -> list[Record]:
        """The records of ``court`` and of every court below it."""
        return await self.many(await self.ids_in_jurisdiction(court))

    async def transact(self, watch: Sequence[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``body`` in one optimistic transaction watching ``watch``."""
        return await transact(self._redis, list(watch), body)


def log_act(record: Record, clock: Clock, act: str, identity: Identity, **details: Any) -> None:
    """Append to the record's history: when, what, who, from which court."""
    record.setdefault("history", []).append(
        {"at": clock.now().isoformat(), "act": act, "by": identity.subject,
         "court": identity.court_code, **details}
    )  # fmt: skip


async def ids_in_jurisdiction(
    redis: aioredis.Redis, index_of: Callable[[str], str], court: str
) -> list[str]:
    """The ids indexed under ``court`` or any court below it (``index_of(court)`` names a
    court's index set): what a superior court may list, it may read (issue 13)."""
    keys = [index_of(c) for c in directory().jurisdiction(court)]
    return sorted(
        {i.decode() if isinstance(i, bytes) else str(i) for i in await redis.sunion(keys)}
    )
