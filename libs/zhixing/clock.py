"""The injected clock. Nothing in the platform reads the time any other way.

``SystemClock`` is wall time. ``SimulatedClock`` only moves when told to, so a test or a
simulation can run a court year in seconds and every sleeper wakes in due order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "CHINA_TZ",
    "Clock",
    "SimulatedClock",
    "SystemClock",
    "china_today",
]

CHINA_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, instant: datetime) -> None:
        """Return once ``now() >= instant``."""
        ...


def china_today(clock: Clock) -> date:
    """The calendar date in China at the clock's current instant."""
    return clock.now().astimezone(CHINA_TZ).date()


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()} given; times must carry a zone")
    return instant.astimezone(UTC)


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, instant: datetime) -> None:
        instant = _require_aware(instant)
        # asyncio.sleep may wake a little early on some loops; sleep again for the rest.
        while (remaining := (instant - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)


class SimulatedClock:
    """A clock that moves only when ``advance`` or ``set`` is called.

    Sleepers are kept in a heap and woken in time order as the clock passes them. A sleeper
    cancelled before then (a wait for the next due time, cut short when the schedule changes)
    is dropped from the heap once they are half of it: a year simulated in seconds cancels
    many, each waiting for an instant the clock may not reach for months.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._tiebreak = itertools.count()
        self._cancelled = 0

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, instant: datetime) -> None:
        instant = _require_aware(instant)
        if instant <= self._now:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (instant, next(self._tiebreak), future))
        try:
            await future
        except asyncio.CancelledError:
            self._cancelled += 1
            if self._cancelled * 2 > len(self._sleepers):
                self._sleepers = [s for s in self._sleepers if not s[2].done()]
                heapq.heapify(self._sleepers)
                self._cancelled = 0
            raise

    def set(self, instant: datetime) -> None:
        instant = _require_aware(instant)
        if instant < self._now:
            raise ValueError(
                f"a simulated clock cannot go back: {instant.isoformat()} < {self._now.isoformat()}"
            )
        self._now = instant
        while self._sleepers and self._sleepers[0][0] <= instant:
            _, _, future = heapq.heappop(self._sleepers)
            if future.cancelled():
                self._cancelled = max(0, self._cancelled - 1)
            elif not future.done():
                future.set_result(None)

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)
