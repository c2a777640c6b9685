"""A background worker that polls: rounds of work until stopped, resting between rounds
that found nothing to do. Asset control's agency worker and the funds service's deduction
worker are two.

Decisions inside a round (backoff, timeouts) use the service's injected clock; the rest
between empty rounds is wall-clock time, so a simulation that holds time still is not spun
on. A round that fails on Redis waits for it; any other failure is logged and the next
round runs (a broken round must not stop the worker).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["PollingWorker"]

log = structlog.get_logger(__name__)


class PollingWorker:
    """Subclasses give ``step`` (one round: the number of things done) and may override
    ``starting`` (once, before the first round) and ``close`` (once, at the end)."""

    name = "worker"

    def __init__(self, poll_interval_s: float) -> None:
        self.poll_interval_s = poll_interval_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def step(self) -> int:
        raise NotImplementedError

    async def starting(self) -> None:
        """Work to do once before the first round."""

    async def close(self) -> None:
        """Release what the worker holds (a client's channel)."""

    async def run(self) -> None:
        try:
            await self.starting()
            while not self._stopping.is_set():
                try:
                    worked = await self.step()
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    log.warning("worker waiting for Redis", worker=self.name, error=str(exc))
                    worked = 0
                except Exception:  # a broken round must not stop the worker
                    log.exception("worker round failed", worker=self.name)
                    worked = 0
                if not worked:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_interval_s)
        finally:
            # Only when stopped: a run cancelled because the lease was lost (zhixing.lease)
            # is run again on this object when the lease comes back, and needs its channel.
            if self._stopping.is_set():
                await self.close()
