"""Projections that name the events they act on (``handles``: the court figures, the board,
the breach register, the 终本 gate's facts) are given those alone by the consumer. Every
other event of their topics, with every field filled in, would change nothing: passing it
over loses no figure, fact or place on the board."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fakeredis
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from services.command.board import Board
from services.command.breaches import BreachRegister
from services.command.figures import CourtFigures
from services.intake.reactions import GateFactsReaction
from services.intake.zhongben_facts import ZhongbenFacts
from tests.factories import ACTOR, START
from zhixing.clock import SimulatedClock
from zhixing.courts import directory
from zhixing.events import new_event, registered_event_types
from zhixing.projection import Transaction, prepare
from zhixing.state import KeySpace
from zhixing.topics import (
    ASSET_EVENTS,
    CASE_EVENTS,
    COMMAND_EVENTS,
    COMMAND_TOPICS,
    CREDIT_EVENTS,
    DEADLINE_EVENTS,
    FUNDS_EVENTS,
    Topic,
    topic_for_aggregate,
)

COURT = "苏1283"
KEYS = KeySpace("unit.", "command")


@dataclass(frozen=True)
class Selective:
    name: str
    make: Callable[[fakeredis.FakeAsyncRedis], Any]
    topics: tuple[Topic, ...]
    bulk: frozenset[str]  # events most cases bring that it passes over


PROJECTIONS = (
    Selective("figures", lambda redis: CourtFigures(redis, KEYS, directory()),
              (CASE_EVENTS, ASSET_EVENTS, DEADLINE_EVENTS, COMMAND_EVENTS, FUNDS_EVENTS),
              frozenset({"AssetFound", "QueryChannelsAnswered", "ControlRequested",
                         "CaseTriaged"})),
    Selective("board", lambda redis: Board(redis, KEYS), COMMAND_TOPICS,
              frozenset({"QueryChannelsAnswered", "ControlRequested", "CaseTriaged"})),
    Selective("breaches", lambda redis: BreachRegister(redis, KEYS), (DEADLINE_EVENTS,),
              frozenset({"ClocksOpened", "ClockWarned"})),
    Selective("zhongben-facts",
              lambda redis: GateFactsReaction(ZhongbenFacts(redis, KeySpace("unit.", "intake"))),
              (ASSET_EVENTS, FUNDS_EVENTS, CREDIT_EVENTS),
              frozenset({"QueryChannelsAnswered", "NetworkQueryStarted", "CaseAccountOpened"})),
)  # fmt: skip


def passed_over(projection: Selective) -> list[type[Message]]:
    """The event types of the projection's topics it does not name."""
    handles = projection.make(fakeredis.FakeAsyncRedis()).handles
    return sorted(
        (event_type.payload_class for event_type in registered_event_types()
         if topic_for_aggregate(event_type.aggregate_type) in projection.topics
         and event_type.payload_class not in handles),
        key=lambda payload: payload.DESCRIPTOR.full_name,
    )  # fmt: skip


CASES = [(p, payload) for p in PROJECTIONS for payload in passed_over(p)]


def filled(message: Message, depth: int = 0) -> Message:
    """Every field set: courts to a court, days to a day, other text to its field's name,
    numbers to 1, flags on, enums to their last named value, messages (and one element of
    each list) filled the same way."""
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None:
            if depth > 3 or field.message_type.full_name.startswith("google.protobuf"):
                continue
            target = (
                getattr(message, field.name).add()
                if field.is_repeated
                else getattr(message, field.name)
            )
            filled(target, depth + 1)
            continue
        value: Any
        if field.type == FieldDescriptor.TYPE_STRING:
            value = (
                COURT if "court" in field.name
                else "2026-03-02" if field.name.endswith(("_on", "_date", "_day"))
                else f"{field.name}-1"
            )  # fmt: skip
        elif field.type == FieldDescriptor.TYPE_BOOL:
            value = True
        elif field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            value = field.enum_type.values[-1].number
        elif field.type == FieldDescriptor.TYPE_BYTES:
            value = b"1"
        elif field.cpp_type in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
            value = 1.0
        else:
            value = 1
        if field.is_repeated:
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)
    return message


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.name)
def test_what_most_cases_bring_is_passed_over(projection: Selective) -> None:
    """A query answered, a control asked for, a clock opened: the bulk of a case's events."""
    assert projection.bulk <= {payload.DESCRIPTOR.name for payload in passed_over(projection)}


async def apply(redis: Any, handler: Any, payloads: list[Message]) -> None:
    """One batch of events carrying ``payloads``, applied as the consumer applies one."""
    clock = SimulatedClock(START)
    events = [new_event(payload, aggregate_id="case_id-1", court_code=COURT, actor=ACTOR,
                        clock=clock) for payload in payloads]  # fmt: skip
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await prepare(handler, events, pipe)
        pipe.multi()
        await handler(events, Transaction(redis, pipe, KEYS, prepared))
        await pipe.execute()


async def snapshot(redis: Any) -> dict[bytes, Any]:
    """Every key and what it holds."""
    held: dict[bytes, Any] = {}
    for key in sorted(await redis.keys("*")):
        kind = (await redis.type(key)).decode()
        held[key] = (
            await redis.hgetall(key) if kind == "hash"
            else await redis.zrange(key, 0, -1, withscores=True) if kind == "zset"
            else sorted(await redis.smembers(key)) if kind == "set"
            else await redis.lrange(key, 0, -1) if kind == "list"
            else await redis.get(key)
        )  # fmt: skip
    return held


@pytest.mark.parametrize(
    ("projection", "payload_class"), CASES,
    ids=[f"{p.name}-{payload.DESCRIPTOR.name}" for p, payload in CASES],
)  # fmt: skip
async def test_an_event_a_projection_does_not_name_would_change_nothing(
    projection: Selective, payload_class: type[Message]
) -> None:
    """Applied alone, and after one of every event the projection names (their fields
    filled in alike, so they meet: the same case, clock, command): an event that acts only
    on what is there already (a clock's warning, a command's acknowledgement) is tried on
    something there."""
    redis = fakeredis.FakeAsyncRedis()
    handler = projection.make(redis)
    await apply(redis, handler, [filled(payload_class())])
    assert await redis.keys("*") == []
    await apply(redis, handler, [filled(named()) for named in handler.handles])
    before = await snapshot(redis)
    assert before  # the named events wrote what the passed-over one could change
    await apply(redis, handler, [filled(payload_class())])
    assert await snapshot(redis) == before
