"""Replicas of a service: its background loops run in one of them at a time, the lease's
holder (``zhixing.lease``); the deadline scheduler wakes on timers changed in another."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path

import pytest

from services.deadlines.domain import ClockRules
from services.deadlines.engine import CHUNK, DeadlineEngine, FireReport
from services.deadlines.scheduler import DeadlineScheduler
from tests.conftest import Isolated
from tests.polling import eventually
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.lease import LeaderLoops, Lease
from zhixing.outbox import Outbox
from zhixing.periods import PeriodCounter
from zhixing.polling import PollingWorker
from zhixing.rules import catalogue
from zhixing.state import KeySpace
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

pytestmark = pytest.mark.integration

TTL_S = 2.0  # long enough that a busy machine's stalls do not cost a leader its lease


class Ticker:
    """A background loop that counts its turns until stopped (or fails when told to)."""

    def __init__(self) -> None:
        self.turns = 0
        self.fail = False
        self.stopped = False
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            if self.fail:
                raise RuntimeError("the loop broke")
            self.turns += 1
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self.stopped = True
        self._stopping.set()


def replica(isolated: Isolated, name: str) -> tuple[LeaderLoops, Ticker, Lease]:
    keys = KeySpace(isolated.prefix, "svc")
    lease = Lease(isolated.redis, keys, TTL_S, holder=name)
    ticker = Ticker()
    return LeaderLoops(lease, [ticker]), ticker, lease


async def test_one_replica_runs_the_loops_and_the_other_takes_over_when_it_stops(
    isolated: Isolated,
) -> None:
    first, first_ticker, _ = replica(isolated, "a")
    second, second_ticker, lease = replica(isolated, "b")
    running = [asyncio.create_task(first.run())]
    await eventually(lambda: _true(first.leading), within_s=5)
    running.append(asyncio.create_task(second.run()))
    await eventually(lambda: _true(first_ticker.turns > 20), within_s=5)
    assert not second.leading and second_ticker.turns == 0

    first.stop()  # a graceful stop releases the lease at once
    await running[0]
    await eventually(lambda: _true(second.leading and second_ticker.turns > 0), within_s=5)
    assert await isolated.redis.get(lease.key) == b"b"
    second.stop()
    await running[1]
    assert await isolated.redis.get(lease.key) is None


async def test_a_replica_whose_acquire_went_unanswered_takes_the_lease_at_its_next_try(
    isolated: Isolated,
) -> None:
    """An acquire that set the key but whose reply was lost (a timeout as it arrived) leaves
    the lease held by a replica that does not know it; with a plain SET NX its next tries
    were refused too, and nobody led until the key lapsed. The holder's next try takes it,
    for a fresh term; another replica's is still refused."""
    keys = KeySpace(isolated.prefix, "svc")
    mine, other = Lease(isolated.redis, keys, TTL_S, "a"), Lease(isolated.redis, keys, TTL_S, "b")
    await isolated.redis.set(mine.key, "a", px=300)  # the unanswered acquire's doing
    assert await mine.acquire()
    assert 300 < await isolated.redis.pttl(mine.key) <= mine.ttl_ms  # a full term again
    assert not await other.acquire()
    assert await isolated.redis.get(mine.key) == b"a"


async def test_a_replica_that_lost_its_lease_cancels_its_loops_and_leads_again_later(
    isolated: Isolated,
) -> None:
    """Another took the key (this one was paused past its lease): its loops are cancelled
    at once, not drained (the new holder relays what is staged); it tries for the lease
    again and leads once the other lets it go."""
    leader, ticker, lease = replica(isolated, "a")
    running = asyncio.create_task(leader.run())
    await eventually(lambda: _true(ticker.turns > 0), within_s=5)
    await isolated.redis.set(lease.key, "someone-else", px=60_000)
    await eventually(lambda: _true(not leader.leading), within_s=5)
    turns = ticker.turns
    await asyncio.sleep(0.1)
    assert ticker.turns == turns and not ticker.stopped  # cancelled, not asked to stop
    assert await isolated.redis.get(lease.key) == b"someone-else"  # not released: not ours
    assert not running.done()

    await isolated.redis.delete(lease.key)  # the other replica stopped
    await eventually(lambda: _true(leader.leading and ticker.turns > turns), within_s=5)
    assert leader.terms == 2
    leader.stop()
    async with asyncio.timeout(5):
        await running
    assert ticker.stopped  # a graceful stop lets the loop finish its turn


async def test_a_loop_that_fails_ends_the_leaders_run_and_frees_the_lease(
    isolated: Isolated,
) -> None:
    leader, ticker, lease = replica(isolated, "a")
    running = asyncio.create_task(leader.run())
    await eventually(lambda: _true(ticker.turns > 0), within_s=5)
    ticker.fail = True
    async with asyncio.timeout(5):
        await running
    assert await isolated.redis.get(lease.key) is None


