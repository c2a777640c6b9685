"""Intake, asset control, command, deadlines, funds and the agency gateway in one test
process, on the test's Kafka topics and Redis keys, sharing one simulated clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.agency_gateway.server import GatewayServer
from services.asset_control.handlers import AssetControl
from services.audit_notary.handlers import NotarySettings
from services.deadlines.engine import DeadlineEngine
from services.notification.settings import NotificationSettings
from tests.conftest import Isolated
from tools.simulator.platform import in_process_platform
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.service import ServiceHost
from zhixing.workcalendar import CalendarSettings

MONDAY_9AM = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)


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
    notary: ServiceHost | None = None
    deadlines: ServiceHost | None = None
    funds: ServiceHost | None = None
    credit: ServiceHost | None = None
    notification: ServiceHost | None = None
    supervision: ServiceHost | None = None

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
        """The deadlines service's engine (for stacks started with it)."""
        assert self.deadlines is not None
        engine: DeadlineEngine = self.deadlines.http.state.deadlines
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
    with_notary: bool = False,
    notary: NotarySettings | None = None,
    with_funds: bool = False,
    with_credit: bool = False,
    with_notification: bool = False,
    notification: NotificationSettings | None = None,
    with_supervision: bool = False,
    with_deadlines: bool | None = None,
) -> AsyncIterator[Stack]:
    clock = SimulatedClock(MONDAY_9AM)
    async with in_process_platform(
        clock, kafka=isolated.kafka, redis=isolated.redis_settings, auth=isolated.auth,
        calendar=CalendarSettings(dir=calendar_dir), gateway=gateway, agency=agency,
        with_command=with_command, with_entrustment=with_entrustment,
        with_disputes=with_disputes, with_notary=with_notary, notary=notary,
        with_funds=with_funds, with_deadlines=with_deadlines, with_credit=with_credit,
        with_notification=with_notification, notification=notification,
        with_supervision=with_supervision,
    ) as platform:  # fmt: skip
        yield Stack(
            clock, platform.gateway, platform.intake, platform.assets, platform.command,
            TokenAuthority(isolated.auth, clock), platform.entrustment, platform.disputes,
            platform.notary, platform.deadlines, platform.funds, platform.credit,
            notification=platform.notification,
            supervision=platform.supervision,
        )  # fmt: skip
