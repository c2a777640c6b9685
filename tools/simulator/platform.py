"""Every service in one process, on one simulated clock.

The tests and ``make simulate`` run the services as hosts in one event loop on one
``SimulatedClock``; they still talk only through Kafka, Redis, gRPC and HTTP on real ports,
exactly as they do as processes. The bench also runs them as processes
(``tools.simulator.processes``), which follow the same clock through Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.agency_gateway.server import GatewayServer, GatewaySettings
from services.asset_control.agency import AgencySettings
from services.asset_control.bootstrap import bootstrap as asset_control_bootstrap
from services.audit_notary.bootstrap import bootstrap as notary_bootstrap
from services.audit_notary.handlers import NotarySettings
from services.command.bootstrap import bootstrap as command_bootstrap
from services.command.clocks_api import DeadlinesLink
from services.credit.bootstrap import bootstrap as credit_bootstrap
from services.deadlines.bootstrap import bootstrap as deadlines_bootstrap
from services.dispute_coordinator.bootstrap import bootstrap as disputes_bootstrap
from services.entrustment.bootstrap import bootstrap as entrustment_bootstrap
from services.funds.bootstrap import bootstrap as funds_bootstrap
from services.funds.transfers import TransferSettings
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.notification.bootstrap import bootstrap as notification_bootstrap
from services.notification.settings import NotificationSettings
from services.supervision.bootstrap import bootstrap as supervision_bootstrap
from tools.simulator.service_process import ServiceProcess
from zhixing.builder import Infrastructure
from zhixing.clock import SimulatedClock
from zhixing.service import ServiceHost
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings, ServiceSettings
from zhixing.shared_clock import ClockDriver
from zhixing.workcalendar import CalendarSettings

FOLLOW_TIMEOUT_S = 30.0
"""How long every service process may take to follow a move of the simulated clock."""

ANY_PORT = ServiceSettings(http_port=0, grpc_port=0)


@dataclass
class SimPlatform:
    """The platform a simulation drives. In one process (``in_process_platform``) its
    hosts run here on ``clock``; as processes (``tools.simulator.processes``) they run
    apart, following ``clock`` through ``driver``, and the hosts here are views: built,
    never started, read for their state in Redis and their ports."""

    clock: SimulatedClock
    gateway: GatewayServer
    intake: ServiceHost
    assets: ServiceHost
    command: ServiceHost | None
    entrustment: ServiceHost | None
    disputes: ServiceHost | None
    notary: ServiceHost | None = None
    deadlines: ServiceHost | None = None
    funds: ServiceHost | None = None
    credit: ServiceHost | None = None
    notification: ServiceHost | None = None
    supervision: ServiceHost | None = None
    driver: ClockDriver | None = None
    processes: list[ServiceProcess] = field(default_factory=list)

    async def set_time(self, instant: datetime) -> None:
        """Move the simulated clock; with processes, return once every one has moved."""
        if self.driver is None:
            self.clock.set(instant)
            return
        await self.driver.set(instant)
        # Each follower records the instant it reached in Redis; there is nothing to await.
        deadline = asyncio.get_running_loop().time() + FOLLOW_TIMEOUT_S
        while await self.driver.followers_behind():
            dead = [p.label for p in self.processes if p.process.poll() is not None]
            if dead or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(
                    f"the service processes did not follow the clock to {instant.isoformat()} "
                    f"within {FOLLOW_TIMEOUT_S:.0f} s; exited: {', '.join(dead) or 'none'}"
                )
            await asyncio.sleep(0.002)

    def http_ports(self, host: ServiceHost) -> list[int]:
        """Where ``host``'s HTTP API answers: each of its processes, or the host here."""
        ports = [p.http_port for p in self.processes if p.name == host.ctx.name]
        return ports or [host.http_port]

    @property
    def hosts(self) -> list[ServiceHost]:
        return [h for h in (self.deadlines, self.intake, self.assets, self.command,
                            self.entrustment, self.disputes, self.notary, self.funds,
                            self.credit, self.notification, self.supervision)
                if h is not None]  # fmt: skip


@asynccontextmanager
async def in_process_platform(
    clock: SimulatedClock,
    *,
    kafka: KafkaSettings,
    redis: RedisSettings,
    auth: AuthSettings,
    calendar: CalendarSettings | None = None,
    gateway: dict[str, Any] | None = None,
    agency: dict[str, Any] | None = None,
    with_command: bool = True,
    with_deadlines: bool | None = None,
    with_entrustment: bool = False,
    with_disputes: bool = False,
    with_notary: bool = False,
    notary: NotarySettings | None = None,
    with_funds: bool = False,
    with_credit: bool = False,
    with_notification: bool = False,
    notification: NotificationSettings | None = None,
    with_supervision: bool = False,
) -> AsyncIterator[SimPlatform]:
    """Start the gateway and the chosen services on ``clock``; stop them on exit. The
    deadlines service runs with the command service unless ``with_deadlines`` says."""
    server = GatewayServer(
        GatewaySettings(**{"grpc_port": 0, "latency_ms": 0, **(gateway or {})}),
        clock=clock,
        auth=auth,
    )
    await server.start()
    infra = Infrastructure(clock=clock, kafka=kafka, redis=redis, auth=auth, ports=ANY_PORT)
    agency_settings = AgencySettings(
        target=f"127.0.0.1:{server.grpc_port}",
        **{
            "poll_interval_s": 0.05,
            "backoff_base_s": 10.0,
            "feedback_timeout_s": 60.0,
            **(agency or {}),
        },
    )
    transfers = TransferSettings(
        target=f"127.0.0.1:{server.grpc_port}", poll_interval_s=0.05, answer_timeout_s=60.0
    )
    started: list[ServiceHost] = []
    try:
        deadlines = None
        if with_deadlines or (with_deadlines is None and with_command):
            # Started first: the command service is told where it answers.
            deadlines = deadlines_bootstrap(infra, calendar=calendar)
            await deadlines.start()
            started.append(deadlines)
        # Notices go to this gateway (it stands in for the notice systems too).
        notices = (notification or NotificationSettings(poll_interval_s=0.05)).model_copy(
            update={"gateway_target": f"127.0.0.1:{server.grpc_port}"}
        )
        link = DeadlinesLink(url=f"http://127.0.0.1:{deadlines.http_port}" if deadlines else None)
        platform = SimPlatform(
            clock=clock,
            gateway=server,
            intake=intake_bootstrap(infra),
            assets=asset_control_bootstrap(infra, agency=agency_settings),
            command=command_bootstrap(infra, deadlines=link) if with_command else None,
            entrustment=entrustment_bootstrap(infra) if with_entrustment else None,
            disputes=disputes_bootstrap(infra) if with_disputes else None,
            notary=notary_bootstrap(infra, notary=notary) if with_notary else None,
            deadlines=deadlines,
            funds=funds_bootstrap(infra, transfers=transfers) if with_funds else None,
            credit=credit_bootstrap(infra) if with_credit else None,
            notification=notification_bootstrap(infra, settings=notices)
            if with_notification
            else None,
            supervision=supervision_bootstrap(infra) if with_supervision else None,
        )
        for host in platform.hosts:
            if host is not deadlines:
                await host.start()
                started.append(host)
        yield platform
    finally:
        for host in reversed(started):
            await host.stop()
        await server.stop()