async def test_the_scheduler_wakes_on_a_change_published_by_another_replica(
    isolated: Isolated, tmp_path: Path
) -> None:
    clock = SimulatedClock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ))
    keys = KeySpace(isolated.prefix, "deadlines")
    rules = ClockRules(
        catalogue(), PeriodCounter(StatutoryCalendar.load(CalendarSettings(dir=tmp_path)))
    )
    passes = 0

    class Counting(DeadlineEngine):
        async def drain(self, *, chunk: int = CHUNK, concurrent: int = 2) -> FireReport:
            nonlocal passes
            passes += 1
            return await super().drain(chunk=chunk, concurrent=concurrent)

    engine = Counting(redis=isolated.redis, keys=keys, outbox=Outbox(keys), clock=clock,
                      rules=rules)  # fmt: skip
    scheduler = DeadlineScheduler(engine, clock)
    running = asyncio.create_task(scheduler.run())
    try:
        await eventually(lambda: _true(passes == 1), within_s=5)

        async def subscribed() -> bool:
            [(_, listeners)] = await isolated.redis.pubsub_numsub(engine.changed_channel)
            return int(listeners) == 1

        await eventually(subscribed, within_s=5)
        await asyncio.sleep(0.1)
        assert passes == 1  # nothing else wakes it: the clock stands
        await isolated.redis.publish(engine.changed_channel, b"1")  # as another replica does
        await eventually(lambda: _true(passes == 2), within_s=5)
    finally:
        scheduler.stop()
        await running


async def _true(value: bool) -> bool:
    return value


class HangingRenewals(Lease):
    """A lease on a Redis that answers its first acquire and then stalls: its renewals and
    later acquires never answer (an acquire answered would take the lease again, since the
    key is still this replica's)."""

    acquired = False

    async def acquire(self) -> bool:
        if self.acquired:
            await asyncio.sleep(3600)
        self.acquired = True
        return await super().acquire()

    async def renew(self) -> bool:
        await asyncio.sleep(3600)
        return True


async def test_a_leader_whose_renewals_hang_steps_down_before_its_lease_lapses(
    isolated: Isolated,
) -> None:
    lease = HangingRenewals(isolated.redis, KeySpace(isolated.prefix, "svc"), TTL_S, "a")
    ticker = Ticker()
    leader = LeaderLoops(lease, [ticker])
    running = asyncio.create_task(leader.run())
    await eventually(lambda: _true(leader.terms == 1 and ticker.turns > 0), within_s=5)
    await eventually(lambda: _true(not leader.leading), within_s=5)
    # Stepped down while the key, set with the lease's time to live, is still ours: no
    # other replica could have started leading before this one stopped.
    assert await isolated.redis.get(lease.key) == b"a"
    assert await isolated.redis.pttl(lease.key) > 0
    leader.stop()
    async with asyncio.timeout(5):
        await running


async def test_a_worker_cancelled_with_its_lease_runs_again_on_the_same_object() -> None:
    class Worker(PollingWorker):
        name = "test"

        def __init__(self) -> None:
            super().__init__(poll_interval_s=0.01)
            self.rounds = 0
            self.closed = False

        async def step(self) -> int:
            if self.closed:
                raise RuntimeError("used after close")
            self.rounds += 1
            return 0

        async def close(self) -> None:
            self.closed = True

    worker = Worker()
    first = asyncio.create_task(worker.run())
    await eventually(lambda: _true(worker.rounds > 2), within_s=5)
    first.cancel()  # the lease was lost
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert not worker.closed  # its channel is kept for the next term
    rounds = worker.rounds
    second = asyncio.create_task(worker.run())
    await eventually(lambda: _true(worker.rounds > rounds + 2), within_s=5)
    worker.stop()
    await second
    assert worker.closed


class CancelledAsItRenews(Lease):
    """A lease whose renewal ends just as its leader is stopped: the stop's cancellation
    of the renewing loop arrives while the renewal's answer is in."""

    keeping: asyncio.Task[str] | None = None

    async def renew(self) -> bool:
        renewed = await super().renew()
        if self.keeping is not None:
            self.keeping.cancel()
        return renewed


async def test_a_leader_stopped_as_its_lease_is_renewed_stops(isolated: Isolated) -> None:
    """On Python 3.11, asyncio.wait_for returns the result of a call that ends as its task
    is cancelled, and the cancellation is lost: the renewing loop ran on, and a stopping
    leader waited for it for ever (two CI runs hung in a test's teardown)."""
    lease = CancelledAsItRenews(isolated.redis, KeySpace(isolated.prefix, "svc"), TTL_S, "a")
    assert await lease.acquire()
    leader = LeaderLoops(lease, [])
    keeping = asyncio.create_task(leader._keep(asyncio.get_running_loop().time()))
    lease.keeping = keeping
    # With the cancellation lost it renews for ever, and the timeout raises TimeoutError.
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(10):
            await keeping
    assert keeping.cancelled()


class SwallowsOneCancellation(Lease):
    """A lease whose first renewal swallows the cancellation it meets (as some code below
    us did in CI) and returns as if renewed."""

    renewing: asyncio.Event
    swallowed = False

    async def renew(self) -> bool:
        if self.swallowed:
            return await super().renew()
        self.renewing.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.swallowed = True
        return True


async def test_a_leader_stops_even_when_a_cancellation_is_lost_below_it(
    isolated: Isolated,
) -> None:
    lease = SwallowsOneCancellation(isolated.redis, KeySpace(isolated.prefix, "svc"), 3, "a")
    lease.renewing = asyncio.Event()
    leader = LeaderLoops(lease, [Ticker()])
    running = asyncio.create_task(leader.run())
    async with asyncio.timeout(10):  # the first renewal comes after a third of the lease
        await lease.renewing.wait()
    leader.stop()  # while the renewal waits, before its own deadline (0.8 of the lease)
    async with asyncio.timeout(10):  # with one cancellation only, it renewed on for ever
        await running
    assert lease.swallowed
