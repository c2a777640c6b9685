"""The polling worker's rests (``zhixing.polling``): how they grow while idle, what ends them."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import redis.asyncio as aioredis

from zhixing.clock import SimulatedClock
from zhixing.polling import PollingWorker, WorkSignal

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Scripted(PollingWorker):
    """Does ``script[i]`` things in round i (nothing once the script ends); notes the rest
    it would take after each round and stops after ``rounds`` rounds."""

    name = "scripted"

    def __init__(self, script: list[int], rounds: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.script = script
        self.rounds = rounds
        self.rests: list[float] = []
        self.stepped = asyncio.Event()

    async def step(self) -> int:
        done = self.script[len(self.rests)] if len(self.rests) < len(self.script) else 0
        self.rests.append(self.rest_s)
        self.stepped.set()
        if len(self.rests) >= self.rounds:
            self.stop()
        return done


async def test_the_rest_doubles_after_each_empty_round_up_to_the_idle_interval() -> None:
    worker = Scripted([0, 0, 0, 0, 0, 3, 0, 0], rounds=8,
                      poll_interval_s=0.001, idle_interval_s=0.008)  # fmt: skip
    await asyncio.wait_for(worker.run(), 10)
    # Rounds 1–5 found nothing: 1, 2, 4, 8, 8 ms; round 6 worked, so it ran again at once
    # and the rests begin anew.
    assert worker.rests == [0.001, 0.002, 0.004, 0.008, 0.008, 0.008, 0.001, 0.002]


async def test_without_an_idle_interval_the_rest_stays_the_poll_interval() -> None:
    worker = Scripted([], rounds=5, poll_interval_s=0.001)
    await asyncio.wait_for(worker.run(), 10)
    assert worker.rests == [0.001] * 5


def test_an_idle_interval_shorter_than_the_poll_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="idle_interval_s"):
        Scripted([], rounds=1, poll_interval_s=1.0, idle_interval_s=0.5)


async def test_the_clock_moving_past_the_rest_ends_it() -> None:
    """A simulation's next day: the work it made due is done without a wall-clock rest
    (here a minute long) in between."""
    clock = SimulatedClock(START)
    worker = Scripted([], rounds=2, poll_interval_s=60, clock=clock)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.stepped.wait(), 10)
    worker.stepped.clear()
    clock.advance(dt.timedelta(seconds=30))  # not far enough
    await asyncio.sleep(0.05)
    assert not worker.stepped.is_set()
    clock.advance(dt.timedelta(seconds=30))
    await asyncio.wait_for(running, 10)
    assert len(worker.rests) == 2


async def test_stopping_ends_a_rest() -> None:
    worker = Scripted([], rounds=100, poll_interval_s=60)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.stepped.wait(), 10)
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert len(worker.rests) == 1


class HeardOnDemand(WorkSignal):
    """A signal heard when the test says (the channel itself is tested with Redis in
    tests/integration/test_asset_control.py)."""

    def __init__(self) -> None:
        super().__init__(aioredis.Redis(), "t:work-queued")
        self.sent = asyncio.Event()

    async def hear(self, heard: asyncio.Event) -> None:
        while True:
            await self.sent.wait()
            self.sent.clear()
            heard.set()


async def test_a_signal_ends_a_rest_and_the_listener_ends_with_the_run() -> None:
    signal = HeardOnDemand()
    worker = Scripted([], rounds=2, poll_interval_s=60, signal=signal)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.stepped.wait(), 10)  # the first round, then a minute's rest
    signal.sent.set()
    await asyncio.wait_for(running, 10)
    assert len(worker.rests) == 2
    assert [t for t in asyncio.all_tasks() if t.get_name() == "scripted-signal"] == []


async def test_a_worker_cancelled_mid_rest_leaves_no_task_behind() -> None:
    """As when its lease is lost: the run is cancelled, and runs again later."""
    worker = Scripted([], rounds=100, poll_interval_s=60, signal=HeardOnDemand())
    before = asyncio.all_tasks()
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.stepped.wait(), 10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert asyncio.all_tasks() - before == set()


def test_a_transaction_carries_one_signal_however_much_it_queues() -> None:
    client = aioredis.Redis()  # never connects: the commands are only queued
    pipe = client.pipeline(transaction=True)
    pipe.multi()  # type: ignore[no-untyped-call]
    signal, other = WorkSignal(client, "t:work-queued"), WorkSignal(client, "t:other")
    for n in range(3):
        pipe.zadd("t:due", {f"unit-{n}": n})
        signal.notify(pipe)
    other.notify(pipe)
    published = [args[1] for args, _ in pipe.command_stack if args[0] == "PUBLISH"]
    assert published == ["t:work-queued", "t:other"]


async def test_a_pipeline_s_next_transaction_is_signalled_again() -> None:
    client = aioredis.Redis()  # never connects
    pipe = client.pipeline(transaction=True)
    signal = WorkSignal(client, "t:work-queued")
    published = []
    for _ in range(2):
        pipe.multi()  # type: ignore[no-untyped-call]
        signal.notify(pipe)
        signal.notify(pipe)
        published.append(sum(1 for args, _ in pipe.command_stack if args[0] == "PUBLISH"))
        await pipe.reset()  # type: ignore[no-untyped-call]  # what execute does after EXEC
    assert published == [1, 1]
