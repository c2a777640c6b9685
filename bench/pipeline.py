"""The platform end to end under the simulator's load, and the dashboard's API at scale.

* ``pipeline_events_per_s``: events (every topic, as counted by the audit chain) processed
  per second of wall time while the simulator runs a loaded working week of one
  jurisdiction through the services' public APIs, with the services in one process, as
  processes, and as processes with two replicas of the hot ones (``MODES``);
* ``national_day_seconds``: wall time to take one national day of new cases (31,500, in
  the jurisdiction's basic courts) from filing to every first clock opened and the platform
  settled, the services as processes (``ZHIXING_BENCH_NATIONAL_CASES`` scales it down for a
  quick run), and the CPU milliseconds each service spends per case;
* ``dashboard_api_p99_ms``: the dashboard's queries (the tree, the breach list, a node's
  cases) with 1,000,000 open cases and 100,000 open clocks in the board projection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import os
import random
import statistics
import time
import uuid
from typing import Any

import httpx
from pydantic import SecretStr

from bench import intake_assets
from bench.intake_assets import p99
from services.command.board import CLOCK_STATES, NODE_IDS, Board
from services.command.bootstrap import bootstrap as command_bootstrap
from tools.devinfra import create_topics
from tools.simulator import simulate
from tools.simulator.workload import NATIONAL_NEW_CASES_PER_DAY, WorkloadSettings
from zhixing.auth import Role, TokenAuthority
from zhixing.builder import Infrastructure
from zhixing.clock import SystemClock
from zhixing.courts import directory
from zhixing.service import freeze_startup_heap
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings, ServiceSettings
from zhixing.state import KeySpace, connect

# A loaded week: every basic court of 苏12 at 100 filings a working day.
WEEK = WorkloadSettings(
    courts=0, cases_per_court_per_year=25_000,
    days=int(os.environ.get("ZHIXING_BENCH_SIM_DAYS", 5)), start=dt.date(2026, 3, 2),
    closure_share=0.3, closure_days_mean=3,
)  # fmt: skip
NATIONAL_CASES = int(os.environ.get("ZHIXING_BENCH_NATIONAL_CASES", NATIONAL_NEW_CASES_PER_DAY))
BOARD_CASES = int(os.environ.get("ZHIXING_BENCH_BOARD_CASES", 1_000_000))
BOARD_CLOCKS = BOARD_CASES // 10
DASHBOARD_REQUESTS = 300
DASHBOARD_QUERIES: list[tuple[str, dict[str, str | int]]] = [
    ("/v1/board/tree", {}),
    ("/v1/board/alerts", {"state": "breached", "limit": 200}),
    ("/v1/board/courts/苏1283/cases", {"node": "controlling", "limit": 50, "offset": 5000}),
]
"""A command centre's requests (the court tree, the alerts, a node's page of cases), asked
in turn."""
BUSY_PAUSE_S = 0.05
"""The pause between the dashboard's requests while the platform is busy (about 15 a
second): a centre's screens refreshing, not a load of its own."""


# The services that carry a filing's work: measured with two processes each.
HOT_REPLICAS = {"intake": 2, "asset_control": 2, "command": 2, "deadlines": 2}
MODES: dict[str, dict[str, Any]] = {
    "one_process": {},
    "processes": {"processes": True},
    "processes_2_hot": {"processes": True, "replicas": HOT_REPLICAS},
}
"""How the services run: all in the bench's process; each its own process (production's
shape); and each its own process with two replicas of the hot services."""


def cpu_ms_per_case(cpu_s: dict[str, float], filed: int) -> dict[str, float]:
    """Per service (its replicas summed), the simulator, and the services' total: CPU
    milliseconds per filed case."""
    per: dict[str, float] = {}
    for label, seconds in cpu_s.items():
        name = label.split("#")[0]
        per[name] = per.get(name, 0.0) + seconds * 1000 / max(filed, 1)
    services = sum(ms for name, ms in per.items() if name != "simulator")
    return per | {"services_total": services}


