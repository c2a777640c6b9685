"""Intake's records in Redis (its own keys only): cases from application to closure, case
number sequences (idempotency keys: ``zhixing.idempotency``).

``intake:case:<id>`` is a hash: status (received, filed, refused, closed), court_code, the
application as received (JSON), the CaseFiled message once docketed, and the case's later
facts (officer, team, track, notice, closure). ``intake:pauses:<id>`` is a hash of the
case's pauses of its clock (中止, 暂缓, ...), pause id → JSON.
``intake:seq:<court>:<type>:<year>`` holds the last number issued for that court, type code
and year.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.state import KeySpace, as_bytes, as_text, text_hash, transact
from zhixing.v1 import case_events_pb2

T = TypeVar("T")


class CaseStatus(StrEnum):
    RECEIVED = "received"  # application received, not yet docketed
    FILED = "filed"
    REFUSED = "refused"  # 不予受理
    CLOSED = "closed"


@dataclass
class CaseRecord:
    case_id: str
    status: CaseStatus
    court_code: str
    fields: dict[str, str] = field(default_factory=dict)
    filed: case_events_pb2.CaseFiled | None = None

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


class CaseRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def case_key(self, case_id: str) -> str:
        return self._keys.key("case", case_id)

    def pauses_key(self, case_id: str) -> str:
        return self._keys.key("pauses", case_id)

    async def pauses(
        self, case_id: str, client: aioredis.Redis | Pipeline | None = None
    ) -> list[dict[str, str]]:
        """The case's pauses, oldest start first (then in the order recorded)."""
        raw = await (client or self._redis).hgetall(self.pauses_key(case_id))
        found = [json.loads(as_text(v)) for v in raw.values()]
        return sorted(found, key=lambda p: (p["started_on"], int(p["seq"])))

    def put_pause(self, pipe: Pipeline, case_id: str, pause: dict[str, str]) -> None:
        pipe.hset(
            self.pauses_key(case_id), pause["pause_id"], json.dumps(pause, ensure_ascii=False)
        )

    def receipt_key(self, court_code: str, year: int) -> str:
        """The court's register of applications (收件编号) in a year: the last number."""
        return self._keys.key("receipts", court_code, str(year))

    def sequence_key(self, court_code: str, type_code: str, year: int) -> str:
        return self._keys.key("seq", court_code, type_code, str(year))

    @staticmethod
    def _parse(case_id: str, raw: dict[bytes | str, bytes | str]) -> CaseRecord | None:
        if not raw:
            return None
        filed_raw = raw.pop(b"filed", None)
        fields = text_hash(raw)
        filed = None
        if filed_raw is not None:
            filed = case_events_pb2.CaseFiled()
            filed.ParseFromString(as_bytes(filed_raw))
        return CaseRecord(
            case_id=case_id,
            status=CaseStatus(fields.get("status", CaseStatus.FILED)),
            court_code=fields["court_code"],
            fields=fields,
            filed=filed,
        )

    async def read(
        self, case_id: str, client: aioredis.Redis | Pipeline | None = None
    ) -> CaseRecord | None:
        raw = await (client or self._redis).hgetall(self.case_key(case_id))
        return self._parse(case_id, dict(raw))

    async def get(self, case_id: str) -> case_events_pb2.CaseFiled | None:
        """The case as filed; None for unknown cases and applications not docketed."""
        record = await self.read(case_id)
        return record.filed if record else None

    async def transact(self, watch: list[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        return await transact(self._redis, watch, body)
