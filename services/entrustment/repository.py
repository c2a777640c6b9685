"""Entrustment's records in Redis: the only code that knows their keys.

Records (under ``entrustment:``):
- ``entrustment:<id>``: a matter entrusted, as JSON, with its history of who did what;
- ``court:<code>``: a set of the ids of the matters that court is party to, entrusting or
  entrusted (what a court, and the courts above it, list).

Every change is one optimistic transaction over the matter it reads (``change``);
entrusting one writes a new record and its indexes (``transact``, nothing to watch).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from zhixing.records import IndexedRecords
from zhixing.state import KeySpace


class EntrustmentRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "entrustment", index="court")
