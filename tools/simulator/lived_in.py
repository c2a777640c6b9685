"""The lived-in demo (``make run``): 苏12 as its command centre finds it after a season of
work, loaded once into ``make run``'s own Kafka and Redis.

Before the services start as processes, every service runs in this process on a simulated
clock, under the same topic and key prefixes and the same consumer groups, and the
simulator plays the jurisdiction's months through their public APIs up to the present; the
command centre urges (督办) cases whose clocks breached and the courts answer most of
them. Then the clock is set to the wall clock's now, the platform settles (every consumer
caught up, every outbox relayed, no timer due) and stops; the real services start from
those offsets and that state, and the deadline engine's clocks still open fire on the wall
clock when they fall due.

A marker in Redis (``<key prefix>demo:lived-in``) says the history was loaded, so a second
``make run`` on the same data loads nothing; an interrupted load is left as it is (said so,
not replayed over a half history).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.command.domain import Action
from services.notification.settings import NotificationSettings
from tools.devinfra import create_topics
from tools.progress import Work
from tools.simulator.platform import SimPlatform, in_process_platform
from tools.simulator.run import FundsUnbalanced, Report, Simulation
from tools.simulator.workload import Workload, WorkloadSettings
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.rules import catalogue
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

# The reply the demo's command centre asks for: a week, within what command.urge-reply allows.
REPLY_DAYS = min(5, int(catalogue().rule("command.urge-reply").limit or 5))

__all__ = ["MARKER", "DemoSize", "LivedIn", "demo_workload", "load_lived_in", "marker"]

MARKER = "demo:lived-in"
JURISDICTION = "苏12"


class DemoSize(BaseSettings):
    """How much history (``ZHIXING_DEMO_*``): ``days`` up to the present (105: 终本 needs
    three months since filing, so the cases of the first weeks can end this round),
    ``cases_per_court_per_year`` in each basic court of 苏12 (``courts``: how many of them, 0
    for all six; 300 a year is about 1.2 filings a working day per court, some 500 cases).
    A test makes it smaller."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_DEMO_", extra="ignore", frozen=True)

    days: int = Field(105, ge=1, le=366, description="Days of history up to the present")
    cases_per_court_per_year: int = Field(300, ge=0, description="Filings per basic court")
    courts: int = Field(0, ge=0, description="Basic courts of 苏12 taking cases (0: all)")
    urges_per_round: int = Field(3, ge=0, description="督办 each Monday and Thursday")


def demo_workload(now: dt.datetime, size: DemoSize) -> WorkloadSettings:
    """The workload of the demo's months: its last day the last whose 09:00 (China) has
    passed at ``now``, so the history never runs ahead of the wall clock. Busier than the
    simulator's defaults: more closures (终本 among them), money and disputes, and some
    officers late with the execution notice, so the board has warnings and breaches."""
    local = now.astimezone(CHINA_TZ)
    last = local.date()
    if local.time() < dt.time(9, 0):
        last -= dt.timedelta(days=1)
    return WorkloadSettings(
        intermediate_court=JURISDICTION, courts=size.courts,
        cases_per_court_per_year=size.cases_per_court_per_year,
        start=last - dt.timedelta(days=size.days - 1), days=size.days,
        entrustment_share=0.08, dispute_share=0.04, closure_share=0.85, closure_days_mean=45,
        payment_share=0.3, deduction_share=0.2, sale_share=0.08, hold_share=0.15,
        late_notice_share=0.15, auction_days=20, listing_share=0.4, resumption_share=0.2,
        restriction_share=0.3, late_notice_case_share=0.15, zhongben_closure_share=0.7,
    )  # fmt: skip


@dataclass
class _Urge:
    command_id: str
    court: str


