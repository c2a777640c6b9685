"""The ``zhixing`` command with Redis or Kafka out of reach: one line saying which and
where it is configured, exit 3; never a traceback."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import typer
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError
from typer.testing import CliRunner

from tools.cli import UNREACHABLE, _run_async, app
from zhixing import audit_check
from zhixing.settings import KafkaSettings
from zhixing.topics import AUDIT_CHECKPOINTS


def a_closed_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "command",
    [
        ["outbox", "parked", "--service", "intake"],
        ["outbox", "requeue", "--service", "intake", "case|c-1"],
        ["funds", "reconcile", "--court", "苏12"],
        ["audit", "verify", "--no-kafka"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_command_says_redis_is_not_reachable(command: list[str]) -> None:
    env = {"ZHIXING_REDIS_URL": f"redis://127.0.0.1:{a_closed_port()}/0", "COLUMNS": "40"}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == UNREACHABLE, result.output
    assert result.stderr.startswith("error: Redis is not reachable (ZHIXING_REDIS_URL)")
    assert result.stderr.count("\n") == 1  # one line, however narrow the terminal
    assert isinstance(result.exception, SystemExit)  # exited, nothing raised


def test_kafka_out_of_reach_is_said_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    async def bootstrap() -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")

    with pytest.raises(typer.Exit) as exited:
        _run_async(bootstrap())
    assert exited.value.exit_code == UNREACHABLE
    assert "Kafka is not reachable (ZHIXING_KAFKA_BOOTSTRAP_SERVERS)" in capsys.readouterr().err


def test_another_failure_is_not_taken_for_one_out_of_reach() -> None:
    async def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        _run_async(broken())


def test_reading_the_log_with_kafka_out_of_reach_stops_its_consumer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `zhixing audit watch` reads the checkpoints' topic first: a start that cannot reach
    # Kafka had opened a consumer's client all the same, and it was left open.
    created: list[AIOKafkaConsumer] = []
    stopped: list[AIOKafkaConsumer] = []

    class Recorded(AIOKafkaConsumer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

        async def stop(self) -> None:
            stopped.append(self)
            await super().stop()

    monkeypatch.setattr(audit_check, "AIOKafkaConsumer", Recorded)
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{a_closed_port()}")
    with pytest.raises(KafkaConnectionError):
        asyncio.run(audit_check.read_topics(kafka, [AUDIT_CHECKPOINTS]))
    assert created
    assert stopped == created
