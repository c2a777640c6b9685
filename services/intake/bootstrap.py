"""Wires the intake service from its settings: the one place real dependencies are chosen."""

from __future__ import annotations

from services.intake.grpc_api import IntakeQueries
from services.intake.handlers import Intake
from services.intake.http_api import router
from services.intake.reactions import IntakeReactions
from services.intake.repository import CaseRecords
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.service import ServiceHost
from zhixing.topics import ASSET_EVENTS, CASE_EVENTS, DEADLINE_EVENTS
from zhixing.v1 import intake_service_pb2_grpc

ABOUT = About(
    name="intake",
    title="Zhixing intake (立案)",
    description="Receives and dockets enforcement cases, issues case numbers, triages.",
    http_port=8001,
    grpc_port=50052,
)


def bootstrap(infra: Infrastructure | None = None) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    records = CaseRecords(ctx.redis, ctx.keys)
    service.routes(router, ctx=ctx, intake=Intake(ctx, records))
    service.grpc(
        lambda server: intake_service_pb2_grpc.add_IntakeServiceServicer_to_server(
            IntakeQueries(records), server
        )
    )
    service.react(
        "reactions", [CASE_EVENTS, ASSET_EVENTS, DEADLINE_EVENTS], IntakeReactions(records, ctx)
    )
    return service.build()