class LivedIn(Simulation):
    """The simulator's days up to ``wall()`` (the wall clock), with the command centre at
    work: on Mondays and Thursdays it urges (督办) cases whose clocks breached, the court
    signs for each the next day and answers most within a week; the rest stay pending."""

    def __init__(
        self, platform: SimPlatform, tokens: TokenAuthority, workload: Workload,
        wall: Callable[[], dt.datetime], urges_per_round: int = 3,
    ) -> None:  # fmt: skip
        super().__init__(platform, tokens, workload)
        # One settling a day, in the evening: the acts go in while the night's timers
        # (warnings, breaches) are still being applied, which none of them depends on; half
        # the waiting of a simulated day. The morning settles too when a call to the
        # outside systems is due or its answer waiting (``outside_work_due``): pricing a
        # seized asset depends on its control's answer.
        self.settle_mornings = False
        self.wall = wall
        self.urges_per_round = urges_per_round
        self._urged: set[str] = set()
        self._answers: dict[dt.date, list[tuple[str, _Urge]]] = {}

    def evening(self, day: dt.date) -> dt.datetime:
        return min(super().evening(day), self.wall())

    async def run_day(self, day: dt.date) -> None:
        """A day with nothing to do is passed over: the clock moves on with the next day's,
        and the timers of this one fire then, each at its own instant, in order."""
        if (self._later.get(day) or self._answers.get(day) or self._urge_day(day)
                or self.workload.filings_on(day)):  # fmt: skip
            await super().run_day(day)
        else:
            self.report.days += 1

    @staticmethod
    def _urge_day(day: dt.date) -> bool:
        return day.weekday() in (0, 3)  # Monday, Thursday

    async def finish(self) -> None:
        """Move the clock to the present and let the platform settle there."""
        self._waiting("the platform to settle at the present")
        await self.platform.set_time(max(self.wall(), self.platform.clock.now()))
        await self.settle()

    async def after_acts(self, day: dt.date) -> None:
        for kind, urge in self._answers.pop(day, []):
            await self._answer(kind, urge)
        if self._urge_day(day):
            await self._urge_breached(day)

    async def _urge_breached(self, day: dt.date) -> None:
        court = self.workload.settings.intermediate_court
        assert self.platform.command is not None
        alerts = await self._get(self.platform.command, "/v1/board/alerts", Role.COMMAND, court,
                                 params={"state": "breached", "limit": "200"})  # fmt: skip
        rng = random.Random(f"{self.workload.settings.seed}:urge:{day.isoformat()}")
        issued = 0
        for alert in alerts["alerts"]:
            case_id = alert.get("case_id")
            if issued >= self.urges_per_round:
                break
            if not case_id or case_id in self._urged or alert["court_code"] == court:
                continue
            self._urged.add(case_id)
            command = await self._post("urge", self.platform.command, "/v1/commands",
                                       Role.COMMAND, court, {
                "action": Action.URGE.value, "case_id": case_id, "reply_working_days": REPLY_DAYS,
                "instruction": f"该案“{alert['title']}”已超期，"
                               f"请于{REPLY_DAYS}个工作日内报告办理情况并依法推进。",
            })  # fmt: skip
            if command is None:
                continue
            issued += 1
            urge = _Urge(command["command_id"], command["target_court"])
            self._answers.setdefault(day + dt.timedelta(days=1), []).append(("acknowledge", urge))
            if rng.random() < 0.75:  # most courts answer within the week; some do not
                answer_on = day + dt.timedelta(days=rng.randint(2, 6))
                self._answers.setdefault(answer_on, []).append(("reply", urge))

    async def _answer(self, kind: str, urge: _Urge) -> None:
        assert self.platform.command is not None
        path = f"/v1/commands/{urge.command_id}"
        if kind == "acknowledge":
            await self._post("urge-acknowledge", self.platform.command, f"{path}/acknowledgement",
                             Role.LEADER, urge.court)  # fmt: skip
        else:
            reply = "已督促承办人依法送达并推进执行，相关节点已补正，今后严格按期办理。"
            await self._post("urge-reply", self.platform.command, f"{path}/reply", Role.LEADER,
                             urge.court, {"text": reply})  # fmt: skip


@dataclass
class Loaded:
    """What a load did: ``state`` is ``loaded`` (now), ``present`` (an earlier run loaded
    it), or ``interrupted`` (an earlier load did not finish)."""

    state: str
    record: dict[str, Any] = field(default_factory=dict)
    report: Report | None = None


