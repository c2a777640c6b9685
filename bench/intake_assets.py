"""Intake and asset control under load, as processes (``python -m services.<name>``) on the
bench's Kafka and Redis, with the agency gateway answering after a fixed latency:

* ``intake_filings_per_s``: cases filed per second through ``POST /v1/cases`` by 32
  concurrent clients (each case queues 8 channel queries behind it, which run meanwhile);
* ``query_all_channels_p50_ms`` / ``_p99_ms``: at a fixed rate of filings, the time from
  when the filing was due to be sent to asset control's NetworkQueryCompleted (every
  channel answered, money frozen), read from the event's own timestamp;
* ``intake_api_p50_ms`` / ``_p99_ms``: at that fixed rate, how long ``POST /v1/cases``
  takes to answer, from when each filing was due (``file_at_rate``); ``_at_high_rate``:
  the same at HIGH_RATE_PER_S, 100 filings a second (issue 19 asks that the answer be no
  slower there), where the rest of the platform falls behind the filings (each queues 8
  channel queries) and shares the cores with intake; ``_at_high_rate_alone``: at that
  rate with intake alone (INTAKE_ALONE): no service behind it sharing the cores, and none
  sending it the events it follows (its own process that consumes them, idle but for
  its own filings', beside it). These, the queries' completion and the fsync runs
  (``bench/durability.py``) run the platform as docs/scaling.md deploys it on shared cores
  (``platform(answering=INTAKE_ANSWERED)``): intake's requests answered by a process of
  its own, the processes catching up on events at a lower priority; peak memory is then
  each process's, intake's answering one apart (``bench/pipeline.py`` answers the
  dashboard's requests so too, under the same load);
* the peak resident memory (VmHWM) of each service process at the end of that run.

The funds service runs among them (it opens an account for every case filed and follows
the assets found); ``bench/funds.py`` loads it with payouts on the same platform.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer

from tools.demo import credit_code, resident_id
from tools.devinfra import ROOT, create_topics, free_port
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SystemClock
from zhixing.event_types import NETWORK_QUERY_COMPLETED
from zhixing.events import decode_event
from zhixing.settings import AuthSettings
from zhixing.topics import ASSET_EVENTS, physical_name

SECRET = "bench-secret-" + "x" * 40
SERVICE_SECRET = "bench-service-secret-" + "s" * 40
GATEWAY_LATENCY_MS = 200
FILINGS = 1000
CONCURRENCY = 32
FIXED_RATE_PER_S = 20
HIGH_RATE_PER_S = 100
FIXED_SECONDS = 20


@dataclass
class Platform:
    intake_url: str
    prefix: str
    bootstrap: str
    processes: dict[str, subprocess.Popen[bytes]]
    funds_url: str = ""
    command_url: str = ""

    def peak_rss_mb(self) -> dict[str, float]:
        """Each service process's peak resident memory so far."""
        return {name: peak_rss_mb(str(process.pid)) for name, process in self.processes.items()}


SERVICES = (
    "agency_gateway", "intake", "asset_control", "command", "deadlines", "entrustment",
    "dispute_coordinator", "funds",
)  # fmt: skip


