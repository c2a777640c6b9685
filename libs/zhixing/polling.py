"""A background worker that polls: rounds of work until stopped, resting between rounds
that found nothing to do. Asset control's agency worker and the funds service's deduction
worker are two.

Decisions inside a round (backoff, timeouts) use the service's injected clock; the rest
between empty rounds is wall-clock time, so a simulation that holds time still is not spun
on. A round that fails on Redis waits for it; any other failure is logged and the next
round runs (a broken round must not stop the worker).

Resting costs too: a round asks Redis, and the agency worker asks the gateway for answers,
five times a second in every idle deployment (issue 19). A worker given an ``idle_interval_s``
rests longer after each empty round, doubling from ``poll_interval_s`` up to it, and is woken
early by what makes new work: a ``WorkSignal`` published in the transaction that queues
work (heard in whichever replica runs the worker), or its injected clock moving past the
rest (a simulation's next day). Answers from outside, which nothing signals, are fetched
at least every ``idle_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import weakref
from typing import Any

import redis.asyncio as aioredis
import structlog
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from zhixing.clock import Clock, SystemClock

__all__ = ["PollingSettings", "PollingWorker", "WorkSignal"]

log = structlog.get_logger(__name__)

RESUBSCRIBE_S = 0.5
"""Pause before a lost ``WorkSignal`` subscription is tried again."""

LISTENER_STOP_S = 5.0
"""The longest a stopping worker waits for its signal's listener to end."""


class PollingSettings(BaseSettings):
    """How a polling worker rests: the settings of each service's worker derive from it (under
    their own prefix, e.g. ``ZHIXING_AGENCY_POLL_INTERVAL_S``)."""

    poll_interval_s: float = Field(
        0.2,
        ge=0.01,
        le=60,
        description="Wall-clock pause of the worker when there is nothing to do",
    )
    idle_interval_s: float = Field(
        2.0,
        ge=0.01,
        le=60,
        description="Longest pause of the worker once idle (not shorter than poll_interval_s): "
        "the pause doubles from poll_interval_s after each round that found nothing; work "
        "queued to be done at once and the clock moving wake it at once; work due later and "
        "answers from outside are found at most this long after they are due or ready",
    )

    @model_validator(mode="after")
    def _idle_not_shorter(self) -> PollingSettings:
        if self.idle_interval_s < self.poll_interval_s:
            raise ValueError(
                f"idle_interval_s ({self.idle_interval_s}) is shorter than poll_interval_s "
                f"({self.poll_interval_s})"
            )
        return self


class WorkSignal:
    """A Redis channel saying "work was queued": published in the transaction that queues
    it (with the work, or not at all), heard by the worker that does it."""

    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        # Per pipeline, the command stack it was signalled on: a pipeline starts a new stack
        # for its next transaction (redis-py's ``reset``), which is signalled anew.
        self._signalled: weakref.WeakKeyDictionary[Pipeline, list[Any]] = (
            weakref.WeakKeyDictionary()
        )

    def notify(self, pipe: Pipeline) -> None:
        """Queue the signal on ``pipe``, once however much work the transaction queues
        (each message wakes a listener that has to read it)."""
        if self._signalled.get(pipe) is pipe.command_stack:
            return
        self._signalled[pipe] = pipe.command_stack
        pipe.publish(self.channel, b"1")

    async def hear(self, heard: asyncio.Event) -> None:
        """Set ``heard`` on every signal, until cancelled. Each (re)subscription sets it
        too: a signal published while unsubscribed is lost, so the worker looks again."""
        lost = False
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    lost = False
                    if message.get("type") in ("message", "subscribe"):
                        heard.set()
            except Exception as exc:  # Redis gone: the worker polls meanwhile
                if not lost:  # once per outage, not every attempt
                    log.info("work signal lost; subscribing again", channel=self.channel,
                             error=str(exc))  # fmt: skip
                lost = True
                await asyncio.sleep(RESUBSCRIBE_S)  # subscribed again, it looks (above)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


class PollingWorker:
    """Subclasses give ``step`` (one round: the number of things done) and may override
    ``starting`` (once, before the first round) and ``close`` (once, at the end)."""

    name = "worker"

    def __init__(
        self,
        poll_interval_s: float,
        *,
        idle_interval_s: float | None = None,
        signal: WorkSignal | None = None,
        clock: Clock | None = None,
    ) -> None:
        if idle_interval_s is not None and idle_interval_s < poll_interval_s:
            raise ValueError(
                f"idle_interval_s ({idle_interval_s}) is shorter than poll_interval_s "
                f"({poll_interval_s})"
            )
        self.poll_interval_s = poll_interval_s
        self.idle_interval_s = idle_interval_s or poll_interval_s
        self.signal = signal
        self.clock = clock
        self._stopping = asyncio.Event()
        self._signalled = asyncio.Event()
        self.rest_s = poll_interval_s
        """The rest after the next empty round."""

    def stop(self) -> None:
        self._stopping.set()

    async def step(self) -> int:
        raise NotImplementedError

    async def starting(self) -> None:
        """Work to do once before the first round."""

    async def close(self) -> None:
        """Release what the worker holds (a client's channel)."""

    async def run(self) -> None:
        listening = (
            asyncio.create_task(self.signal.hear(self._signalled), name=f"{self.name}-signal")
            if self.signal is not None
            else None
        )
        try:
            await self.starting()
            while not self._stopping.is_set():
                self._signalled.clear()  # a signal during the round calls for another
                try:
                    worked = await self.step()
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    log.warning("worker waiting for Redis", worker=self.name, error=str(exc))
                    worked = 0
                except Exception:  # a broken round must not stop the worker
                    log.exception("worker round failed", worker=self.name)
                    worked = 0
                if worked:
                    self.rest_s = self.poll_interval_s
                else:
                    await self._rest(self.rest_s)
                    self.rest_s = min(self.idle_interval_s, self.rest_s * 2)
        finally:
            if listening is not None:
                listening.cancel()
                # A cancellation of run() itself still propagates. A listener stuck in its
                # client's teardown must not hold the worker's stop (and the service's).
                _, stuck = await asyncio.wait([listening], timeout=LISTENER_STOP_S)
                if stuck:
                    log.warning("work signal's listener did not stop", worker=self.name)
            # Only when stopped: a run cancelled because the lease was lost (zhixing.lease)
            # is run again on this object when the lease comes back, and needs its channel.
            if self._stopping.is_set():
                await self.close()

    async def _rest(self, seconds: float) -> None:
        """Until ``seconds`` of wall time have passed, the worker is stopped or signalled,
        or its clock has moved ``seconds`` on."""
        wakers: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._stopping.wait()),
            asyncio.create_task(self._signalled.wait()),
        ]
        if self.clock is not None and not isinstance(self.clock, SystemClock):  # it can jump
            until = self.clock.now() + dt.timedelta(seconds=seconds)
            wakers.append(asyncio.create_task(self.clock.sleep_until(until)))
        try:
            await asyncio.wait(wakers, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the run is cancelled (the lease was lost)
            for waker in wakers:
                waker.cancel()
            await asyncio.gather(*wakers, return_exceptions=True)
