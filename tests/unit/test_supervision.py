"""`make run` starts a process that died again, after a backoff that grows and resets."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import tools.localrun as localrun
from tools.devinfra import InfraError
from tools.localrun import SERVICES, Backoff, Platform


def test_restarts_back_off_doubling_to_a_cap_and_reset_after_a_healthy_minute() -> None:
    backoff = Backoff(base_s=1, max_s=8, healthy_after_s=60)
    backoff.started(0)
    delays = []
    now = 0.0
    for _ in range(6):  # dies at once after every start
        delays.append(backoff.died(now))
        assert not backoff.due(now)
        now += delays[-1]
        assert backoff.due(now)
        backoff.started(now)
    assert delays == [1, 2, 4, 8, 8, 8]
    now += 61  # ran a minute: healthy
    assert backoff.died(now) == 1


class FakeProcess:
    """A child process: running until ``exit`` is called; never signalled by the test."""

    pids = iter(range(40_000, 50_000))

    def __init__(self, *_: Any, **__: Any) -> None:
        self.pid = next(self.pids)
        self.returncode: int | None = None
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return self.returncode

    def exit(self, code: int) -> None:
        self.returncode = code

    def send_signal(self, sig: int) -> None:  # the supervisor must never stop anything
        self.signals.append(sig)


class FakeInfra:
    """Redis or Kafka as the supervisor sees them: a process, and a ``start`` that makes a
    new one (or fails, as many times as ``failures`` says)."""

    bootstrap_servers = "127.0.0.1:9092"
    url = "redis://127.0.0.1:6379/0"

    def __init__(self) -> None:
        self.process: FakeProcess | None = FakeProcess()
        self.starts = 0
        self.failures = 0

    def start(self) -> None:
        self.starts += 1
        if self.failures:
            self.failures -= 1
            raise InfraError("port 9092 is already taken")
        self.process = FakeProcess()


class Supervised:
    """A Platform whose processes are fakes and whose clock the test moves."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(localrun, "DATA", tmp_path)  # logs and pid files go here
        self.spawned: list[FakeProcess] = []

        def popen(*args: Any, **kwargs: Any) -> FakeProcess:
            process = FakeProcess(*args, **kwargs)
            self.spawned.append(process)
            return process

        monkeypatch.setattr("subprocess.Popen", popen)  # as tools.localrun calls it
        self.t = 1000.0
        self.output = io.StringIO()
        self.platform = Platform(Console(file=self.output, width=300), now=lambda: self.t)
        self.platform.pids.mkdir(parents=True)
        self.redis = FakeInfra()
        self.kafka = FakeInfra()
        self.platform.redis = self.redis  # type: ignore[assignment]
        self.platform.kafka = self.kafka  # type: ignore[assignment]
        for spec in SERVICES:
            self.platform.spawn(spec)

    def look(self, at: float) -> str:
        """One supervision pass at time ``at``; what it printed."""
        self.t = at
        start = self.output.tell()
        self.platform.supervise()
        return self.output.getvalue()[start:]

    def process(self, name: str) -> FakeProcess:
        process = self.platform.services[name]
        assert isinstance(process, FakeProcess)
        return process


def test_a_dead_service_is_said_to_have_exited_and_started_again_when_its_backoff_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Supervised(tmp_path, monkeypatch)
    assert len(run.spawned) == len(SERVICES)
    assert run.look(1000) == ""  # all running: nothing to say, nothing started

    first = run.process("intake")
    first.exit(-9)
    said = run.look(1000.2)
    assert "intake exited with -9" in said and "again in 1 s" in said
    assert len(run.spawned) == len(SERVICES)  # not at once
    assert run.look(1001.1) == ""  # said once, not at every pass; not yet due (1000.2 + 1)
    said = run.look(1001.2)
    assert "intake started again" in said
    assert len(run.spawned) == len(SERVICES) + 1
    second = run.process("intake")
    assert second is not first and second.poll() is None

    second.exit(1)  # dies again at once: the backoff doubles
    said = run.look(1001.5)
    assert "intake exited with 1" in said and "again in 2 s" in said
    assert run.look(1003.4) == "" and run.process("intake") is second
    assert "intake started again" in run.look(1003.5)
    third = run.process("intake")
    assert third is not second

    third.exit(0)  # ran over a minute: healthy again, so the next start comes soon
    assert "again in 1 s" in run.look(1070)
    assert "intake started again" in run.look(1071)

    # Only the dead service was started again; nothing was ever stopped.
    assert len(run.spawned) == len(SERVICES) + 3
    assert all(not p.signals for p in run.spawned)
    others = [run.process(s.name) for s in SERVICES if s.name != "intake"]
    assert all(p in run.spawned[: len(SERVICES)] and p.poll() is None for p in others)
    assert run.redis.starts == 0 and run.kafka.starts == 0
    assert (tmp_path / "pids" / "intake.pid").read_text() == f"{run.process('intake').pid}\n"


def test_a_dead_broker_or_redis_is_said_to_be_down_and_started_again_through_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Supervised(tmp_path, monkeypatch)
    assert run.kafka.process is not None
    run.kafka.process.exit(137)
    said = run.look(1000)
    assert "kafka is DOWN (exit 137)" in said and "again in 1 s" in said
    assert run.kafka.starts == 0
    assert run.look(1000.9) == "" and run.kafka.starts == 0
    assert "kafka is back" in run.look(1001)
    assert run.kafka.starts == 1 and run.kafka.process is not None
    assert run.kafka.process.poll() is None
    assert run.look(1002) == "" and run.kafka.starts == 1  # running again: left alone

    assert run.redis.process is not None
    run.redis.process.exit(1)
    run.redis.failures = 1  # its first start fails (the port is still held)
    assert "redis is DOWN (exit 1)" in run.look(1010)
    said = run.look(1011)
    assert "redis did not start" in said and "again in 2 s" in said
    assert run.redis.starts == 1 and run.redis.process is None
    assert run.look(1012.9) == "" and run.redis.starts == 1
    assert "redis is back" in run.look(1013)
    assert run.redis.starts == 2 and run.redis.process is not None

    # The services were neither restarted nor stopped while a dependency was down.
    assert len(run.spawned) == len(SERVICES)
    assert all(p.poll() is None and not p.signals for p in run.spawned)


def test_make_run_s_kafka_and_redis_listen_where_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every local port moves (a second platform on one host): the broker's, its KRaft
    controller's and Redis's."""
    monkeypatch.setattr(localrun, "DATA", tmp_path)
    for name, port in (("KAFKA", "29092"), ("KAFKA_CONTROLLER", "29093"), ("REDIS", "26379")):
        monkeypatch.setenv(f"ZHIXING_LOCAL_{name}_PORT", port)
    platform = Platform(Console(file=io.StringIO()))
    assert (platform.kafka.port, platform.kafka.controller_port) == (29092, 29093)
    assert platform.redis.port == 26379
