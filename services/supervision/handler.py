"""What every handler of the supervision service shares: the context and records, the rule
catalogue, the time, new ids, and staging an event in the transaction that records it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NamedTuple

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.supervision.repository import SupervisionRecords
from zhixing.auth import Identity, may_read
from zhixing.clock import china_today
from zhixing.errors import NotFound
from zhixing.idempotency import Idempotency
from zhixing.rules import Catalogue, catalogue
from zhixing.service import ServiceContext
from zhixing.v1 import envelope_pb2

SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:supervision", role="service"
)


class Saved(NamedTuple):
    """What a creating command recorded; ``created`` False when an Idempotency-Key named a
    request already done (the record is the one it created)."""

    record: dict[str, Any]
    created: bool


class SupervisionHandler:
    def __init__(
        self, ctx: ServiceContext, records: SupervisionRecords, rules: Catalogue | None = None
    ) -> None:
        self.ctx = ctx
        self.records = records
        self.rules = rules or catalogue()

    def now(self) -> dt.datetime:
        return self.ctx.clock.now()

    def today(self) -> dt.date:
        return china_today(self.ctx.clock)

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def stage(
        self, pipe: Pipeline, payload: Message, *, aggregate_id: str, court_code: str,
        actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> None:  # fmt: skip
        self.ctx.stage(pipe, payload, aggregate_id=aggregate_id, court_code=court_code,
                       actor=actor)  # fmt: skip

    def once(
        self, scope: str, identity: Identity, key: str | None, **request: Any
    ) -> Idempotency | None:
        """The Idempotency-Key of a creating request at the caller's court (None without
        one); ``request`` is what was asked, its fingerprint. Per person: a colleague reusing
        a key must not be shown another's register record."""
        return Idempotency.of_request(self.ctx.keys, scope, identity.court_code, key,
                                      owner=identity.subject, **request)  # fmt: skip

    def rule_title(self, rule_id: str) -> str:
        return self.rules.title_of(rule_id)

    async def visible_case(self, case_id: str, identity: Identity) -> dict[str, str]:
        """The case (number, handling court) if ``identity``'s court may see it; else 404."""
        case = await self.records.case(case_id)
        if case is None or "court_code" not in case or not may_read(identity, case["court_code"]):
            raise NotFound(f"no case {case_id} in your jurisdiction")
        return case
