"""Wires the asset control service."""

from __future__ import annotations

from services.asset_control.agency import AgencyClient, AgencySettings, GrpcAgencyClient
from services.asset_control.handlers import AssetControl
from services.asset_control.http_api import router
from services.asset_control.reactions import (
    CaseIntake,
    ControlTerms,
    EntrustedControls,
    requery_due_days,
)
from services.asset_control.transfers_api import router as transfers_router
from services.asset_control.worker import AgencyWorker
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import CASE_EVENTS, DEADLINE_EVENTS, ENTRUSTMENT_EVENTS

ABOUT = About(
    name="asset_control",
    title="Zhixing asset control (财产查控)",
    description="Network asset queries, control within the claim, and the disposal chain.",
)


def bootstrap(
    infra: Infrastructure | None = None,
    *,
    agency: AgencySettings | None = None,
    agency_client: AgencyClient | None = None,
) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    agency = agency or AgencySettings()
    control = AssetControl(ctx, agency)
    worker = AgencyWorker(
        control, agency_client or GrpcAgencyClient(agency, ctx.service_credential()), agency
    )
    service.routes(router, transfers_router, asset_control=control, agency_worker=worker)
    service.project(
        Projection("cases", [CASE_EVENTS], CaseIntake(control)),
        Projection("control-terms", [DEADLINE_EVENTS], ControlTerms(control)),
        Projection("requery-due-days", [DEADLINE_EVENTS], requery_due_days(control)),
        Projection("entrusted-controls", [ENTRUSTMENT_EVENTS], EntrustedControls(control)),
        control.stops.projection(),  # disputes' stop orders (执行规定 art 68)
    )
    service.run(worker)
    return service.build()
