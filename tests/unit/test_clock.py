import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import START
from zhixing.clock import SimulatedClock, china_today


async def test_simulated_sleepers_wake_in_time_order_as_the_clock_passes_them() -> None:
    clock = SimulatedClock(START)
    woke: list[str] = []

    async def sleeper(name: str, after: timedelta) -> None:
        await clock.sleep_until(START + after)
        woke.append(name)

    tasks = [
        asyncio.create_task(sleeper("late", timedelta(days=300))),
        asyncio.create_task(sleeper("early", timedelta(hours=1))),
    ]
    await asyncio.sleep(0)
    clock.advance(timedelta(minutes=59))
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(timedelta(days=365))
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]


async def test_cancelled_sleepers_are_not_kept_and_the_others_still_wake() -> None:
    """A wait for the next due time, cut short whenever the schedule changes: a year run
    in seconds cancels thousands, each for an instant months ahead."""
    clock = SimulatedClock(START)
    woke: list[str] = []

    async def sleeper(name: str, after: timedelta) -> None:
        await clock.sleep_until(START + after)
        woke.append(name)

    waiting = asyncio.create_task(sleeper("waiting", timedelta(days=200)))
    for n in range(1_000):
        cut_short = asyncio.create_task(sleeper(f"cut short {n}", timedelta(days=100 + n)))
        await asyncio.sleep(0)
        cut_short.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cut_short
    assert len(clock._sleepers) <= 3  # the one waiting, and at most as many cancelled
    clock.advance(timedelta(days=365))
    await waiting
    assert woke == ["waiting"]


def test_simulated_clock_refuses_to_go_back() -> None:
    clock = SimulatedClock(START)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(START - timedelta(seconds=1))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        SimulatedClock(datetime(2026, 1, 1))


def test_china_today_uses_china_time_not_utc() -> None:
    # 2026-03-01 17:00 UTC is already 2026-03-02 01:00 in China.
    assert china_today(SimulatedClock(datetime(2026, 3, 1, 17, 0, tzinfo=UTC))) == date(2026, 3, 2)
