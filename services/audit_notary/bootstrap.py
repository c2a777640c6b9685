"""Wires the audit notary service."""

from __future__ import annotations

from services.audit_notary.http_api import router
from services.audit_notary.notary import CheckpointLoop, Notary, NotarySettings, signing_key
from zhixing.bus import Projection
from zhixing.clock import Clock
from zhixing.service import ServiceContext, ServiceHost, create_http_app
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)
from zhixing.topics import AUDIT_RECORDS

NAME = "audit_notary"
DEFAULT_HTTP_PORT = 8005
DEFAULT_GRPC_PORT = 50056


def bootstrap(
    *,
    clock: Clock | None = None,
    kafka: KafkaSettings | None = None,
    redis: RedisSettings | None = None,
    auth: AuthSettings | None = None,
    ports: ServiceSettings | None = None,
    notary: NotarySettings | None = None,
) -> ServiceHost:
    ctx = ServiceContext.build(NAME, clock=clock, kafka=kafka, redis=redis, auth=auth)
    settings = notary or NotarySettings()
    anchor = Notary(ctx, signing_key(settings), settings)
    app = create_http_app(
        ctx,
        title="Zhixing audit notary (留痕公证)",
        description="Signed checkpoints of the audit chain, and Merkle proofs against them.",
    )
    app.state.notary = anchor
    app.include_router(router)
    return ServiceHost(
        ctx=ctx,
        http=app,
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
        consumers=[ctx.consumer_of(Projection("chain", [AUDIT_RECORDS], anchor))],
        background=[ctx.outbox_relay(), CheckpointLoop(anchor)],
    )
