"""Wires the entrustment service."""

from __future__ import annotations

from services.entrustment.handlers import Entrustments
from services.entrustment.http_api import router
from services.entrustment.reactions import case_moves, start_breaches
from services.entrustment.repository import EntrustmentRecords
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.courts import directory
from zhixing.known_cases import KnownCases, known_cases_router
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import CASE_EVENTS, DEADLINE_EVENTS

ABOUT = About(
    name="entrustment",
    title="Zhixing entrustment (事项委托)",
    description="One court asks another to do a matter in its region.",
)


def bootstrap(infra: Infrastructure | None = None) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    known = KnownCases(ctx.redis, ctx.keys)
    entrustments = Entrustments(ctx, EntrustmentRecords(ctx.redis, ctx.keys), directory(), known)
    service.routes(known_cases_router(), router, known_cases=known, entrustments=entrustments)
    service.project(
        Projection("known-cases", [CASE_EVENTS], known),
        Projection("case-moves", [CASE_EVENTS], case_moves(entrustments)),
        Projection("start-breaches", [DEADLINE_EVENTS], start_breaches(entrustments)),
        entrustments.stops.projection(),  # disputes' stop orders (执行规定 art 68)
    )
    return service.build()
