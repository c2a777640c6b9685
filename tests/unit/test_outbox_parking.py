"""The outbox relay sets aside (parks) only what could never be sent: an event larger than
the producer sends, or an entry that cannot be read. Its aggregate is held: the later events
of that aggregate are set aside behind it, in order, and the other aggregates' go on. An
aggregate asked to be sent again goes out in order before its later events. Any other
failure (Kafka away, the producer stopping) sets nothing aside. Kafka's own refusal is in
tests/integration/test_event_bus.py; here the publisher is a stand-in, to fail at will."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import fakeredis
import pytest
from aiokafka.errors import KafkaConnectionError, ProducerClosed
from prometheus_client import REGISTRY

from tests.factories import START, case_filed_event
from zhixing.clock import SimulatedClock
from zhixing.events import Event, new_event
from zhixing.outbox import (
    Outbox,
    OutboxRelay,
    drop_unreadable,
    forget_backlog,
    observe_backlog,
    parking,
    requeue,
)
from zhixing.state import KeySpace


class Publisher:
    """Records the aggregate id of each event sent, in order; ``limit``: the largest event
    it sends; ``away``: every send fails (Kafka or the producer gone)."""

    def __init__(self, *, traced: bool = False, limit: int = 10_000) -> None:
        self.traced = traced
        self.limit = limit
        self.away: Exception | None = None
        self.sent: list[str] = []

    def too_large(self, key: str, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
        return len(value) if len(value) > self.limit else 0

    def _send(self, key: str) -> None:
        if self.away is not None:
            raise self.away
        self.sent.append(key)

    async def publish_staged(self, staged: Sequence[tuple[str, str, bytes, str | None]]) -> None:
        for _, key, _, _ in staged:
            self._send(key)

    async def publish_many(self, events: Iterable[Event[Any]]) -> None:
        for event in events:
            self._send(event.aggregate_id)


def event(case_id: str, size: int = 0) -> Event[Any]:
    """A filing of ``case_id``; with ``size``, at least that many bytes."""
    filed = case_filed_event(case_id)
    if size:
        filed = new_event(
            type(filed.payload)(case_id=case_id, case_type_code="x" * size),
            aggregate_id=case_id, court_code="苏1283", actor=filed.envelope.actor,
            clock=SimulatedClock(START),
        )  # fmt: skip
    return filed


async def stage(
    redis: fakeredis.FakeAsyncRedis, outbox: Outbox, *events: Event[Any] | None
) -> None:
    """Stage ``events`` in order (None: an entry without an event)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for one in events:
            if one is None:
                pipe.xadd(outbox.stream, {b"junk": b"x"})
            else:
                outbox.stage(pipe, one)
        await pipe.execute()


def relay_of(
    traced: bool = False,
) -> tuple[fakeredis.FakeAsyncRedis, Outbox, Publisher, OutboxRelay]:
    redis = fakeredis.FakeAsyncRedis()
    outbox = Outbox(KeySpace("unit.", "intake"))
    publisher = Publisher(traced=traced)
    relay = OutboxRelay(redis=redis, outbox=outbox, publisher=publisher)  # type: ignore[arg-type]
    return redis, outbox, publisher, relay


@pytest.mark.parametrize("traced", [False, True])
async def test_an_event_too_large_is_set_aside_with_its_aggregate_s_later_events(
    traced: bool,
) -> None:
    redis, outbox, publisher, relay = relay_of(traced)
    await stage(redis, outbox, event("a"), event("b", size=20_000), event("c"), event("b"), None,
                event("a"))  # fmt: skip
    assert await relay.relay_once() == 6
    assert publisher.sent == ["a", "c", "a"]  # the others' go on, in order
    assert await redis.xlen(outbox.stream) == 0
    parked = await parking(redis, outbox, limit=10)
    assert parked.total == 3 and parked.held == ["case|b"] and parked.requeued == []
    too_large, behind, unreadable = parked.events
    assert (too_large.hold, too_large.event_type) == ("case|b", "zhixing.v1.CaseFiled")
    assert "larger than the producer sends" in too_large.reason and too_large.size > 20_000
    assert behind.hold == "case|b" and "an earlier event of its aggregate" in behind.reason
    assert unreadable.hold == "" and "without an event" in unreadable.reason
    # Held: a later event of b is set aside behind them, in a later batch too.
    await stage(redis, outbox, event("b"), event("c"))
    assert await relay.relay_once() == 2
    assert publisher.sent[-1:] == ["c"]
    assert (await parking(redis, outbox, limit=10)).total == 4


