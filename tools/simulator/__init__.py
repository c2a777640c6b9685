"""The workload simulator: a court year of one jurisdiction, run against the real services on
the simulated clock (``zhixing simulate``; ``make bench`` uses it too)."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from tools.devinfra import create_topics, throwaway_infrastructure
from tools.progress import Work
from tools.simulator.platform import in_process_platform
from tools.simulator.processes import process_platform
from tools.simulator.run import FundsUnbalanced, Report, Simulation
from tools.simulator.workload import Workload, WorkloadSettings
from zhixing.auth import TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

__all__ = ["FundsUnbalanced", "Report", "WorkloadSettings", "simulate", "simulate_locally"]


# The services a simulation runs (notification and supervision are left out: the workload
# neither sends notices nor opens petitions).
SIMULATED = ("deadlines", "intake", "asset_control", "command", "entrustment",
             "dispute_coordinator", "funds", "credit")  # fmt: skip


async def simulate(
    settings: WorkloadSettings, *, bootstrap_servers: str, redis_url: str,
    work: Work | None = None, processes: bool = False, replicas: Mapping[str, int] | None = None,
    logs: Path | None = None, fetch_max_wait_ms: int | None = None,
) -> Report:  # fmt: skip
    """Run ``settings``' year against a Kafka and Redis that are already up, on topics and
    keys of its own; raises ``FundsUnbalanced`` if a court's money does not balance at its
    end. With ``work``, a progress bar of the days that says what the run waits for.

    The services run in this process, or with ``processes`` each as processes of its own
    (``replicas`` per service, default 1; their logs in ``logs``, default a temporary
    folder) following the simulated clock through Redis. ``fetch_max_wait_ms``: how long
    a quiet consumer's fetch waits (default production's); tests shorten it to wait less
    between services on quiet simulated days."""
    prefix = f"sim{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap_servers, prefix)
    clock = SimulatedClock(dt.datetime.combine(settings.start, dt.time(8, 0), CHINA_TZ))
    # Tokens live only as long as the run: a secret of its own, never the development one.
    auth = AuthSettings(
        secret=SecretStr(secrets.token_hex(32)),
        service_secret=SecretStr(secrets.token_hex(32)),
        env="test",
    )
    calendar = CalendarSettings()
    workload = Workload(settings, StatutoryCalendar.load(calendar))
    kafka = KafkaSettings(bootstrap_servers=bootstrap_servers, topic_prefix=prefix,
                          consumer_batch_timeout_ms=20)  # fmt: skip
    if fetch_max_wait_ms is not None:
        kafka = kafka.model_copy(update={"consumer_fetch_max_wait_ms": fetch_max_wait_ms})
    redis = RedisSettings(url=redis_url, key_prefix=prefix)
    # The gateway's synthetic assets from the workload's seed: it plans on them.
    gateway = {"seed": settings.seed}
    with contextlib.ExitStack() as stack:
        if processes:
            folder = logs or Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="zhixing-sim-logs-")
            ))  # fmt: skip
            platform_cm = process_platform(
                clock, kafka=kafka, redis=redis, auth=auth, logs=folder, gateway=gateway,
                services=SIMULATED, replicas=replicas,
            )  # fmt: skip
        else:
            platform_cm = in_process_platform(
                clock, kafka=kafka, redis=redis, auth=auth, calendar=calendar, gateway=gateway,
                with_entrustment=True, with_disputes=True, with_funds=True, with_credit=True,
            )  # fmt: skip
        async with platform_cm as platform:
            simulation = Simulation(platform, TokenAuthority(auth, clock), workload)
            simulation.report.prefix = prefix
            if work is None:
                return await simulation.run()
            with work.bar(f"{settings.intermediate_court}: simulated days", settings.days) as bar:
                simulation.on_day = lambda day, report: bar.advance(
                    note=f"{day} · {report.filed:,} filed"
                )
                simulation.on_wait = bar.waiting
                return await simulation.run()
    raise AssertionError("unreachable")  # pragma: no cover - mypy: the with returns


async def simulate_locally(settings: WorkloadSettings, work: Work | None = None) -> Report:
    """Start a Kafka and a Redis of its own (in a temporary folder), simulate, stop them."""
    waiting = work.waiting("a Kafka and a Redis of its own to start") if work else None
    with contextlib.ExitStack() as stack:
        with waiting or contextlib.nullcontext():
            bootstrap_servers, redis_url = stack.enter_context(
                throwaway_infrastructure("zhixing-sim-")
            )
        return await simulate(
            settings, bootstrap_servers=bootstrap_servers, redis_url=redis_url, work=work
        )
