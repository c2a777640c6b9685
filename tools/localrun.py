"""``make run``: the whole platform on this machine, in the foreground, until Ctrl-C.

Starts Redis (AOF on) and Kafka with their data under ``.data/``, creates the topics,
starts every service as its own process, loads the demo data and prints where everything
listens. Then it supervises: a service, Kafka or Redis that dies is said to be down, in
plain words, and started again after a backoff (1 s, doubling to 60 s; a process that ran a
minute counts as healthy again). Only Ctrl-C stops the platform: the services first (each
finishes its batch in flight), then Kafka, then Redis. Processes left by a run that was
killed are stopped at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.table import Table

from tools.demo import (
    DEMO_INTERMEDIATE_COURT,
    load_demo,
    load_demo_credit,
    load_demo_funds,
    load_demo_supervision,
)
from tools.devinfra import (
    ROOT,
    InfraError,
    LocalKafka,
    LocalRedis,
    create_topics,
    kill_recorded,
    port_open,
)
from tools.progress import Work
from tools.simulator.lived_in import load_lived_in
from zhixing.anchor import write_key_pair
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SystemClock
from zhixing.logs import configure_logging
from zhixing.ports import DEFAULT_PORTS
from zhixing.service import run_async
from zhixing.settings import AuthSettings, KafkaSettings, PlatformSettings, RedisSettings

DATA = ROOT / ".data"
SIGNING_KEY = DATA / "keys" / "audit-signing.pem"
PUBLIC_KEY = DATA / "keys" / "audit-public.pem"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    http_port: int | None
    grpc_port: int

    @property
    def env_prefix(self) -> str:
        return f"ZHIXING_{self.name.upper()}_"


SERVICES = tuple(ServiceSpec(name, ports.http, ports.grpc) for name, ports in DEFAULT_PORTS.items())


@dataclass
class Backoff:
    """When a process that died may be started again (times are the supervisor's monotonic
    clock, passed in, so the schedule is testable)."""

    base_s: float = 1.0
    max_s: float = 60.0
    healthy_after_s: float = 60.0
    failures: int = 0
    started_at: float = 0.0
    restart_at: float | None = None

    def started(self, now: float) -> None:
        self.started_at = now
        self.restart_at = None

    def died(self, now: float) -> float:
        """Record a death; the delay before the next start."""
        if now - self.started_at >= self.healthy_after_s:
            self.failures = 0  # it had been running well: start again soon
        delay = float(min(self.max_s, self.base_s * 2**self.failures))
        self.failures += 1
        self.restart_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.restart_at is not None and now >= self.restart_at


def _port(spec: ServiceSpec, kind: str, default: int) -> int:
    return int(os.environ.get(f"{spec.env_prefix}{kind.upper()}_PORT", default))


def _wait_healthy(spec: ServiceSpec, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InfraError(
                f"{spec.name} exited with {process.returncode}; see .data/logs/{spec.name}.log"
            )
        if spec.http_port is None:
            if port_open(_port(spec, "grpc", spec.grpc_port)):
                return
        else:
            url = f"http://127.0.0.1:{_port(spec, 'http', spec.http_port)}/healthz"
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise InfraError(f"{spec.name} did not become healthy within {timeout:.0f} s")


class Platform:
    def __init__(self, console: Console, now: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.now = now  # the supervisor's clock (backoffs), injected by the tests
        self.redis = LocalRedis(
            DATA / "redis", port=int(os.environ.get("ZHIXING_LOCAL_REDIS_PORT", 6379))
        )
        self.kafka = LocalKafka(
            DATA / "kafka",
            port=int(os.environ.get("ZHIXING_LOCAL_KAFKA_PORT", 9092)),
            # Its controller listens apart (KRaft): a second platform on the host moves both.
            controller_port=int(os.environ.get("ZHIXING_LOCAL_KAFKA_CONTROLLER_PORT", 9093)),
        )
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.backoff: dict[str, Backoff] = {}
        self.pids = DATA / "pids"
        self.work = Work(console)

    def _record(self, name: str, process: subprocess.Popen[bytes]) -> None:
        (self.pids / f"{name}.pid").write_text(f"{process.pid}\n")

    def clean_leftovers(self) -> None:
        self.pids.mkdir(parents=True, exist_ok=True)
        for pid_file in sorted(self.pids.glob("*.pid")):
            self.console.print(f"stopping {pid_file.stem} left by an earlier run")
            kill_recorded(pid_file)
        time.sleep(0.5)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("ZHIXING_ENV", "dev")
        env["ZHIXING_KAFKA_BOOTSTRAP_SERVERS"] = self.kafka.bootstrap_servers
        env["ZHIXING_REDIS_URL"] = self.redis.url
        gateway = next(s for s in SERVICES if s.name == "agency_gateway")
        gateway_target = f"127.0.0.1:{_port(gateway, 'grpc', gateway.grpc_port)}"
        env.setdefault("ZHIXING_AGENCY_TARGET", gateway_target)
        # The banks' deduction systems (扣划) are stood in for by the same gateway.
        env.setdefault("ZHIXING_FUNDS_TRANSFER_TARGET", gateway_target)
        env.setdefault("ZHIXING_AUDIT_SIGNING_KEY_FILE", str(SIGNING_KEY))
        # The stand-in keeps what it accepted across restarts, as the outside systems do.
        env.setdefault("ZHIXING_AGENCY_GATEWAY_JOURNAL", str(DATA / "agency_gateway.jsonl"))
        return env

    def start(self, *, history: bool = True) -> None:
        """Redis, Kafka, the demo's months (``history``: once per ``.data``), then every
        service."""
        self.clean_leftovers()
        if not SIGNING_KEY.exists():  # the notary's key pair, made once, kept in .data/keys
            write_key_pair(SIGNING_KEY, PUBLIC_KEY)
            self.console.print(f"wrote the audit notary's key pair: {PUBLIC_KEY} (public)")
        with self.work.waiting("Redis to start (AOF on)"):
            self.redis.start()
            self._record("redis", self.redis.process)  # type: ignore[arg-type]
        with self.work.waiting("Kafka to start (KRaft; the first start fetches its jars)"):
            self.kafka.start()
            self._record("kafka", self.kafka.process)  # type: ignore[arg-type]
        with self.work.waiting("Kafka's topics"):
            kafka = self.kafka_settings
            asyncio.run(create_topics(kafka.bootstrap_servers, kafka.topic_prefix))
        if history:
            self.load_history()
        for spec in SERVICES:
            self.spawn(spec)
        with self.work.waiting("every service to report healthy"):
            for spec in SERVICES:
                _wait_healthy(spec, self.services[spec.name], timeout=60)

    @property
    def kafka_settings(self) -> KafkaSettings:
        """The services' Kafka settings (their environment, this Kafka)."""
        return KafkaSettings(bootstrap_servers=self.kafka.bootstrap_servers)

    def load_history(self) -> None:
        """The lived-in demo (``tools.simulator.lived_in``): 苏12's last months, played on a
        simulated clock up to now by every service in this process, before the services
        start as processes and carry on from there. Once: a marker in Redis says it is in."""
        started = time.monotonic()
        # The services in this process log as they do as processes, to a file of their own:
        # the console shows the progress.
        (DATA / "logs").mkdir(parents=True, exist_ok=True)
        level = logging.getLogger().level
        configure_logging("demo-history", PlatformSettings())
        with (DATA / "logs" / "demo-history.log").open("a", encoding="utf-8") as log:
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(log)
            try:
                loaded = run_async(load_lived_in(
                    self.kafka_settings, RedisSettings(url=self.redis.url), work=self.work,
                    gateway_journal=DATA / "agency_gateway.jsonl",
                ))  # fmt: skip
            finally:
                for handler in logging.getLogger().handlers:
                    if isinstance(handler, logging.StreamHandler):
                        handler.setStream(sys.stderr)
                # Back to this process's own level: its health checks' and demo loader's
                # requests are not the console's business.
                logging.getLogger().setLevel(level)
        record = loaded.record
        if loaded.state == "present":
            self.console.print(
                f"the demo's history is in already ({record.get('from')} to "
                f"{str(record.get('to'))[:16]}, {record.get('filed')} cases): not loaded again"
            )
        elif loaded.state == "interrupted":
            self.console.print(
                "[yellow]an earlier load of the demo's history did not finish (started "
                f"{record.get('started_at')}); what it loaded stays. Remove .data/ (make clean "
                "removes it too) to load it afresh.[/yellow]"
            )
        else:
            self.console.print(
                f"loaded the demo's history: {record['from']} to {record['to'][:16]}, "
                f"{record['filed']} cases, {record['events']:,} events, in "
                f"{time.monotonic() - started:.0f} s"
            )

    def spawn(self, spec: ServiceSpec) -> None:
        logs = DATA / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{spec.name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", f"services.{spec.name}"],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.services[spec.name] = process
        self._record(spec.name, process)
        self.backoff.setdefault(spec.name, Backoff()).started(self.now())

    def supervise(self) -> None:
        """One look at every process: say what died, start again what is due."""
        now = self.now()
        for name, infra in (("redis", self.redis), ("kafka", self.kafka)):
            backoff = self.backoff.setdefault(name, Backoff())
            process = infra.process
            if process is not None and process.poll() is not None and backoff.restart_at is None:
                delay = backoff.died(now)
                self.console.print(
                    f"[red]{name} is DOWN (exit {process.returncode}); the services answer 503 "
                    f"or wait until it is back; starting it again in {delay:.0f} s[/red]"
                )
            elif backoff.due(now):
                infra.process = None
                try:
                    infra.start()
                    self._record(name, infra.process)  # type: ignore[arg-type]
                    backoff.started(now)
                    self.console.print(f"[green]{name} is back[/green]")
                except InfraError as exc:
                    backoff.started(now)  # a start that failed died at once: back off more
                    delay = backoff.died(now)
                    self.console.print(f"[red]{name} did not start ({exc}); again in {delay:.0f} s")
        for spec in SERVICES:
            process = self.services[spec.name]
            backoff = self.backoff[spec.name]
            if process.poll() is not None and backoff.restart_at is None:
                delay = backoff.died(now)
                self.console.print(
                    f"[red]{spec.name} exited with {process.returncode}; starting it again in "
                    f"{delay:.0f} s (log: .data/logs/{spec.name}.log)[/red]"
                )
            elif backoff.due(now):
                self.spawn(spec)
                self.console.print(f"[green]{spec.name} started again[/green]")

    def load_demo(self) -> int:
        tokens = TokenAuthority(AuthSettings(), SystemClock())
        intake = next(s for s in SERVICES if s.name == "intake")
        url = f"http://127.0.0.1:{_port(intake, 'http', intake.http_port or 0)}"
        funds = next(s for s in SERVICES if s.name == "funds")
        funds_url = f"http://127.0.0.1:{_port(funds, 'http', funds.http_port or 0)}"
        with self.work.waiting("intake to file today's demo cases"):
            case_ids = load_demo(url, tokens)
        with self.work.waiting("the funds service: money into some of them (案款)"):
            load_demo_funds(funds_url, tokens, case_ids)
        credit = next(s for s in SERVICES if s.name == "credit")
        credit_url = f"http://127.0.0.1:{_port(credit, 'http', credit.http_port or 0)}"
        with self.work.waiting("the credit service: some debtors restricted (限制消费)"):
            load_demo_credit(credit_url, tokens, case_ids)
        supervision = next(s for s in SERVICES if s.name == "supervision")
        supervision_url = (
            f"http://127.0.0.1:{_port(supervision, 'http', supervision.http_port or 0)}"
        )
        with self.work.waiting("supervision: petitions, interference register, postings (监督)"):
            load_demo_supervision(supervision_url, url, tokens, case_ids)
        return len(case_ids)

    def print_endpoints(self, cases: int) -> None:
        table = Table(title="Zhixing Command 执行指挥平台 — running")
        for column in ("service", "HTTP", "gRPC", "API docs"):
            table.add_column(column)
        for spec in SERVICES:
            http = (
                f"http://127.0.0.1:{_port(spec, 'http', spec.http_port)}" if spec.http_port else "—"
            )
            docs = f"{http}/docs" if spec.http_port else "—"
            table.add_row(spec.name, http, f"127.0.0.1:{_port(spec, 'grpc', spec.grpc_port)}", docs)
        table.add_row("kafka", "—", self.kafka.bootstrap_servers, "—")
        table.add_row("redis", "—", self.redis.url, "—")
        self.console.print(table)
        token = TokenAuthority(AuthSettings(), SystemClock()).issue(
            subject="指挥中心值班员", court_code=DEMO_INTERMEDIATE_COURT, role=Role.COMMAND
        )
        self.console.print(
            f"{cases} demo cases in the courts of {DEMO_INTERMEDIATE_COURT} "
            "(filed once; a rerun files none)."
        )
        command = next(spec for spec in SERVICES if spec.name == "command")
        dashboard = f"http://127.0.0.1:{_port(command, 'http', command.http_port or 0)}/dashboard/"
        self.console.print(f"Dashboard (指挥中心): {dashboard}")
        self.console.print(f"A command-centre token for {DEMO_INTERMEDIATE_COURT} (8 h; log in):")
        print(token, flush=True)  # unwrapped, so it can be copied whole
        self.console.print("Logs: .data/logs/. Press Ctrl-C to stop everything.")

    def stop(self) -> None:
        for process in reversed(list(self.services.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.services.items():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
            (self.pids / f"{name}.pid").unlink(missing_ok=True)
        self.kafka.stop()
        (self.pids / "kafka.pid").unlink(missing_ok=True)
        self.redis.stop()
        (self.pids / "redis.pid").unlink(missing_ok=True)


def run_platform(*, demo: bool = True) -> int:
    # Wide enough for the endpoint table when output is not a terminal (logs, CI).
    console = Console(width=max(Console().width, 110))
    platform = Platform(console)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        platform.start(history=demo)
        cases = platform.load_demo() if demo else 0
        platform.print_endpoints(cases)
        while not stop.is_set():  # only Ctrl-C (or SIGTERM) ends the run
            platform.supervise()
            stop.wait(1)
        return 0
    except (InfraError, httpx.HTTPError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]cannot run the platform: {exc}[/red]")
        return 1
    finally:
        with platform.work.waiting("the services, then Kafka, then Redis to stop"):
            platform.stop()
        console.print("stopped.")
