"""Our Redis clients under the event loop the services run on (uvloop)."""

from __future__ import annotations

import asyncio
import errno
import uuid
from typing import Any

import pytest
import uvloop
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.conftest import Infra
from zhixing.settings import RedisSettings
from zhixing.state import connect, transact

pytestmark = pytest.mark.integration


def _close_transport(connection: Any, *, seen_closing: bool = True) -> None:
    """What a Redis that went away mid-command leaves: a connection that believes it is
    connected over a transport the loop has closed. Not ``seen_closing``: the transport
    closes after the send has looked at it, just before the write."""
    writer = connection._writer
    writer.transport.close()
    if not seen_closing:
        writer._transport = _ClosingUnseen(writer.transport)


class _ClosingUnseen:
    """A closed uvloop transport met in the write: it says it is not closing, and a write
    raises what uvloop raises once its handle is closed (uvloop's own attributes are
    read-only, and when its handle finishes closing depends on the loop's turns)."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def is_closing(self) -> bool:
        return False

    def writelines(self, data: Any) -> None:
        raise RuntimeError(
            "unable to perform operation on <TCPTransport closed=True>; the handler is closed"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@pytest.mark.parametrize(
    ("seen_closing", "reported"),
    [(True, "closed by the server before write"), (False, "while writing to socket")],
    ids=["seen-before-the-write", "met-in-the-write"],
)
def test_a_write_to_a_closed_transport_is_a_lost_connection_and_a_transaction_runs_again(
    infra: Infra, seen_closing: bool, reported: str
) -> None:
    """uvloop raises RuntimeError writing to a closed transport (MagicStack/uvloop#506),
    which redis-py does not take for a lost connection: the crash campaign met it as a 500
    on a filing. ``connect``'s client reports it as ``ConnectionError`` (a 503, a retried
    batch), whether the send sees the transport closing before it writes (as redis-py 8.2
    looks) or meets the RuntimeError writing; and ``transact``, which sees it as a lost
    WATCH, runs its body again."""
    key = f"t{uuid.uuid4().hex[:10]}.counter"
    calls = 0

    async def increment(pipe: Pipeline) -> int:
        nonlocal calls
        calls += 1
        await pipe.get(key)  # watching from here
        if calls == 1:
            _close_transport(pipe.connection, seen_closing=seen_closing)
        value = int(await pipe.get(key) or 0)
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(key, value + 1)
        return value

    async def scenario() -> None:
        client = connect(RedisSettings(url=infra.redis_url))
        try:
            await client.set(key, 1)
            for connection in list(client.connection_pool._available_connections):
                _close_transport(connection, seen_closing=seen_closing)
            with pytest.raises(RedisConnectionError, match=reported):
                await client.get(key)
            assert await client.get(key) == b"1"  # the next command connects afresh

            assert await transact(client, [key], increment) == 1
            assert calls == 2
            assert await client.get(key) == b"2"
        finally:
            await client.delete(key)
            await client.aclose()

    uvloop.run(scenario())


async def _connected_client(infra: Infra) -> tuple[Any, Any]:
    """A client of ``connect`` with its one connection, connected and idle in its pool."""
    client = connect(RedisSettings(url=infra.redis_url))
    await client.ping()
    (connection,) = client.connection_pool._available_connections
    return client, connection


async def test_a_task_cancelled_as_its_command_is_written_ends(infra: Infra) -> None:
    """A task is cancelled in the loop turn its command's write completes. Redis-py bounds
    that write with ``asyncio.wait_for`` (every redis-py 8 connection has a socket timeout),
    which on Python 3.11 then returns normally and loses the cancellation
    (python/cpython#86296): the task below ran on for ever, as a lease keeper did in CI.
    Our connections bound the write in the task itself, and the cancellation ends it."""
    key = f"t{uuid.uuid4().hex[:10]}.x"
    client, connection = await _connected_client(infra)
    assert connection.socket_timeout  # the condition under which redis-py uses wait_for
    writer = connection._writer
    drain = writer.drain
    looping: asyncio.Task[None] | None = None

    async def drain_then_cancel() -> None:
        await drain()
        writer.drain = drain  # once
        assert looping is not None
        looping.cancel()

    async def loop_on_get() -> None:
        while True:
            await client.get(key)

    writer.drain = drain_then_cancel
    looping = asyncio.create_task(loop_on_get())
    try:
        done, _ = await asyncio.wait([looping], timeout=5)
        assert looping in done, "the cancellation was lost: the task is still running"
        assert looping.cancelled()
        assert await client.get(key) is None  # the client goes on, on a fresh connection
    finally:
        while not looping.done():  # a lost cancellation, on the old code: end it
            looping.cancel()
            await asyncio.wait([looping], timeout=1)
        await client.aclose()


async def test_a_write_that_outlasts_the_socket_timeout_is_a_timeout_and_closes_the_connection(
    infra: Infra,
) -> None:
    """The write keeps redis-py's bound: past the socket timeout it is redis-py's
    ``TimeoutError``, and the connection, with a command perhaps half written, is closed;
    the next command connects afresh. (Here the SET's bytes were handed to the socket before
    the drain hung, so Redis applied it: a write timeout does not say a command was not
    run, which is why our transactions are idempotent.)"""
    key = f"t{uuid.uuid4().hex[:10]}.x"
    client, connection = await _connected_client(infra)
    writer = connection._writer

    async def never_drained() -> None:
        await asyncio.Event().wait()

    writer.drain = never_drained
    connection.socket_timeout = 0.05
    try:
        with pytest.raises(RedisTimeoutError, match="Timeout writing to socket"):
            await client.set(key, 1)
        assert not connection.is_connected
        assert await client.incr(key) == 2  # a fresh connection, in step with its replies
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_write_the_os_timed_out_is_a_lost_connection_not_a_slow_one(
    infra: Infra,
) -> None:
    """An ETIMEDOUT from the OS (a connection dead after a network change) is a
    ``TimeoutError`` with an errno, caught where our own write bound is: as redis-py 8.2
    does, it is reported as a lost connection (retried like one), not as Redis being
    slow, and the connection is closed."""
    client, connection = await _connected_client(infra)

    async def timed_out_by_the_os() -> None:
        raise TimeoutError(errno.ETIMEDOUT, "Connection timed out")

    connection._writer.drain = timed_out_by_the_os
    try:
        with pytest.raises(RedisConnectionError, match=f"Error {errno.ETIMEDOUT} while writing"):
            await client.get("x")
        assert not connection.is_connected
        assert await client.ping()  # a fresh connection
    finally:
        await client.aclose()


class _TypeErrorOnWrite:
    """A transport whose write raises TypeError, as Python 3.12–3.13.9's do when the
    connection is lost mid-write (``lose`` closes it first), or as a bug would on an open one."""

    def __init__(self, transport: Any, *, lose: bool) -> None:
        self._transport = transport
        self._lose = lose

    def writelines(self, data: Any) -> None:
        if self._lose:
            self._transport.close()
        raise TypeError("'NoneType' object is not callable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@pytest.mark.parametrize("lose", [True, False], ids=["connection-lost", "bug"])
async def test_a_type_error_in_the_write_is_a_lost_connection_only_if_the_transport_closed(
    infra: Infra, lose: bool
) -> None:
    """redis-py 8.2 takes such an error for a lost connection when the transport is closing
    (cpython#136234); on an open transport it is a bug, raised as it is, not retried as
    Redis going away. Either way the connection is closed."""
    client, connection = await _connected_client(infra)
    writer = connection._writer
    writer._transport = _TypeErrorOnWrite(writer.transport, lose=lose)
    try:
        expected: type[Exception] = RedisConnectionError if lose else TypeError
        with pytest.raises(expected):
            await client.get("x")
        assert not connection.is_connected
        assert await client.ping()  # a fresh connection
    finally:
        await client.aclose()
