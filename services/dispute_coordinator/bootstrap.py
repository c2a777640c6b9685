"""Wires the dispute coordinator service."""

from __future__ import annotations

from services.dispute_coordinator.handlers import Disputes
from services.dispute_coordinator.http_api import router
from services.dispute_coordinator.reactions import reconsideration_lapses
from services.dispute_coordinator.repository import DisputeRecords
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.courts import directory
from zhixing.known_cases import KnownCases, known_cases_router
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import CASE_EVENTS, DEADLINE_EVENTS

ABOUT = About(
    name="dispute_coordinator",
    title="Zhixing dispute coordinator (执行争议协调)",
    description="Disputes between courts, or a court and an agency: negotiation, "
    "escalation to the common superior, its plan and its implementation.",
)


def bootstrap(infra: Infrastructure | None = None) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    known = KnownCases(ctx.redis, ctx.keys)
    disputes = Disputes(ctx, DisputeRecords(ctx.redis, ctx.keys), directory(), known)
    # The one service an outside agency may call: it sees the disputes it is party to.
    service.routes(
        known_cases_router(), router, known_cases=known, disputes=disputes, admits_agencies=True
    )
    service.project(
        Projection("known-cases", [CASE_EVENTS], known),
        Projection("reconsideration-lapses", [DEADLINE_EVENTS], reconsideration_lapses(disputes)),
    )
    return service.build()
