"""What every handler of the funds service shares: the context and records, staging an
event about a case's funds, the time now, the transaction of an act on one case's
ledger by someone of the court handling it, and the refusal of an act a stop order forbids."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.funds.domain import Record
from services.funds.repository import FundsRecords
from zhixing.auth import Identity, require_handling_court
from zhixing.clock import china_today
from zhixing.idempotency import Idempotency
from zhixing.service import ServiceContext
from zhixing.stops import StopOrders
from zhixing.v1 import envelope_pb2

T = TypeVar("T")

SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:funds", role="service"
)


class FundsHandler:
    def __init__(self, ctx: ServiceContext, records: FundsRecords) -> None:
        self.ctx = ctx
        self.records = records
        # The stops in force per case (执行规定 art 68), kept by the service's projection.
        self.stops = StopOrders(ctx.redis, ctx.keys)

    async def refuse_if_stopped(self, pipe: Pipeline, record: Record, act: str) -> None:
        """Refuse ``act`` (409, rule dispute.stop-enforcement) while a dispute stops the
        court handling the case; call it before the act's MULTI."""
        await self.stops.check(pipe, record["case_id"], record["court_code"], act,
                               case_number=record.get("case_number", ""))  # fmt: skip

    def once(
        self, scope: str, identity: Identity, key: str | None, **request: Any
    ) -> Idempotency | None:
        """The Idempotency-Key of a creating request (None without one), the caller's own."""
        return Idempotency.of_request(self.ctx.keys, scope, identity.court_code, key,
                                      owner=identity.subject, **request)  # fmt: skip

    @staticmethod
    async def made_before(
        pipe: Pipeline, once: Idempotency | None, record: Record, part: str, what: str
    ) -> Record | None:
        """What the first request with ``once``'s key made in the ledger's ``part`` (read in
        the act's transaction, the key watched), or None: a retry makes nothing twice."""
        previous = await once.previous(pipe, what=what, named=what) if once else None
        return record[part].get(previous) if previous else None

    def now(self) -> str:
        return self.ctx.clock.now().isoformat()

    def today(self) -> str:
        return china_today(self.ctx.clock).isoformat()

    def now_ms(self) -> int:
        return int(self.ctx.clock.now().timestamp() * 1000)

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def stage(
        self, pipe: Pipeline, record: Record, payload: Message,
        actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> None:  # fmt: skip
        """Queue ``payload`` about the case's funds, on the transaction that records it."""
        self.ctx.stage(pipe, payload, aggregate_id=record["case_id"],
                       court_code=record["court_code"], actor=actor)  # fmt: skip

    def log(self, record: Record, act: str, by: str, **details: Any) -> None:
        record["history"].append({"at": self.now(), "act": act, "by": by, **details})

    async def act(
        self, case_id: str, identity: Identity, act: Callable[[Pipeline, Record], Awaitable[T]],
        *, watch: tuple[str, ...] = (),
    ) -> T:  # fmt: skip
        """Run ``act`` on the ledger of a case ``identity``'s court handles (a court above
        reads it and acts through command actions only)."""

        async def checked(pipe: Pipeline, record: Record) -> T:
            require_handling_court(identity, record["court_code"], f"case {case_id}")
            return await act(pipe, record)

        return await self.records.change_case(
            case_id, checked, watch=watch, missing=f"no case {case_id} in your jurisdiction"
        )
