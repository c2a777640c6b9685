"""The scheduler fires the engine's timers as the clock reaches them, in every replica; the
calendar follower reloads the statutory calendar when an operator adds or changes a
calendar file, and the leader's ``ProvisionalRecompute`` then recomputes the clocks counted
without it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

import structlog

from services.deadlines.engine import CLOCKS_SCHEDULED, DeadlineEngine
from zhixing.clock import Clock

log = structlog.get_logger(__name__)

SUBSCRIBE_WAIT_S = 2.0
"""How long the first pass waits for the schedule-changed channel's subscription."""


class DeadlineScheduler:
    """Fires timers as the clock reaches them. It runs in every replica: each pass claims
    the due timers a chunk at a time (``ClockStore.claim_due``), so the replicas share a
    burst of them and none fires a timer another took."""

    def __init__(
        self,
        engine: DeadlineEngine,
        clock: Clock,
        *,
        idle_wait_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._idle_wait = dt.timedelta(seconds=idle_wait_s)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        # Subscribed before the first pass, so no change after that pass goes unheard.
        subscribed = asyncio.Event()
        listening = asyncio.create_task(self._hear_other_replicas(subscribed), name="changes")
        try:
            # A Redis that does not answer must not hold the first pass: go on after a
            # while (the channel is tried again meanwhile; the clock still wakes the loop).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SUBSCRIBE_WAIT_S):
                    await subscribed.wait()
            await self._fire()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _hear_other_replicas(self, subscribed: asyncio.Event) -> None:
        """Wake on timers changed by another replica's consumer (it publishes on the
        engine's channel; so does this one, which costs one extra pass). Each
        (re)subscription wakes it too: what was published while unsubscribed is lost."""
        while True:
            pubsub = self._engine.redis.pubsub()
            try:
                await pubsub.subscribe(self._engine.changed_channel)
                async for message in pubsub.listen():
                    if message.get("type") in ("message", "subscribe"):
                        self._engine.schedule_changed.set()
                        subscribed.set()
            except Exception as exc:  # Redis gone: subscribe again after a pause
                log.warning("schedule-changed channel lost; resubscribing", error=str(exc))
                self._engine.schedule_changed.set()  # a change may have been missed
                subscribed.set()  # fire what is due meanwhile; the channel comes back later
                await asyncio.sleep(0.5)
            finally:
                await pubsub.aclose()

    async def _fire(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._engine.drain()
                CLOCKS_SCHEDULED.set(await self._engine.scheduled())
                self._engine.schedule_changed.clear()
                earliest = await self._engine.earliest()
                wake_at = self._clock.now() + self._idle_wait
                if earliest is not None:
                    wake_at = min(wake_at, earliest)
                await self._wait(wake_at)
            except Exception as exc:  # keep firing: a transient Redis failure must not stop clocks
                log.warning("scheduler pass failed; retrying", error=str(exc))
                await asyncio.sleep(0.5)

    async def _wait(self, until: dt.datetime) -> None:
        sleepers = [
            asyncio.create_task(self._clock.sleep_until(until)),
            asyncio.create_task(self._engine.schedule_changed.wait()),
            asyncio.create_task(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(sleepers, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when this pass is cancelled (the service stops)
            for task in sleepers:
                task.cancel()
            await asyncio.gather(*sleepers, return_exceptions=True)


class ProvisionalRecompute:
    """Recomputes the provisional clocks when ``CalendarFollower`` has loaded a new
    calendar, and once when it starts: in the replica holding the service's lease only, so
    that each clock is recomputed once, on a calendar that has the new file (a replica whose
    follower has not loaded it yet would move the clock back). At the start because what a
    process knows may be newer than the clocks' estimates: a file loaded as it started, or
    an estimate this version makes otherwise (the holidays fixed by date came so)."""

    def __init__(self, engine: DeadlineEngine) -> None:
        self._engine = engine
        self._stopping = asyncio.Event()
        # Once a process, not each time it takes the lease again (``LeaderLoops`` runs the
        # loop anew each term): asked here, done in its first term, or the next if that one
        # is cut short (the flag is set again then).
        engine.calendar_reloaded.set()
        self._reason = "recomputed as the service started"

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        reloaded = self._engine.calendar_reloaded
        while not self._stopping.is_set():
            stopping = asyncio.create_task(self._stopping.wait())
            waiting = asyncio.create_task(reloaded.wait())
            try:
                await asyncio.wait((stopping, waiting), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (stopping, waiting):
                    task.cancel()
                await asyncio.gather(stopping, waiting, return_exceptions=True)
            if not reloaded.is_set():
                continue  # stopping
            reloaded.clear()
            try:
                moved = await self._engine.recompute_provisional(self._reason)
            except Exception as exc:  # not done: try again after a pause
                reloaded.set()
                log.warning("provisional clocks not recomputed; retrying", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            except BaseException:  # cancelled (the lease was lost): left for whoever leads next
                reloaded.set()
                raise
            log.info("provisional clocks recomputed", reason=self._reason, moved=moved)
            self._reason = "calendar file loaded"


class CalendarFollower:
    """Runs in every process (``HostBuilder.follow``): loads a calendar file an operator
    added or changed, so each process counts periods on it (the counter lives in each), and tells
    ``ProvisionalRecompute``, where it runs, to recompute the provisional clocks. A calendar
    file appears in wall-clock time, whatever the injected clock does (a simulation may hold it
    still), so the folder is looked at after real pauses."""

    def __init__(self, engine: DeadlineEngine, reload_calendar: Callable[[], bool],
                 poll_s: float = 5.0) -> None:  # fmt: skip
        self._engine = engine
        self._reload_calendar = reload_calendar
        self._poll_s = poll_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._reload_calendar():
                    self._engine.calendar_reloaded.set()
                    self._engine.schedule_changed.set()
            except Exception as exc:  # a file system hiccup: look again next time
                log.warning("calendar folder not read; retrying", error=str(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._stopping.wait()