def peak_rss_mb(pid: str = "self") -> float:
    """A process's peak resident memory (Linux's VmHWM), in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


WORK_NICENESS = 10
"""How much less of the CPU the processes catching up on events get than those answering
requests, in the deployment ``platform(answering=...)`` runs (docs/scaling.md)."""
INTAKE_ANSWERED = ("intake",)
"""The services whose requests the filing runs time: in ``platform(answering=...)`` each
has a process that only answers them. The others' answering processes would sit idle
(nothing there calls them), so they are left out."""


@asynccontextmanager
async def platform(
    bootstrap: str, redis_url: str, services: tuple[str, ...] = SERVICES, *,
    answering: tuple[str, ...] = (),
) -> AsyncIterator[Platform]:  # fmt: skip
    """The ``services`` as processes. With ``answering``, as docs/scaling.md deploys them
    on shared cores: the requests of each service named there answered by a process of its
    own (role ``answer``) and every process that consumes events (theirs, the rest of the
    platform's) at WORK_NICENESS, so that a backlog of events waits for the CPU behind a
    request. The agency gateway stands in for the agencies' own systems and keeps its
    priority."""
    prefix = f"b{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap, prefix)
    http, grpc_intake, grpc_assets, gateway = (free_port() for _ in range(4))
    env = {
        **os.environ,
        "ZHIXING_ENV": "test",
        "ZHIXING_LOG_LEVEL": "WARNING",
        "ZHIXING_AUTH_SECRET": SECRET,
        "ZHIXING_AUTH_SERVICE_SECRET": SERVICE_SECRET,
        "ZHIXING_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ZHIXING_KAFKA_TOPIC_PREFIX": prefix,
        "ZHIXING_REDIS_URL": redis_url,
        "ZHIXING_REDIS_KEY_PREFIX": prefix,
        "ZHIXING_INTAKE_HTTP_PORT": str(http),
        "ZHIXING_INTAKE_GRPC_PORT": str(grpc_intake),
        "ZHIXING_ASSET_CONTROL_HTTP_PORT": str(free_port()),
        "ZHIXING_ASSET_CONTROL_GRPC_PORT": str(grpc_assets),
        "ZHIXING_AGENCY_GATEWAY_GRPC_PORT": str(gateway),
        "ZHIXING_AGENCY_GATEWAY_LATENCY_MS": str(GATEWAY_LATENCY_MS),
        "ZHIXING_AGENCY_TARGET": f"127.0.0.1:{gateway}",
        "ZHIXING_AGENCY_POLL_INTERVAL_S": "0.02",
        "ZHIXING_FUNDS_TRANSFER_TARGET": f"127.0.0.1:{gateway}",
    }
    # The rest of the platform runs behind them too, so that every service's memory is
    # measured under the same load (the command service reads every event).
    for name in ("command", "deadlines", "entrustment", "dispute_coordinator", "funds"):
        env[f"ZHIXING_{name.upper()}_HTTP_PORT"] = str(free_port())
        env[f"ZHIXING_{name.upper()}_GRPC_PORT"] = str(free_port())
    processes: dict[str, subprocess.Popen[bytes]] = {}
    urls = {name: f"http://127.0.0.1:{env[f'ZHIXING_{name.upper()}_HTTP_PORT']}"
            for name in services if name != "agency_gateway"}  # fmt: skip
    # Waited for: intake's, which every run calls, and each answered service's processes.
    healthy = [urls["intake"], *(urls[name] for name in answering if name != "intake")]
    for name in services:
        working = {**env}
        if name in answering:
            processes[f"{name} (answering)"] = _service_process(
                name, {**env, f"ZHIXING_{name.upper()}_ROLE": "answer"}
            )
            # Its process that consumes the events listens where nothing calls it.
            working[f"ZHIXING_{name.upper()}_HTTP_PORT"] = str(free_port())
            working[f"ZHIXING_{name.upper()}_GRPC_PORT"] = str(free_port())
            healthy.append(f"http://127.0.0.1:{working[f'ZHIXING_{name.upper()}_HTTP_PORT']}")
        behind = bool(answering) and name != "agency_gateway"
        processes[name] = _service_process(name, working, WORK_NICENESS if behind else 0)
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 60
            for url in healthy:
                while True:
                    try:
                        if (await client.get(f"{url}/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"a service at {url} did not become healthy")
                    await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # consumers join their groups
        yield Platform(urls["intake"], prefix, bootstrap, processes, urls.get("funds", ""),
                       urls.get("command", ""))  # fmt: skip
        # A figure measured while a service lay dead would describe another platform.
        if ended := [name for name, process in processes.items() if process.poll() is not None]:
            raise RuntimeError(f"service processes ended during the run: {ended}")
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _service_process(name: str, env: dict[str, str], niceness: int = 0) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", f"services.{name}"]
    # nice(1) execs the service: the process (and its pid) is the service's.
    lowered = ["nice", "-n", str(niceness), *command] if niceness else command
    return subprocess.Popen(lowered, cwd=ROOT, env=env)


def body(n: int) -> dict[str, object]:
    return {
        "court_code": "苏1283",
        "legal_document": {
            "type": "民事判决书",
            "issuing_court": "泰兴市人民法院",
            "number": f"（2026）苏1283民初{n}号",
            "date": "2026-01-10",
        },
        "applicants": [
            {
                "kind": "natural_person",
                "name": "张三",
                "id_number": resident_id("321283", dt.date(1998, 5, 5), n % 999 + 1),
            }
        ],
        "debtors": [{"kind": "organisation", "name": "某公司", "id_number": credit_code(n)}],
        "claim_amount_fen": 10_000_000 + n,
        "receiving_account": "6222 0000 0000 0001",
    }


def headers(
    role: Role = Role.CLERK, subject: str = "bench", court_code: str = "苏1283"
) -> dict[str, str]:
    tokens = TokenAuthority(
        AuthSettings(secret=SECRET, service_secret=SERVICE_SECRET, env="test"), SystemClock()
    )
    token = tokens.issue(subject=subject, court_code=court_code, role=role)
    return {"Authorization": f"Bearer {token}"}


async def filings_per_s(bootstrap: str, redis_url: str) -> float:
    async with platform(bootstrap, redis_url) as running, httpx.AsyncClient(timeout=60) as client:
        auth = headers()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(FILINGS):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                response = await client.post(
                    f"{running.intake_url}/v1/cases", json=body(n), headers=auth
                )
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return FILINGS / (time.perf_counter() - started)


async def query_latency(bootstrap: str, redis_url: str) -> dict[str, float]:
    """At FIXED_RATE_PER_S: the filing's answer and its queries' completion."""
    async with platform(bootstrap, redis_url, answering=INTAKE_ANSWERED) as running:
        due_at, answered_ms = await file_at_rate(running, FIXED_RATE_PER_S)
        latencies = await completions(running, due_at)
        peaks = running.peak_rss_mb()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": p99(latencies),
        "api_p50_ms": statistics.median(answered_ms),
        "api_p99_ms": p99(answered_ms),
        **{f"peak_rss_mb.{name}": mb for name, mb in peaks.items()},
    }


INTAKE_ALONE = ("agency_gateway", "intake")
"""Intake without the services behind it: they share the cores with it, and they send it
the events its consumers follow; without them, its answer has the cores to itself but for
its own process consuming events, which has little to do."""


async def api_latency(
    bootstrap: str, redis_url: str, rate: int, services: tuple[str, ...] = SERVICES
) -> dict[str, float]:
    """At ``rate`` filings a second, with ``services`` running: how long the filing takes
    to answer, from when it was due (``file_at_rate``). The queries are not followed:
    above what asset control keeps up with, they only queue."""
    async with platform(bootstrap, redis_url, services, answering=INTAKE_ANSWERED) as running:
        _, answered_ms = await file_at_rate(running, rate)
    return {"api_p50_ms": statistics.median(answered_ms), "api_p99_ms": p99(answered_ms)}


async def file_at_rate(running: Platform, rate: int) -> tuple[dict[str, dt.datetime], list[float]]:
    """Files ``rate`` cases a second for FIXED_SECONDS, in an open loop (a filing every
    1/rate seconds, answered or not): when each was due to be sent, by case id, and how
    long each took to answer, in ms, from then. The client's pool has a
    connection for every filing in flight, so no filing waits for one; the client's own
    loop shares the cores, and a filing it sends late counts its lateness too (a user's
    wait starts when they file, not when a busy client gets round to it)."""
    auth = headers()
    due_at: dict[str, dt.datetime] = {}
    answered_ms: list[float] = []
    limits = httpx.Limits(max_connections=rate * FIXED_SECONDS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def file(n: int, due: float) -> None:
            response = await client.post(
                f"{running.intake_url}/v1/cases", json=body(n), headers=auth
            )
            answered_ms.append((time.perf_counter() - due) * 1000)
            assert response.status_code == 201, response.text
            # The same instant on the wall clock, which the events' timestamps are read on.
            due_at[response.json()["case_id"]] = started + dt.timedelta(seconds=due - start)

        started, start = dt.datetime.now(dt.UTC), time.perf_counter()
        tasks = []
        for n in range(rate * FIXED_SECONDS):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(file(n, due)))
        await asyncio.gather(*tasks)
    return due_at, answered_ms


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def completions(running: Platform, due_at: dict[str, dt.datetime]) -> list[float]:
    consumer = AIOKafkaConsumer(
        physical_name(ASSET_EVENTS.name, running.prefix),
        bootstrap_servers=running.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4()}",
    )
    await consumer.start()
    latencies: dict[str, float] = {}
    try:
        async with asyncio.timeout(300):
            while len(latencies) < len(due_at):
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in batch:
                        event = decode_event(record.value)
                        if event.event_type != NETWORK_QUERY_COMPLETED.name:
                            continue
                        done = event.envelope.occurred_at.ToDatetime(tzinfo=dt.UTC)
                        filed = due_at.get(event.aggregate_id)
                        if filed is not None:
                            latencies[event.aggregate_id] = (done - filed).total_seconds() * 1000
    finally:
        await consumer.stop()
    return list(latencies.values())
