"""Deadline engine figures: scheduling rate and memory for many open clocks, and how a burst
of clocks due at one instant drains (time, and fire lateness on the system clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import resource
import statistics
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import redis.asyncio as aioredis

from services.deadlines.domain import ClockRules
from services.deadlines.engine import DeadlineEngine
from zhixing.clock import CHINA_TZ, Clock, SimulatedClock, SystemClock
from zhixing.events import Event, new_event
from zhixing.outbox import Outbox
from zhixing.periods import PeriodCounter
from zhixing.projection import Transaction
from zhixing.rules import Catalogue, catalogue
from zhixing.service import run_async
from zhixing.settings import RedisSettings
from zhixing.state import KeySpace, connect
from zhixing.v1 import case_events_pb2, envelope_pb2
from zhixing.workcalendar import StatutoryCalendar

ACTOR = envelope_pb2.Actor(id="bench", court_code="苏1283", role="clerk")
BATCH = 500


def case_filed(n: int, clock: Clock) -> Event[Any]:
    payload = case_events_pb2.CaseFiled(case_id=f"c{n}", court_code="苏1283", claim_amount_fen=1)
    return new_event(payload, aggregate_id=f"c{n}", court_code="苏1283", actor=ACTOR, clock=clock)


async def _apply(
    engine: DeadlineEngine, redis: aioredis.Redis, keys: KeySpace, events: list[Event[Any]]
) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await engine.prepare(events, pipe)
        pipe.multi()  # type: ignore[no-untyped-call]
        await engine(events, Transaction(redis, pipe, keys, prepared))
        await pipe.execute()


async def file_cases(
    engine: DeadlineEngine, redis: aioredis.Redis, keys: KeySpace, cases: int, clock: Clock
) -> None:
    """Feed ``cases`` CaseFiled events to the engine in batches, as its consumer would."""
    for first in range(0, cases, BATCH):
        batch = [case_filed(n, clock) for n in range(first, min(first + BATCH, cases))]
        await _apply(engine, redis, keys, batch)
        await redis.delete(engine._outbox.stream)  # the relay's work is measured elsewhere


def _engine(
    redis: aioredis.Redis, keys: KeySpace, clock: Clock, rules_catalogue: Catalogue
) -> DeadlineEngine:
    rules = ClockRules(rules_catalogue, PeriodCounter(StatutoryCalendar.load()))
    return DeadlineEngine(redis=redis, keys=keys, outbox=Outbox(keys), clock=clock, rules=rules)


async def schedule_many(redis_url: str, clocks: int) -> dict[str, float]:
    """Open ``clocks`` clocks (4 per filed case) through the engine's consumer path."""
    redis = aioredis.Redis.from_url(redis_url)
    await redis.flushdb()
    keys = KeySpace("bench:", "deadlines")
    clock = SimulatedClock(dt.datetime(2026, 3, 2, 9, tzinfo=CHINA_TZ))
    engine = _engine(redis, keys, clock, catalogue())
    cases = clocks // 4
    before = int((await redis.info("memory"))["used_memory"])
    started = time.perf_counter()
    await file_cases(engine, redis, keys, cases, clock)
    elapsed = time.perf_counter() - started
    scheduled = int(await redis.zcard(engine.store.schedule_key))
    used = int((await redis.info("memory"))["used_memory"]) - before
    await redis.flushdb()
    await redis.aclose()
    return {
        "clocks": scheduled,
        "schedule_per_s": scheduled / elapsed,
        "redis_bytes_per_clock": used / max(scheduled, 1),
        "redis_used_mb": used / 2**20,
        "bench_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


BURST_CATALOGUE = {
    "policies": {"warnings": {"none": []}, "escalation": {"none": []}},
    "rules": [
        {
            "id": "bench.burst", "title": "burst", "kind": "clock", "source": "benchmark",
            "confidence": "H", "unit": "h", "limit": 0, "subject": "case",
            "starts_on": ["CaseFiled"], "stops_on": ["CaseClosed"], "warnings": "none",
            "escalation": "none", "on_expiry": "supervision",
        },
        # The engine reads the extension window from its gate (services.deadlines.extensions).
        {
            "id": "case.extension-window", "title": "extension window", "kind": "gate",
            "source": "benchmark", "confidence": "H", "unit": "CD", "limit": 5,
            "warnings": "none", "escalation": "none",
        },
    ],
}  # fmt: skip


class ShiftedClock:
    """The system clock moved by a fixed offset: it runs at real speed, so lateness measured
    on it is real, but it reaches a chosen instant when the benchmark is ready."""

    def __init__(self, shift: dt.timedelta) -> None:
        self._system = SystemClock()
        self.shift = shift

    def now(self) -> dt.datetime:
        return self._system.now() + self.shift

    async def sleep_until(self, instant: dt.datetime) -> None:
        await self._system.sleep_until(instant - self.shift)


async def burst(redis_url: str, clocks: int, drainers: int = 1) -> dict[str, float]:
    """``clocks`` clocks all due at one instant, drained on a real-speed clock by
    ``drainers`` processes (as many replicas of the deadlines service: each claims chunks
    of the due timers): drain time and fire lateness (how long after the instant each timer
    fired)."""
    spawn = multiprocessing.get_context("spawn")  # not fork: this process runs an event loop
    pipes, processes = [], []
    for _ in range(drainers):  # started first: their start-up overlaps the scheduling
        mine, theirs = spawn.Pipe()
        process = spawn.Process(target=_drainer, args=(redis_url, theirs), daemon=True)
        process.start()
        theirs.close()  # the drainer's end is the drainer's alone
        pipes.append(mine)
        processes.append(process)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await redis.flushdb()
        keys = KeySpace("bench:", "deadlines")
        engine = _engine(redis, keys, SystemClock(), Catalogue.model_validate(BURST_CATALOGUE))
        # Every clock starts (and, with a limit of 0 h, is due) at the same instant, a day
        # ahead; once all are scheduled and the drainers are ready, the drainers' clocks are
        # shifted so that instant is 1 s away.
        due = SystemClock().now() + dt.timedelta(days=1)
        await file_cases(engine, redis, keys, clocks, SimulatedClock(due))
        for mine, process in zip(pipes, processes, strict=True):
            await _answer(mine, process)  # ready
        instant = time.time() + 1.0
        shift = due.timestamp() - instant
        redis_cpu = await _redis_cpu_s(redis)  # read before the instant: lateness is not delayed
        for mine in pipes:
            mine.send((due.timestamp(), shift))
        reports = [
            await _answer(mine, process) for mine, process in zip(pipes, processes, strict=True)
        ]
        redis_cpu = await _redis_cpu_s(redis) - redis_cpu
        await redis.flushdb()
    finally:
        await redis.aclose()
        for mine in pipes:
            mine.close()  # a drainer still waiting to be told ends (EOFError)
        for process in processes:
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.kill()
    ordered = sorted(late for report in reports for late in report["lateness_s"])
    return {
        "clocks": clocks,
        "drainers": drainers,
        "timers_fired": sum(report["fired"] for report in reports),
        "drain_s": max(report["finished_at"] for report in reports) - instant,
        "lateness_p50_ms": statistics.median(ordered) * 1000,
        "lateness_p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        # CPU per clock drained: the drainers' processes, and the Redis server's (INFO cpu)
        "drain_cpu_us_per_clock": sum(report["cpu_s"] for report in reports) / clocks * 1e6,
        "redis_cpu_us_per_clock": redis_cpu / clocks * 1e6,
    }


async def _answer(pipe: Connection, process: BaseProcess, within_s: float = 600.0) -> Any:
    """The next message of a drainer; an error if it ended without sending one, or sent
    none within ``within_s``."""
    deadline = time.monotonic() + within_s
    while not await asyncio.to_thread(pipe.poll, 0.5):
        if not process.is_alive():
            raise RuntimeError(f"a burst's drainer ended (exit code {process.exitcode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"a burst's drainer said nothing in {within_s:.0f} s")
    return pipe.recv()


def _drainer(redis_url: str, parent: Connection) -> None:
    """One drainer process of ``burst``: says it is ready, is told the instant, drains. It
    runs as the deadlines service does: on its event loop (``run_async``), with its Redis
    client (``zhixing.state.connect``)."""
    run_async(_drain_when_told(redis_url, parent))


async def _drain_when_told(redis_url: str, parent: Connection) -> None:
    redis = connect(RedisSettings(url=redis_url))
    clock = ShiftedClock(dt.timedelta(0))
    engine = _engine(
        redis, KeySpace("bench:", "deadlines"), clock, Catalogue.model_validate(BURST_CATALOGUE)
    )
    await redis.ping()
    parent.send("ready")
    due, shift = await asyncio.to_thread(parent.recv)
    clock.shift = dt.timedelta(seconds=shift)
    await clock.sleep_until(dt.datetime.fromtimestamp(due, tz=dt.UTC))
    cpu = time.process_time()
    report = await engine.drain()
    cpu = time.process_time() - cpu
    parent.send({
        "fired": report.fired, "lateness_s": list(report.lateness_s), "cpu_s": cpu,
        "finished_at": time.time(),
    })  # fmt: skip
    await redis.aclose()


async def _redis_cpu_s(redis: aioredis.Redis) -> float:
    cpu = await redis.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def main(
    redis_url: str, clocks: int = 1_000_000, burst_clocks: int = 100_000
) -> dict[str, Any]:
    return {
        "schedule": await schedule_many(redis_url, clocks),
        "burst": await burst(redis_url, burst_clocks),
    }


if __name__ == "__main__":
    import sys

    print(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
