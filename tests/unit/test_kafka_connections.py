"""aiokafka's connections under the event loop our services run on (uvloop): a write to a
transport uvloop has closed is a lost connection (``zhixing.kafka_connections``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop
from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

import zhixing.kafka_connections
from zhixing.uvloop_writes import is_closed_transport

METADATA_API_KEY = 3


async def closed_stream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Any]:
    """A reader and writer over a local connection uvloop has closed (its handle too, as
    when the peer went away before aiokafka's reader noticed), and the server to close."""
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.abort()
    await writer.wait_closed()
    return reader, writer, server


async def connection_over(reader: Any, writer: Any, closes: list[Any]) -> AIOKafkaConnection:
    """An aiokafka connection that believes it is connected over ``reader`` and ``writer``,
    knowing the metadata request's versions, as after its handshake."""
    connection = AIOKafkaConnection(
        "127.0.0.1", 9, on_close=lambda conn, reason: closes.append(reason)
    )
    connection._reader, connection._writer = reader, writer
    connection._read_task = asyncio.get_running_loop().create_future()  # its reader, idle
    connection._versions = {METADATA_API_KEY: (0, 12)}
    return connection


def test_a_write_to_a_transport_uvloop_closed_is_a_lost_connection() -> None:
    """uvloop refuses the write with RuntimeError; the connection reports it as aiokafka
    reports an OSError there: closed (its close callback told the connection broke) and
    a ``KafkaConnectionError``, which every caller in aiokafka retries."""

    async def scenario() -> None:
        reader, writer, server = await closed_stream()
        try:
            with pytest.raises(RuntimeError) as refused:
                writer.write(b"x")  # what uvloop does, unchanged
            assert is_closed_transport(refused.value)

            closes: list[Any] = []
            connection = await connection_over(reader, writer, closes)
            with pytest.raises(KafkaConnectionError, match=r"broken: .*the handler is closed"):
                connection.send(MetadataRequest([]))
            assert closes == [CloseReason.CONNECTION_BROKEN]
            assert not connection.connected()
            with pytest.raises(KafkaConnectionError, match="No connection"):
                connection.send(MetadataRequest([]))  # and it stays closed until reconnected
        finally:
            server.close()

    uvloop.run(scenario())


def test_another_runtime_error_in_a_send_is_raised_as_it_is() -> None:
    """Only uvloop's closed transport is a lost connection: another RuntimeError (a bug)
    is raised unchanged, the connection left as it was."""

    class Refusing:
        def write(self, data: bytes) -> None:
            raise RuntimeError("Event loop is closed")

    async def scenario() -> None:
        closes: list[Any] = []
        connection = await connection_over(object(), Refusing(), closes)
        with pytest.raises(RuntimeError, match="Event loop is closed"):
            connection.send(MetadataRequest([]))
        assert closes == []
        assert connection._writer is not None  # not closed by the change
        connection._reader = connection._writer = None  # nothing real to close

    uvloop.run(scenario())


def test_the_change_is_made_once_however_often_it_is_imported() -> None:
    import importlib

    send = AIOKafkaConnection.send
    importlib.reload(zhixing.kafka_connections)
    zhixing.kafka_connections.mend()
    assert AIOKafkaConnection.send is send
    assert send.__wrapped__.__module__ == "aiokafka.conn"
