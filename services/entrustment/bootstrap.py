"""Wires the entrustment service."""

from __future__ import annotations

from services.entrustment.entrustments import Entrustments
from services.entrustment.http_api import router
from zhixing.breaches import OnBreach
from zhixing.bus import Projection
from zhixing.clock import Clock
from zhixing.courts import directory
from zhixing.known_cases import KnownCases, OnCaseMoved, case_aware_host
from zhixing.service import ServiceContext, ServiceHost
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)
from zhixing.topics import CASE_EVENTS, DEADLINE_EVENTS

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
    entrustments = Entrustments(ctx, directory(), KnownCases(ctx.redis, ctx.keys))
    return case_aware_host(
        ctx,
        title="Zhixing entrustment (事项委托)",
        description="One court asks another to do a matter in its region.",
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
        routers=[router],
        projections=[
            # A case moved to another court by a command action: its matters follow.
            Projection("case-moves", [CASE_EVENTS], OnCaseMoved(entrustments.follow_case)),
            # Not started in time: the entrusting court may ask the superior for an order.
            Projection(
                "start-breaches",
                [DEADLINE_EVENTS],
                OnBreach(
                    {
                        "entrustment.start": lambda breached, _: entrustments.mark_start_overdue(
                            breached.clock.subject_id
                        )
                    }
                ),
            ),
        ],
        state={"entrustments": entrustments},
    )
