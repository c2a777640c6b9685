"""What every handler of asset control shares: the service's context, its records and the
agency settings; staging an event; the time now; who may act on a court's asset; the
transaction of a command on one asset; and the refusal of an act a stop order forbids."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import SERVICE_ACTOR
from services.asset_control.repository import AssetRecords
from zhixing.auth import Identity, Role, require_handling_court, require_role
from zhixing.closures import refuse_if_closed
from zhixing.errors import NotFound
from zhixing.service import ServiceContext
from zhixing.stops import StopOrders
from zhixing.v1 import envelope_pb2


class Handler:
    def __init__(
        self, ctx: ServiceContext, records: AssetRecords, settings: AgencySettings
    ) -> None:
        self.ctx = ctx
        self.records = records
        self.settings = settings
        # The stops in force per case (执行规定 art 68), kept by the service's projection.
        self.stops = StopOrders(ctx.redis, ctx.keys)

    def stage(
        self, pipe: Pipeline, payload: Message, aggregate_id: str, court_code: str,
        actor: envelope_pb2.Actor = SERVICE_ACTOR, causation_id: str = "",
    ) -> None:  # fmt: skip
        """Queue ``payload`` in the outbox, on the transaction of the change it records."""
        self.ctx.stage(pipe, payload, aggregate_id=aggregate_id, court_code=court_code,
                       actor=actor, causation_id=causation_id)  # fmt: skip

    def now_ms(self) -> int:
        return int(self.ctx.clock.now().timestamp() * 1000)

    async def refuse_if_stopped(self, pipe: Pipeline, case: dict[str, Any], act: str) -> None:
        """Refuse ``act`` (409, rule dispute.stop-enforcement) while a dispute stops the
        court handling the case; call it before the act's MULTI."""
        await self.stops.check(pipe, case["case_id"], case["court_code"], act,
                               case_number=case.get("case_number", ""))  # fmt: skip

    @staticmethod
    def refuse_if_closed(case: dict[str, Any], act: str) -> None:
        """Refuse ``act`` (409) on a case closed (``zhixing.closures``), naming the rule."""
        refuse_if_closed(case, case.get("case_number") or case["case_id"], act)

    @staticmethod
    def check_officer(identity: Identity, court_code: str, what: str, *roles: Role) -> None:
        require_role(identity, *(roles or (Role.OFFICER,)))
        require_handling_court(identity, court_code, what)

    async def asset_command(
        self, asset_id: str, identity: Identity, act: Any, *roles: Role, with_queue: bool = False,
    ) -> Any:  # fmt: skip
        """Run ``act(pipe, case, record, queue)`` (queue only if asked) in one transaction,
        for an officer (or ``roles``) of the court handling the asset."""
        head = await self.records.asset(asset_id)
        if head is None:
            raise NotFound(f"no asset {asset_id}")
        self.check_officer(identity, head["court_code"], f"asset {asset_id}", *roles)
        key = self.records.asset_key(asset_id)
        case_key = self.records.case_key(head["case_id"])
        queue_key = self.records.queue_key(head["asset_key"])

        async def body(pipe: Pipeline) -> Any:
            record = await self.records.load(pipe, key)
            case = await self.records.load(pipe, case_key)
            assert record is not None and case is not None
            queue = await self.records.load_queue(pipe, queue_key) if with_queue else []
            result = await act(pipe, case, record, queue)
            self.records.put(pipe, key, record)
            self.records.put(pipe, case_key, case)
            return result

        return await self.records.transact([key, case_key, queue_key], body)
