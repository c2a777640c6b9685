"""One simulated clock followed by separate processes through Redis
(``zhixing.shared_clock``): what the bench's services-as-processes stand on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Isolated
from zhixing.clock import SimulatedClock
from zhixing.settings import Environment, PlatformSettings
from zhixing.shared_clock import ClockDriver, ClockSettings, SharedClock, clock_from_settings

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def _caught_up(driver: ClockDriver) -> None:
    async with asyncio.timeout(5):
        while await driver.followers_behind():
            await asyncio.sleep(0.01)


async def test_a_follower_moves_with_the_driver_and_wakes_its_sleepers(isolated: Isolated) -> None:
    driver = ClockDriver(SimulatedClock(START), isolated.redis_settings, "t")
    await driver.publish()
    follower = await SharedClock.follow(isolated.redis_settings, ClockSettings(name="t"), "svc:1")
    try:
        assert follower.now() == START and await driver.followers() == 1
        sleeper = asyncio.create_task(follower.sleep_until(START + timedelta(hours=1)))
        await driver.set(START + timedelta(minutes=30))
        await _caught_up(driver)
        assert follower.now() == START + timedelta(minutes=30)
        await asyncio.sleep(0.05)
        assert not sleeper.done()  # half an hour is not yet an hour
        await driver.set(START + timedelta(hours=2))
        await _caught_up(driver)
        async with asyncio.timeout(5):
            await sleeper
        assert follower.now() == START + timedelta(hours=2)
    finally:
        await follower.close()
    # A follower that stopped is no longer waited for.
    assert await driver.followers() == 0
    await driver.close()


async def test_a_follower_started_before_the_driver_waits_then_gives_up(
    isolated: Isolated,
) -> None:
    settings = ClockSettings(name="nobody", start_timeout_s=0.3)
    with pytest.raises(TimeoutError, match="is the simulation's driver running"):
        await SharedClock.follow(isolated.redis_settings, settings, "svc:1")


async def test_a_production_process_refuses_a_shared_clock() -> None:
    with pytest.raises(ValueError, match="ZHIXING_ENV=prod"):
        await clock_from_settings(
            "intake", settings=ClockSettings(source="shared"),
            platform=PlatformSettings(env=Environment.PROD),
        )  # fmt: skip
