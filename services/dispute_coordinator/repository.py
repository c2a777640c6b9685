"""The dispute coordinator's records in Redis: the only code that knows their keys.

Records (under ``dispute_coordinator:``):
- ``dispute:<id>``: a dispute as JSON, with its history of who did what;
- ``party:<court code or agency id>``: a set of the ids of the disputes that party is in
  (what a court, the courts above it, or an agency lists).

Every change is one optimistic transaction over the dispute it reads (``change``); opening
one writes a new record and its indexes (``transact``, nothing to watch).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from zhixing.records import IndexedRecords
from zhixing.state import KeySpace


class DisputeRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "dispute", index="party")
