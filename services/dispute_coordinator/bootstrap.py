"""Wires the dispute coordinator service."""

from __future__ import annotations

from services.dispute_coordinator.disputes import Disputes
from services.dispute_coordinator.http_api import router
from zhixing.breaches import OnBreach
from zhixing.bus import Projection
from zhixing.clock import Clock
from zhixing.courts import directory
from zhixing.known_cases import KnownCases, case_aware_host
from zhixing.service import ServiceContext, ServiceHost
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)
from zhixing.topics import DEADLINE_EVENTS

NAME = "dispute_coordinator"
DEFAULT_HTTP_PORT = 8003
DEFAULT_GRPC_PORT = 50054


def bootstrap(
    *,
    clock: Clock | None = None,
    kafka: KafkaSettings | None = None,
    redis: RedisSettings | None = None,
    auth: AuthSettings | None = None,
    ports: ServiceSettings | None = None,
) -> ServiceHost:
    ctx = ServiceContext.build(NAME, clock=clock, kafka=kafka, redis=redis, auth=auth)
    disputes = Disputes(ctx, directory(), KnownCases(ctx.redis, ctx.keys))
    return case_aware_host(
        ctx,
        title="Zhixing dispute coordinator (执行争议协调)",
        description="Disputes between courts, or a court and an agency: negotiation, "
        "escalation to the common superior, its plan and its implementation.",
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
        routers=[router],
        projections=[
            # A court's 5 days to ask for reconsideration ran out: the plan binds it. The
            # clock is one per court; its id ends with the court's code.
            Projection(
                "reconsideration-lapses",
                [DEADLINE_EVENTS],
                OnBreach(
                    {
                        "dispute.plan-reconsideration": lambda breached, _: (
                            disputes.close_reconsideration(
                                breached.clock.subject_id,
                                breached.clock.clock_id.rsplit(":", 1)[-1],
                            )
                        )
                    }
                ),
            )
        ],
        # The one service an outside agency may call: it sees the disputes it is party to.
        state={"disputes": disputes, "admits_agencies": True},
    )
