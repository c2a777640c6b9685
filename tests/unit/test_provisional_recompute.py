"""The leader's recompute of provisional clocks after a calendar file loaded: retried after a
failure, and left to do (for whoever leads next) when cancelled midway."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from services.deadlines.engine import DeadlineEngine
from services.deadlines.scheduler import ProvisionalRecompute


class Engine:
    """The engine's part the loop uses: its flag and a recompute that fails, hangs or ends
    as told."""

    def __init__(self, outcomes: list[str]) -> None:
        self.calendar_reloaded = asyncio.Event()
        self.outcomes = outcomes
        self.calls = 0
        self.hanging = asyncio.Event()

    async def recompute_provisional(self, reason: str) -> int:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if outcome == "fail":
            raise ConnectionError("Redis away")
        if outcome == "hang":
            self.hanging.set()
            await asyncio.sleep(3600)
        return 3


async def test_a_failed_recompute_is_tried_again_and_then_done_once() -> None:
    engine = Engine(["fail", "done"])
    loop = ProvisionalRecompute(cast(DeadlineEngine, engine))
    running = asyncio.create_task(loop.run())
    engine.calendar_reloaded.set()
    async with asyncio.timeout(5):
        while engine.calls < 2:
            await asyncio.sleep(0.01)
    loop.stop()
    async with asyncio.timeout(5):
        await running
    assert engine.calls == 2 and not engine.calendar_reloaded.is_set()


async def test_a_recompute_cancelled_midway_is_left_to_do() -> None:
    engine = Engine(["hang"])
    running = asyncio.create_task(ProvisionalRecompute(cast(Any, engine)).run())
    engine.calendar_reloaded.set()
    async with asyncio.timeout(5):
        await engine.hanging.wait()
    assert not engine.calendar_reloaded.is_set()  # taken in hand
    running.cancel()  # the lease was lost
    with pytest.raises(asyncio.CancelledError):
        await running
    assert engine.calendar_reloaded.is_set()  # the next leader's loop recomputes
