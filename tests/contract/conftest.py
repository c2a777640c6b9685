"""The contract suite runs each test twice: on the in-memory Redis the handler unit tests
use (``tests/fakes.py``) and on the real Redis the test session starts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio as aioredis

pytestmark = pytest.mark.integration


@pytest.fixture(params=["in-memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    if request.param == "in-memory":
        client: aioredis.Redis = fakeredis.FakeAsyncRedis()
        yield client
        await client.aclose()
        return
    infra = request.getfixturevalue("infra")
    client = aioredis.Redis.from_url(infra.redis_url)
    prefix = request.getfixturevalue("contract_prefix")
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def contract_prefix() -> str:
    """Each test's own key prefix (the real Redis is shared by the session)."""
    return f"k{uuid.uuid4().hex[:10]}."
