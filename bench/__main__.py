"""``make bench``: figures, not tests. Starts its own Kafka and Redis, measures, writes
``bench/results/latest.json`` and ``bench/results/latest.md``.

It measures the event bus:

* ``raw_kafka_events_per_s``: an aiokafka consume→produce loop with no logic, on the same
  broker: the ceiling for Python on this machine;
* ``bus_apply_events_per_s``: events applied per second by ``EventConsumer`` into a Redis
  projection (decode, dedupe, one transaction with offsets per batch, commit);
* ``kafka_client_*``: the raw loop on aiokafka and on confluent-kafka's asyncio and plain
  clients, and each reading alone (``_read``), events per second and CPU microseconds per
  event (``bench/kafka_clients.py``).

the intake and asset control services under load (``bench/intake_assets.py``), case funds'
payouts per second and the funds service's memory (``bench/funds.py``), and the
deadline engine (``bench/deadlines.py``): clocks scheduled per second and Redis
bytes per clock with 1,000,000 open clocks, and a burst of 100,000 clocks due at the same
instant on the system clock: time to drain, and p50/p99 fire lateness.

Each figure is the median of several runs, reported with min and max.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from google.protobuf.message import Message

from bench import deadlines, durability, funds, intake_assets, kafka_clients, pipeline
from tools.devinfra import LocalKafka, LocalRedis, create_topics, free_port
from tools.progress import Bar, Work
from zhixing.bus import EventConsumer
from zhixing.clock import SystemClock
from zhixing.events import Event, new_event
from zhixing.logs import configure_logging
from zhixing.projection import Transaction
from zhixing.publisher import EventPublisher
from zhixing.service import run_async
from zhixing.settings import KafkaSettings, PlatformSettings, RedisSettings
from zhixing.state import KeySpace, connect
from zhixing.topics import CASE_EVENTS, Topic, physical_name
from zhixing.v1 import case_events_pb2, envelope_pb2

T = TypeVar("T")
RESULTS = Path(__file__).parent / "results"
EVENTS = 50_000
RUNS = 3
# The deadline figures: 1,000,000 open clocks take minutes to schedule, so they run fewer
# times; ZHIXING_BENCH_CLOCKS makes a quick run smaller.
CLOCKS = int(os.environ.get("ZHIXING_BENCH_CLOCKS", 1_000_000))
BURST = int(os.environ.get("ZHIXING_BENCH_BURST", 100_000))
DEADLINE_RUNS = int(os.environ.get("ZHIXING_BENCH_DEADLINE_RUNS", 1))
# The simulated week, the national day and the 1,000,000-case board take minutes each.
PIPELINE_RUNS = int(os.environ.get("ZHIXING_BENCH_PIPELINE_RUNS", 3))
NATIONAL_RUNS = int(os.environ.get("ZHIXING_BENCH_NATIONAL_RUNS", 1))
DASHBOARD_RUNS = int(os.environ.get("ZHIXING_BENCH_DASHBOARD_RUNS", 3))
BURST_RUNS = int(os.environ.get("ZHIXING_BENCH_BURST_RUNS", 3))
# The burst drained by one process and by as many replicas of the deadlines service.
BURST_DRAINERS = sorted({
    int(n) for n in os.environ.get("ZHIXING_BENCH_BURST_DRAINERS", "1,2").split(",")
})  # fmt: skip
BURST_FIGURES = (
    "deadline_burst_100k_drain_s",
    "deadline_fire_lateness_p50_ms",
    "deadline_fire_lateness_p99_ms",
    "deadline_burst_cpu_us_per_clock",
    "deadline_burst_redis_cpu_us_per_clock",
)
BURST_FIELDS = (  # what ``deadlines.burst`` reports for each
    "drain_s", "lateness_p50_ms", "lateness_p99_ms", "drain_cpu_us_per_clock",
    "redis_cpu_us_per_clock",
)  # fmt: skip
# The services in one process, as processes, and with two replicas of the hot ones
# (pipeline.MODES); ZHIXING_BENCH_PIPELINE_MODES=processes measures one of them.
PIPELINE_MODES = os.environ.get("ZHIXING_BENCH_PIPELINE_MODES", ",".join(pipeline.MODES)).split(",")
if unknown := sorted(set(PIPELINE_MODES) - set(pipeline.MODES)):
    raise SystemExit(f"ZHIXING_BENCH_PIPELINE_MODES: no such mode {unknown}; "
                     f"the modes are {', '.join(pipeline.MODES)}")  # fmt: skip
HEADLINE_MODE = "processes" if "processes" in PIPELINE_MODES else PIPELINE_MODES[0]


def events(n: int) -> list[Event[case_events_pb2.CaseFiled]]:
    clock = SystemClock()
    actor = envelope_pb2.Actor(id="bench", court_code="苏1283", role="clerk")
    return [
        new_event(
            case_events_pb2.CaseFiled(
                case_id=f"c{i % 5000}", court_code="苏1283", claim_amount_fen=i + 1
            ),
            aggregate_id=f"c{i % 5000}",
            court_code="苏1283",
            actor=actor,
            clock=clock,
        )
        for i in range(n)
    ]


async def fresh_topics(bootstrap: str) -> str:
    prefix = f"b{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap, prefix, (CASE_EVENTS, BENCH_OUT))
    return prefix


BENCH_OUT = Topic("bench.out", "bench", "key", 6, "benchmark sink")


async def fill(kafka: KafkaSettings, batch: list[Event[case_events_pb2.CaseFiled]]) -> None:
    publisher = EventPublisher(kafka)
    await publisher.start()
    await publisher.publish_many(batch)
    await publisher.stop()


async def raw_loop(bootstrap: str) -> float:
    """Consume N records and produce each to another topic, no decoding, no state."""
    prefix = await fresh_topics(bootstrap)
    await fill(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix), events(EVENTS))
    consumer = AIOKafkaConsumer(
        physical_name(CASE_EVENTS.name, prefix),
        bootstrap_servers=bootstrap,
        group_id="raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    out = physical_name(BENCH_OUT.name, prefix)
    done = 0
    started = time.perf_counter()
    while done < EVENTS:
        fetched = await consumer.getmany(timeout_ms=200, max_records=1000)
        for records in fetched.values():
            for record in records:
                await producer.send(out, record.value, key=record.key)
            done += len(records)
        await consumer.commit()
    await producer.flush()
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await producer.stop()
    return EVENTS / elapsed


async def client_run(bootstrap: str, client: str) -> dict[str, float]:
    """The raw loop, or a reader, on one Kafka client (``bench/kafka_clients.py``), on topics
    of its own."""
    prefix = await fresh_topics(bootstrap)
    count = kafka_clients.READ_EVENTS if client in kafka_clients.READERS else EVENTS
    assert count % EVENTS == 0, "a reader would wait for records never written"
    batch = events(EVENTS)
    for _ in range(count // EVENTS):
        await fill(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix), batch)
    source = physical_name(CASE_EVENTS.name, prefix)
    sink = physical_name(BENCH_OUT.name, prefix)
    return await kafka_clients.client_loop(client, bootstrap, source, sink, count)


class CountOnly:
    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        tx.pipe.incrby(tx.keys.key("applied"), len(events))


async def bus_apply(bootstrap: str, redis_url: str) -> float:
    prefix = await fresh_topics(bootstrap)
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap, topic_prefix=prefix, consumer_batch_max_records=1000
    )
    await fill(kafka, events(EVENTS))
    redis = connect(RedisSettings(url=redis_url, key_prefix=prefix))
    keys = KeySpace(prefix, "bench")
    publisher = EventPublisher(kafka)
    await publisher.start()
    consumer = EventConsumer(
        group="bench", topics=[CASE_EVENTS], handler=CountOnly(), kafka=kafka, redis=redis,
        keys=keys, publisher=publisher,
    )  # fmt: skip
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    started = time.perf_counter()
    while int(await redis.get(keys.key("applied")) or 0) < EVENTS:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await task
    await publisher.stop()
    await redis.aclose()
    return EVENTS / elapsed


def _median_each(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over runs (a key some run lacks counts as 0 there)."""
    keys = sorted({key for run in runs for key in run})
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in keys}


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


