"""Our Redis clients under the event loop the services run on (uvloop)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import uvloop
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.conftest import Infra
from zhixing.settings import RedisSettings
from zhixing.state import connect, transact

pytestmark = pytest.mark.integration


def _close_transport(connection: Any) -> None:
    """What a Redis that went away mid-command leaves: a connection that believes it is
    connected over a transport the loop has closed."""
    connection._writer.transport.close()


def test_a_write_to_a_closed_transport_is_a_lost_connection_and_a_transaction_runs_again(
    infra: Infra,
) -> None:
    """uvloop raises RuntimeError writing to a closed transport (MagicStack/uvloop#506),
    which redis-py does not take for a lost connection: the crash campaign met it as a 500
    on a filing. ``connect``'s client reports it as ``ConnectionError`` (a 503, a retried
    batch), and ``transact``, which sees it as a lost WATCH, runs its body again."""
    key = f"t{uuid.uuid4().hex[:10]}.counter"
    calls = 0

    async def increment(pipe: Pipeline) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            _close_transport(pipe.connection)
        value = int(await pipe.get(key) or 0)
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(key, value + 1)
        return value

    async def scenario() -> None:
        client = connect(RedisSettings(url=infra.redis_url))
        try:
            await client.set(key, 1)
            for connection in list(client.connection_pool._available_connections):
                _close_transport(connection)
            with pytest.raises(RedisConnectionError, match="writing to socket"):
                await client.get(key)
            assert await client.get(key) == b"1"  # the next command connects afresh

            assert await transact(client, [key], increment) == 1
            assert calls == 2
            assert await client.get(key) == b"2"
        finally:
            await client.delete(key)
            await client.aclose()

    uvloop.run(scenario())
