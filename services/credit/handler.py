"""What every handler of the credit service shares: the context and records, the rule
catalogue, staging an event about a case's credit (aggregate id: the case id; court: the
court handling it), today, and the transaction of an act on one case by an officer of the
court handling it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.credit.domain import Record
from services.credit.repository import CreditRecords
from zhixing.auth import Identity, Role, require_handling_court, require_role
from zhixing.clock import china_today
from zhixing.rules import Catalogue, catalogue
from zhixing.service import ServiceContext
from zhixing.v1 import envelope_pb2

T = TypeVar("T")

SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:credit", role="service"
)


class CreditHandler:
    def __init__(
        self, ctx: ServiceContext, records: CreditRecords, rules: Catalogue | None = None
    ) -> None:
        self.ctx = ctx
        self.records = records
        self.rules = rules or catalogue()

    def now(self) -> str:
        return self.ctx.clock.now().isoformat()

    def today(self) -> dt.date:
        return china_today(self.ctx.clock)

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def stage(
        self, pipe: Pipeline, record: Record, payload: Message,
        actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> None:  # fmt: skip
        """Queue ``payload`` about the case's credit, on the transaction that records it."""
        self.ctx.stage(pipe, payload, aggregate_id=record["case_id"],
                       court_code=record["court_code"], actor=actor)  # fmt: skip

    def log(self, record: Record, act: str, by: str, **details: Any) -> None:
        record["history"].append({"at": self.now(), "act": act, "by": by, **details})

    async def act(
        self, case_id: str, identity: Identity, act: Callable[[Pipeline, Record], Awaitable[T]],
        *, roles: tuple[Role, ...] = (Role.OFFICER,),
    ) -> T:  # fmt: skip
        """Run ``act`` on the credit record of a case ``identity``'s court handles, for one
        of ``roles`` (a court above reads it and acts through command actions only)."""
        require_role(identity, *roles)

        async def checked(pipe: Pipeline, record: Record) -> T:
            require_handling_court(identity, record["court_code"], f"case {case_id}")
            return await act(pipe, record)

        return await self.records.change_case(
            case_id, checked, missing=f"no case {case_id} in your jurisdiction"
        )
