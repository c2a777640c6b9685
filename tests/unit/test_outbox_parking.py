"""The outbox relay sets aside only what is refused for good (``REFUSED_FOR_GOOD``): a
failure that is not the event's own (Kafka away, the producer stopping) parks nothing, and
the events wait in the outbox, in order. Kafka's own refusal of a message too large is in
tests/integration/test_event_bus.py; here the publisher is a stand-in, to fail at will."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import fakeredis
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, ProducerClosed

from tests.factories import case_filed_event
from zhixing.events import Event
from zhixing.outbox import Outbox, OutboxRelay, parked_events
from zhixing.state import KeySpace


class Publisher:
    """Records what it is asked to send; fails as told: ``refuse`` the aggregates Kafka
    refuses for good, ``away`` everything (Kafka or the producer gone)."""

    def __init__(self, *, traced: bool = False, refuse: Iterable[str] = (),
                 away: Exception | None = None) -> None:  # fmt: skip
        self.traced = traced
        self.refuse = set(refuse)
        self.away = away
        self.sent: list[str] = []

    def _send(self, key: str) -> None:
        if self.away is not None:
            raise self.away
        if key in self.refuse:
            raise MessageSizeTooLargeError("the message is too large")
        self.sent.append(key)

    async def publish_staged(self, staged: Sequence[tuple[str, str, bytes, str | None]]) -> None:
        for _, key, _, _ in staged:
            self._send(key)

    async def publish_many(self, events: Iterable[Event[Any]]) -> None:
        for event in events:
            self._send(event.aggregate_id)


async def staged_outbox(*keys: str) -> tuple[fakeredis.FakeAsyncRedis, Outbox]:
    redis = fakeredis.FakeAsyncRedis()
    outbox = Outbox(KeySpace("unit.", "intake"))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for key in keys:
            if key == "junk":
                pipe.xadd(outbox.stream, {b"junk": b"x"})
            else:
                outbox.stage(pipe, case_filed_event(key))
        await pipe.execute()
    return redis, outbox


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize(
    ("staged", "sent", "parked"),
    [
        # "a" went with the batch Kafka failed, and again one at a time (consumers drop it).
        (("a", "huge", "b"), ["a", "a", "b"], [("huge", "MessageSizeTooLargeError")]),
        # An entry that cannot be read fails the batch before anything is sent.
        (("a", "huge", "b", "junk", "c"), ["a", "b", "c"],
         [("huge", "MessageSizeTooLargeError"), ("", "UnreadableEntry")]),
    ],
)  # fmt: skip
async def test_only_the_events_refused_for_good_are_set_aside_the_rest_sent_in_order(
    traced: bool, staged: tuple[str, ...], sent: list[str], parked: list[tuple[str, str]]
) -> None:
    redis, outbox = await staged_outbox(*staged)
    publisher = Publisher(traced=traced, refuse={"huge"})
    relay = OutboxRelay(redis=redis, outbox=outbox, publisher=publisher)  # type: ignore[arg-type]
    assert await relay.relay_once() == len(staged)
    assert publisher.sent == sent
    assert await redis.xlen(outbox.stream) == 0
    assert [(p.aggregate_id, p.reason.split(":")[0]) for p in
            await parked_events(redis, outbox, limit=10)] == parked  # fmt: skip


@pytest.mark.parametrize(
    "away", [KafkaConnectionError("no broker"), ProducerClosed(), TimeoutError(), OSError()]
)
async def test_a_failure_that_is_not_the_event_s_own_parks_nothing(away: Exception) -> None:
    redis, outbox = await staged_outbox("a", "b")
    publisher = Publisher(away=away)
    relay = OutboxRelay(redis=redis, outbox=outbox, publisher=publisher)  # type: ignore[arg-type]
    with pytest.raises(type(away)):
        await relay.relay_once()
    assert await redis.xlen(outbox.stream) == 2  # kept, in order, for the next pass
    assert await parked_events(redis, outbox, limit=10) == []
    publisher.away = None  # back
    assert await relay.relay_once() == 2
    assert publisher.sent == ["a", "b"]


async def test_a_failure_met_while_finding_the_refused_one_keeps_the_rest() -> None:
    redis, outbox = await staged_outbox("huge", "a", "b")
    publisher = Publisher(refuse={"huge"})
    relay = OutboxRelay(redis=redis, outbox=outbox, publisher=publisher)  # type: ignore[arg-type]
    sent_one = publisher._send

    def then_away(key: str) -> None:
        if key == "b":
            raise KafkaConnectionError("the broker went away")
        sent_one(key)

    publisher._send = then_away  # type: ignore[method-assign]
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    # "huge" set aside, "a" sent and deleted, "b" kept for the next pass.
    assert [p.aggregate_id for p in await parked_events(redis, outbox, limit=10)] == ["huge"]
    assert publisher.sent == ["a"]
    assert await redis.xlen(outbox.stream) == 1
