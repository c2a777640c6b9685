"""Wires the supervision service."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.supervision.http_api import ROUTERS
from services.supervision.officers import Officers
from services.supervision.petitions import Petitions
from services.supervision.reactions import CaseFacts, ClockFacts
from services.supervision.register import Register
from services.supervision.register_api import EXPORT_TRUNCATED
from services.supervision.repository import SupervisionRecords
from services.supervision.tasks import Tasks
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.paging import NEXT_CURSOR
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.settings import service_settings
from zhixing.topics import (
    ASSET_EVENTS,
    CASE_EVENTS,
    COMMAND_EVENTS,
    DEADLINE_EVENTS,
    DISPUTE_EVENTS,
    ENTRUSTMENT_EVENTS,
)

ABOUT = About(
    name="supervision",
    title="Zhixing supervision (监督)",
    description="专人 tasks from escalated clocks, answered or escalated on; petitions (信访) "
    "on their clocks; the interference register (干预过问案件登记); officers' postings and "
    "rotation reminders.",
)


def _dashboard_origins() -> list[str]:
    """The dashboard's origins on this host: the command service's HTTP port as set
    (``ZHIXING_COMMAND_HTTP_PORT``, or its default in ``zhixing.ports``)."""
    port = service_settings("command").http_port
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


class SupervisionSettings(BaseSettings):
    """The browser origins allowed to call this service (the dashboard, served by the
    command service at another origin)."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_SUPERVISION_", extra="ignore")

    cors_origins: list[str] = Field(
        default_factory=_dashboard_origins,
        description="Origins allowed by CORS (JSON list); by default the dashboard's on this host",
    )


def bootstrap(
    infra: Infrastructure | None = None, *, settings: SupervisionSettings | None = None
) -> ServiceHost:
    settings = settings or SupervisionSettings()
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    records = SupervisionRecords(ctx.redis, ctx.keys)
    tasks = Tasks(ctx, records)
    officers = Officers(ctx, records)
    service.routes(*ROUTERS, task_queue=tasks, petitions=Petitions(ctx, records),
                   register=Register(ctx, records), officers=officers)  # fmt: skip
    service.http.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        # The register's export names its file there, and says when it was cut short; a
        # listing names its next page: the page must be able to read them.
        expose_headers=["Content-Disposition", EXPORT_TRUNCATED, NEXT_CURSOR],
    )  # fmt: skip
    case_topics = [CASE_EVENTS, ASSET_EVENTS, COMMAND_EVENTS, ENTRUSTMENT_EVENTS, DISPUTE_EVENTS]
    service.project(Projection("cases", case_topics, CaseFacts(records)))
    service.react("clocks", [DEADLINE_EVENTS], ClockFacts(tasks, officers))
    return service.build()
