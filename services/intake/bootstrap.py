"""Wires the intake service from its settings: the one place real dependencies are chosen."""

from __future__ import annotations

from services.intake.grpc_api import IntakeQueries
from services.intake.handlers import Intake
from services.intake.http_api import router
from services.intake.reactions import IntakeReactions
from services.intake.repository import CaseRecords
from zhixing.clock import Clock
from zhixing.service import ServiceContext, ServiceHost, create_http_app
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)
from zhixing.topics import ASSET_EVENTS, CASE_EVENTS, DEADLINE_EVENTS
from zhixing.v1 import intake_service_pb2_grpc

NAME = "intake"
DEFAULT_HTTP_PORT = 8001
DEFAULT_GRPC_PORT = 50052


def bootstrap(
    *,
    clock: Clock | None = None,
    kafka: KafkaSettings | None = None,
    redis: RedisSettings | None = None,
    auth: AuthSettings | None = None,
    ports: ServiceSettings | None = None,
) -> ServiceHost:
    ctx = ServiceContext.build(NAME, clock=clock, kafka=kafka, redis=redis, auth=auth)
    records = CaseRecords(ctx.redis, ctx.keys)
    intake = Intake(ctx, records)
    app = create_http_app(
        ctx,
        title="Zhixing intake (立案)",
        description="Receives and dockets enforcement cases, issues case numbers, triages.",
    )
    app.state.ctx = ctx
    app.state.intake = intake

    app.include_router(router)
    return ServiceHost(
        ctx=ctx,
        http=app,
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
        grpc_services=[
            lambda server: intake_service_pb2_grpc.add_IntakeServiceServicer_to_server(
                IntakeQueries(records), server
            )
        ],
        consumers=[
            ctx.consumer(
                "reactions",
                [CASE_EVENTS, ASSET_EVENTS, DEADLINE_EVENTS],
                IntakeReactions(records, ctx),
            )
        ],
        background=[ctx.outbox_relay()],
    )
