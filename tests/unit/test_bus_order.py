"""The order a consumer applies a fetch in: the partitions interleaved by when each record
was produced, each partition's records in their own order even where their timestamps are
not (two producers of one partition); a fetch larger than a projection takes in one
transaction is applied in pieces, in that order, each with its offsets."""

from __future__ import annotations

from collections.abc import Sequence

import fakeredis
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from google.protobuf.message import Message

from tests.factories import START, case_filed_event
from tests.fakes import in_memory_context
from tests.integration.counting import CountingProjection
from zhixing.bus import EventConsumer
from zhixing.clock import SimulatedClock
from zhixing.events import EVENT_TYPE_HEADER, Event
from zhixing.projection import Projection, Transaction
from zhixing.publisher import EventPublisher
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace
from zhixing.topics import CASE_EVENTS, physical_name
from zhixing.v1 import case_events_pb2

FIRST = TopicPartition(physical_name(CASE_EVENTS.name, "unit."), 0)
SECOND = TopicPartition(FIRST.topic, 1)


class FakeKafka:
    """Stands for the consumer's client: it holds both partitions."""

    def assignment(self) -> set[TopicPartition]:
        return {FIRST, SECOND}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        return None


def record(
    tp: TopicPartition, offset: int, produced_ms: int, amount: int, named: str = ""
) -> ConsumerRecord:
    # Every event of one aggregate: the projection lists the amounts in the order applied.
    value = case_filed_event("case-1", amount=amount).to_bytes()
    headers = [(EVENT_TYPE_HEADER, named.encode())] if named else []
    return ConsumerRecord(
        topic=tp.topic, partition=tp.partition, offset=offset, timestamp=produced_ms,
        timestamp_type=0, key=b"case-1", value=value, checksum=None, serialized_key_size=6,
        serialized_value_size=len(value), headers=headers,
    )  # fmt: skip


KEYS = KeySpace("unit.", "order")


def consumer(
    monkeypatch: pytest.MonkeyPatch, *projections: Projection
) -> tuple[EventConsumer, fakeredis.FakeAsyncRedis]:
    """A consumer of ``projections`` on an in-memory Redis, holding both partitions."""
    redis = fakeredis.FakeAsyncRedis()
    kafka = KafkaSettings(topic_prefix="unit.", consumer_commit_interval_ms=0)
    made = EventConsumer(group="order", projections=projections, kafka=kafka, redis=redis,
                         keys=KEYS, publisher=EventPublisher(kafka))  # fmt: skip
    monkeypatch.setattr(made, "_consumer", FakeKafka())
    return made, redis


async def test_a_fetch_is_applied_by_when_each_record_was_produced_partitions_kept_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, redis = consumer(monkeypatch, Projection("order", [CASE_EVENTS], CountingProjection()))
    # The second partition's records were produced between the first's; its last one
    # carries an earlier time than the one before it (another producer's clock).
    first = [record(FIRST, 0, 1_000, 1), record(FIRST, 1, 3_000, 3), record(FIRST, 2, 5_000, 6)]
    second = [record(SECOND, 0, 2_000, 2), record(SECOND, 1, 4_000, 4),
              record(SECOND, 2, 3_500, 5)]  # fmt: skip
    await made._process({FIRST: first, SECOND: second})
    applied = await redis.lrange(KEYS.key("order", "case-1"), 0, -1)
    assert [int(a) for a in applied] == [1, 2, 3, 4, 5, 6]


class Pieces:
    """A projection that keeps, for each transaction it is given, the claims of its events
    and its offsets as Redis held them before that transaction. It handles filings only."""

    handles = (case_events_pb2.CaseFiled,)

    def __init__(self, offsets_key: str) -> None:
        self.offsets_key = offsets_key
        self.given: list[list[int]] = []
        self.offsets_before: list[dict[bytes | str, bytes | str]] = []

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        self.given.append([e.payload.claim_amount_fen for e in events])  # type: ignore[attr-defined]
        self.offsets_before.append(await tx.redis.hgetall(self.offsets_key))


async def test_a_fetch_larger_than_a_projection_takes_at_once_is_applied_in_pieces_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offsets_key = KEYS.key("consumer", "bounded", "offsets")
    pieces = Pieces(offsets_key)
    made, redis = consumer(
        monkeypatch, Projection("counted", [CASE_EVENTS], CountingProjection()),
        Projection("bounded", [CASE_EVENTS], pieces, max_events_per_transaction=2),
    )  # fmt: skip
    # Applied 1..6 by when each was produced; the record naming a type no projection here
    # handles (7, between 4 and 5) does not count towards the bound.
    first = [record(FIRST, 0, 1_000, 1), record(FIRST, 1, 3_000, 3), record(FIRST, 2, 5_000, 6)]
    second = [record(SECOND, 0, 2_000, 2), record(SECOND, 1, 4_000, 4),
              record(SECOND, 2, 4_100, 7, named="zhixing.v1.Elsewhere"),
              record(SECOND, 3, 4_200, 5)]  # fmt: skip
    await made._process({FIRST: first, SECOND: second})
    assert pieces.given == [[1, 2], [3, 4], [5, 6]]
    # Each piece was written with its own offsets before the next was applied.
    field = {tp: f"{tp.topic}:{tp.partition}".encode() for tp in (FIRST, SECOND)}
    assert pieces.offsets_before == [
        {},
        {field[FIRST]: b"0", field[SECOND]: b"0"},
        {field[FIRST]: b"1", field[SECOND]: b"1"},
    ]
    assert await redis.hgetall(offsets_key) == {field[FIRST]: b"2", field[SECOND]: b"3"}
    # The projection bounding nothing was given each piece too, once each, in order.
    applied = await redis.lrange(KEYS.key("order", "case-1"), 0, -1)
    assert [int(a) for a in applied] == [1, 2, 3, 4, 7, 5, 6]
    assert set((await redis.hgetall(KEYS.key("applied"))).values()) == {b"1"}


def test_a_bound_below_one_event_is_refused() -> None:
    with pytest.raises(ValueError, match="'clocks': max_events_per_transaction must be at least"):
        Projection("clocks", [CASE_EVENTS], CountingProjection(), max_events_per_transaction=0)


async def test_a_services_consumer_keeps_the_bound_each_projection_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``ServiceContext.consumer_of`` names each projection after its service: it kept the
    # name, topics and handler, and dropped the bound (the deadlines' clocks watched
    # thousands of keys in one transaction all the same).
    ctx = in_memory_context("svc", SimulatedClock(START))
    pieces = Pieces(ctx.keys.key("consumer", "svc.bounded", "offsets"))
    made = ctx.consumer_of(
        Projection("bounded", [CASE_EVENTS], pieces, max_events_per_transaction=2)
    )
    monkeypatch.setattr(made, "_consumer", FakeKafka())
    only = TopicPartition(physical_name(CASE_EVENTS.name, ""), 0)
    await made._process({only: [record(only, n, 1_000 * n, n) for n in (1, 2, 3)]})
    assert pieces.given == [[1, 2], [3]]
