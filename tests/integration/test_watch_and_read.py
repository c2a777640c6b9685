"""``watch_and_read``: a transaction's WATCH and its first reads in one round trip, with
what a WATCH sent alone guarantees."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError, WatchError

from tests.conftest import Infra
from zhixing.settings import RedisSettings
from zhixing.state import connect, transact, watch_and_read

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(infra: Infra) -> AsyncIterator[aioredis.Redis]:
    redis = connect(RedisSettings(url=infra.redis_url))
    yield redis
    await redis.aclose()


def _keys(*names: str) -> list[str]:
    run = uuid.uuid4().hex[:10]
    return [f"t{run}.{name}" for name in names]


async def _take_connection(pipe: Pipeline, key: str) -> None:
    """Gives ``pipe`` its connection (which it keeps until reset), watching nothing."""
    await pipe.watch(key)
    await pipe.unwatch()  # type: ignore[no-untyped-call]
    assert pipe.connection is not None and not pipe.watching


def _count_writes(connection: Any) -> list[int]:
    """Counts what ``connection`` writes to the socket (one entry per write)."""
    writes: list[int] = []
    send = connection.send_packed_command

    async def counted(command: Any, check_health: bool = True) -> None:
        writes.append(1)
        await send(command, check_health)

    connection.send_packed_command = counted
    return writes


async def test_the_watch_and_the_reads_go_in_one_write_and_answer_as_the_commands_would(
    client: aioredis.Redis,
) -> None:
    counter, fields, missing = _keys("counter", "fields", "missing")
    await client.set(counter, 7)
    await client.hset(fields, mapping={"a": "1", "b": "2"})
    async with client.pipeline(transaction=True) as pipe:
        await _take_connection(pipe, counter)
        writes = _count_writes(pipe.connection)
        replies = await watch_and_read(
            pipe, [counter, fields], [("MGET", counter, missing), ("HMGET", fields, "b", "z")]
        )
        assert replies == [[b"7", None], [b"2", None]]
        assert len(writes) == 1
        assert pipe.watching  # the later reads go straight to Redis, as after a WATCH
        assert await pipe.get(counter) == b"7"
    await client.delete(counter, fields)


async def _read_with_watch_and_read(pipe: Pipeline, key: str) -> int:
    ((value,),) = await watch_and_read(pipe, [key], [("MGET", key)])
    return int(value or 0)


async def _read_through_the_pipe(pipe: Pipeline, key: str) -> int:
    return int(await pipe.get(key) or 0)  # the WATCH of transact's keys goes with it


@pytest.mark.parametrize(
    ("read", "watched_by_transact"),
    [(_read_with_watch_and_read, False), (_read_through_the_pipe, True)],
    ids=["watch_and_read", "first command"],
)
async def test_a_write_after_the_read_aborts_the_transaction_and_transact_runs_it_again(
    client: aioredis.Redis, infra: Infra,
    read: Callable[[Pipeline, str], Awaitable[int]], watched_by_transact: bool,
) -> None:  # fmt: skip
    """What the read saw is watched: another writer between it and EXEC makes the
    transaction run again, as when the WATCH went alone before it."""
    (counter,) = _keys("counter")
    await client.set(counter, 0)
    other = connect(RedisSettings(url=infra.redis_url))
    calls = 0

    async def increment(pipe: Pipeline) -> int:
        nonlocal calls
        calls += 1
        value = await read(pipe, counter)
        if calls == 1:
            await other.incrby(counter, 10)  # another writer, between the read and EXEC
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(counter, value + 1)
        return value

    watch = [counter] if watched_by_transact else []
    try:
        assert await transact(client, watch, increment) == 10
        assert calls == 2
        assert await client.get(counter) == b"11"
        await asyncio.gather(*(transact(client, watch, increment) for _ in range(30)))
        assert await client.get(counter) == b"41"  # none lost
    finally:
        await client.delete(counter)
        await other.aclose()


async def test_concurrent_increments_are_none_of_them_lost(client: aioredis.Redis) -> None:
    (counter,) = _keys("counter")

    async def increment(pipe: Pipeline) -> None:
        ((value,),) = await watch_and_read(pipe, [counter], [("MGET", counter)])
        await asyncio.sleep(0)  # let the others read the same value
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(counter, int(value or 0) + 1)

    try:
        await asyncio.gather(*(transact(client, [], increment) for _ in range(40)))
        assert await client.get(counter) == b"40"
    finally:
        await client.delete(counter)


async def test_a_refused_read_is_raised_after_every_reply_is_read(
    client: aioredis.Redis,
) -> None:
    text, counter = _keys("text", "counter")
    await client.set(text, "not a hash")
    await client.set(counter, 3)
    async with client.pipeline(transaction=True) as pipe:
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await watch_and_read(pipe, [text], [("HMGET", text, "a"), ("MGET", counter)])
        # The connection is in step: the next reply is the next command's.
        assert await pipe.get(counter) == b"3"
    assert await client.get(counter) == b"3"
    await client.delete(text, counter)


def _lose_reply(connection: Any, number: int) -> None:
    """The connection is lost while waiting for its ``number``th reply from now."""
    read_response = connection.read_response
    replies = 0

    async def lost(*args: Any, **kwargs: Any) -> Any:
        nonlocal replies
        replies += 1
        if replies == number:
            raise RedisConnectionError("gone")
        return await read_response(*args, **kwargs)

    connection.read_response = lost


async def test_a_connection_lost_after_the_watch_is_a_watch_error(
    client: aioredis.Redis,
) -> None:
    (counter,) = _keys("counter")
    await client.set(counter, 1)
    async with client.pipeline(transaction=True) as pipe:
        await _take_connection(pipe, counter)
        _lose_reply(pipe.connection, 2)  # the WATCH is answered, the read is not
        with pytest.raises(WatchError, match="ConnectionError"):
            await watch_and_read(pipe, [counter], [("MGET", counter)])
        assert not pipe.watching and pipe.connection is None  # released, disconnected
    await client.delete(counter)


async def test_a_connection_lost_before_the_watch_is_answered_is_a_lost_connection(
    client: aioredis.Redis,
) -> None:
    """Nothing is watched yet: the client's retry policy decides, as for a WATCH sent
    alone (ours retries nothing: the caller's batch or request is retried), and the
    pipeline connects afresh for the next try."""
    (counter,) = _keys("counter")
    await client.set(counter, 1)
    async with client.pipeline(transaction=True) as pipe:
        await _take_connection(pipe, counter)
        _lose_reply(pipe.connection, 1)
        with pytest.raises(RedisConnectionError, match="gone"):
            await watch_and_read(pipe, [counter], [("MGET", counter)])
        assert not pipe.watching
        assert await watch_and_read(pipe, [counter], [("MGET", counter)]) == [[b"1"]]
        assert pipe.watching
    await client.delete(counter)


async def test_no_watch_after_multi_and_none_without_keys(client: aioredis.Redis) -> None:
    (counter,) = _keys("counter")
    async with client.pipeline(transaction=True) as pipe:
        with pytest.raises(ValueError, match="at least one key"):
            await watch_and_read(pipe, [], [("MGET", counter)])
        pipe.multi()  # type: ignore[no-untyped-call]
        with pytest.raises(RedisError, match="after a MULTI"):
            await watch_and_read(pipe, [counter], [("MGET", counter)])


async def test_a_read_cancelled_midway_leaves_no_reply_for_the_next_command(
    client: aioredis.Redis,
) -> None:
    """A request cancelled while its reads are answered (a client gone, a shutdown): the
    connection goes back to the pool without replies left unread on it."""
    empty, counter = _keys("empty", "counter")
    await client.set(counter, 5)
    async with client.pipeline(transaction=True) as pipe:
        pending = asyncio.create_task(
            watch_and_read(pipe, [counter], [("BLPOP", empty, "5"), ("GET", counter)])
        )
        await asyncio.sleep(0.2)  # the WATCH answered, the BLPOP waiting on the server
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
    for _ in range(3):  # whichever pooled connection answers, it answers its own command
        assert await client.get(counter) == b"5"
    await client.delete(counter)


# --- transact: the WATCH goes with the body's first command ------------------------------


async def _one_connection(client: aioredis.Redis) -> Any:
    """The client's one pooled connection, connected (the next transaction takes it)."""
    await client.ping()
    (connection,) = client.connection_pool._available_connections
    return connection


def _record_writes(connection: Any) -> list[list[Any]]:
    """What ``connection`` writes, one list per write: each command's name, and a WATCH
    with its keys."""
    writes: list[list[Any]] = []
    packed: list[Any] = []
    pack, send = connection.pack_command, connection.send_packed_command

    def packing(*args: Any) -> Any:
        words = [a.decode() if isinstance(a, bytes) else str(a) for a in args]
        packed.append(tuple(words) if words[0] == "WATCH" else words[0].split()[0])
        return pack(*args)

    async def sending(command: Any, check_health: bool = True) -> None:
        writes.append(packed.copy())
        packed.clear()
        await send(command, check_health)

    connection.pack_command = packing
    connection.send_packed_command = sending
    return writes


async def test_transact_sends_its_watch_with_the_bodys_first_read(
    client: aioredis.Redis,
) -> None:
    counter, fields = _keys("counter", "fields")
    await client.set(counter, 4)
    await client.hset(fields, "a", "1")
    writes = _record_writes(await _one_connection(client))

    async def body(pipe: Pipeline) -> tuple[Any, Any]:
        value = await pipe.get(counter)
        assert pipe.watching
        read = await pipe.hgetall(fields)
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(counter, int(value or 0) + 1)
        return value, read

    try:
        assert await transact(client, [counter, fields], body) == (b"4", {b"a": b"1"})
        assert writes == [
            [("WATCH", counter, fields), "GET"],
            ["HGETALL"],
            ["MULTI", "SET", "EXEC"],
        ]
        assert await client.get(counter) == b"5"
    finally:
        await client.delete(counter, fields)


async def test_a_body_that_reads_nothing_has_its_watch_sent_before_the_transaction(
    client: aioredis.Redis,
) -> None:
    (counter,) = _keys("counter")
    writes = _record_writes(await _one_connection(client))

    async def blind(pipe: Pipeline) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(counter, 1)

    try:
        await transact(client, [counter], blind)
        assert writes == [[("WATCH", counter)], ["MULTI", "SET", "EXEC"]]
        assert await client.get(counter) == b"1"
    finally:
        await client.delete(counter)


async def test_keys_the_body_watches_go_in_one_watch_with_those_of_transact(
    client: aioredis.Redis,
) -> None:
    first, second, third = _keys("first", "second", "third")
    await client.set(first, 1)
    writes = _record_writes(await _one_connection(client))

    async def body(pipe: Pipeline) -> Any:
        await pipe.watch(second)
        ((value,),) = await watch_and_read(pipe, [third], [("MGET", first)])
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(third, value)
        return value

    async def reads_first(pipe: Pipeline) -> Any:
        return await watch_and_read(pipe, [third], [("MGET", first)])

    try:
        assert await transact(client, [first], body) == b"1"
        assert writes[0] == [("WATCH", first, second)]
        assert writes[1] == [("WATCH", third), "MGET"]
        writes.clear()
        assert await transact(client, [first, second], reads_first) == [[b"1"]]
        assert writes == [[("WATCH", first, second, third), "MGET"], ["UNWATCH"]]
    finally:
        await client.delete(first, second, third)


async def test_the_first_commands_reply_is_shaped_by_its_options(
    client: aioredis.Redis,
) -> None:
    """A first command whose reply redis-py shapes by its options (scores as floats) gets
    it shaped, as sent alone."""
    (ranked,) = _keys("ranked")
    await client.zadd(ranked, {"a": 1.5, "b": 2})

    async def body(pipe: Pipeline) -> Any:
        return await pipe.zrange(ranked, 0, -1, withscores=True)

    try:
        assert await transact(client, [ranked], body) == [(b"a", 1.5), (b"b", 2.0)]
    finally:
        await client.delete(ranked)


async def test_transact_losing_its_connection_before_the_watch_is_answered_raises_it(
    client: aioredis.Redis,
) -> None:
    """Nothing was watched: the lost connection is raised (our clients retry nothing), not
    taken for a conflict to run again; after it, the client connects afresh."""
    (counter,) = _keys("counter")
    await client.set(counter, 1)
    _lose_reply(await _one_connection(client), 1)
    calls = 0

    async def body(pipe: Pipeline) -> Any:
        nonlocal calls
        calls += 1
        return await pipe.get(counter)

    try:
        with pytest.raises(RedisConnectionError, match="gone"):
            await transact(client, [counter], body)
        assert calls == 1
        assert await transact(client, [counter], body) == b"1"
    finally:
        await client.delete(counter)


async def test_a_body_that_unwatches_before_its_first_command_watches_nothing(
    client: aioredis.Redis,
) -> None:
    (counter,) = _keys("counter")
    writes = _record_writes(await _one_connection(client))

    async def forgets(pipe: Pipeline) -> None:
        await pipe.unwatch()  # type: ignore[no-untyped-call]
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(counter, 1)

    try:
        await transact(client, [counter], forgets)
        assert writes == [["MULTI", "SET", "EXEC"]]
    finally:
        await client.delete(counter)


async def test_a_first_command_whose_watch_went_unanswered_is_retried_with_its_watch(
    client: aioredis.Redis, infra: Infra
) -> None:
    """A body that tries its first read again after losing the connection before the
    WATCH's reply sends the WATCH again with it: what it reads is watched, and a write
    after it makes the transaction run again."""
    counter, copy = _keys("counter", "copy")
    await client.set(counter, 3)
    _lose_reply(await _one_connection(client), 1)
    other = connect(RedisSettings(url=infra.redis_url))
    calls = 0

    async def retries(pipe: Pipeline) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            with pytest.raises(RedisConnectionError):
                await pipe.get(counter)
        value = await pipe.get(counter) or b""
        assert pipe.watching
        if calls == 1:
            await other.incr(counter)  # after the read: EXEC must refuse
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(copy, value)
        return value

    try:
        assert await transact(client, [counter], retries) == b"4"
        assert calls == 2
        assert await client.get(copy) == b"4"
    finally:
        await client.delete(counter, copy)
        await other.aclose()
