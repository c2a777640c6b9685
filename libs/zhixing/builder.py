"""The one builder every service's ``bootstrap.py`` uses.

A bootstrap is given the platform's infrastructure (``Infrastructure``: clock, Kafka,
Redis, token keys, ports; each left out is read from the environment) and says what the
service is (``About``: name, title, default ports). ``HostBuilder`` makes the parts every
service shares (the ``ServiceContext``, the HTTP app with health, metrics, limits and the
error mapping, the outbox relay); the bootstrap adds only its own: routes, gRPC servicers,
consumers and background loops. Then ``build()`` gives the ``ServiceHost`` that runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from zhixing.bus import EventConsumer
from zhixing.clock import Clock
from zhixing.lease import LeaderLoops, Lease, LeaseSettings
from zhixing.logs import configure_logging
from zhixing.projection import BatchHandler, Projection
from zhixing.service import (
    Background,
    GrpcRegistrar,
    ServiceContext,
    ServiceHost,
    create_http_app,
    run_async,
)
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)
from zhixing.shared_clock import SharedClock, clock_from_settings
from zhixing.topics import Topic

__all__ = ["About", "HostBuilder", "Infrastructure", "run_service"]


@dataclass(frozen=True)
class Infrastructure:
    """What a service runs on. A field left ``None`` is read from the environment (the
    settings' ``ZHIXING_*`` variables), the clock is the system's; tests and the simulator
    pass their own (a simulated clock, a test's topics and key prefix, any free port)."""

    clock: Clock | None = None
    kafka: KafkaSettings | None = None
    redis: RedisSettings | None = None
    auth: AuthSettings | None = None
    ports: ServiceSettings | None = None


@dataclass(frozen=True)
class About:
    """What a service is: its name (key space, consumer groups, settings prefix), the title
    and description of its OpenAPI (its default ports: ``zhixing.ports``)."""

    name: str
    title: str
    description: str


class HostBuilder:
    """Collects a service's parts; ``build()`` hands them to a ``ServiceHost``."""

    def __init__(self, about: About, infra: Infrastructure | None = None) -> None:
        infra = infra or Infrastructure()
        self.about = about
        self.ctx = ServiceContext.build(
            about.name, clock=infra.clock, kafka=infra.kafka, redis=infra.redis, auth=infra.auth
        )
        self.http: FastAPI = create_http_app(
            self.ctx, title=about.title, description=about.description
        )
        self._ports = infra.ports or service_settings(about.name)
        self._grpc: list[GrpcRegistrar] = []
        # Made in ``build``: a process that only answers makes none (an unstarted Kafka
        # consumer is a client left open).
        self._consumers: list[Callable[[], EventConsumer]] = []
        self._background: list[Background] = []
        self._everywhere: list[Background] = []
        self._followers: list[Background] = []

    def routes(self, *routers: APIRouter, **state: Any) -> None:
        """Serve ``routers``; ``state`` is what their handlers find on ``app.state``."""
        for name, value in state.items():
            setattr(self.http.state, name, value)
        for router in routers:
            self.http.include_router(router)

    def grpc(self, *registrars: GrpcRegistrar) -> None:
        """Answer these gRPC services (service credentials only, like every port)."""
        self._grpc.extend(registrars)

    def project(self, *projections: Projection) -> None:
        """One consumer (group ``<service>.projections``) feeding ``projections``: a batch
        is fetched and decoded once and applied to all of them in one transaction."""
        self._consumers.append(lambda: self.ctx.consumer_of(*projections))

    def react(self, name: str, topics: Sequence[Topic], handler: BatchHandler) -> None:
        """A consumer of its own (group ``<service>.<name>``): for a handler that must not
        wait behind the service's others. Each costs a fetch loop and a transaction per
        batch; ``project`` is the default."""
        self._consumers.append(lambda: self.ctx.consumer(name, topics, handler))

    def run(self, *loops: Background, every_replica: bool = False) -> None:
        """Background loops (timers, workers) that run while the service does: in the
        replica holding the service's lease (``zhixing.lease``), or with ``every_replica``
        in each replica of role all (a loop whose work the replicas share, each claiming
        its part). Neither runs in a process that only answers: a loop keeping the
        process's memory current is ``follow``'s."""
        (self._everywhere if every_replica else self._background).extend(loops)

    def follow(self, *loops: Background) -> None:
        """Loops that keep this process's memory current (a calendar its routes count
        on): in every process, those that only answer requests too."""
        self._followers.extend(loops)

    def build(self) -> ServiceHost:
        followers = list(self._followers)
        if self._ports.role == "answer":
            # Requests alone: the events are consumed and the loops run by the service's
            # other processes (role "all"), which the deployment may give less of the CPU.
            return ServiceHost(
                ctx=self.ctx, http=self.http, ports=self._ports,
                grpc_services=list(self._grpc), background=followers,
            )  # fmt: skip
        # Every service stages its events in the outbox; its relay publishes them. The loops
        # run in one replica at a time: the lease's holder (zhixing.lease).
        lease = Lease(self.ctx.redis, self.ctx.keys, LeaseSettings().ttl_s)
        return ServiceHost(
            ctx=self.ctx,
            http=self.http,
            ports=self._ports,
            grpc_services=list(self._grpc),
            consumers=[make() for make in self._consumers],
            background=[
                LeaderLoops(lease, [*self._background, self.ctx.outbox_relay()]),
                *self._everywhere,
                *followers,
            ],
        )


def run_service(name: str, bootstrap: Callable[[Infrastructure], ServiceHost]) -> None:
    """The ``python -m services.<name>`` entry point of every service: ``bootstrap`` is
    given the process's clock (the system's, or a simulation's, ``zhixing.shared_clock``)."""
    configure_logging(name)

    async def main() -> None:
        clock = await clock_from_settings(name)
        try:
            # Kafka clients bind to the running loop, so the service is built inside it.
            await bootstrap(Infrastructure(clock=clock)).serve_forever()
        finally:
            if isinstance(clock, SharedClock):
                await clock.close()

    run_async(main())
