"""Intake, asset control, command and the agency gateway in one test process, on the
test's Kafka topics and Redis keys, sharing one simulated clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.agency_gateway.server import GatewayServer, GatewaySettings
from services.asset_control.agency import AgencySettings
from services.asset_control.bootstrap import bootstrap as asset_control_bootstrap
from services.asset_control.control import AssetControl
from services.command.bootstrap import bootstrap as command_bootstrap
from services.command.deadlines.engine import DeadlineEngine
from services.dispute_coordinator.bootstrap import bootstrap as disputes_bootstrap
from services.entrustment.bootstrap import bootstrap as entrustment_bootstrap
from services.intake.bootstrap import bootstrap as intake_bootstrap
from tests.conftest import Isolated
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.service import ServiceHost
from zhixing.settings import ServiceSettings
from zhixing.workcalendar import CalendarSettings

MONDAY_9AM = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
ANY_PORT = ServiceSettings(http_port=0, grpc_port=0)


@dataclass
class Stack:
    clock: SimulatedClock
    gateway: GatewayServer
    intake: ServiceHost
    assets: ServiceHost
    command: ServiceHost | None
    tokens: TokenAuthority
    entrustment: ServiceHost | None = None
    disputes: ServiceHost | None = None

    def headers(self, role: Role, court: str = "苏1283", subject: str = "u1") -> dict[str, str]:
        token = self.tokens.issue(subject=subject, court_code=court, role=role)
        return {"Authorization": f"Bearer {token}"}

    def client(self, host: ServiceHost) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}", timeout=30)

    @property
    def control(self) -> AssetControl:
        control: AssetControl = self.assets.http.state.asset_control
        return control

    @property
    def commander(self) -> ServiceHost:
        """The command service's host (for stacks started with it)."""
        assert self.command is not None
        return self.command

    @property
    def engine(self) -> DeadlineEngine:
        assert self.command is not None
        engine: DeadlineEngine = self.command.http.state.deadlines
        return engine


@asynccontextmanager
async def platform_stack(
    isolated: Isolated,
    calendar_dir: Path,
    *,
    gateway: dict[str, Any] | None = None,
    agency: dict[str, Any] | None = None,
    with_command: bool = True,
    with_entrustment: bool = False,
    with_disputes: bool = False,
) -> AsyncIterator[Stack]:
    clock = SimulatedClock(MONDAY_9AM)
    server = GatewayServer(
        GatewaySettings(**{"grpc_port": 0, "latency_ms": 0, **(gateway or {})}), clock=clock
    )
    await server.start()
    common: dict[str, Any] = {
        "clock": clock,
        "kafka": isolated.kafka,
        "redis": isolated.redis_settings,
        "auth": isolated.auth,
        "ports": ANY_PORT,
    }
    agency_settings = AgencySettings(
        target=f"127.0.0.1:{server.grpc_port}",
        poll_interval_s=0.05,
        **{"backoff_base_s": 10.0, "feedback_timeout_s": 60.0, **(agency or {})},
    )
    intake = intake_bootstrap(**common)
    assets = asset_control_bootstrap(**common, agency=agency_settings)
    command = (
        command_bootstrap(**common, calendar=CalendarSettings(dir=calendar_dir))
        if with_command
        else None
    )
    entrustment = entrustment_bootstrap(**common) if with_entrustment else None
    disputes = disputes_bootstrap(**common) if with_disputes else None
    hosts = [h for h in (intake, assets, command, entrustment, disputes) if h is not None]
    for host in hosts:
        await host.start()
    try:
        yield Stack(
            clock, server, intake, assets, command, TokenAuthority(isolated.auth, clock),
            entrustment, disputes,
        )  # fmt: skip
    finally:
        for host in reversed(hosts):
            await host.stop()
        await server.stop()
