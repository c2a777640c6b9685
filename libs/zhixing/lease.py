"""One replica at a time runs a service's background loops.

A service scales out by running more processes: its consumers share the topics' partitions
(a Kafka consumer group), its HTTP and gRPC APIs answer from any replica. Its background
loops (the outbox relay, the workers that call outside systems) must not run twice: two
relays would publish each staged event twice, two workers would send the same request. So
they run in the replica holding the service's lease, a Redis key set with ``NX`` and a time
to live, renewed well before it lapses. (A loop whose replicas can share the work without
taking the same item twice runs in every replica: the deadline scheduler claims each chunk
of due timers.)

A replica that cannot renew in time (Redis unreachable, or the process paused) cancels its
loops before its lease can lapse, without draining them (the next holder relays what is
staged), and tries for the lease again: whichever replica takes it next leads. A replica
stopping gracefully drains its loops and releases the lease at once; one that died holds it
until it lapses (``LeaseSettings.ttl_s``), and then another takes over. A loop that ends on
its own (a crash) ends ``LeaderLoops.run``: ``/healthz`` reports the stopped task and the
service's process exits (``ServiceHost.serve_forever``), so its supervisor restarts it.

The loops are cancelled and started again on the same objects, so a loop must keep its
state in Redis (or be able to start over), and must not rely on ``stop()`` having been
called to leave a clean state: every one of the platform's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.state import KeySpace

__all__ = ["LeaderLoops", "Lease", "LeaseSettings"]

log = structlog.get_logger(__name__)

# Take the lease if free, or if this replica holds it already: an acquire whose reply was
# lost (a timeout as it arrived) leaves the key ours, and a plain SET NX would then refuse
# us too, leaving the service leaderless until the key lapsed.
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if held == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
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
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lease for a term of ``ttl_ms``: True if it was free or already ours."""
        return bool(await self._acquire(keys=[self.key], args=[self.holder, self.ttl_ms]))

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])


CANCEL_AGAIN_S = 1.0
"""How long a stopping leader waits for a cancelled task before cancelling it again."""


async def _cancel_and_wait(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has ended, cancelling again, every
    ``CANCEL_AGAIN_S``, any still running. A cancellation can be lost below us: Python 3.11's
    ``asyncio.wait_for`` loses one that arrives as its call ends (python/cpython#86296). CI
    met a renewing lease keeper that outlived its cancellation that way, inside redis-py's
    send; our connections no longer use it (``zhixing.state._OurConnection``), and this
    guards a stop against any other library that does. A stop that waited once, for ever,
    hung two CI runs in a test's teardown."""
    pending = [task for task in tasks if not task.done()]
    while pending:
        for task in pending:
            task.cancel()
        _, still = await asyncio.wait(pending, timeout=CANCEL_AGAIN_S)
        if still:
            log.warning("a task outlived its cancellation; cancelling it again",
                        tasks=[task.get_name() for task in still])  # fmt: skip
        pending = list(still)
    for task in tasks:  # their failures were logged where it matters; retrieved here
        if not task.cancelled():
            task.exception()


class LeaderLoops:
    """Runs ``loops`` while this replica holds ``lease`` (see the module)."""

    def __init__(self, lease: Lease, loops: Sequence[_Loop]) -> None:
        self._lease = lease
        self._loops = list(loops)
        self._stopping = asyncio.Event()
        self.leading = False
        self.terms = 0  # how many times this replica has taken the lease

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Lead whenever the lease is ours, until stopped. Returns early only when a loop
        ended on its own (a crash): the host then reports it (and ``serve_forever`` exits,
        so a supervisor restarts the process)."""
        while (taken_at := await self._until_acquired()) is not None:
            self.leading, self.terms = True, self.terms + 1
            log.info("leading the background loops", lease=self._lease.key, term=self.terms)
            try:
                ended = await self._lead(taken_at)
            finally:
                self.leading = False
            if ended in ("stopped", "loop ended"):
                with contextlib.suppress(Exception):  # an unreachable Redis lets it lapse
                    async with asyncio.timeout(self._lease.ttl_ms / 1000):
                        await self._lease.release()
                return
            # Lost or lapsing: the loops were cancelled (not drained: the next holder
            # relays what is staged); try for the lease again with the same loops.

    async def _lead(self, taken_at: float) -> str:
        tasks = [asyncio.create_task(loop.run(), name=type(loop).__name__) for loop in self._loops]
        keeping = asyncio.create_task(self._keep(taken_at), name="lease")
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                [*tasks, keeping, stopping], return_when=asyncio.FIRST_COMPLETED
            )
            if stopping in done:
                # A graceful stop: each loop finishes its turn (the relay drains), unless
                # the lease goes first: then they are cancelled as below.
                for loop in self._loops:
                    loop.stop()
                drained = asyncio.ensure_future(self._gather(tasks))
                await asyncio.wait([drained, keeping], return_when=asyncio.FIRST_COMPLETED)
                if drained.done():
                    return "stopped"
                drained.cancel()
            for task in tasks:
                task.cancel()
            await self._gather(tasks)
            if stopping.done():
                return "stopped"
            if keeping in done:
                log.warning("background loops cancelled: the lease is lost or lapsing",
                            lease=self._lease.key, why=keeping.result())  # fmt: skip
                return "lost"
            ended = ", ".join(t.get_name() for t in done)
            log.error("a background loop ended on its own; the others stopped", ended=ended)
            return "loop ended"
        finally:
            await _cancel_and_wait([*tasks, keeping, stopping])

    @staticmethod
    async def _gather(tasks: Sequence[asyncio.Task[None]]) -> None:
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("background loop failed", loop=task.get_name(), error=repr(result))

    async def _until_acquired(self) -> float | None:
        """Try for the lease until it is ours (the loop time the winning try was sent: the
        term counts from then) or the host stops (None)."""
        pause = self._lease.ttl_ms / 3000
        clock = asyncio.get_running_loop()
        while not self._stopping.is_set():
            asked = clock.time()
            try:
                async with asyncio.timeout(pause):
                    if await self._lease.acquire():
                        return asked
            except Exception as exc:  # Redis down: keep trying, as the consumers do
                log.warning("lease not acquired; retrying", error=str(exc) or repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._stopping.wait()
        return None

    async def _keep(self, taken_at: float) -> str:
        """Renew every third of the lease (a failed renewal is tried again every tenth);
        return (why) once it is lost, or when it has not been renewed within four fifths
        of its time, so a leader steps down before its lease can lapse and two replicas
        never lead at once. Each try is bounded by the time left."""
        ttl = self._lease.ttl_ms / 1000
        clock = asyncio.get_running_loop()
        renewed, pause = taken_at, ttl / 3
        while True:
            deadline = renewed + ttl * 0.8
            await asyncio.sleep(max(0.0, min(pause, deadline - clock.time())))
            asked = clock.time()
            if asked >= deadline:
                return "not renewed in time"
            try:
                # Bounded with asyncio.timeout, not wait_for: on Python 3.11, wait_for
                # returns the result of a call that ends as the task is cancelled, and the
                # cancellation is lost (python/cpython#86296; see _cancel_and_wait).
                async with asyncio.timeout_at(deadline):
                    ours = await self._lease.renew()
                    if not ours:
                        # Gone (e.g. Redis restarted without it): take it again if free.
                        ours = await self._lease.acquire()
                if not ours:
                    return "held by another replica"
                renewed, pause = asked, ttl / 3  # the new term counts from the asking
            except Exception as exc:  # Redis away or slow: keep leading while it lasts
                log.warning("lease not renewed; retrying", error=str(exc) or repr(exc))
                pause = ttl / 10