async def pipeline(bootstrap: str, redis_url: str, mode: str = "one_process") -> dict[str, Any]:
    report = await simulate(WEEK, bootstrap_servers=bootstrap, redis_url=redis_url, **MODES[mode])
    return {"events_per_s": report.events_per_s, "events": report.events,
            "filed": report.filed, "wall_s": report.wall_s,
            "cpu_ms_per_case": cpu_ms_per_case(report.cpu_s, report.filed)}  # fmt: skip


async def national_day(bootstrap: str, redis_url: str, mode: str = "processes") -> dict[str, Any]:
    """One national day of filings, each to every first clock opened: the wall time, and
    the CPU each service spends per case (the issue's 10 ms target is their sum)."""
    courts = len(directory().children("苏12"))
    one_day = WorkloadSettings(
        courts=0, days=1, start=dt.date(2026, 3, 2),  # a Monday
        cases_per_court_per_year=round(NATIONAL_CASES / courts * 250),
        closure_share=0, entrustment_share=0, dispute_share=0,
    )  # fmt: skip
    report = await simulate(
        one_day, bootstrap_servers=bootstrap, redis_url=redis_url, **MODES[mode]
    )  # fmt: skip
    return {"seconds": report.wall_s, "filed": report.filed, "events": report.events,
            "cpu_ms_per_case": cpu_ms_per_case(report.cpu_s, report.filed),
            "redis_bytes_per_case": await redis_bytes_per_case(
                redis_url, report.prefix, report.filed
            )}  # fmt: skip


async def redis_bytes_per_case(redis_url: str, prefix: str, filed: int) -> dict[str, float]:
    """Per service, the Redis memory its keys take (``MEMORY USAGE`` of each) per filed
    case: what sizes a Redis for the nation (docs/scaling.md)."""
    redis = connect(RedisSettings(url=redis_url))
    per_service: dict[str, int] = {}
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=5_000)]
        for start in range(0, len(keys), 2_000):
            chunk = keys[start : start + 2_000]
            pipe = redis.pipeline(transaction=False)
            for key in chunk:
                pipe.memory_usage(key)
            for key, size in zip(chunk, await pipe.execute(), strict=True):
                service = key.decode().removeprefix(prefix).split(":", 1)[0]
                per_service[service] = per_service.get(service, 0) + int(size or 0)
    finally:
        await redis.aclose()
    return {name: size / max(filed, 1) for name, size in sorted(per_service.items())}


async def seed_board(keys: KeySpace, redis_url: str) -> None:
    """1,000,000 open cases over 苏12's basic courts and the four nodes, and 100,000 open
    clocks over the states, written straight into the keys of the board in ``keys``."""
    redis = connect(RedisSettings(url=redis_url))
    board = Board(redis, keys)
    courts = [c.code for c in directory().children("苏12")]
    rng = random.Random(7)
    base = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    try:
        for start in range(0, BOARD_CASES, 10_000):
            pipe = redis.pipeline(transaction=False)
            for n in range(start, min(start + 10_000, BOARD_CASES)):
                court, rank = courts[n % len(courts)], rng.randrange(len(NODE_IDS))
                case_id = f"case-{n}"
                filed_at = base + n * 1000
                pipe.hset(board.case_key(case_id), mapping={
                    "court": court, "number": f"（2026）{court}执{n}号", "rank": rank,
                    "filed_at": filed_at,
                })  # fmt: skip
                pipe.zadd(board.node_key(court, NODE_IDS[rank]), {case_id: filed_at})
                if n < BOARD_CLOCKS:
                    state = CLOCK_STATES[n % len(CLOCK_STATES)]
                    clock_id = f"case.close:{case_id}"
                    due = filed_at + 180 * 86_400_000
                    pipe.hset(board.clock_key(clock_id), mapping={
                        "rule_id": "case.close", "subject_id": case_id, "court": court,
                        "state": state, "due_at": due, "last_day": "2026-07-01",
                    })  # fmt: skip
                    pipe.zadd(board.clocks_key(court, state), {clock_id: due})
            await pipe.execute()
    finally:
        await redis.aclose()