async def test_an_aggregate_asked_for_again_is_sent_in_order_before_its_later_events() -> None:
    redis, outbox, publisher, relay = relay_of()
    large = event("b", size=20_000)
    await stage(redis, outbox, large, event("b"))
    await relay.relay_once()
    assert await requeue(redis, outbox, ["case|b", "case|nobody"]) == ["case|nobody"]
    assert (await parking(redis, outbox, limit=10)).requeued == []  # none asked then
    # Asked while it is still too large: it stays set aside, and the ask is dropped.
    assert await requeue(redis, outbox, ["case|b"]) == []
    await stage(redis, outbox, event("b"))
    await relay.relay_once()
    parked = await parking(redis, outbox, limit=10)
    assert (parked.total, parked.held, parked.requeued) == (3, ["case|b"], [])
    assert publisher.sent == []
    # The limit raised, asked again: what was set aside goes first, in order, then the rest.
    publisher.limit = 100_000
    assert await requeue(redis, outbox, ["case|b"]) == []
    await stage(redis, outbox, event("b"), event("c"))
    assert await relay.relay_once() == 2
    assert publisher.sent == ["b", "b", "b", "b", "c"]
    parked = await parking(redis, outbox, limit=10)
    assert (parked.total, parked.held, parked.requeued) == (0, [], [])


@pytest.mark.parametrize(
    "away", [KafkaConnectionError("no broker"), ProducerClosed(), TimeoutError(), OSError()]
)
async def test_a_failure_that_is_not_the_event_s_own_sets_nothing_aside(away: Exception) -> None:
    redis, outbox, publisher, relay = relay_of()
    await stage(redis, outbox, event("a"), event("b"))
    publisher.away = away
    with pytest.raises(type(away)):
        await relay.relay_once()
    assert await redis.xlen(outbox.stream) == 2  # kept, in order, for the next pass
    assert (await parking(redis, outbox, limit=10)).total == 0
    publisher.away = None  # back
    assert await relay.relay_once() == 2
    assert publisher.sent == ["a", "b"]


async def test_a_failure_while_sending_again_keeps_the_aggregate_held_and_asked() -> None:
    redis, outbox, publisher, relay = relay_of()
    await stage(redis, outbox, event("b", size=20_000))
    await relay.relay_once()
    publisher.limit = 100_000
    await requeue(redis, outbox, ["case|b"])
    publisher.away = KafkaConnectionError("the broker went away")
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    parked = await parking(redis, outbox, limit=10)
    assert (parked.total, parked.held, parked.requeued) == (1, ["case|b"], ["case|b"])
    publisher.away = None
    await relay.relay_once()
    assert publisher.sent == ["b"]
    assert (await parking(redis, outbox, limit=10)).total == 0


async def test_a_failed_send_sets_nothing_aside_so_an_aggregate_keeps_its_order() -> None:
    redis, outbox, publisher, relay = relay_of()
    first, large, third = event("b"), event("b", size=20_000), event("b")
    await stage(redis, outbox, first, large, third)
    publisher.away = KafkaConnectionError("the broker went away")
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    assert (await parking(redis, outbox, limit=10)).total == 0  # decided again next pass
    publisher.away = None
    await relay.relay_once()
    assert publisher.sent == ["b"]  # the first, before the one too large
    parked = await parking(redis, outbox, limit=10)
    assert [e.staged_id for e in parked.events] == sorted(e.staged_id for e in parked.events)
    publisher.limit = 100_000
    await requeue(redis, outbox, ["case|b"])
    await relay.relay_once()
    assert publisher.sent == ["b", "b", "b"]
    assert (await redis.xlen(outbox.stream), (await parking(redis, outbox, limit=10)).total) == (
        0, 0
    )  # fmt: skip


