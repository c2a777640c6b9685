"""The dispute coordinator's records in Redis: the only code that knows their keys.

Records (under ``dispute_coordinator:``):
- ``dispute:<id>``: a dispute as JSON, with its history of who did what;
- ``party:<court code or agency id>``: a set of the ids of the disputes that party is in
  (what a court, the courts above it, or an agency lists).

Every change is one optimistic transaction over the dispute it reads (``change``); opening
one writes a new record and its indexes (``transact``, nothing to watch).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.records import JsonRecords, ids_in_jurisdiction
from zhixing.state import KeySpace, as_text, transact

T = TypeVar("T")


class DisputeRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys
        self._records = JsonRecords(redis, keys, "dispute")

    # --- keys ------------------------------------------------------------------------------

    def dispute_key(self, dispute_id: str) -> str:
        return self._records.key(dispute_id)

    def party_index(self, party: str) -> str:
        return self._keys.key("party", party)

    # --- reads -----------------------------------------------------------------------------

    async def get(self, dispute_id: str) -> dict[str, Any] | None:
        return await self._records.get(dispute_id)

    async def many(self, dispute_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The disputes that exist of ``dispute_ids``, in that order."""
        return await self._records.many(dispute_ids)

    async def ids_of_party(self, party: str) -> list[str]:
        """The ids of the disputes ``party`` (a court or an agency) is in, sorted."""
        return sorted(as_text(i) for i in await self._redis.smembers(self.party_index(party)))

    async def ids_in_jurisdiction(self, court: str) -> list[str]:
        """The ids of the disputes of ``court`` and of every court below it."""
        return await ids_in_jurisdiction(self._redis, self.party_index, court)

    # --- writes ----------------------------------------------------------------------------

    def put(self, pipe: Pipeline, dispute_id: str, record: dict[str, Any]) -> None:
        self._records.put(pipe, dispute_id, record)

    def index(self, pipe: Pipeline, party: str, dispute_id: str) -> None:
        """List the dispute under ``party``."""
        pipe.sadd(self.party_index(party), dispute_id)

    async def change(
        self, dispute_id: str, act: Callable[[Pipeline, dict[str, Any]], Awaitable[T]], *,
        visible: Callable[[dict[str, Any]], bool] | None = None, missing: str | None = None,
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record)`` in one transaction over the dispute; the record is
        written with the writes ``act`` queues after ``pipe.multi()``. A missing dispute, or
        one ``visible`` rejects, is NotFound(``missing``)."""
        return await self._records.change(dispute_id, act, visible=visible, missing=missing)

    async def transact(self, watch: Sequence[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``body`` in one optimistic transaction watching ``watch``."""
        return await transact(self._redis, list(watch), body)
