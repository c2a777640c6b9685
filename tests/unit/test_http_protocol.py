"""The services' HTTP protocol (httptools with h11's bound on a request's head): a head still
incomplete past 16 KiB is refused with a 400 and the connection closed, whether its bytes
come at once or a little at a time (one that arrives whole in one read is parsed, as h11
parses it); a large body is not counted; each request on a kept-alive connection has the
bound to itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request

from zhixing.http_protocol import HEAD_TOO_LARGE, MAX_HEAD_BYTES, BoundedHttpToolsProtocol

app = FastAPI()


@app.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"ok": "yes"}


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=BoundedHttpToolsProtocol,
                            log_config=None, lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, *chunks: bytes) -> bytes:
    """Send the chunks (a moment apart), then read until the server closes or answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)
        return await asyncio.wait_for(reader.read(1 << 20), 5)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def get(extra: int = 0) -> bytes:
    padding = b"x" * extra
    return b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Pad: " + padding + b"\r\n\r\n"


async def test_a_head_over_the_bound_is_refused_at_once_or_a_little_at_a_time() -> None:
    async with serving() as port:
        assert b"200 OK" in await exchange(port, get(100))
        # 64 KiB of one header, never ended, in one write: refused, not buffered on.
        endless = b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"x" * (64 * 1024)
        refused = await exchange(port, endless)
        assert b"400 Bad Request" in refused and HEAD_TOO_LARGE.encode() in refused
        whole = get(MAX_HEAD_BYTES + 1024)
        pieces = [whole[i : i + 1024] for i in range(0, len(whole), 1024)]
        refused = await exchange(port, *pieces)
        assert b"400 Bad Request" in refused and HEAD_TOO_LARGE.encode() in refused


async def test_a_large_body_is_not_counted_and_each_request_has_its_own_bound() -> None:
    async with serving() as port:
        body = b"y" * (1 << 20)
        head = (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
        answer = await exchange(port, head + body)
        assert b"200 OK" in answer and b'{"bytes":1048576}' in answer
        # Two requests of 10 KiB heads each on one connection: under the bound each.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(2):
                writer.write(get(10 * 1024))
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 5)
                assert status.startswith(b"HTTP/1.1 200")
                await asyncio.wait_for(reader.readuntil(b'{"ok":"yes"}'), 5)
        finally:
            writer.close()