async def test_with_tracing_an_event_that_does_not_decode_is_sent_as_staged() -> None:
    redis, outbox, publisher, relay = relay_of(traced=True)
    await stage(redis, outbox, event("a"))
    await redis.xadd(outbox.stream, {b"event": b"not an envelope", b"aggregate": b"case",
                                     b"key": b"z", b"type": b"zhixing.v1.CaseFiled"})  # fmt: skip
    assert await relay.relay_once() == 2
    assert publisher.sent == ["a", "z"]  # untraced, as without tracing: consumers judge it


async def test_an_unreadable_entry_is_dropped_only_after_it_is_kept() -> None:
    redis, outbox, _, relay = relay_of()
    await stage(redis, outbox, None)
    await relay.relay_once()
    (unreadable,) = (await parking(redis, outbox, limit=10)).events

    def cannot_keep(entries: dict[str, dict[str, str]]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await drop_unreadable(redis, outbox, [unreadable.parked_id], cannot_keep)
    assert (await parking(redis, outbox, limit=10)).total == 1  # nothing dropped
    kept: list[dict[str, dict[str, str]]] = []
    assert await drop_unreadable(redis, outbox, [unreadable.parked_id], kept.append) == {}
    assert list(kept[0]) == [unreadable.parked_id] and kept[0][unreadable.parked_id]["junk"] == "x"
    assert (await parking(redis, outbox, limit=10)).total == 0


async def test_an_entry_that_can_be_read_is_never_dropped_whatever_set_it_aside() -> None:
    """Only what cannot be read is dropped: an event set aside holding no aggregate (by
    some other version) is refused, as one holding its aggregate is."""
    redis, outbox, _, _ = relay_of()
    staged = event("b")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        outbox.stage(pipe, staged)
        await pipe.execute()
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(outbox.stream)  # type: ignore[assignment]
    ((_, fields),) = entries
    parked: dict[Any, Any] = {**fields, b"parked_reason": b"?"}
    parked_id = (await redis.xadd(outbox.parked, parked)).decode()  # type: ignore[union-attr]
    kept: list[dict[str, dict[str, str]]] = []
    refused = await drop_unreadable(redis, outbox, [parked_id], kept.append)
    assert refused == {parked_id: "it can be read: requeue its aggregate"}
    assert kept == [] and (await parking(redis, outbox, limit=10)).total == 1


async def test_the_backlog_is_what_waits_to_be_sent_and_is_forgotten_when_unread() -> None:
    redis, outbox, publisher, relay = relay_of()
    await stage(redis, outbox, event("c-1"), event("c-2"))
    await observe_backlog(redis, outbox, "unit-intake")
    assert backlog("unit-intake") == (2.0, True)
    await relay.relay_once()
    await observe_backlog(redis, outbox, "unit-intake")
    assert backlog("unit-intake") == (0.0, True) and publisher.sent == ["c-1", "c-2"]
    # Not read (Redis away): no figure, rather than the last one.
    forget_backlog("unit-intake")
    assert backlog("unit-intake") == (None, False)
    forget_backlog("unit-intake")  # forgetting twice is no error


def backlog(service: str) -> tuple[float | None, bool]:
    """The pending gauge of ``service``, and whether its age gauge has a figure."""
    pending = REGISTRY.get_sample_value("zhixing_outbox_pending_events", {"service": service})
    age = REGISTRY.get_sample_value("zhixing_outbox_oldest_age_seconds", {"service": service})
    return pending, age is not None
