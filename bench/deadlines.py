"""Deadline engine figures: scheduling rate and memory for many open clocks, and how a burst
of clocks due at one instant drains (time, and fire lateness on the system clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import statistics
import time
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
from zhixing.state import KeySpace
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


async def burst(redis_url: str, clocks: int) -> dict[str, float]:
    """``clocks`` clocks all due at one instant, drained on a real-speed clock: drain time
    and fire lateness (how long after the instant each timer fired)."""
    redis = aioredis.Redis.from_url(redis_url)
    await redis.flushdb()
    keys = KeySpace("bench:", "deadlines")
    system = ShiftedClock(dt.timedelta(0))
    engine = _engine(redis, keys, system, Catalogue.model_validate(BURST_CATALOGUE))
    # Every clock starts (and, with a limit of 0 h, is due) at the same instant, a day
    # ahead; once all are scheduled, the clock is shifted so that instant is 1 s away.
    due = system.now() + dt.timedelta(days=1)
    opening = SimulatedClock(due)
    await file_cases(engine, redis, keys, clocks, opening)
    system.shift = due - SystemClock().now() - dt.timedelta(seconds=1)
    redis_cpu = await _redis_cpu_s(redis)  # read before the instant: lateness is not delayed
    await system.sleep_until(due)
    started, cpu = time.perf_counter(), time.process_time()
    report = await engine.drain()
    drained, cpu = time.perf_counter() - started, time.process_time() - cpu
    redis_cpu = await _redis_cpu_s(redis) - redis_cpu
    await redis.flushdb()
    await redis.aclose()
    ordered = sorted(report.lateness_s)
    return {
        "clocks": clocks,
        "timers_fired": report.fired,
        "drain_s": drained,
        "lateness_p50_ms": statistics.median(ordered) * 1000,
        "lateness_p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        # CPU per clock drained: the engine's process, and the Redis server's (INFO cpu)
        "drain_cpu_us_per_clock": cpu / clocks * 1e6,
        "redis_cpu_us_per_clock": redis_cpu / clocks * 1e6,
    }


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
