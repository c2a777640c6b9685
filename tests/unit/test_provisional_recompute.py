"""The leader's recompute of provisional clocks as it starts and after a calendar file
loaded: retried after a failure, and left to do (for whoever leads next) when cancelled
midway."""

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
        self.reasons: list[str] = []
        self.hanging = asyncio.Event()

    async def recompute_provisional(self, reason: str) -> int:
        self.calls += 1
        self.reasons.append(reason)
        outcome = self.outcomes.pop(0)
        if outcome == "fail":
            raise ConnectionError("Redis away")
        if outcome == "hang":
            self.hanging.set()
            await asyncio.sleep(3600)
        return 3


async def test_the_clocks_are_recomputed_on_start_and_after_each_file_a_failure_retried() -> None:
    engine = Engine(["done", "fail", "done"])
    loop = ProvisionalRecompute(cast(DeadlineEngine, engine))
    running = asyncio.create_task(loop.run())
    async with asyncio.timeout(5):  # on start, with no file loaded: estimates may be older
        while engine.calls < 1:
            await asyncio.sleep(0.01)
    engine.calendar_reloaded.set()
    async with asyncio.timeout(5):
        while engine.calls < 3:
            await asyncio.sleep(0.01)
    assert engine.reasons == ["recomputed as the service started", *["calendar file loaded"] * 2]
    # The lease lost and taken again: the loop runs anew, with nothing asked of it.
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not engine.calendar_reloaded.is_set()
    running = asyncio.create_task(loop.run())
    await asyncio.sleep(0)  # the new term has begun
    assert not engine.calendar_reloaded.is_set()
    loop.stop()
    async with asyncio.timeout(5):
        await running
    assert engine.calls == 3 and not engine.calendar_reloaded.is_set()


async def test_a_recompute_cancelled_midway_is_left_to_do() -> None:
    engine = Engine(["hang"])
    running = asyncio.create_task(ProvisionalRecompute(cast(Any, engine)).run())
    async with asyncio.timeout(5):
        await engine.hanging.wait()
    assert not engine.calendar_reloaded.is_set()  # taken in hand
    running.cancel()  # the lease was lost
    with pytest.raises(asyncio.CancelledError):
        await running
    assert engine.calendar_reloaded.is_set()  # the next leader's loop recomputes
