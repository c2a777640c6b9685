"""Wires the asset control service."""

from __future__ import annotations

from services.asset_control.agency import AgencyClient, AgencySettings, GrpcAgencyClient
from services.asset_control.control import AssetControl
from services.asset_control.http_api import router
from services.asset_control.reactions import CONTROL_TERM_RULES, CaseIntake, EntrustedControls
from services.asset_control.worker import AgencyWorker
from zhixing.breaches import OnBreach
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
from zhixing.topics import CASE_EVENTS, DEADLINE_EVENTS, ENTRUSTMENT_EVENTS

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
    agency: AgencySettings | None = None,
    agency_client: AgencyClient | None = None,
) -> ServiceHost:
    ctx = ServiceContext.build(NAME, clock=clock, kafka=kafka, redis=redis, auth=auth)
    agency = agency or AgencySettings()
    control = AssetControl(ctx, agency)
    app = create_http_app(
        ctx,
        title="Zhixing asset control (财产查控)",
        description="Network asset queries, control within the claim, and the disposal chain.",
    )
    app.state.asset_control = control

    app.include_router(router)
    worker = AgencyWorker(
        control, agency_client or GrpcAgencyClient(agency, ctx.service_credential()), agency
    )
    app.state.agency_worker = worker
    return ServiceHost(
        ctx=ctx,
        http=app,
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
        consumers=[
            ctx.consumer_of(
                Projection("cases", [CASE_EVENTS], CaseIntake(control)),
                # A control term that breached lapses the control.
                Projection(
                    "control-terms",
                    [DEADLINE_EVENTS],
                    OnBreach(
                        {
                            rule: lambda breached, event: control.lapse(
                                breached.clock.subject_id,
                                breached.clock.clock_id,
                                breached.effect,
                                event.event_id,
                            )
                            for rule in CONTROL_TERM_RULES
                        }
                    ),
                ),
                Projection("entrusted-controls", [ENTRUSTMENT_EVENTS], EntrustedControls(control)),
            )
        ],
        background=[worker, ctx.outbox_relay()],
    )
