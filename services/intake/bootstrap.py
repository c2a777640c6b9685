"""Wires the intake service from its settings: the one place real dependencies are chosen."""

from __future__ import annotations

from services.intake.grpc_api import IntakeQueries
from services.intake.handlers import Intake
from services.intake.http_api import router
from services.intake.pauses import Pauses
from services.intake.pauses_api import router as pauses_router
from services.intake.reactions import GateFactsReaction, IntakeReactions
from services.intake.repository import CaseRecords
from services.intake.zhongben import Zhongben
from services.intake.zhongben_api import router as zhongben_router
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import (
    ASSET_EVENTS,
    CASE_EVENTS,
    CREDIT_EVENTS,
    DEADLINE_EVENTS,
    FUNDS_EVENTS,
)
from zhixing.v1 import intake_service_pb2_grpc

ABOUT = About(
    name="intake",
    title="Zhixing intake (立案)",
    description="Receives and dockets enforcement cases, issues case numbers, triages.",
)


def bootstrap(infra: Infrastructure | None = None) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    records = CaseRecords(ctx.redis, ctx.keys)
    intake = Intake(ctx, records)
    service.routes(router, zhongben_router, pauses_router, ctx=ctx, intake=intake,
                   zhongben=Zhongben(intake), pauses=Pauses(intake))  # fmt: skip
    service.grpc(
        lambda server: intake_service_pb2_grpc.add_IntakeServiceServicer_to_server(
            IntakeQueries(records), server
        )
    )
    service.project(
        Projection(
            "reactions", [CASE_EVENTS, ASSET_EVENTS, DEADLINE_EVENTS], IntakeReactions(records, ctx)
        ),
        Projection(
            "zhongben-facts",
            [ASSET_EVENTS, FUNDS_EVENTS, CREDIT_EVENTS],
            GateFactsReaction(intake.facts),
        ),
        intake.stops.projection(),  # disputes' stop orders (执行规定 art 68)
    )
    return service.build()
