"""Wires the asset control service."""

from __future__ import annotations

from zhixing.clock import Clock
from zhixing.known_cases import case_aware_host
from zhixing.service import ServiceContext, ServiceHost
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)

NAME = "asset_control"
DEFAULT_HTTP_PORT = 8002
DEFAULT_GRPC_PORT = 50053


def bootstrap(
    *,
    clock: Clock | None = None,
    kafka: KafkaSettings | None = None,
    redis: RedisSettings | None = None,
    auth: AuthSettings | None = None,
    ports: ServiceSettings | None = None,
) -> ServiceHost:
    ctx = ServiceContext.build(NAME, clock=clock, kafka=kafka, redis=redis, auth=auth)
    return case_aware_host(
        ctx,
        title="Zhixing asset control (财产查控)",
        description="Network asset queries, control and the disposal chain.",
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
    )
