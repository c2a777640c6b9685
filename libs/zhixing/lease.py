"""One replica at a time runs a service's background loops.

A service scales out by running more processes: its consumers share the topics' partitions
(a Kafka consumer group), its HTTP and gRPC APIs answer from any replica. Its background
loops (the outbox relay, timers, the workers that call outside systems) must not run twice:
two relays would publish each staged event twice, two deadline schedulers would race on the
same timers. So they run in the replica holding the service's lease, a Redis key set with
``NX`` and a time to live, renewed well before it lapses.

A replica that cannot renew (Redis unreachable for longer than the lease, or the process
paused so long that another took over) stops its loops and ends ``LeaderLoops.run``; its
``/healthz`` then reports the stopped task (503), so the orchestrator restarts it, exactly as
for a loop that crashed. A replica stopping gracefully releases the lease at once; one that
died holds it until it lapses (``LeaseSettings.ttl_s``), and then another takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.state import KeySpace

__all__ = ["LeaderLoops", "Lease", "LeaseSettings"]

log = structlog.get_logger(__name__)

# Renew only what this replica holds; release likewise (another may hold it by now).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaseSettings(BaseSettings):
    """The background loops' lease (``ZHIXING_LEASE_*``)."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_LEASE_", extra="ignore")

    ttl_s: float = Field(
        5.0, ge=0.5, le=300,
        description="How long a lease outlives its holder: the longest pause before another "
        "replica takes over a dead one's loops",
    )  # fmt: skip


class _Loop(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


class Lease:
    """The lease on one service's background loops (wall time: Redis expires it)."""

    def __init__(self, redis: aioredis.Redis, keys: KeySpace, ttl_s: float,
                 holder: str | None = None) -> None:  # fmt: skip
        self._redis = redis
        self.key = keys.key("leader")
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.ttl_ms = round(ttl_s * 1000)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        return bool(await self._redis.set(self.key, self.holder, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])


class LeaderLoops:
    """Runs ``loops`` while this replica holds ``lease`` (see the module)."""

    def __init__(self, lease: Lease, loops: Sequence[_Loop]) -> None:
        self._lease = lease
        self._loops = list(loops)
        self._stopping = asyncio.Event()
        self.leading = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        if not await self._until_acquired():
            return
        self.leading = True
        log.info("leading the background loops", lease=self._lease.key)
        tasks = [asyncio.create_task(loop.run(), name=type(loop).__name__) for loop in self._loops]
        keeping = asyncio.create_task(self._keep(), name="lease")
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                [*tasks, keeping, stopping], return_when=asyncio.FIRST_COMPLETED
            )
            if stopping not in done:
                ended = ", ".join(t.get_name() for t in done)
                log.error("background loops stop: lease lost or a loop ended", ended=ended)
        finally:
            for loop in self._loops:
                loop.stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for task, result in zip(tasks, results, strict=True):
                if isinstance(result, BaseException):
                    log.error("background loop failed", loop=task.get_name(), error=repr(result))
            keeping.cancel()
            stopping.cancel()
            await asyncio.gather(keeping, stopping, return_exceptions=True)
            self.leading = False
            with contextlib.suppress(Exception):  # an unreachable Redis lets it lapse
                await self._lease.release()

    async def _until_acquired(self) -> bool:
        """Try for the lease until it is ours (True) or the host stops (False)."""
        pause = self._lease.ttl_ms / 3000
        while not self._stopping.is_set():
            try:
                if await self._lease.acquire():
                    return True
            except Exception as exc:  # Redis down: keep trying, as the consumers do
                log.warning("lease not acquired; retrying", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
        return False

    async def _keep(self) -> str:
        """Renew every third of the lease; return (how) when it is lost."""
        pause = self._lease.ttl_ms / 3000
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(pause)
            try:
                if not await self._lease.renew():
                    return "lost"
                renewed = loop.time()
            except Exception as exc:
                if loop.time() - renewed >= self._lease.ttl_ms / 1000:
                    log.error("lease not renewed before it lapsed", error=str(exc))
                    return "lapsed"
                log.warning("lease not renewed; retrying", error=str(exc))
