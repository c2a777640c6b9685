"""A consumer whose partition was revoked while it applied a batch (a replica joined the
group) does not fail the batch it has already written."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition
from google.protobuf.message import Message

from tests.fakes import in_memory_context
from zhixing.bus import _Batch
from zhixing.clock import SystemClock
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.topics import CASE_EVENTS


async def _nothing(events: Sequence[Event[Message]], tx: Transaction) -> None:
    return None


async def test_the_lag_of_a_revoked_partition_is_forgotten_not_asked() -> None:
    ctx = in_memory_context("unit", SystemClock())
    consumer = ctx.consumer("p", [CASE_EVENTS], _nothing)
    revoked = TopicPartition(consumer.partitions[0].topic, 0)
    consumer._lag[revoked] = 7  # known from before the rebalance
    # Asking the client for a partition it no longer holds raised AssertionError here, and
    # the written batch was logged as failed and read again.
    consumer._note_lag(_Batch(last_offsets={revoked: 41}))
    assert revoked not in consumer._lag
    await consumer.stop()  # never started: only its client is closed
