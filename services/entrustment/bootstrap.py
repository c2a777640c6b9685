"""Wires the entrustment service."""

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

NAME = "entrustment"
DEFAULT_HTTP_PORT = 8004
DEFAULT_GRPC_PORT = 50055


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
        title="Zhixing entrustment (事项委托)",
        description="One court asks another to do a matter in its region.",
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
    )
