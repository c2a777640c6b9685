"""Kafka and Redis as local processes, for machines without Docker.

Kafka is Apache Kafka in KRaft mode, run from the official broker jars that
``deploy/local/kafka/pom.xml`` resolves from Maven Central; Redis is Debian's
``redis-server``. ``make run`` keeps their data under ``.data/``; tests give each session
a throwaway directory and free ports.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from zhixing.paths import ROOT
from zhixing.topics import ALL_TOPICS, Topic, physical_name

__all__ = ["ROOT", "InfraError", "LocalKafka", "LocalRedis", "create_topics", "free_port"]

KAFKA_DEPLOY = ROOT / "deploy" / "local" / "kafka"
KAFKA_LIB = KAFKA_DEPLOY / "lib"
KAFKA_LIB_STAMP = KAFKA_LIB / ".complete"
KAFKA_READY_LINE = "Kafka Server started"


class InfraError(RuntimeError):
    pass


_PORTS_GIVEN: set[int] = set()
BELOW_EPHEMERAL = range(20000, 32768)
"""Ports handed out for a process to bind later. They lie below the kernel's ephemeral range
(32768-60999 by default), which outgoing connections take theirs from: a port picked there
(bind to 0) can be taken by a Kafka client's connection before the service binds it (seen
as "address already in use" once a dozen services start). The services' default ports lie
below it (``zhixing.ports``), so a test run never takes one a ``make run`` needs."""


def free_port() -> int:
    """A port free now on 127.0.0.1, never handed out before by this process."""
    for _ in range(200):
        port = random.choice(BELOW_EPHEMERAL)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    with socket.socket() as sock:  # that range is crowded: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def ensure_kafka_jars() -> Path:
    """Resolve the broker jars with Maven once; later calls return at once."""
    pom = KAFKA_DEPLOY / "pom.xml"
    if KAFKA_LIB_STAMP.exists() and KAFKA_LIB_STAMP.stat().st_mtime >= pom.stat().st_mtime:
        return KAFKA_LIB
    if shutil.which("mvn") is None:
        raise InfraError("Maven (mvn) is needed to fetch the Kafka jars; install it first")
    shutil.rmtree(KAFKA_LIB, ignore_errors=True)
    subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={KAFKA_LIB}", "-DincludeScope=runtime",
        ],
        check=True,
    )  # fmt: skip
    KAFKA_LIB_STAMP.touch()
    return KAFKA_LIB


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise InfraError(
            "redis-server is not installed; `make setup` installs it (apt-get install redis-server)"
        )
    return binary


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class LocalKafka:
    """A single-node KRaft broker (broker and controller in one JVM)."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "768m"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    def _write_config(self) -> Path:
        config = self.data_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir / 'logs'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    # Events are the log of record: keep them (a court deletes nothing).
                    "log.retention.hours=-1",
                    "",
                ]
            )
        )
        return config

    def start(self, timeout: float = 90.0) -> None:
        if port_open(self.port):
            raise InfraError(f"port {self.port} is already taken; is another Kafka running?")
        lib = ensure_kafka_jars()
        java = shutil.which("java")
        if java is None:
            raise InfraError("Java 17+ is needed to run the Kafka broker")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        classpath = f"{lib}/*"
        log_config = f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}"
        if not (self.data_dir / "logs" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            subprocess.run(
                [java, log_config, "-cp", classpath, "kafka.tools.StorageTool", "format",
                 # "=": a random id may begin with "-" and would read as an option.
                 f"--cluster-id={cluster_id}", "-c", str(config)],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [java, f"-Xmx{self.heap}", "-Xms256m", "-XX:+UseG1GC", log_config,
                 "-cp", classpath, "kafka.Kafka", str(config)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InfraError(
                    f"Kafka exited with {self.process.returncode}; see {self.log_file}"
                )
            with self.log_file.open("rb") as log:
                log.seek(offset)
                if KAFKA_READY_LINE.encode() in log.read() and port_open(self.port):
                    return
            time.sleep(0.25)
        self.stop()
        raise InfraError(f"Kafka did not start within {timeout:.0f} s; see {self.log_file}")

    def stop(self) -> None:
        if self.process is not None:
            _terminate(self.process, timeout=30)
            self.process = None


@dataclass
class LocalRedis:
    data_dir: Path
    port: int = 6379
    append_only: bool = True
    # "always": a write is on disk before Redis answers it, so an acknowledged filing
    # survives a power loss, not just a crash (issue 13; its cost is in `make bench`,
    # intake_api_*_ms_fsync_*). "everysec" may lose the last second.
    appendfsync: str = "always"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        if port_open(self.port):
            raise InfraError(f"port {self.port} is already taken; is another Redis running?")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.data_dir), "--appendonly", "yes" if self.append_only else "no",
             "--appendfsync", self.appendfsync,
             "--save", "", "--logfile", str(self.data_dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InfraError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
            if port_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise InfraError(f"redis-server did not start within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None:
            _terminate(self.process, timeout=15)
            self.process = None


async def create_topics(
    bootstrap_servers: str,
    prefix: str = "",
    topics: tuple[Topic, ...] = ALL_TOPICS,
    *,
    give_up_after_s: float = 60.0,
) -> list[str]:
    """Create every topic and its dead-letter twin; existing topics are left as they are."""
    wanted = []
    for topic in topics:
        wanted.append(NewTopic(physical_name(topic.name, prefix), topic.partitions, 1))
        wanted.append(NewTopic(physical_name(topic.dead_letter_name, prefix), 1, 1))
    deadline = time.monotonic() + give_up_after_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
            # Creation is asynchronous: a consumer that joins before every partition has a
            # leader is assigned nothing until its next metadata refresh (minutes).
            names = [t.name for t in wanted]
            while not _all_led(await admin.describe_topics(names), len(names)):
                if time.monotonic() > deadline:
                    raise InfraError(f"topics have no leaders after {give_up_after_s:.0f} s")
                await asyncio.sleep(0.1)
            return names
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


def _all_led(descriptions: list[dict[str, object]], expected: int) -> bool:
    if len(descriptions) != expected:
        return False
    for topic in descriptions:
        partitions = topic.get("partitions")
        if topic.get("error_code") or not isinstance(partitions, list) or not partitions:
            return False
        if any(p.get("leader", -1) < 0 for p in partitions):
            return False
    return True


@contextlib.contextmanager
def throwaway_infrastructure(prefix: str) -> Iterator[tuple[str, str]]:
    """A Kafka and a Redis of their own in a temporary folder, for a simulation or a
    benchmark: (bootstrap servers, Redis URL); both stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        redis = LocalRedis(Path(tmp) / "redis", port=free_port(), append_only=False)
        kafka = LocalKafka(Path(tmp) / "kafka", port=free_port(), controller_port=free_port())
        redis.start()
        try:
            kafka.start()
            try:
                yield kafka.bootstrap_servers, redis.url
            finally:
                kafka.stop()
        finally:
            redis.stop()


def kill_recorded(pid_file: Path) -> None:
    """Stop a process left behind by an earlier run that died (its pid was recorded)."""
    if not pid_file.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
        os.killpg(int(pid_file.read_text().strip()), signal.SIGTERM)
    pid_file.unlink(missing_ok=True)
