"""The consumer's commits to Kafka (monitoring only: Redis holds what was applied): at most
every interval; one that hangs is given up after COMMIT_TIMEOUT_S, its offsets kept for
the next, which waits COMMIT_BACKOFF_S; a later batch's offset wins over a kept one."""

from __future__ import annotations

import asyncio
import time

import fakeredis
import pytest
from aiokafka import TopicPartition

from tests.integration.counting import CountingProjection
from zhixing import bus
from zhixing.bus import EventConsumer
from zhixing.publisher import EventPublisher
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace
from zhixing.topics import CASE_EVENTS

TP = TopicPartition("unit.case.events", 0)


class FakeKafka:
    """Stands for the consumer's client: the partitions it holds and what it committed."""

    def __init__(self) -> None:
        self.committed: list[dict[TopicPartition, int]] = []
        self.hangs = False

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.hangs:
            await asyncio.Event().wait()  # Kafka away: aiokafka retries until it is back
        self.committed.append(dict(offsets))


async def consumer(monkeypatch: pytest.MonkeyPatch) -> tuple[EventConsumer, FakeKafka]:
    kafka = KafkaSettings(topic_prefix="unit.", consumer_commit_interval_ms=0)
    made = EventConsumer(
        group="commits", topics=[CASE_EVENTS], handler=CountingProjection(), kafka=kafka,
        redis=fakeredis.FakeAsyncRedis(), keys=KeySpace("unit.", "worker"),
        publisher=EventPublisher(kafka),
    )  # fmt: skip
    fake = FakeKafka()
    monkeypatch.setattr(made, "_consumer", fake)
    monkeypatch.setattr(bus, "COMMIT_TIMEOUT_S", 0.05)
    return made, fake


def backing_off_s(made: EventConsumer) -> float:
    return made._next_commit_at - time.monotonic()


def pass_the_backoff(made: EventConsumer) -> None:
    """Let the backoff pass (the consumer's pause is on the monotonic clock, which the event
    loop shares: the test moves the consumer's next commit time, not the clock)."""
    made._next_commit_at = time.monotonic()


async def test_a_hanging_commit_is_given_up_kept_and_tried_again_after_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, fake = await consumer(monkeypatch)
    await made._commit({TP: 9})
    assert fake.committed == [{TP: 10}]  # interval 0: after the batch
    fake.hangs = True
    await made._commit({TP: 19})  # given up after COMMIT_TIMEOUT_S, not waited on for ever
    assert fake.committed == [{TP: 10}]
    fake.hangs = False
    await made._commit({TP: 29})  # within the backoff: nothing is tried
    assert fake.committed == [{TP: 10}]
    assert backing_off_s(made) > bus.COMMIT_BACKOFF_S - 5
    pass_the_backoff(made)
    await made._commit({TP: 39})
    assert fake.committed == [{TP: 10}, {TP: 40}]  # the latest applied offset, kept till now


async def test_offsets_kept_from_a_failed_commit_go_at_the_next_idle_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, fake = await consumer(monkeypatch)
    fake.hangs = True
    await made._commit({TP: 4})
    fake.hangs = False
    assert not made._commit_due()  # backing off
    pass_the_backoff(made)
    assert made._commit_due()  # no batch since: the run loop's idle poll commits them
    await made._commit_pending()
    assert fake.committed == [{TP: 5}]
    assert not made._commit_due()