class Steps:
    """The bench's progress: one step per run of each figure, on a bar that says which."""

    def __init__(self, bar: Bar | None = None) -> None:
        self.bar = bar

    async def __call__(self, name: str, work: Awaitable[T]) -> T:
        if self.bar is not None:
            self.bar.note(name)
        result = await work
        if self.bar is not None:
            self.bar.advance(note=name)
        return result


STEPS = Steps()
TOTAL_STEPS = (7 * RUNS + DEADLINE_RUNS + BURST_RUNS * len(BURST_DRAINERS)
               + PIPELINE_RUNS * len(PIPELINE_MODES)
               + NATIONAL_RUNS + 2 + RUNS * len(kafka_clients.CLIENTS))  # fmt: skip


async def measure(run: Callable[[], Awaitable[float]], name: str = "a figure") -> dict[str, float]:
    return spread([await STEPS(name, run()) for _ in range(RUNS)])


def _commit() -> str:
    """The commit measured (with ``+dirty`` when the work tree has changes)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def _figure(value: float) -> str:
    """Whole numbers from 100 up, one decimal below (a 3.4 ms latency keeps its digit)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


async def main() -> None:
    # The services run in this process for the pipeline figures: log as they would in
    # production at WARNING, not structlog's unconfigured default (every debug line printed).
    configure_logging("bench", PlatformSettings(log_level="WARNING", log_json=False))
    with tempfile.TemporaryDirectory(prefix="zhixing-bench-") as tmp:
        redis = LocalRedis(Path(tmp) / "redis", port=free_port(), append_only=False)
        kafka = LocalKafka(Path(tmp) / "kafka", port=free_port(), controller_port=free_port())
        work = Work()
        with work.waiting("Redis to start"):
            redis.start()
        with work.waiting("Kafka to start"):
            kafka.start()
        bootstrap = kafka.bootstrap_servers
        try:
            with work.bar("bench", TOTAL_STEPS) as bar:
                STEPS.bar = bar
                raw = await measure(lambda: raw_loop(bootstrap), "the raw Kafka loop")
                bus = await measure(lambda: bus_apply(bootstrap, redis.url), "the bus")
                clients = {
                    client: [await STEPS(f"Kafka client {client}", client_run(bootstrap, client))
                             for _ in range(RUNS)]
                    for client in kafka_clients.CLIENTS
                }  # fmt: skip
                schedules = [
                    await STEPS(f"{CLOCKS:,} clocks scheduled",
                                deadlines.schedule_many(redis.url, CLOCKS))
                    for _ in range(DEADLINE_RUNS)
                ]  # fmt: skip
                bursts_by_drainers = {
                    drainers: [
                        await STEPS(f"a burst of {BURST:,} clocks, {drainers} drainer(s)",
                                    deadlines.burst(redis.url, BURST, drainers))
                        for _ in range(BURST_RUNS)
                    ]
                    for drainers in BURST_DRAINERS
                }  # fmt: skip
                filings = await measure(
                    lambda: intake_assets.filings_per_s(bootstrap, redis.url), "intake's filings"
                )
                queries = [
                    await STEPS("the network query's latency",
                                intake_assets.query_latency(bootstrap, redis.url))
                    for _ in range(RUNS)
                ]  # fmt: skip
                busy_filings = [
                    await STEPS(f"the filing's answer at {intake_assets.HIGH_RATE_PER_S}/s",
                                intake_assets.api_latency(bootstrap, redis.url,
                                                          intake_assets.HIGH_RATE_PER_S))
                    for _ in range(RUNS)
                ]  # fmt: skip
                alone_filings = [
                    await STEPS(f"intake's answer alone at {intake_assets.HIGH_RATE_PER_S}/s",
                                intake_assets.api_latency(bootstrap, redis.url,
                                                          intake_assets.HIGH_RATE_PER_S,
                                                          intake_assets.INTAKE_ALONE))
                    for _ in range(RUNS)
                ]  # fmt: skip
                payouts = [await STEPS("funds' payouts", funds.payouts_per_s(bootstrap, redis.url))
                           for _ in range(RUNS)]  # fmt: skip
                flows = {
                    mode: [
                        await STEPS(f"the pipeline (a simulated week, {mode})",
                                    pipeline.pipeline(bootstrap, redis.url, mode))
                        for _ in range(PIPELINE_RUNS)
                    ]
                    for mode in PIPELINE_MODES
                }  # fmt: skip
                national = [
                    await STEPS("the national day", pipeline.national_day(bootstrap, redis.url))
                    for _ in range(NATIONAL_RUNS)
                ]
                dashboards = await STEPS(
                    "the dashboard's requests",
                    pipeline.dashboard_api(bootstrap, redis.url, DASHBOARD_RUNS),
                )
                busy_dashboards = [
                    await STEPS(f"the dashboard's answer with filings at "
                                f"{intake_assets.HIGH_RATE_PER_S}/s",
                                pipeline.dashboard_busy(bootstrap, redis.url, apart=True))
                    for _ in range(RUNS)
                ]  # fmt: skip
                fsync = await STEPS(
                    "intake's latency by fsync policy",
                    durability.intake_latency_by_fsync(bootstrap, RUNS),
                )
        finally:
            kafka.stop()
            redis.stop()
    results = {
        "generated_at": datetime.now(UTC).isoformat(),
        "commit": _commit(),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "events_per_run": EVENTS,
        "runs": RUNS,
        "runs_per_figure": {
            "raw_kafka, bus_apply, kafka_client (each client), intake_filings, query, "
            "intake_api (each rate, and alone), dashboard_api_busy and funds_payouts": RUNS,
            "deadline_schedule": DEADLINE_RUNS,
            "deadline_burst and lateness (each number of drainers)": BURST_RUNS,
            "pipeline (each mode)": PIPELINE_RUNS,
            "national_day": NATIONAL_RUNS,
            "dashboard_api (rounds of 300 requests)": DASHBOARD_RUNS,
        },
        "raw_kafka_events_per_s": raw,
        "bus_apply_events_per_s": bus,
        "bus_vs_raw_ratio": {"median": bus["median"] / raw["median"]},
        "kafka_client_events_per_s": {
            client: spread([r["events_per_s"] for r in runs]) for client, runs in clients.items()
        },
        "kafka_client_cpu_us_per_event": {
            client: spread([r["cpu_us_per_event"] for r in runs])
            for client, runs in clients.items()
        },
        "deadline_clocks": CLOCKS,
        "deadline_schedule_per_s": spread([s["schedule_per_s"] for s in schedules]),
        "deadline_redis_bytes_per_clock": spread([s["redis_bytes_per_clock"] for s in schedules]),
        "deadline_burst_clocks": BURST,
        # Without a suffix, one drainer; with ``_<n>_drainers``, n replicas draining.
        **{
            f"{figure}{'' if drainers == 1 else f'_{drainers}_drainers'}": spread(
                [b[field] for b in bursts]
            )
            for drainers, bursts in bursts_by_drainers.items()
            for figure, field in zip(BURST_FIGURES, BURST_FIELDS, strict=True)
        },
        "bench_process_peak_rss_mb": max(s["bench_process_peak_rss_mb"] for s in schedules),
        "intake_filings_per_s": filings,
        "intake_filings_per_run": intake_assets.FILINGS,
        "query_fixed_rate_per_s": intake_assets.FIXED_RATE_PER_S,
        "query_gateway_latency_ms": intake_assets.GATEWAY_LATENCY_MS,
        "query_all_channels_p50_ms": spread([q["p50_ms"] for q in queries]),
        "query_all_channels_p99_ms": spread([q["p99_ms"] for q in queries]),
        "intake_api_rate_per_s": intake_assets.FIXED_RATE_PER_S,
        "intake_api_p50_ms": spread([q["api_p50_ms"] for q in queries]),
        "intake_api_p99_ms": spread([q["api_p99_ms"] for q in queries]),
        # The same answer at the higher rate (``intake_api_high_rate_per_s``).
        "intake_api_high_rate_per_s": intake_assets.HIGH_RATE_PER_S,
        "intake_api_p50_ms_at_high_rate": spread([b["api_p50_ms"] for b in busy_filings]),
        "intake_api_p99_ms_at_high_rate": spread([b["api_p99_ms"] for b in busy_filings]),
        # ... and with intake alone (no other service sharing the cores).
        "intake_api_p50_ms_at_high_rate_alone": spread([a["api_p50_ms"] for a in alone_filings]),
        "intake_api_p99_ms_at_high_rate_alone": spread([a["api_p99_ms"] for a in alone_filings]),
        "funds_payouts_per_s": spread([f["payouts_per_s"] for f in payouts]),
        "funds_payouts_per_run": funds.PAYOUTS,
        # The same filings on a Redis with its AOF fsynced before each answer ("always",
        # what make run and the docs choose) and once a second ("everysec").
        **{
            f"intake_api_{stat}_ms_fsync_{policy}": spread(fsync[f"{policy}.{stat}"])
            for policy in ("always", "everysec")
            for stat in ("p50", "p99")
        },
        "peak_rss_mb": {
            name.removeprefix("peak_rss_mb."): max(q[name] for q in queries)
            for name in queries[0]
            if name.startswith("peak_rss_mb.")
        }
        | {"funds (payouts run)": max(f["peak_rss_mb"] for f in payouts)}
        | {"simulator (every service in one process)": intake_assets.peak_rss_mb()},
        # The headline is production's shape (each service its own process) when measured.
        "pipeline_mode": HEADLINE_MODE,
        "pipeline_events_per_s": spread([f["events_per_s"] for f in flows[HEADLINE_MODE]]),
        "pipeline_events_per_run": statistics.median(f["events"] for f in flows[HEADLINE_MODE]),
        # The ratio counts events: a contract that carries a case in fewer events lowers it
        # while cases go through faster. Cases per second compare across such changes.
        "pipeline_cases_per_s": spread(
            [f["filed"] / max(f["wall_s"], 1e-9) for f in flows[HEADLINE_MODE]]
        ),
        "pipeline_vs_raw_ratio": {
            "median": statistics.median(f["events_per_s"] for f in flows[HEADLINE_MODE])
            / raw["median"]
        },
        "pipeline_events_per_s_by_mode": {
            mode: spread([f["events_per_s"] for f in runs]) for mode, runs in flows.items()
        },
        "pipeline_vs_raw_ratio_by_mode": {
            mode: statistics.median(f["events_per_s"] for f in runs) / raw["median"]
            for mode, runs in flows.items()
        },
        "pipeline_cpu_ms_per_case_by_mode": {
            mode: _median_each([f["cpu_ms_per_case"] for f in runs]) for mode, runs in flows.items()
        },
        "national_day_mode": "processes",
        "national_day_cases": statistics.median(n["filed"] for n in national),
        "national_day_events_per_case": statistics.median(
            n["events"] / max(n["filed"], 1) for n in national
        ),
        "national_day_seconds": spread([n["seconds"] for n in national]),
        # The target: at most 10 ms of CPU per filed case over every service.
        "cpu_ms_per_filed_case": spread([n["cpu_ms_per_case"]["services_total"] for n in national]),
        "cpu_ms_per_filed_case_by_service": _median_each([n["cpu_ms_per_case"] for n in national]),
        "redis_bytes_per_filed_case_by_service": _median_each(
            [n["redis_bytes_per_case"] for n in national]
        ),
        "dashboard_board_cases": pipeline.BOARD_CASES,
        "dashboard_api_p99_ms": spread([d["p99_ms"] for d in dashboards]),
        "dashboard_api_p50_ms": spread([d["p50_ms"] for d in dashboards]),
        "dashboard_api_p99_ms_by_path": dashboards[-1]["p99_ms_by_path"],
        # The same requests while the platform falls behind filings at the high rate, as
        # docs/scaling.md deploys it (intake's and command's answers apart).
        "dashboard_api_busy_filings_per_s": intake_assets.HIGH_RATE_PER_S,
        "dashboard_api_p50_ms_busy": spread([d["p50_ms"] for d in busy_dashboards]),
        "dashboard_api_p99_ms_busy": spread([d["p99_ms"] for d in busy_dashboards]),
        "dashboard_api_p99_ms_busy_by_path": busy_dashboards[-1]["p99_ms_by_path"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"Commit {results['commit']}, {results['generated_at'][:16]} UTC, "
        f"{os.cpu_count()} CPUs; median of several runs (see latest.json for counts).",
        "",
        "| figure | median | min | max |",
        "|---|---|---|---|",
    ]
    for key in (
        "raw_kafka_events_per_s",
        "bus_apply_events_per_s",
        "deadline_schedule_per_s",
        "deadline_redis_bytes_per_clock",
        *(key for key in results if key.startswith(BURST_FIGURES)),  # each number of drainers
        "intake_filings_per_s",
        "query_all_channels_p50_ms",
        "query_all_channels_p99_ms",
        "intake_api_p50_ms",
        "intake_api_p99_ms",
        "intake_api_p50_ms_at_high_rate",
        "intake_api_p99_ms_at_high_rate",
        "intake_api_p50_ms_at_high_rate_alone",
        "intake_api_p99_ms_at_high_rate_alone",
        "funds_payouts_per_s",
        "intake_api_p50_ms_fsync_always",
        "intake_api_p99_ms_fsync_always",
        "intake_api_p50_ms_fsync_everysec",
        "intake_api_p99_ms_fsync_everysec",
        "pipeline_events_per_s",
        "pipeline_cases_per_s",
        "national_day_seconds",
        "cpu_ms_per_filed_case",
        "dashboard_api_p50_ms",
        "dashboard_api_p99_ms",
        "dashboard_api_p50_ms_busy",
        "dashboard_api_p99_ms_busy",
    ):
        fig = results[key]
        assert isinstance(fig, dict)
        lines.append(
            f"| {key} | {_figure(fig['median'])} | {_figure(fig['min'])} | {_figure(fig['max'])} |"
        )
    lines.append(f"| bus_vs_raw_ratio | {bus['median'] / raw['median']:.2f} | | |")
    for key in ("kafka_client_events_per_s", "kafka_client_cpu_us_per_event"):
        by_client = results[key]
        assert isinstance(by_client, dict)
        for client, fig in by_client.items():
            lines.append(f"| {key} {client} | {_figure(fig['median'])} | "
                         f"{_figure(fig['min'])} | {_figure(fig['max'])} |")  # fmt: skip
    ratio = results["pipeline_vs_raw_ratio"]
    assert isinstance(ratio, dict)
    lines.append(f"| pipeline_vs_raw_ratio | {ratio['median']:.3f} | | |")
    lines.append(f"| pipeline_events_per_run | {results['pipeline_events_per_run']:,.0f} | | |")
    lines.append(f"| national_day_cases | {results['national_day_cases']:,.0f} | | |")
    per_case = results["national_day_events_per_case"]
    lines.append(f"| national_day_events_per_case | {per_case:.1f} | | |")
    by_mode = results["pipeline_events_per_s_by_mode"]
    ratios = results["pipeline_vs_raw_ratio_by_mode"]
    assert isinstance(by_mode, dict) and isinstance(ratios, dict)
    for mode, fig in by_mode.items():
        lines.append(f"| pipeline_events_per_s {mode} | {_figure(fig['median'])} | "
                     f"{_figure(fig['min'])} | {_figure(fig['max'])} |")  # fmt: skip
        lines.append(f"| pipeline_vs_raw_ratio {mode} | {ratios[mode]:.3f} | | |")
    per_service = results["cpu_ms_per_filed_case_by_service"]
    assert isinstance(per_service, dict)
    for name, ms in per_service.items():
        lines.append(f"| cpu_ms_per_filed_case {name} | {_figure(ms)} | | |")
    lines.append(f"| dashboard_board_cases | {results['dashboard_board_cases']:,.0f} | | |")
    peaks = results["peak_rss_mb"]
    assert isinstance(peaks, dict)
    for name, mb in peaks.items():
        lines.append(f"| peak_rss_mb {name} | {mb:,.0f} | | |")
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_async(main())
