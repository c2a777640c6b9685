"""Redis state helpers shared by every service's projections.

Every key lives under ``<deployment prefix><service>:`` so services never touch each
other's data and tests never touch each other's keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from zhixing.settings import RedisSettings

__all__ = [
    "KeySpace",
    "as_bytes",
    "as_text",
    "connect",
    "read_hashes",
    "text_hash",
    "transact",
]


class KeySpace:
    """Builds the keys of one service: ``KeySpace("t1:", "intake").key("case", id)``."""

    def __init__(self, prefix: str, service: str) -> None:
        if not service or ":" in service:
            raise ValueError(f"service name {service!r} must be non-empty and contain no ':'")
        self.service = service
        self.base = f"{prefix}{service}:"

    def key(self, *parts: str) -> str:
        for part in parts:
            if not part:
                raise ValueError(f"empty key part in {parts!r}")
        return self.base + ":".join(parts)


T = TypeVar("T")


async def transact(
    redis: aioredis.Redis, watch: list[str], body: Callable[[Pipeline], Awaitable[T]]
) -> T:
    """Run ``body`` in an optimistic transaction over ``watch``, again on conflict.

    ``body`` reads through the pipeline (immediate mode), then calls ``pipe.multi()`` and
    queues its writes; if it returns without calling it, nothing is written. Exceptions
    it raises (a refused command) leave nothing written.
    """
    while True:
        try:
            async with redis.pipeline(transaction=True) as pipe:
                if watch:
                    await pipe.watch(*watch)
                result = await body(pipe)
                if pipe.explicit_transaction:
                    await pipe.execute()
                return result
        except WatchError:
            continue


def connect(settings: RedisSettings) -> aioredis.Redis:
    """A client for the configured Redis; replies are bytes (callers decode what they read)."""
    return aioredis.Redis.from_url(settings.url, decode_responses=False)


# redis-py types every reply as ``bytes | str`` (it depends on decode_responses); our clients
# return bytes, and these make that explicit where replies are read.
def as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def text_hash(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash reply with its fields and values as text."""
    return {as_text(k): as_text(v) for k, v in raw.items()}


async def read_hashes(redis: aioredis.Redis, keys: Sequence[str]) -> list[dict[str, str]]:
    """Several hashes in one round trip, as text, in the order of ``keys`` (an absent key
    reads as an empty hash)."""
    if not keys:
        return []
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return [text_hash(raw) for raw in await pipe.execute()]