def marker(redis_settings: RedisSettings) -> str:
    return f"{redis_settings.key_prefix}{MARKER}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def load_lived_in(
    kafka: KafkaSettings, redis: RedisSettings, *, size: DemoSize | None = None,
    work: Work | None = None, wall: Callable[[], dt.datetime] = _now,
    gateway_journal: Path | None = None,
) -> Loaded:  # fmt: skip
    """Load the demo's history into this Kafka and Redis, once (see the module), under
    ``kafka``'s topic prefix and ``redis``' key prefix: those the services that start next
    read. ``wall`` is the present the history ends at (the wall clock)."""
    size = size or DemoSize()
    work = work or Work()
    redis_settings = redis
    # Quiet simulated days: a fetch is answered as soon as a record is there (long polls
    # that wait half a second only when there is none: few requests while idle), and a
    # batch waits 20 ms, not 200, for more.
    kafka = kafka.model_copy(
        update={
            "consumer_batch_timeout_ms": 20,
            "consumer_fetch_min_bytes": 1,
            "consumer_fetch_max_wait_ms": 500,
        }
    )
    client = aioredis.Redis.from_url(redis.url)
    key = marker(redis_settings)
    try:
        if (found := await client.get(key)) is not None:
            record = json.loads(found)
            return Loaded("present" if record.get("state") == "loaded" else "interrupted", record)
        # The topics first: a broker not ready yet leaves no marker to stop the next start.
        with work.waiting("Kafka's topics"):
            await create_topics(kafka.bootstrap_servers, kafka.topic_prefix)
        started = {"state": "loading", "started_at": wall().isoformat()}
        if not await client.set(key, json.dumps(started), nx=True):
            record = json.loads(await client.get(key) or b"{}")
            return Loaded("present" if record.get("state") == "loaded" else "interrupted", record)
        settings = demo_workload(wall(), size)
        report = await _play(settings, size, kafka, redis_settings, work, wall, gateway_journal)
        record = {
            "state": "loaded", "started_at": started["started_at"],
            "finished_at": wall().isoformat(), "from": settings.start.isoformat(),
            "to": wall().astimezone(CHINA_TZ).isoformat(), "filed": report.filed,
            "events": report.events, "wall_s": round(report.wall_s, 1),
            "acts": dict(report.acts), "refused": dict(report.refused),
        }  # fmt: skip
        await client.set(key, json.dumps(record, ensure_ascii=False))
        return Loaded("loaded", record, report)
    finally:
        await client.aclose()


async def _play(
    settings: WorkloadSettings, size: DemoSize, kafka: KafkaSettings, redis: RedisSettings,
    work: Work, wall: Callable[[], dt.datetime], gateway_journal: Path | None,
) -> Report:  # fmt: skip
    clock = SimulatedClock(dt.datetime.combine(settings.start, dt.time(8, 0), CHINA_TZ))
    auth = AuthSettings()  # the services' own: they read these tokens' traces, not tokens
    calendar = CalendarSettings()
    workload = Workload(settings, StatutoryCalendar.load(calendar))
    gateway: dict[str, Any] = {"seed": settings.seed}
    if gateway_journal is not None:  # the stand-in's journal, kept for the real gateway
        gateway["journal"] = gateway_journal
    with work.waiting("every service to start in this process (on the demo's clock)"):
        platform_cm = in_process_platform(
            clock, kafka=kafka, redis=redis, auth=auth, calendar=calendar, gateway=gateway,
            with_entrustment=True, with_disputes=True, with_funds=True, with_credit=True,
            with_notification=True, notification=NotificationSettings(poll_interval_s=0.05),
            with_supervision=True,
        )  # fmt: skip
        platform = await platform_cm.__aenter__()
    try:
        simulation = LivedIn(platform, TokenAuthority(auth, clock), workload, wall,
                             size.urges_per_round)  # fmt: skip
        days = simulation.days()
        with work.bar(f"{JURISDICTION}'s months ({days[0]} to {days[-1]})", len(days)) as bar:
            simulation.on_day = lambda day, report: bar.advance(
                note=f"{day} · {report.filed:,} filed"
            )
            simulation.on_wait = bar.waiting
            try:
                return await simulation.run()
            except FundsUnbalanced as exc:  # a demo, not a test: say so, keep what is there
                work.line(f"note: {exc}")
                return exc.report
    finally:
        with work.waiting("the demo's services to stop (their last batches committed)"):
            await platform_cm.__aexit__(None, None, None)
