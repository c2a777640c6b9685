"""A transaction's plain writes folded into one script call (``zhixing.folding``): the same
state as sent one by one, the WATCH still guarding it, scripts and long commands left as
they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError, WatchError

from tests.conftest import Isolated
from zhixing.folding import MAX_FOLDED_ARGS, fold_writes

pytestmark = pytest.mark.integration


def writes(prefix: str) -> Callable[[Any], None]:
    def queue(pipe: Any) -> None:
        pipe.hset(f"{prefix}h", mapping={"a": 1, "b": "二", "c": 2.5})
        pipe.zadd(f"{prefix}z", {"m1": 1.5, "m2": 3})
        pipe.sadd(f"{prefix}s", "x", "y")
        pipe.set(f"{prefix}k", b"\x00\xffbytes", px=60_000)
        pipe.incrby(f"{prefix}i", 7)
        pipe.hincrby(f"{prefix}h", "a", 41)  # order matters: after the HSET
        pipe.zrem(f"{prefix}z", "m2")
        pipe.rpush(f"{prefix}l", "one", "two")
        pipe.delete(f"{prefix}gone")
        pipe.xadd(f"{prefix}x", {"f": "v"}, id="1-1")

    return queue


async def state(redis: aioredis.Redis, prefix: str) -> dict[str, Any]:
    return {
        "h": await redis.hgetall(f"{prefix}h"),
        "z": await redis.zrange(f"{prefix}z", 0, -1, withscores=True),
        "s": await redis.smembers(f"{prefix}s"),
        "k": await redis.get(f"{prefix}k"),
        "ttl": await redis.pttl(f"{prefix}k") > 0,
        "i": await redis.get(f"{prefix}i"),
        "l": await redis.lrange(f"{prefix}l", 0, -1),
        "gone": await redis.exists(f"{prefix}gone"),
        "x": await redis.xrange(f"{prefix}x"),
    }


async def test_folded_writes_leave_the_same_state_as_sent_one_by_one(isolated: Isolated) -> None:
    redis = isolated.redis
    for prefix, fold in ((f"{isolated.prefix}plain:", False), (f"{isolated.prefix}fold:", True)):
        await redis.set(f"{prefix}gone", 1)
        async with redis.pipeline(transaction=True) as pipe:
            writes(prefix)(pipe)
            if fold:
                assert fold_writes(pipe) == 10
                assert len(pipe.command_stack) == 1
                # The script goes whole (EVAL): nothing for redis-py to check is loaded with
                # a SCRIPT EXISTS round trip before the transaction.
                assert not pipe.scripts
            await pipe.execute()
    plain = await state(redis, f"{isolated.prefix}plain:")
    folded = await state(redis, f"{isolated.prefix}fold:")
    assert folded == plain
    assert plain["h"] == {b"a": b"42", b"b": "二".encode(), b"c": b"2.5"}


async def test_the_watch_still_guards_a_folded_transaction(isolated: Isolated) -> None:
    redis = isolated.redis
    guarded = f"{isolated.prefix}offsets"
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(guarded)
        pipe.multi()  # type: ignore[no-untyped-call]
        writes(f"{isolated.prefix}w:")(pipe)
        fold_writes(pipe)
        await redis.set(guarded, "moved")  # another replica wrote meanwhile
        with pytest.raises(WatchError):
            await pipe.execute()
    assert await redis.exists(f"{isolated.prefix}w:h") == 0  # nothing of it was written


async def test_scripts_and_long_commands_are_sent_as_they_are(isolated: Isolated) -> None:
    redis = isolated.redis
    counter = redis.register_script("return redis.call('INCR', KEYS[1])")
    prefix = isolated.prefix
    members = {f"m{n}": n for n in range(MAX_FOLDED_ARGS)}  # ZADD of 2 + 8,000 arguments
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(f"{prefix}a", 1)
        pipe.set(f"{prefix}b", 2)
        await counter(keys=[f"{prefix}n"], client=pipe)
        pipe.zadd(f"{prefix}big", members)
        pipe.set(f"{prefix}c", 3)
        pipe.set(f"{prefix}d", 4)
        assert fold_writes(pipe) == 4
        names = [args[0] for args, _ in pipe.command_stack]
        assert names == ["EVAL", "EVALSHA", "ZADD", "EVAL"]
        await pipe.execute()
    assert await redis.mget([f"{prefix}{k}" for k in "abcdn"]) == [b"1", b"2", b"3", b"4", b"1"]
    assert await redis.zcard(f"{prefix}big") == MAX_FOLDED_ARGS


async def test_a_failing_command_fails_the_transaction_but_not_the_writes_after_it(
    isolated: Isolated,
) -> None:
    """As in MULTI: the command on a key of the wrong type fails alone, the ones after it
    are written, and the transaction reports the failure."""
    redis = isolated.redis
    prefix = isolated.prefix
    await redis.set(f"{prefix}string", "not a hash")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(f"{prefix}before", 1)
        pipe.hset(f"{prefix}string", "field", "value")  # WRONGTYPE
        pipe.set(f"{prefix}after", 2)
        pipe.xgroup_create(f"{prefix}stream", "readers", id="0", mkstream=True)
        assert fold_writes(pipe) == 4
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await pipe.execute()
    assert await redis.mget([f"{prefix}before", f"{prefix}after"]) == [b"1", b"2"]
    assert [g["name"] for g in await redis.xinfo_groups(f"{prefix}stream")] == [b"readers"]