async def dashboard_api(bootstrap: str, redis_url: str, rounds: int) -> list[dict[str, Any]]:
    """Seeds the board once, then times ``rounds`` rounds of the dashboard's requests."""
    prefix = f"b{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap, prefix)
    auth = AuthSettings(
        secret=SecretStr("bench-secret-" + "x" * 40),
        service_secret=SecretStr("bench-service-secret-" + "s" * 40),
        env="test",
    )
    clock = SystemClock()
    host = command_bootstrap(Infrastructure(
        clock=clock, auth=auth, ports=ServiceSettings(http_port=0, grpc_port=0),
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix),
        redis=RedisSettings(url=redis_url, key_prefix=prefix),
    ))  # fmt: skip
    await seed_board(KeySpace(prefix, "command"), redis_url)
    await host.start()
    freeze_startup_heap()  # as the service's own process does once started
    token = TokenAuthority(auth, clock).issue(subject="bench", court_code="苏12", role=Role.COMMAND)
    results = []
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{host.http_port}", timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:  # fmt: skip
            for _ in range(rounds):
                timings = _timings()
                for n in range(DASHBOARD_REQUESTS):
                    await _ask(http, n, timings)
                results.append(_figures(timings))
    finally:
        await host.stop()
        gc.unfreeze()  # the bench's own later steps collect as before
    return results


async def dashboard_busy(bootstrap: str, redis_url: str, *, apart: bool) -> dict[str, Any]:
    """The dashboard's requests (DASHBOARD_QUERIES, over BOARD_CASES seeded cases) while the
    platform falls behind filings at HIGH_RATE_PER_S: each queues 8 channel queries, and the
    command service records every event of them. ``apart``: as docs/scaling.md deploys
    them, intake's and the command service's requests answered by processes of their own
    and every process that consumes events at a lower priority; otherwise one process a
    service, all at one priority. Each request's time, from when it was sent."""
    answering = ("intake", "command") if apart else ()
    async with intake_assets.platform(bootstrap, redis_url, answering=answering) as running:
        await seed_board(KeySpace(running.prefix, "command"), redis_url)
        command = intake_assets.headers(Role.COMMAND, court_code="苏12")
        timings = _timings()
        filing = asyncio.create_task(
            intake_assets.file_at_rate(running, intake_assets.HIGH_RATE_PER_S)
        )
        async with httpx.AsyncClient(base_url=running.command_url, timeout=60,
                                     headers=command) as http:  # fmt: skip
            asked = 0
            try:
                while not filing.done():
                    await _ask(http, asked, timings)
                    asked += 1
                    await asyncio.sleep(BUSY_PAUSE_S)
            finally:  # a request that failed leaves no filing run behind
                filing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await filing
    return _figures(timings) | {"requests": asked}


def _timings() -> dict[str, list[float]]:
    return {path: [] for path, _ in DASHBOARD_QUERIES}


async def _ask(http: httpx.AsyncClient, n: int, timings: dict[str, list[float]]) -> None:
    """The dashboard's ``n``-th request (DASHBOARD_QUERIES in turn), its time in ms kept by
    path in ``timings``."""
    path, params = DASHBOARD_QUERIES[n % len(DASHBOARD_QUERIES)]
    started = time.perf_counter()
    response = await http.get(path, params=params)
    timings[path].append((time.perf_counter() - started) * 1000)
    response.raise_for_status()


def _figures(timings: dict[str, list[float]]) -> dict[str, Any]:
    every = [t for values in timings.values() for t in values]
    return {"p99_ms": p99(every), "p50_ms": statistics.median(every),
            "p99_ms_by_path": {path: p99(values) for path, values in timings.items()}}  # fmt: skip
