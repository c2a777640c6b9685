"""Intake's records in Redis (its own keys only): filed cases and idempotency keys."""

from __future__ import annotations

import redis.asyncio as aioredis

from zhixing.state import KeySpace, as_bytes
from zhixing.v1 import case_events_pb2


class CaseRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def case_key(self, case_id: str) -> str:
        return self._keys.key("case", case_id)

    def idempotency_key(self, court_code: str, key: str) -> str:
        return self._keys.key("idempotency", court_code, key)

    async def get(self, case_id: str) -> case_events_pb2.CaseFiled | None:
        raw = await self._redis.hget(self.case_key(case_id), "filed")
        if raw is None:
            return None
        filed = case_events_pb2.CaseFiled()
        filed.ParseFromString(as_bytes(raw))
        return filed
