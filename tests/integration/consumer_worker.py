"""A consumer process for the crash tests: ``python -m tests.integration.consumer_worker``.

Environment: the usual ZHIXING_KAFKA_* / ZHIXING_REDIS_* settings, plus
CRASH_AFTER_WRITES=N to die (os._exit) right after the Nth batch's Redis write and before
its Kafka offset commit, and SLOW_BATCH_S to widen the window a SIGKILL can land in.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from aiokafka import TopicPartition
from google.protobuf.message import Message

from tests.integration.counting import CountingProjection
from zhixing.bus import EventConsumer
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.publisher import EventPublisher
from zhixing.settings import KafkaSettings, RedisSettings
from zhixing.state import KeySpace, connect
from zhixing.topics import CASE_EVENTS


async def main() -> None:
    kafka = KafkaSettings(consumer_batch_max_records=100)
    redis_settings = RedisSettings()
    redis = connect(redis_settings)
    keys = KeySpace(redis_settings.key_prefix, "worker")
    publisher = EventPublisher(kafka)
    await publisher.start()
    crash_after = int(os.environ.get("CRASH_AFTER_WRITES", "0"))
    slow = float(os.environ.get("SLOW_BATCH_S", "0"))
    counting = CountingProjection()

    async def handler(events: Sequence[Event[Message]], tx: Transaction) -> None:
        await counting(events, tx)
        if slow:
            await asyncio.sleep(slow)

    consumer = EventConsumer(
        group="crash-test",
        topics=[CASE_EVENTS],
        handler=handler,
        kafka=kafka,
        redis=redis,
        keys=keys,
        publisher=publisher,
    )
    if crash_after:
        writes = 0
        original_commit = consumer._commit

        async def commit_or_die(offsets: dict[TopicPartition, int]) -> None:
            nonlocal writes
            writes += 1
            if writes >= crash_after:
                os._exit(9)  # state written, Kafka offset never committed
            await original_commit(offsets)

        consumer._commit = commit_or_die  # type: ignore[method-assign, assignment]
    await consumer.start()
    await consumer.run()


if __name__ == "__main__":
    asyncio.run(main())
