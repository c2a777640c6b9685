"""aiokafka's consumer group on the real broker under the event loop our services run on
(uvloop), its coordinator's connection met closed (``zhixing.kafka_connections``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import ConnectionGroup

import zhixing.kafka_connections  # noqa: F401  (the change under test)
from tests.conftest import Infra
from tests.unit.test_kafka_connections import closed_stream

pytestmark = pytest.mark.integration

WAIT_S = 60


def test_a_consumer_group_goes_on_when_its_coordinator_connection_is_found_closed(
    infra: Infra,
) -> None:
    """The crash campaign's broker kill, made certain: the group coordinator's connection
    is left believing it is connected over a transport uvloop has closed, and the next
    heartbeat writes to it. Before ``zhixing.kafka_connections`` the write's RuntimeError
    ended the coordinator routine and the consumer failed with it (the service stopped
    itself); now the connection is closed as broken, the coordinator found again, and the
    consumer reads what is produced after."""
    topic = f"t{uuid.uuid4().hex[:10]}.connections"

    async def scenario() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=infra.bootstrap_servers,
            group_id=f"g-{topic}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            heartbeat_interval_ms=100,
        )
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
        await consumer.start()
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"before")
            first = await asyncio.wait_for(consumer.getone(), WAIT_S)
            assert first.value == b"before"

            coordinator = consumer._coordinator
            node = coordinator.coordinator_id
            connection = consumer._client._conns[(node, ConnectionGroup.COORDINATION)]
            _, writer, server = await closed_stream()
            broker_side = connection._writer  # its reader, still open, says it is connected
            connection._writer = writer
            server.close()
            # the heartbeat's next write meets the closed transport: the connection is
            # closed as broken (aiokafka drops it from its connections)
            async with asyncio.timeout(WAIT_S):
                while consumer._client._conns.get((node, ConnectionGroup.COORDINATION)) is (
                    connection
                ):
                    await asyncio.sleep(0.05)
            broker_side.close()

            await producer.send_and_wait(topic, b"after")
            second = await asyncio.wait_for(consumer.getone(), WAIT_S)
            assert second.value == b"after"
            assert not coordinator._coordination_task.done()
            await consumer.commit()  # the group is served again
        finally:
            await producer.stop()
            await consumer.stop()
            await admin.delete_topics([topic])
            await admin.close()

    uvloop.run(scenario())
