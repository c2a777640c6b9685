"""The services as separate processes, as in production, on one simulated clock.

Each service runs as ``python -m services.<name>`` (``replicas`` of the hot ones: a consumer
group shares its topics' partitions among them), configured only by its environment, and
follows the simulation's clock through Redis (``zhixing.shared_clock``). The simulation
drives them exactly as it drives ``in_process_platform``'s hosts: over HTTP, and by reading
their state in Redis through views (hosts built here, never started). The bench measures
each process's CPU time from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from services.agency_gateway.server import GatewayServer, GatewaySettings
from services.asset_control.bootstrap import bootstrap as asset_control_bootstrap
from services.command.bootstrap import bootstrap as command_bootstrap
from services.credit.bootstrap import bootstrap as credit_bootstrap
from services.deadlines.bootstrap import bootstrap as deadlines_bootstrap
from services.dispute_coordinator.bootstrap import bootstrap as disputes_bootstrap
from services.entrustment.bootstrap import bootstrap as entrustment_bootstrap
from services.funds.bootstrap import bootstrap as funds_bootstrap
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.notification.bootstrap import bootstrap as notification_bootstrap
from services.supervision.bootstrap import bootstrap as supervision_bootstrap
from tools.devinfra import ROOT, free_port
from tools.simulator.platform import ANY_PORT, SimPlatform
from tools.simulator.service_process import ServiceProcess
from zhixing.builder import Infrastructure
from zhixing.clock import SimulatedClock
from zhixing.service import ServiceHost
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings
from zhixing.shared_clock import ClockDriver

__all__ = ["SIMULATED_SERVICES", "process_platform"]

# Every service a simulation drives, with its field on ``SimPlatform`` and its bootstrap
# (the views are built with it). The deadlines service comes first: the command service is
# told where it answers.
SIMULATED_SERVICES: dict[str, tuple[str, Any]] = {
    "deadlines": ("deadlines", deadlines_bootstrap),
    "intake": ("intake", intake_bootstrap),
    "asset_control": ("assets", asset_control_bootstrap),
    "command": ("command", command_bootstrap),
    "entrustment": ("entrustment", entrustment_bootstrap),
    "dispute_coordinator": ("disputes", disputes_bootstrap),
    "funds": ("funds", funds_bootstrap),
    "credit": ("credit", credit_bootstrap),
    "notification": ("notification", notification_bootstrap),
    "supervision": ("supervision", supervision_bootstrap),
}
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def _environment(
    kafka: KafkaSettings, redis: RedisSettings, auth: AuthSettings, gateway_target: str,
    deadlines_url: str, clock_name: str,
) -> dict[str, str]:  # fmt: skip
    # Otherwise production's defaults (the fetch wait is the simulation's: tests shorten it):
    # the simulation's short consumer batch timeout only makes stopping many hosts in one
    # process quicker, and costs CPU while idle.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIXING_")}
    env.update({
        "ZHIXING_ENV": "test",
        "ZHIXING_LOG_LEVEL": "WARNING",
        "ZHIXING_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ZHIXING_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "ZHIXING_KAFKA_CONSUMER_FETCH_MAX_WAIT_MS": str(kafka.consumer_fetch_max_wait_ms),
        "ZHIXING_REDIS_URL": redis.url,
        "ZHIXING_REDIS_KEY_PREFIX": redis.key_prefix,
        "ZHIXING_AUTH_SECRET": auth.secret.get_secret_value(),
        "ZHIXING_AUTH_SERVICE_SECRET": auth.service_secret.get_secret_value(),
        "ZHIXING_AUTH_ENV": auth.env.value,
        "ZHIXING_CLOCK_SOURCE": "shared",
        "ZHIXING_CLOCK_NAME": clock_name,
        "ZHIXING_DEADLINES_URL": deadlines_url,
        # The outside systems are the simulation's gateway, polled as in-process hosts do.
        "ZHIXING_AGENCY_TARGET": gateway_target,
        "ZHIXING_AGENCY_POLL_INTERVAL_S": "0.05",
        "ZHIXING_AGENCY_BACKOFF_BASE_S": "10",
        "ZHIXING_AGENCY_FEEDBACK_TIMEOUT_S": "60",
        "ZHIXING_FUNDS_TRANSFER_TARGET": gateway_target,
        "ZHIXING_FUNDS_TRANSFER_POLL_INTERVAL_S": "0.05",
        "ZHIXING_FUNDS_TRANSFER_ANSWER_TIMEOUT_S": "60",
        "ZHIXING_NOTIFICATION_GATEWAY_TARGET": gateway_target,
        "ZHIXING_NOTIFICATION_POLL_INTERVAL_S": "0.05",
    })  # fmt: skip
    return env


async def _healthy(http: httpx.AsyncClient, service: ServiceProcess, within_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.label} exited with {service.process.returncode} while starting; "
                f"its log ({service.log}) ends:\n{service.log_tail()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get(f"http://127.0.0.1:{service.http_port}/healthz")).is_success:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(
                f"{service.label} not healthy after {within_s:.0f} s; its log ends:\n"
                f"{service.log_tail()}"
            )
        await asyncio.sleep(0.2)


def _stop(processes: Sequence[ServiceProcess]) -> None:
    """SIGTERM (each stops gracefully: its batch in flight completes), then SIGKILL."""
    for service in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGTERM)
    for service in processes:
        try:
            service.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def _spawn(name: str, replica: int, ports: tuple[int, int], env: dict[str, str],
           logs: Path) -> ServiceProcess:  # fmt: skip
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-{replica}.log"
    http_port, grpc_port = ports
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], cwd=ROOT,
            env={**env, f"ZHIXING_{name.upper()}_HTTP_PORT": str(http_port),
                 f"ZHIXING_{name.upper()}_GRPC_PORT": str(grpc_port)},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return ServiceProcess(name, replica, process, http_port, log)


@asynccontextmanager
async def process_platform(
    clock: SimulatedClock,
    *,
    kafka: KafkaSettings,
    redis: RedisSettings,
    auth: AuthSettings,
    logs: Path,
    gateway: dict[str, Any] | None = None,
    services: Sequence[str] = tuple(SIMULATED_SERVICES),
    replicas: Mapping[str, int] | None = None,
) -> AsyncIterator[SimPlatform]:
    """Start the gateway here and each of ``services`` as processes (``replicas[name]`` of
    it, default 1) following ``clock``; stop them on exit. Their logs go to ``logs``."""
    unknown = sorted(set(services) - set(SIMULATED_SERVICES))
    if unknown:
        raise ValueError(f"no such simulated service: {', '.join(unknown)}")
    if "intake" not in services or "asset_control" not in services:
        raise ValueError("a simulation needs at least intake and asset_control")
    server = GatewayServer(
        GatewaySettings(**{"grpc_port": 0, "latency_ms": 0, **(gateway or {})}),
        clock=clock,
        auth=auth,
    )
    await server.start()
    clock_name = f"sim-{os.getpid()}-{id(clock):x}"
    driver = ClockDriver(clock, redis, clock_name)
    try:
        await driver.publish()
    except BaseException:
        await server.stop()
        await driver.close()
        raise
    ports = {name: (free_port(), free_port()) for name in services}
    env = _environment(
        kafka, redis, auth, f"127.0.0.1:{server.grpc_port}",
        f"http://127.0.0.1:{ports.get('deadlines', (0, 0))[0]}", clock_name,
    )  # fmt: skip
    processes: list[ServiceProcess] = []
    views: list[ServiceHost] = []
    try:
        for name in services:
            for replica in range(max(1, (replicas or {}).get(name, 1))):
                # The first replica takes the service's ports; the others any free ones.
                ports_of = ports[name] if replica == 0 else (free_port(), free_port())
                processes.append(_spawn(name, replica, ports_of, env, logs))
        async with httpx.AsyncClient(timeout=2) as http:
            await asyncio.gather(*(_healthy(http, p, START_TIMEOUT_S) for p in processes))
        infra = Infrastructure(clock=clock, kafka=kafka, redis=redis, auth=auth, ports=ANY_PORT)
        hosts: dict[str, ServiceHost] = {}
        for name in services:
            field_name, bootstrap = SIMULATED_SERVICES[name]
            view: ServiceHost = bootstrap(infra)
            view.http_port = ports[name][0]
            views.append(view)
            hosts[field_name] = view
        optional: dict[str, ServiceHost | None] = {
            "command": None, "entrustment": None, "disputes": None
        }  # fmt: skip
        yield SimPlatform(
            clock=clock, gateway=server, driver=driver, processes=processes,
            **(optional | hosts),  # type: ignore[arg-type]
        )  # fmt: skip
    finally:
        await asyncio.to_thread(_stop, processes)  # the gateway answers while they stop
        for view in views:  # never started: their clients only need closing
            for consumer in view.consumers:
                await consumer.stop()
            await view.ctx.publisher.stop()
            await view.ctx.redis.aclose()
        await server.stop()
        await driver.close()
