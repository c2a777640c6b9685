"""Our Redis connections pack commands with hiredis (``zhixing.state``): the same bytes as
redis-py's own packing, for every kind of argument, and the same refusals."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from zhixing.settings import RedisSettings
from zhixing.state import connect

TEXT = "abc 执行指挥 键值\x00\n\r$*:|\u2028😀"


_POOL = connect(RedisSettings(url="redis://127.0.0.1:1/0")).connection_pool  # never used
OURS = _POOL.connection_class(**_POOL.connection_kwargs)
REDIS_PY = Connection()


def redis_py_bytes(*args: Any) -> bytes:
    return b"".join(bytes(chunk) for chunk in REDIS_PY.pack_command(*args))


def our_bytes(*args: Any) -> bytes:
    return b"".join(OURS.pack_command(*args))


def random_argument(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return "".join(rng.choice(TEXT) for _ in range(rng.randrange(0, 40)))
    if kind == 1:
        return rng.randbytes(rng.randrange(0, 40))
    if kind == 2:
        return rng.randrange(-(2**63), 2**63)
    if kind == 3:
        return rng.uniform(-1e12, 1e12) * rng.choice([1, 1e-9, 1e9])
    if kind == 4:
        return bytearray(rng.randbytes(rng.randrange(0, 10)))
    if kind == 5:
        return memoryview(rng.randbytes(rng.randrange(0, 10)))
    return rng.randbytes(rng.randrange(6_000, 20_000))  # above redis-py's chunking cutoff


def test_random_commands_pack_to_the_same_bytes_as_redis_py() -> None:
    rng = random.Random(19)
    for _ in range(3_000):
        name = rng.choice(["SET", "HSET", "ZADD", "EVALSHA", "CONFIG GET", b"CLIENT SETNAME"])
        args = [random_argument(rng) for _ in range(rng.randrange(0, 8))]
        assert our_bytes(name, *args) == redis_py_bytes(name, *args), (name, args)


@pytest.mark.parametrize("value", [0, -1, 2**63 - 1, 0.1, 1 / 3, 1e300, -0.0, math.inf, "", b""])
def test_edge_values_pack_to_the_same_bytes(value: Any) -> None:
    assert our_bytes("SET", "k", value) == redis_py_bytes("SET", "k", value)


@pytest.mark.parametrize("value", [None, True, object(), [1], {"a": 1}])
def test_what_redis_py_refuses_is_refused_as_a_data_error(value: Any) -> None:
    with pytest.raises(DataError):
        redis_py_bytes("SET", "k", value)
    with pytest.raises(DataError):
        our_bytes("SET", "k", value)


def test_text_that_is_not_unicode_is_refused_by_both() -> None:
    for pack in (redis_py_bytes, our_bytes):
        with pytest.raises(UnicodeEncodeError):
            pack("SET", "k", "\ud800")
