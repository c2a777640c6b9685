"""What handler unit tests run on instead of Kafka and Redis.

A service's repository is the only code that knows its keys (docs/adding-a-service.md);
its in-memory fake is the same repository over fakeredis's in-memory Redis, which keeps
Redis's semantics (WATCH, MULTI/EXEC, streams, Lua) in the test process. The contract suite
(``tests/contract``) runs every repository on this fake and on the real Redis, so the fake
cannot drift from what the services rely on. Nothing is published: events stay in the
service's outbox, where ``staged`` reads them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import fakeredis
from google.protobuf.message import Message

from tests.conftest import TEST_SECRET, TEST_SERVICE_SECRET
from tests.factories import START, case_filed_event
from zhixing.auth import Identity, PrincipalKind, Role, TokenAuthority
from zhixing.clock import Clock, SimulatedClock
from zhixing.events import Event, decode_event
from zhixing.known_cases import KnownCases
from zhixing.outbox import Outbox
from zhixing.projection import Transaction
from zhixing.publisher import EventPublisher
from zhixing.service import ServiceContext
from zhixing.settings import AuthSettings, KafkaSettings
from zhixing.state import KeySpace

AUTH = AuthSettings(secret=TEST_SECRET, service_secret=TEST_SERVICE_SECRET, env="test")


class _NoBroker:
    """Handlers stage events in the outbox; nothing in a unit test may publish."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a handler unit test has no Kafka (publisher.{name})")


def in_memory_context(name: str, clock: Clock) -> ServiceContext:
    """A service context on an in-memory Redis, with no broker."""
    keys = KeySpace("unit.", name)
    return ServiceContext(
        name=name,
        clock=clock,
        kafka=KafkaSettings(),
        redis=fakeredis.FakeAsyncRedis(),
        keys=keys,
        publisher=cast(EventPublisher, _NoBroker()),
        tokens=TokenAuthority(AUTH, clock),
        outbox=Outbox(keys),
    )


async def staged(ctx: ServiceContext) -> list[Event[Message]]:
    """The events the service's handlers staged, in order."""
    entries: Any = await ctx.redis.xrange(ctx.outbox.stream)
    return [decode_event(fields[b"event"]) for _, fields in entries]


async def staged_types(ctx: ServiceContext) -> list[str]:
    return [type(event.payload).__name__ for event in await staged(ctx)]


def person(role: Role, court: str = "苏1283", subject: str = "u1") -> Identity:
    return Identity(
        subject=subject,
        kind=PrincipalKind.PERSON,
        court_code=court,
        role=role,
        expires_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
    )


async def known_case(ctx: ServiceContext, known: KnownCases, case_id: str, court: str) -> None:
    """The service learns of a filed case as its known-cases projection would."""
    await project(ctx, known, case_filed_event(case_id, court=court, clock=SimulatedClock(START)))


async def project(ctx: ServiceContext, handler: Any, *events: Event[Any]) -> None:
    """Apply ``events`` through a projection's ``handler`` as its consumer would (one
    transaction; no ``prepare``)."""
    async with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        await handler(list(events), Transaction(ctx.redis, pipe, ctx.keys))
        await pipe.execute()
