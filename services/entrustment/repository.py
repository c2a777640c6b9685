"""Entrustment's records in Redis: the only code that knows their keys.

Records (under ``entrustment:``):
- ``entrustment:<id>``: a matter entrusted, as JSON, with its history of who did what;
- ``court:<code>``: a set of the ids of the matters that court is party to, entrusting or
  entrusted (what a court, and the courts above it, list);
- ``case:<id>``: a set of the ids of the matters a case entrusted (what bounds them:
  ``MAX_ENTRUSTMENTS_PER_CASE``).

Every change is one optimistic transaction over the matter it reads (``change``);
entrusting one writes a new record and its indexes (``transact``, nothing to watch).
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.records import IndexedRecords
from zhixing.state import KeySpace


class EntrustmentRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "entrustment", index="court")

    def case_key(self, case_id: str) -> str:
        """The set of the matters ``case_id`` entrusted."""
        return self._keys.key("case", case_id)

    async def entrusted_by_case(self, pipe: Pipeline, case_id: str) -> int:
        """How many matters the case entrusted (read on ``pipe``, watching its set)."""
        return int(await pipe.scard(self.case_key(case_id)))

    def count_for_case(self, pipe: Pipeline, case_id: str, entrustment_id: str) -> None:
        pipe.sadd(self.case_key(case_id), entrustment_id)
