"""Entrustment's records in Redis: the only code that knows their keys.

Records (under ``entrustment:``):
- ``entrustment:<id>``: a matter entrusted, as JSON, with its history of who did what;
- ``court:<code>``: a set of the ids of the matters that court is party to, entrusting or
  entrusted (what a court, and the courts above it, list).

Every change is one optimistic transaction over the matter it reads (``change``);
entrusting one writes a new record and its indexes (``transact``, nothing to watch).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.records import JsonRecords, ids_in_jurisdiction
from zhixing.state import KeySpace, as_text, transact

T = TypeVar("T")


class EntrustmentRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys
        self._records = JsonRecords(redis, keys, "entrustment")

    # --- keys ------------------------------------------------------------------------------

    def entrustment_key(self, entrustment_id: str) -> str:
        return self._records.key(entrustment_id)

    def court_index(self, court: str) -> str:
        return self._keys.key("court", court)

    # --- reads -----------------------------------------------------------------------------

    async def get(self, entrustment_id: str) -> dict[str, Any] | None:
        return await self._records.get(entrustment_id)

    async def many(self, entrustment_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The matters that exist of ``entrustment_ids``, in that order."""
        return await self._records.many(entrustment_ids)

    async def ids_of_court(self, court: str) -> list[str]:
        """The ids of the matters ``court`` is party to, sorted."""
        return sorted(as_text(i) for i in await self._redis.smembers(self.court_index(court)))

    async def ids_in_jurisdiction(self, court: str) -> list[str]:
        """The ids of the matters of ``court`` and of every court below it."""
        return await ids_in_jurisdiction(self._redis, self.court_index, court)

    # --- writes ----------------------------------------------------------------------------

    def put(self, pipe: Pipeline, entrustment_id: str, record: dict[str, Any]) -> None:
        self._records.put(pipe, entrustment_id, record)

    def index(self, pipe: Pipeline, court: str, entrustment_id: str) -> None:
        """List the matter under ``court``."""
        pipe.sadd(self.court_index(court), entrustment_id)

    async def change(
        self, entrustment_id: str, act: Callable[[Pipeline, dict[str, Any]], Awaitable[T]], *,
        visible: Callable[[dict[str, Any]], bool] | None = None, missing: str | None = None,
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record)`` in one transaction over the matter; the record is
        written with the writes ``act`` queues after ``pipe.multi()``. A missing matter, or
        one ``visible`` rejects, is NotFound(``missing``)."""
        return await self._records.change(entrustment_id, act, visible=visible, missing=missing)

    async def set_once(self, entrustment_id: str, field: str, value: Any) -> bool:
        """Set ``field`` of the matter unless it has that value already (idempotent)."""
        return await self._records.set_once(entrustment_id, field, value)

    async def transact(self, watch: Sequence[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``body`` in one optimistic transaction watching ``watch``."""
        return await transact(self._redis, list(watch), body)
