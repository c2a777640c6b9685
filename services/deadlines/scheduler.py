"""The scheduler: fires the engine's timers as the clock reaches them, and reloads the
statutory calendar when an operator adds or changes a calendar file."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import structlog

from services.deadlines.engine import CLOCKS_SCHEDULED, DeadlineEngine
from zhixing.clock import Clock

log = structlog.get_logger(__name__)


class DeadlineScheduler:
    """Fires timers as the clock reaches them; reloads the calendar when its files change."""

    def __init__(
        self,
        engine: DeadlineEngine,
        clock: Clock,
        *,
        reload_calendar: Any = None,
        idle_wait_s: float = 30.0,
        calendar_poll_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._reload_calendar = reload_calendar
        self._idle_wait = dt.timedelta(seconds=idle_wait_s)
        self._calendar_poll_s = calendar_poll_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        listening = asyncio.create_task(self._hear_other_replicas(), name="schedule-changed")
        try:
            await self._fire()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _hear_other_replicas(self) -> None:
        """Wake on timers changed by another replica's consumer (it publishes on the
        engine's channel; so does this one, which costs one extra pass)."""
        while True:
            pubsub = self._engine.redis.pubsub()
            try:
                await pubsub.subscribe(self._engine.changed_channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._engine.schedule_changed.set()
            except Exception as exc:  # Redis gone: subscribe again after a pause
                log.warning("schedule-changed channel lost; resubscribing", error=str(exc))
                self._engine.schedule_changed.set()  # a change may have been missed
                await asyncio.sleep(0.5)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _fire(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._reload_calendar is not None and self._reload_calendar():
                    moved = await self._engine.recompute_provisional("calendar file loaded")
                    log.info("calendar reloaded; provisional clocks recomputed", moved=moved)
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
        if self._reload_calendar is not None:
            # A calendar file appears in wall-clock time, whatever the injected clock does
            # (a simulation may hold it still): look at the folder again after a real pause.
            sleepers.append(asyncio.create_task(asyncio.sleep(self._calendar_poll_s)))
        _, pending = await asyncio.wait(sleepers, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
