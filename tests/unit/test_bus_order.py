"""The order a consumer applies a fetch in: the partitions interleaved by when each record
was produced, each partition's records in their own order even where their timestamps are
not (two producers of one partition)."""

from __future__ import annotations

import fakeredis
import pytest
from aiokafka import ConsumerRecord, TopicPartition

from tests.factories import case_filed_event
from tests.integration.counting import CountingProjection
from zhixing.bus import EventConsumer
from zhixing.publisher import EventPublisher
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace
from zhixing.topics import CASE_EVENTS, physical_name

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


def record(tp: TopicPartition, offset: int, produced_ms: int, amount: int) -> ConsumerRecord:
    # Every event of one aggregate: the projection lists the amounts in the order applied.
    value = case_filed_event("case-1", amount=amount).to_bytes()
    return ConsumerRecord(
        topic=tp.topic, partition=tp.partition, offset=offset, timestamp=produced_ms,
        timestamp_type=0, key=b"case-1", value=value, checksum=None, serialized_key_size=6,
        serialized_value_size=len(value), headers=[],
    )  # fmt: skip


async def test_a_fetch_is_applied_by_when_each_record_was_produced_partitions_kept_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redis = fakeredis.FakeAsyncRedis()
    keys = KeySpace("unit.", "order")
    kafka = KafkaSettings(topic_prefix="unit.", consumer_commit_interval_ms=0)
    made = EventConsumer(
        group="order", topics=[CASE_EVENTS], handler=CountingProjection(), kafka=kafka,
        redis=redis, keys=keys, publisher=EventPublisher(kafka),
    )  # fmt: skip
    monkeypatch.setattr(made, "_consumer", FakeKafka())
    # The second partition's records were produced between the first's; its last one
    # carries an earlier time than the one before it (another producer's clock).
    first = [record(FIRST, 0, 1_000, 1), record(FIRST, 1, 3_000, 3), record(FIRST, 2, 5_000, 6)]
    second = [record(SECOND, 0, 2_000, 2), record(SECOND, 1, 4_000, 4),
              record(SECOND, 2, 3_500, 5)]  # fmt: skip
    await made._process({FIRST: first, SECOND: second})
    applied = await redis.lrange(keys.key("order", "case-1"), 0, -1)
    assert [int(a) for a in applied] == [1, 2, 3, 4, 5, 6]
