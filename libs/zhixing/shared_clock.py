"""One simulated clock for services in separate processes.

A simulation (the bench, a long-running soak) drives time; the services follow it. The
driver writes the simulated instant to a Redis key and publishes it on a channel of the same
name; each service process runs a ``SharedClock``: a ``SimulatedClock`` that moves when the
channel says so and then records, per process, the instant it reached. The driver waits for
every follower's record before it looks at the platform, so "the clock says 18:00" means the
same in every process. Redis is the mechanism every service already depends on; no new
transport is needed.

A production process never follows a shared clock: ``ClockSettings`` refuses it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import UTC, datetime
from typing import Literal

import redis.asyncio as aioredis
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.clock import Clock, SimulatedClock, SystemClock
from zhixing.settings import Environment, PlatformSettings, RedisSettings
from zhixing.state import KeySpace, as_bytes, connect

__all__ = ["ClockDriver", "ClockSettings", "SharedClock", "clock_from_settings"]

log = structlog.get_logger(__name__)


class ClockSettings(BaseSettings):
    """Which clock a service process reads (``ZHIXING_CLOCK_*``)."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_CLOCK_", extra="ignore")

    source: Literal["system", "shared"] = Field(
        "system",
        description="system: wall time; shared: follow a simulation's clock in Redis "
        "(the bench and simulations only; refused when ZHIXING_ENV=prod)",
    )
    name: str = Field(
        "simulation", min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$",
        description="The shared clock's name (its Redis key, under the key prefix)",
    )  # fmt: skip
    start_timeout_s: float = Field(
        30.0, gt=0, description="How long a follower waits for the driver's first instant"
    )


def _keys(redis: RedisSettings, name: str) -> tuple[str, str]:
    """The instant's key (also the channel) and the followers' hash of instants reached."""
    space = KeySpace(redis.key_prefix, "clock")
    return space.key(name, "now"), space.key(name, "followers")


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(instant: datetime) -> int:
    return round(instant.timestamp() * 1000)


class SharedClock(SimulatedClock):
    """A simulated clock that follows the driver's instant in Redis (see the module)."""

    def __init__(self, redis: aioredis.Redis, now_key: str, followers_key: str,
                 start: datetime, member: str) -> None:  # fmt: skip
        super().__init__(start)
        self._redis = redis
        self._now_key = now_key
        self._followers_key = followers_key
        self.member = member
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def follow(cls, redis_settings: RedisSettings, settings: ClockSettings,
                     member: str) -> SharedClock:  # fmt: skip
        """Subscribe, then read the current instant (waiting for the driver's first), so
        no move between the two is missed; then follow moves until ``close``."""
        now_key, followers_key = _keys(redis_settings, settings.name)
        redis = connect(redis_settings)
        pubsub = redis.pubsub()
        await pubsub.subscribe(now_key)
        deadline = asyncio.get_running_loop().time() + settings.start_timeout_s
        while (raw := await redis.get(now_key)) is None:
            if asyncio.get_running_loop().time() > deadline:
                await pubsub.aclose()
                await redis.aclose()
                raise TimeoutError(
                    f"no simulated instant at Redis key {now_key!r} after "
                    f"{settings.start_timeout_s} s: is the simulation's driver running?"
                )
            await asyncio.sleep(0.05)
        clock = cls(redis, now_key, followers_key, _instant(int(raw)), member)
        await clock._reached(int(raw))
        clock._task = asyncio.create_task(clock._follow(pubsub), name="shared-clock")
        return clock

    async def _follow(self, pubsub: aioredis.client.PubSub) -> None:
        """Listen; when the connection is lost for good, subscribe again (the subscription
        re-reads the instant, so no move is missed)."""
        while True:
            try:
                await self._listen(pubsub)
            except Exception as exc:
                log.warning("shared clock's channel lost; subscribing again", error=str(exc))
            await asyncio.sleep(0.2)
            pubsub = self._redis.pubsub()
            with contextlib.suppress(Exception):
                await pubsub.subscribe(self._now_key)

    async def _reached(self, ms: int) -> None:
        await self._redis.hset(self._followers_key, self.member, ms)

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        try:
            async for message in pubsub.listen():
                kind = message.get("type")
                if kind == "message":
                    ms = int(as_bytes(message["data"]))
                elif kind == "subscribe":
                    # redis-py resubscribes by itself after a dropped connection; a move
                    # published meanwhile was lost, so read the instant again.
                    raw = await self._redis.get(self._now_key)
                    if raw is None:
                        continue
                    ms = int(raw)
                else:
                    continue
                if _instant(ms) > self.now():
                    self.set(_instant(ms))
                await self._reached(ms)
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        """Stop following and forget this process among the followers."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):  # cancelled, or it had failed
                await self._task
        with contextlib.suppress(Exception):  # a Redis already gone has nothing to forget
            await self._redis.hdel(self._followers_key, self.member)
        await self._redis.aclose()


class ClockDriver:
    """The simulation's side: moves its own ``SimulatedClock`` and tells the followers."""

    def __init__(self, clock: SimulatedClock, redis_settings: RedisSettings,
                 name: str = "simulation") -> None:  # fmt: skip
        self.clock = clock
        self._now_key, self._followers_key = _keys(redis_settings, name)
        self._redis = connect(redis_settings)

    async def publish(self) -> None:
        """Write the clock's instant where followers read it, and tell them."""
        ms = _ms(self.clock.now())
        await self._redis.set(self._now_key, ms)
        await self._redis.publish(self._now_key, ms)

    async def set(self, instant: datetime) -> None:
        self.clock.set(instant)
        await self.publish()

    async def followers_behind(self) -> int:
        """How many followers have not yet reached the driver's instant."""
        target = _ms(self.clock.now())
        reached = await self._redis.hvals(self._followers_key)
        return sum(1 for ms in reached if int(ms) < target)

    async def followers(self) -> int:
        count: int = await self._redis.hlen(self._followers_key)
        return count

    async def close(self) -> None:
        """Remove the clock's keys (the instant, the followers' record) and disconnect."""
        with contextlib.suppress(Exception):
            await self._redis.delete(self._now_key, self._followers_key)
        await self._redis.aclose()


async def clock_from_settings(
    service: str, redis_settings: RedisSettings | None = None,
    settings: ClockSettings | None = None, platform: PlatformSettings | None = None,
) -> Clock:  # fmt: skip
    """The clock a service process runs on: the system's, or a shared simulated one."""
    settings = settings or ClockSettings()
    if settings.source == "system":
        return SystemClock()
    if (platform or PlatformSettings()).env is Environment.PROD:
        raise ValueError(
            "ZHIXING_CLOCK_SOURCE=shared is for simulations; a production process "
            "(ZHIXING_ENV=prod) runs on the system clock"
        )
    member = f"{service}:{socket.gethostname()}:{os.getpid()}"
    clock = await SharedClock.follow(redis_settings or RedisSettings(), settings, member)
    log.info("following a shared simulated clock", clock=settings.name, now=str(clock.now()))
    return clock
