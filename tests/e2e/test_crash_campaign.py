"""The crash campaign (issue 13): under a steady load of filings, each service, the agency
gateway, the notary, the Kafka broker and Redis is killed with SIGKILL in turn at a random
moment and started again. Once the platform has settled:

- every filing acknowledged to the client (201, or 200 for its replay) exists exactly once:
  one CaseFiled in the log, one case in the command centre's projections;
- every projection, rebuilt by replaying every topic from offset zero into an empty Redis
  (new key prefix, no outbox relay, no timers), equals the one that lived through the kills:
  all of the command service's, entrustment's and the notary's keys, and the pure
  projections of services that also keep records of their own (the dispute coordinator's
  known cases; the stop orders of intake, funds and asset control; supervision's case
  facts, ``CaseFacts``);
- the audit chain verifies (links, the notary's signed checkpoint, the Kafka log).

Beside the filings, disputes over acknowledged cases are opened while the kills go on and
every other one has its stop lifted, so the stop-order projections hold stops in force and
lifted.

Not replayed, and why: the rest of the dispute coordinator's, intake's, funds', asset
control's, supervision's, credit's, notification's and the deadline engine's keys are their
own records (written by their APIs, e.g. a dispute and its parties' index, or by reactions
that call outside systems, read the clock or write events), so a replay into an empty Redis
cannot rebuild them; the deadline engine's clocks follow the live service's timers
(``NOT_COMPARED``).

The counts are written to ``test-artifacts/crash-campaign.json``. ``make test`` runs one
round (``ZHIXING_CRASH_ROUNDS``, ``ZHIXING_CRASH_RATE``); ``make bench`` runs three.
The campaign has a Kafka and a Redis of its own: killing the session's would end every
other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from services.asset_control.bootstrap import bootstrap as assets_bootstrap
from services.audit_notary.bootstrap import bootstrap as notary_bootstrap
from services.command.bootstrap import bootstrap as command_bootstrap
from services.dispute_coordinator.bootstrap import bootstrap as disputes_bootstrap
from services.entrustment.bootstrap import bootstrap as entrustment_bootstrap
from services.funds.bootstrap import bootstrap as funds_bootstrap
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.supervision.bootstrap import bootstrap as supervision_bootstrap
from tests.conftest import (
    AUDIT_PUBLIC_KEY,
    TEST_FETCH_MAX_WAIT_MS,
    TEST_SECRET,
    TEST_SERVICE_SECRET,
)
from tests.factories import filing
from tests.polling import eventually
from tools.demo import credit_code
from tools.devinfra import ROOT, LocalKafka, LocalRedis, create_topics, free_port
from tools.localrun import SERVICES
from zhixing.anchor import load_public_key
from zhixing.audit_check import read_topics, verify
from zhixing.auth import Role, TokenAuthority
from zhixing.builder import Infrastructure
from zhixing.clock import SystemClock
from zhixing.event_types import CASE_FILED
from zhixing.events import decode_event
from zhixing.service import ServiceHost
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings, ServiceSettings
from zhixing.state import KeySpace, as_text
from zhixing.stops import StopOrders
from zhixing.topics import AUDIT_RECORDS, CASE_EVENTS
from zhixing.v1.audit_events_pb2 import AuditRecordsAppended

pytestmark = pytest.mark.e2e

ROUNDS = int(os.environ.get("ZHIXING_CRASH_ROUNDS", "1"))
RATE_PER_S = float(os.environ.get("ZHIXING_CRASH_RATE", "4"))
SEED = int(os.environ.get("ZHIXING_CRASH_SEED", "13"))
ARTIFACT = ROOT / "test-artifacts" / "crash-campaign.json"
AUTH = AuthSettings(secret=TEST_SECRET, service_secret=TEST_SERVICE_SECRET, env="test")

# Keys whose content depends on timing or order, not only on the events: left out of the
# comparison, each for its reason.
NOT_COMPARED = (
    ":consumer:",  # offsets and applied ids: positions, not state
    ":outbox",  # events staged for Kafka by the live services
    ":audit:",  # the chain's order follows the batches; checked by `verify` instead
    ":deadline",  # the engine's timers fire on the clock of the live service
    ":clock:",  # (idem: fired timers)
    ":early-stop",  # (idem)
    ":checkpoint:",  # signed at wall-clock moments
)
REPLAYED = ("command", "entrustment", "audit_notary")
"""Services all of whose keys (but ``NOT_COMPARED``) are projections of the topics."""
PARTLY_REPLAYED: dict[str, tuple[str, ...]] = {
    "dispute_coordinator": ("known-case:",),
    "intake": ("stops:",),
    "funds": ("stops:",),
    "asset_control": ("stops:",),
    "supervision": ("case:", "case-number:", "subject-case:"),
}
"""Services that keep records of their own beside pure projections: the keys of those
projections (zhixing.known_cases, zhixing.stops, supervision's ``CaseFacts``), the only
ones compared. (The dispute coordinator's disputes are its API's records: before the
campaign opened disputes, comparing all its keys compared only its known cases.)"""
COMPARED = (*REPLAYED, *PARTLY_REPLAYED)
COURT, OTHER_COURT, SUPERIOR = "苏1283", "苏1282", "苏12"


@dataclass
class Campaign:
    kafka: LocalKafka
    redis: LocalRedis
    env: dict[str, str]
    http: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    log_dir: Path = ROOT

    def spawn(self, name: str) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self, name: str) -> None:
        self.kills[name] = self.kills.get(name, 0) + 1
        if name in ("kafka", "redis"):
            infra = self.kafka if name == "kafka" else self.redis
            assert infra.process is not None
            infra.process.kill()
            infra.process.wait()
            infra.process = None
            return
        process = self.processes[name]
        process.kill()
        process.wait()

    def restart(self, name: str) -> None:
        if name == "kafka":
            self.kafka.start()
        elif name == "redis":
            self.redis.start()
        else:
            self.spawn(name)

    def stop_services(self, keep: tuple[str, ...] = ()) -> None:
        """SIGTERM to every service but ``keep``; those that do not stop in 30 s are killed."""
        stopping = [p for name, p in self.processes.items() if name not in keep]
        for process in stopping:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in stopping:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def campaign(tmp_path: Path) -> AsyncIterator[Campaign]:
    kafka = LocalKafka(tmp_path / "kafka", port=free_port(), controller_port=free_port(),
                       heap="512m")  # fmt: skip
    store = LocalRedis(tmp_path / "redis", port=free_port(), append_only=True,
                       appendfsync="always")  # fmt: skip
    store.start()
    kafka.start()
    await create_topics(kafka.bootstrap_servers)
    env = {
        **os.environ,
        "ZHIXING_ENV": "test",
        "ZHIXING_LOG_LEVEL": "WARNING",
        "ZHIXING_AUTH_SECRET": TEST_SECRET,
        "ZHIXING_AUTH_SERVICE_SECRET": TEST_SERVICE_SECRET,
        "ZHIXING_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ZHIXING_KAFKA_CONSUMER_FETCH_MAX_WAIT_MS": str(TEST_FETCH_MAX_WAIT_MS),
        "ZHIXING_REDIS_URL": store.url,
        "ZHIXING_AGENCY_GATEWAY_LATENCY_MS": "200",
        "ZHIXING_AGENCY_GATEWAY_JOURNAL": str(tmp_path / "gateway.jsonl"),
        "ZHIXING_AGENCY_FEEDBACK_TIMEOUT_S": "20",
        "ZHIXING_AGENCY_BACKOFF_BASE_S": "1",
        "ZHIXING_AUDIT_CHECKPOINT_INTERVAL_S": "2",
    }
    http = {}
    for spec in SERVICES:
        env[f"{spec.env_prefix}GRPC_PORT"] = str(free_port())
        if spec.http_port is not None:
            port = free_port()
            env[f"{spec.env_prefix}HTTP_PORT"] = str(port)
            http[spec.name] = f"http://127.0.0.1:{port}"
    env["ZHIXING_AGENCY_TARGET"] = f"127.0.0.1:{env['ZHIXING_AGENCY_GATEWAY_GRPC_PORT']}"
    env["ZHIXING_FUNDS_TRANSFER_TARGET"] = env["ZHIXING_AGENCY_TARGET"]  # its deductions
    running = Campaign(kafka, store, env, http, log_dir=tmp_path)
    try:
        for spec in SERVICES:
            running.spawn(spec.name)
        await all_healthy(running)
        yield running
    finally:
        running.stop_services()
        kafka.stop()
        store.stop()


async def all_healthy(running: Campaign, within_s: float = 120) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for url in running.http.values():

            async def healthy(url: str = url) -> bool:
                try:
                    return (await client.get(f"{url}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(healthy, within_s=within_s)


@dataclass
class Load:
    """Files cases at a steady rate; each filing is retried under its idempotency key until
    it is acknowledged, as a court clerk's client would."""

    url: str
    token: str
    acknowledged: dict[str, str] = field(default_factory=dict)  # key → case id
    attempts: int = 0
    refusals: dict[int, int] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def file(self, client: httpx.AsyncClient, n: int) -> None:
        key = f"crash-{SEED}-{n}"
        body = filing(debtors=[{"kind": "organisation", "name": f"公司{n}",
                                "id_number": credit_code(7000 + n)}])  # fmt: skip
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            self.attempts += 1
            try:
                answer = await client.post(f"{self.url}/v1/cases", json=body, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if answer.status_code in (200, 201):
                self.acknowledged[key] = answer.json()["case_id"]
                return
            self.refusals[answer.status_code] = self.refusals.get(answer.status_code, 0) + 1
            assert answer.status_code in (503,), f"filing {key}: {answer.status_code} {answer.text}"
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")) / 5)
        raise AssertionError(f"filing {key} was never acknowledged")

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            tasks, n, start = [], 0, time.monotonic()
            while not self.stop.is_set():
                tasks.append(asyncio.create_task(self.file(client, n)))
                n += 1
                await asyncio.sleep(max(0.0, start + n / RATE_PER_S - time.monotonic()))
            await asyncio.gather(*tasks)


@dataclass
class Disputes:
    """While the filings go on, opens a dispute over an acknowledged case every few seconds
    (conflicting instruments: both courts are stopped at once) and has the common superior
    lift 苏1283's stop of every other one. A request is retried until it is answered (a
    retry after a lost answer may open a second dispute: the replay sees it too)."""

    url: str
    coordinator: dict[str, str]
    superior: dict[str, str]
    opened: list[str] = field(default_factory=list)
    lifted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, client: httpx.AsyncClient, path: str, headers: dict[str, str],
                   body: dict[str, Any] | None = None) -> httpx.Response | None:  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                answer = await client.post(f"{self.url}{path}", json=body or {}, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            # 422: the case has not reached the coordinator yet; 503: its Redis is down.
            if answer.status_code in (422, 503) or answer.status_code >= 500:
                self.refused.append(f"{answer.status_code} {answer.text[:200]}")
                await asyncio.sleep(0.5)
                continue
            return answer
        return None

    async def run(self, load: Load) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                await asyncio.sleep(3)
                cases = list(load.acknowledged.values())
                if len(cases) <= n:
                    continue
                number = f"{SEED}{n:03d}"
                opened = await self.send(client, "/v1/disputes", self.coordinator, {
                    "courts": [COURT, OTHER_COURT], "subject": f"查封顺位 {number}",
                    "asset_key": f"real_estate:泰房权证-{number}", "case_ids": [cases[n]],
                    "conflicting_instruments": [
                        {"court_code": COURT, "document_number": f"（2026）苏1283执{number}号"},
                        {"court_code": OTHER_COURT,
                         "document_number": f"（2026）苏1282执{number}号"},
                    ],
                })  # fmt: skip
                n += 1
                if opened is None:
                    continue
                assert opened.status_code in (201, 409), opened.text
                if opened.status_code == 409:  # the case is in a dispute already (a retry)
                    continue
                dispute_id = opened.json()["dispute_id"]
                self.opened.append(dispute_id)
                if len(self.opened) % 2:
                    continue
                lift = f"/v1/disputes/{dispute_id}/stops/{COURT}/lift"
                lifted = await self.send(client, lift, self.superior)
                if lifted is not None:
                    assert lifted.status_code in (200, 409), lifted.text  # 409: lifted before
                    self.lifted.append(dispute_id)


async def settled(campaign: Campaign, load: Load, command: dict[str, str]) -> None:
    """Every acknowledged case reached every service; the audit chain stopped growing."""
    redis = aioredis.Redis.from_url(campaign.redis.url)
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def everywhere() -> bool:
                for case_id in load.acknowledged.values():
                    for name in ("command", "entrustment", "dispute_coordinator"):
                        url = f"{campaign.http[name]}/v1/cases/{case_id}"
                        if (await client.get(url, headers=command)).status_code != 200:
                            return False
                return True

            await eventually(everywhere, within_s=240)

            # Every channel's query and every control ended, one way or the other (answered,
            # or reported failing once its tries ran out while the gateway was down): none
            # left waiting on a request that a killed process had in flight.
            waiting: dict[str, Any] = {}

            async def asset_work_ended() -> bool:
                for case_id in load.acknowledged.values():
                    url = f"{campaign.http['asset_control']}/v1/cases/{case_id}/assets"
                    view = (await client.get(url, headers=command)).json()
                    pending = [a for a in view["assets"] if a["status"] == "control_pending"]
                    units = view["query"]["units"]
                    if any(u["status"] not in ("answered", "failed") for u in units) or pending:
                        waiting.clear()
                        waiting.update(case_id=case_id, view=view)
                        return False
                return True

            try:
                await eventually(asset_work_ended, within_s=240)
            except TimeoutError:
                raise AssertionError(f"asset work never ended: {json.dumps(waiting)}") from None
        last, quiet = -1, 0
        while quiet < 3:
            await asyncio.sleep(1)
            length = int(await redis.llen("command:audit:records"))
            quiet, last = (quiet + 1 if length == last else 0), length

        # The partly replayed projections stopped changing (a service restarted late may
        # still be catching up after the chain went quiet); at most a minute: a projection
        # still changing then shows in the comparison.
        before: dict[str, Any] = {}
        quiet, deadline = 0, time.monotonic() + 60
        while quiet < 2 and time.monotonic() < deadline:
            await asyncio.sleep(1)
            now = {s: await digest(redis, "", s) for s in PARTLY_REPLAYED}
            quiet, before = (quiet + 1 if now == before else 0), now
    finally:
        await redis.aclose()


async def stop_with_the_notary_last(
    campaign: Campaign, redis: aioredis.Redis, kafka: KafkaSettings
) -> None:
    """Stop every service, the notary once it has followed every audit record published.

    Stopped together, the command service's relay may publish its last records as it stops
    (or a late act may add some), which the notary, stopping too, would never read while its
    replay does; the chain's length in Redis is no measure either (records not yet published
    when the command service stopped reach neither)."""
    campaign.stop_services(keep=("audit_notary",))
    published = 0
    for raw in await read_topics(kafka, [AUDIT_RECORDS]):
        appended = decode_event(raw).payload
        if isinstance(appended, AuditRecordsAppended) and appended.chain == "command":
            published = max(published, appended.first_seq + len(appended.records))
    followed = 0

    async def notary_followed() -> bool:
        nonlocal followed
        followed = int(await redis.hget("audit_notary:state:command", "size") or 0)
        return followed >= published

    try:
        await eventually(notary_followed, within_s=240)
    except TimeoutError:
        alarm = await redis.hget("audit_notary:state:command", "alarm")
        raise AssertionError(
            f"the notary followed {followed} of {published} published audit records "
            f"(alarm: {alarm!r})"
        ) from None
    finally:
        campaign.stop_services()


async def digest(redis: aioredis.Redis, prefix: str, service: str) -> dict[str, Any]:
    """The projection's keys of ``service`` and their values, order-free where the order
    follows the consumption (lists are compared as sorted)."""
    found: dict[str, Any] = {}
    base = f"{prefix}{service}:"
    only = PARTLY_REPLAYED.get(service)
    async for raw_key in redis.scan_iter(match=f"{base}*", count=1000):
        key = as_text(raw_key)
        if any(part in key for part in NOT_COMPARED):
            continue
        if only is not None and not key.removeprefix(base).startswith(only):
            continue
        kind = as_text(await redis.type(key))
        value: Any
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = dict(sorted((await redis.hgetall(key)).items()))
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "zset":
            value = sorted(await redis.zrange(key, 0, -1, withscores=True))
        elif kind == "list":
            value = sorted(await redis.lrange(key, 0, -1))
        else:
            value = kind
        found[key.removeprefix(base)] = value
    return found


async def replayed(campaign: Campaign, prefix: str) -> list[ServiceHost]:
    """The projecting services again, in this process, reading every topic from zero into
    keys under ``prefix``: no outbox relay, no timers, no checkpoints (they would publish).
    Of the services in ``PARTLY_REPLAYED`` only the compared projections matter: the
    dispute coordinator runs whole (its API writes nothing here), the stop orders get a
    consumer of their own (asset control's share one with projections that queue work),
    supervision keeps its ``<service>.projections`` consumer (it feeds nothing else); their
    reactions, workers and relays do not run."""
    kafka = KafkaSettings(bootstrap_servers=campaign.kafka.bootstrap_servers,
                          consumer_fetch_max_wait_ms=TEST_FETCH_MAX_WAIT_MS)  # fmt: skip
    infra = Infrastructure(
        kafka=kafka, redis=RedisSettings(url=campaign.redis.url, key_prefix=prefix),
        auth=AUTH, ports=ServiceSettings(http_port=0, grpc_port=0),
    )  # fmt: skip
    builders: list[Callable[..., ServiceHost]] = [
        command_bootstrap,
        entrustment_bootstrap,
        disputes_bootstrap,
        notary_bootstrap,
    ]
    hosts = [build(infra) for build in builders]
    for build in (intake_bootstrap, funds_bootstrap, assets_bootstrap):
        host = build(infra)
        host.consumers = [host.ctx.consumer_of(StopOrders(host.ctx.redis, host.ctx.keys)
                                               .projection())]  # fmt: skip
        hosts.append(host)
    supervision = supervision_bootstrap(infra)
    supervision.consumers = [c for c in supervision.consumers
                             if c.group == "supervision.projections"]  # fmt: skip
    assert [c.projections for c in supervision.consumers] == [["supervision.cases"]]
    hosts.append(supervision)
    for host in hosts:
        host.background = []
        await host.start()
    return hosts


async def caught_up(hosts: list[ServiceHost]) -> None:
    async def no_lag() -> bool:
        lags = [await c.lag() for host in hosts for c in host.consumers]
        return all(lag == 0 for lag in lags)

    await eventually(no_lag, within_s=180)


async def test_kill_nine_anything_and_nothing_acknowledged_is_lost_or_doubled(
    campaign: Campaign,
) -> None:
    rng = random.Random(SEED)
    tokens = TokenAuthority(AUTH, SystemClock())
    clerk = tokens.issue(subject="crash-clerk", court_code="苏1283", role=Role.CLERK)
    commander = tokens.issue(subject="crash-command", court_code=SUPERIOR, role=Role.COMMAND)
    command = {"Authorization": f"Bearer {commander}"}
    coordinator = tokens.issue(subject="crash-coordinator", court_code=COURT,
                               role=Role.COORDINATOR)  # fmt: skip
    load = Load(f"{campaign.http['intake']}", clerk)
    disputes = Disputes(campaign.http["dispute_coordinator"],
                        {"Authorization": f"Bearer {coordinator}"}, command)  # fmt: skip
    loading = asyncio.create_task(load.run())
    disputing = asyncio.create_task(disputes.run(load))
    targets = [spec.name for spec in SERVICES] + ["kafka", "redis"]
    started = time.monotonic()
    try:
        for _ in range(ROUNDS):
            for target in rng.sample(targets, len(targets)):
                await asyncio.sleep(rng.uniform(0.5, 2.5))
                await asyncio.to_thread(campaign.kill, target)
                await asyncio.sleep(rng.uniform(0.2, 1.5))
                await asyncio.to_thread(campaign.restart, target)
        await all_healthy(campaign)
        await asyncio.sleep(2)
    finally:
        load.stop.set()
        disputes.stop.set()
        await loading
        await disputing
    assert disputes.opened and disputes.lifted, f"no dispute or lift: {disputes.refused[-3:]}"
    await settled(campaign, load, command)
    settle_s = time.monotonic() - started

    # Exactly once: one CaseFiled per acknowledged filing. The outbox publishes at least
    # once (a relay killed between sending and deleting sends again), so the log may hold
    # the same event twice; consumers apply an event id once. What must never happen is a
    # second event (another id) for one case, a case nobody acknowledged, or one missing.
    kafka = KafkaSettings(bootstrap_servers=campaign.kafka.bootstrap_servers)
    filed = [decode_event(v) for v in await read_topics(kafka, [CASE_EVENTS])]
    events_of: dict[str, set[str]] = {}
    for event in filed:
        if event.event_type == CASE_FILED.name:
            events_of.setdefault(event.aggregate_id, set()).add(event.event_id)
    published = sum(1 for e in filed if e.event_type == CASE_FILED.name)
    acknowledged = set(load.acknowledged.values())
    assert set(events_of) - acknowledged == set(), "cases filed that nobody acknowledged"
    assert acknowledged - set(events_of) == set(), "acknowledged filings lost"
    doubled = {case: ids for case, ids in events_of.items() if len(ids) > 1}
    assert not doubled, f"cases filed twice: {doubled}"

    # The audit chain verifies against its links, the signed checkpoint and the log.
    redis = aioredis.Redis.from_url(campaign.redis.url)
    try:
        report = await verify(redis, KeySpace("", "command"), kafka,
                              load_public_key(AUDIT_PUBLIC_KEY))  # fmt: skip
        assert report.ok, report.failures
        await stop_with_the_notary_last(campaign, redis, kafka)
        live = {s: await digest(redis, "", s) for s in COMPARED}
        hosts = await replayed(campaign, "replay.")
        try:
            await caught_up(hosts)
            rebuilt = {s: await digest(redis, "replay.", s) for s in COMPARED}
        finally:
            for host in hosts:
                with contextlib.suppress(Exception):
                    await host.stop()
        figures = await redis.hget("command:figures:苏1283", "filed")
    finally:
        await redis.aclose()

    differences = {
        service: sorted(k for k in set(live[service]) | set(rebuilt[service])
                        if live[service].get(k) != rebuilt[service].get(k))[:20]
        for service in COMPARED
    }  # fmt: skip
    counts = {
        "rounds": ROUNDS, "seed": SEED, "kills": campaign.kills,
        "filings_acknowledged": len(acknowledged), "filing_attempts": load.attempts,
        "refusals_while_down": load.refusals, "case_filed_events": len(events_of),
        "case_filed_published_again": published - len(events_of),
        "disputes_opened": len(disputes.opened), "stops_lifted": len(disputes.lifted),
        "audit_records": report.records, "projection_keys_compared": {
            s: len(live[s]) for s in COMPARED}, "differences": differences,
        "seconds_to_settle": round(settle_s, 1),
    }  # fmt: skip
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(counts, ensure_ascii=False, indent=2))
    print(json.dumps(counts, ensure_ascii=False))
    assert figures is not None and int(figures) == len(acknowledged), "filed counted once each"
    assert all(not keys for keys in differences.values()), differences
    assert all(live[s] for s in COMPARED), "every replayed projection holds something"
    lifted = [k for k, v in live["intake"].items() if k.startswith("stops:order:")
              and isinstance(v, dict) and v.get(b"lifted") == b"1"]  # fmt: skip
    assert len(lifted) == len(set(disputes.lifted)), "the lifted stops are among those compared"
