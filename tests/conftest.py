"""Session-wide Kafka and Redis, and per-test isolation.

Kafka and Redis are real: testcontainers when a Docker engine answers, otherwise the local
processes of ``tools.devinfra`` (the official Kafka jars in KRaft mode, Debian's
redis-server) in a throwaway directory on free ports. Each test gets its own topic prefix
and key prefix; its topics and keys are deleted afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from tools.devinfra import LocalKafka, LocalRedis, create_topics, free_port
from zhixing.anchor import write_key_pair
from zhixing.publisher import EventPublisher
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings
from zhixing.topics import physical_name

TEST_SECRET = "test-secret-" + "x" * 40
TEST_SERVICE_SECRET = "test-service-secret-" + "s" * 40
TEST_QUERY_CODE_SECRET = "test-query-code-secret-" + "q" * 40
TEST_FETCH_MAX_WAIT_MS = 100
"""How long a quiet consumer's fetch waits in tests (production: 300 ms): see ``isolated``."""


# Services started by tests run as ZHIXING_ENV=test with a non-default secret.
os.environ.setdefault("ZHIXING_ENV", "test")
os.environ.setdefault("ZHIXING_AUTH_SECRET", TEST_SECRET)
os.environ.setdefault("ZHIXING_AUTH_SERVICE_SECRET", TEST_SERVICE_SECRET)
os.environ.setdefault("ZHIXING_NOTIFICATION_QUERY_CODE_SECRET", TEST_QUERY_CODE_SECRET)

# The audit notary's key pair for this test session (services started by tests read it).
AUDIT_KEYS = Path(tempfile.mkdtemp(prefix="zhixing-test-keys-"))
AUDIT_SIGNING_KEY = AUDIT_KEYS / "audit-signing.pem"
AUDIT_PUBLIC_KEY = AUDIT_KEYS / "audit-public.pem"
write_key_pair(AUDIT_SIGNING_KEY, AUDIT_PUBLIC_KEY)
atexit.register(shutil.rmtree, AUDIT_KEYS, ignore_errors=True)
os.environ["ZHIXING_AUDIT_SIGNING_KEY_FILE"] = str(AUDIT_SIGNING_KEY)
os.environ["ZHIXING_AUDIT_PUBLIC_KEY_FILE"] = str(AUDIT_PUBLIC_KEY)  # `zhixing audit verify`


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    redis_url: str


def _docker_engine_answers() -> bool:
    if os.environ.get("ZHIXING_TEST_INFRA") == "local":
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer

        with (
            KafkaContainer("apache/kafka:4.1.1").with_kraft() as container,
            RedisContainer("redis:7") as redis_container,
        ):
            host = redis_container.get_container_host_ip()
            port = redis_container.get_exposed_port(6379)
            yield Infra(container.get_bootstrap_server(), f"redis://{host}:{port}/0")
        return
    base = tmp_path_factory.mktemp("infra")
    redis_server = LocalRedis(base / "redis", port=free_port(), append_only=False)
    kafka = LocalKafka(base / "kafka", port=free_port(), controller_port=free_port(), heap="512m")
    redis_server.start()
    try:
        kafka.start()
        try:
            yield Infra(kafka.bootstrap_servers, redis_server.url)
        finally:
            kafka.stop()
    finally:
        redis_server.stop()


@dataclass
class Isolated:
    """One test's view of the shared infrastructure."""

    prefix: str
    kafka: KafkaSettings
    redis_settings: RedisSettings
    redis: aioredis.Redis
    auth: AuthSettings

    def env(self) -> dict[str, str]:
        """Environment for a service process started by the test."""
        return {
            **os.environ,
            "ZHIXING_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "ZHIXING_KAFKA_TOPIC_PREFIX": self.prefix,
            "ZHIXING_KAFKA_CONSUMER_BATCH_TIMEOUT_MS": "50",
            "ZHIXING_KAFKA_CONSUMER_FETCH_MAX_WAIT_MS": str(TEST_FETCH_MAX_WAIT_MS),
            "ZHIXING_REDIS_URL": self.redis_settings.url,
            "ZHIXING_REDIS_KEY_PREFIX": self.prefix,
            "ZHIXING_AUTH_SECRET": TEST_SECRET,
            "ZHIXING_AUTH_SERVICE_SECRET": TEST_SERVICE_SECRET,
            "ZHIXING_NOTIFICATION_QUERY_CODE_SECRET": TEST_QUERY_CODE_SECRET,
            "ZHIXING_ENV": "test",
            "ZHIXING_LOG_LEVEL": "WARNING",
        }


@pytest.fixture
async def isolated(infra: Infra) -> AsyncIterator[Isolated]:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    kafka = KafkaSettings(
        bootstrap_servers=infra.bootstrap_servers,
        topic_prefix=prefix,
        consumer_batch_timeout_ms=50,
        # Tests wait on events crossing services, each hop up to a quiet fetch's wait:
        # production's 300 ms would only make them slower.
        consumer_fetch_max_wait_ms=TEST_FETCH_MAX_WAIT_MS,
    )
    redis_settings = RedisSettings(url=infra.redis_url, key_prefix=prefix)
    topics = await create_topics(infra.bootstrap_servers, prefix)
    client = aioredis.Redis.from_url(infra.redis_url)
    auth = AuthSettings(secret=TEST_SECRET, service_secret=TEST_SERVICE_SECRET, env="test")
    try:
        yield Isolated(prefix, kafka, redis_settings, client, auth)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
        await admin.start()
        with contextlib.suppress(Exception):
            await admin.delete_topics(topics)
        await admin.close()


@pytest.fixture
async def publisher(isolated: Isolated) -> AsyncIterator[EventPublisher]:
    publisher = EventPublisher(isolated.kafka)
    await publisher.start()
    yield publisher
    await publisher.stop()


async def read_topic(isolated: Isolated, name: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of one of the test's topics, from the start (a fresh reader group)."""
    consumer = AIOKafkaConsumer(
        physical_name(name, isolated.prefix),
        bootstrap_servers=isolated.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"reader-{uuid.uuid4()}",
    )
    await consumer.start()
    try:
        records = []
        while fetched := await consumer.getmany(timeout_ms=2000):
            for batch in fetched.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
