"""The deadlines service, through Kafka and Redis, on simulated time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.command.bootstrap import bootstrap as command_bootstrap
from services.command.clocks_api import DeadlinesLink
from services.deadlines.bootstrap import bootstrap
from services.deadlines.engine import CLAIM_HOLD, DeadlineEngine
from tests.conftest import Isolated, read_topic
from tests.factories import ACTOR, case_filed_event
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.builder import Infrastructure
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.clock_events import each_payload
from zhixing.events import Event, decode_event, new_event
from zhixing.publisher import EventPublisher
from zhixing.service import ServiceHost
from zhixing.settings import ServiceSettings
from zhixing.topics import DEADLINE_EVENTS
from zhixing.v1 import asset_events_pb2, case_events_pb2
from zhixing.v1 import deadline_events_pb2 as pb
from zhixing.workcalendar import CalendarSettings

pytestmark = pytest.mark.integration

MONDAY_9AM = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
CASE_CLOCKS = {
    "intake.assign-officer",
    "intake.execution-notice",
    "asset.network-query",
    "case.close",
}


def infrastructure(isolated: Isolated, clock: SimulatedClock) -> Infrastructure:
    """The test's topics and keys, the simulated clock, any free port."""
    return Infrastructure(
        clock=clock,
        kafka=isolated.kafka,
        redis=isolated.redis_settings,
        auth=isolated.auth,
        ports=ServiceSettings(http_port=0, grpc_port=0),
    )


def deadlines_host(isolated: Isolated, clock: SimulatedClock, calendar_dir: Path) -> ServiceHost:
    return bootstrap(infrastructure(isolated, clock), calendar=CalendarSettings(dir=calendar_dir))


@dataclass
class CommandCentre:
    """The command service and the deadlines service it reads clocks from, started (the
    deadlines service first, so the command service is told where it answers) and stopped
    together."""

    infra: Infrastructure
    calendar: CalendarSettings
    deadlines: ServiceHost | None = None
    command: ServiceHost | None = None

    @property
    def http_port(self) -> int:
        assert self.command is not None
        return self.command.http_port

    async def start(self) -> None:
        self.deadlines = bootstrap(self.infra, calendar=self.calendar)
        await self.deadlines.start()
        link = DeadlinesLink(url=f"http://127.0.0.1:{self.deadlines.http_port}")
        self.command = command_bootstrap(self.infra, deadlines=link)
        await self.command.start()

    async def stop(self) -> None:
        for host in (self.command, self.deadlines):
            if host is not None:
                await host.stop()


def command_host(isolated: Isolated, clock: SimulatedClock, calendar_dir: Path) -> CommandCentre:
    return CommandCentre(infrastructure(isolated, clock), CalendarSettings(dir=calendar_dir))


def engine_of(host: ServiceHost) -> DeadlineEngine:
    engine: DeadlineEngine = host.http.state.deadlines
    return engine


async def settled(host: ServiceHost | None, clock: SimulatedClock, isolated: Isolated) -> None:
    """Wait until every timer due by now has fired and its events left the outbox (of the
    deadlines service ``host``)."""
    assert host is not None
    engine = engine_of(host)

    async def idle() -> bool:
        earliest = await engine.earliest()
        outbox = await isolated.redis.xlen(host.ctx.outbox.stream)
        return (earliest is None or earliest > clock.now()) and outbox == 0

    await eventually(idle)


async def deadline_events(isolated: Isolated) -> list[tuple[str, Message]]:
    """(event id, payload) of each clock event published, a ClocksOpened giving each
    ClockOpened it carries (with its id)."""
    events = [decode_event(r.value) for r in await read_topic(isolated, DEADLINE_EVENTS.name)]
    return [(event.event_id, payload) for event, payload in each_payload(events)]


async def test_a_filed_case_opens_its_clocks_which_warn_breach_and_escalate_over_a_year(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    try:
        filed = case_filed_event("case-1", clock=clock)
        await publisher.publish(filed)

        async def opened() -> bool:
            return {s.rule_id for s in await engine_of(host).clocks_of("case-1")} == CASE_CLOCKS

        await eventually(opened)
        # A simulated year, a day at a time: every timer fires on its date.
        for _ in range(366):
            clock.advance(dt.timedelta(days=1))
            await settled(host, clock, isolated)
        states = {s.rule_id: s for s in await engine_of(host).clocks_of("case-1")}
    finally:
        await host.stop()

    assert states["asset.network-query"].last_day == dt.date(2026, 3, 9)
    assert states["case.close"].last_day == dt.date(2026, 9, 2)
    assert all(s.breached for s in states.values())
    events = await deadline_events(isolated)
    ids = [event_id for event_id, p in events if not isinstance(p, pb.ClockOpened)]
    ids += {event_id for event_id, p in events if isinstance(p, pb.ClockOpened)}
    assert len(ids) == len(set(ids)), "an event was published twice"
    kinds = Counter((p.clock.rule_id, type(p).__name__) for _, p in events if hasattr(p, "clock"))
    for rule_id in CASE_CLOCKS:
        assert kinds[(rule_id, "ClockOpened")] == 1
        assert kinds[(rule_id, "ClockWarned")] == 2  # 2 working days left, the due day
        assert kinds[(rule_id, "ClockBreached")] == 1
        assert kinds[(rule_id, "ClockEscalated")] == 3  # supervisor, leader, superior
    warned = [
        p
        for _, p in events
        if isinstance(p, pb.ClockWarned) and p.clock.rule_id == "asset.network-query"
    ]
    assert [w.warning for w in warned] == ["working_days_remaining=2", "due_day=True"]


async def test_a_stop_read_before_its_start_clears_the_clock_when_it_opens(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    # Topics are not ordered with each other: the query's completion (asset topic) may be
    # read before the filing (case topic) that opened the query's clock.
    clock = SimulatedClock(MONDAY_9AM)
    host = deadlines_host(isolated, clock, tmp_path)
    engine = engine_of(host)
    await host.start()
    try:
        filed = case_filed_event("case-7", clock=clock)
        completed = new_event(
            asset_events_pb2.NetworkQueryCompleted(case_id="case-7", round=1),
            aggregate_id="case-7", court_code="苏1283", actor=ACTOR, clock=clock,
        )  # fmt: skip
        await publisher.publish(completed)
        kept = engine.store.early_stop_key("asset.network-query", "case-7")

        async def stop_kept() -> bool:
            return bool(await isolated.redis.exists(kept))

        await eventually(stop_kept)
        await publisher.publish(filed)

        async def opened() -> bool:
            return {s.rule_id for s in await engine.clocks_of("case-7")} == CASE_CLOCKS

        await eventually(opened)
        states = {s.rule_id: s for s in await engine.clocks_of("case-7")}
        assert states["asset.network-query"].status == "cleared"
        assert states["case.close"].status == "running"
        assert not await isolated.redis.exists(kept)  # used once
    finally:
        await host.stop()


async def test_overdue_clocks_fire_promptly_after_a_restart(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    await publisher.publish(case_filed_event("case-2", clock=clock))

    async def opened() -> bool:
        return len(await engine_of(host).clocks_of("case-2")) == len(CASE_CLOCKS)

    await eventually(opened)
    await host.stop()

    clock.advance(dt.timedelta(days=20))  # the service was down past several due dates
    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    try:
        await settled(host, clock, isolated)
        states = {s.rule_id: s for s in await engine_of(host).clocks_of("case-2")}
    finally:
        await host.stop()
    assert states["asset.network-query"].breached
    assert not states["case.close"].breached


class Killed(BaseException):
    """Stands for the process dying at that instant: nothing after it runs."""


@pytest.mark.parametrize("dies", ["before recording", "after recording"])
async def test_a_crash_around_firing_gives_exactly_one_warning(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path, dies: str
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    for n in range(20):
        await publisher.publish(case_filed_event(f"case-{n}", clock=clock))

    async def opened() -> bool:
        return await engine_of(host).scheduled() == 20 * len(CASE_CLOCKS)

    await eventually(opened)
    await host.stop()

    # Restart with a crash injected at the point where fired timers are recorded.
    clock.advance(dt.timedelta(days=4, hours=16))  # 03-07 01:00: the first warnings are due
    crashing = deadlines_host(isolated, clock, tmp_path)
    engine = engine_of(crashing)

    async def execute_then_die(pipe: Pipeline) -> None:
        if dies == "after recording":
            await pipe.execute()
        raise Killed

    engine.store.execute = execute_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        await engine.fire_due()
    # What the dead drainer claimed and did not record is due again once its claim has run
    # out: the next replica fires it then.
    if dies == "before recording":
        assert await engine.store.due(clock.now(), 1) == []
    await crashing.ctx.redis.aclose()
    clock.advance(CLAIM_HOLD)

    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    try:
        await settled(host, clock, isolated)
    finally:
        await host.stop()
    warnings = Counter(
        (p.clock.clock_id, p.warning)
        for _, p in await deadline_events(isolated)
        if isinstance(p, pb.ClockWarned)
    )
    # Due by 03-07 01:00: "2 working days remain" of network-query and assign-officer
    # (both due 03-09); execution-notice (due 03-12) warns on 03-11.
    assert {clock_id.split(":")[0] for clock_id, _ in warnings} == {
        "asset.network-query",
        "intake.assign-officer",
    }
    assert len(warnings) == 20 * 2
    assert set(warnings.values()) == {1}


def case_event(payload: Message, case_id: str, clock: SimulatedClock) -> Event[Message]:
    return new_event(payload, aggregate_id=case_id, court_code="苏1283", actor=ACTOR,
                     clock=clock)  # fmt: skip


async def test_a_non_litigation_filing_opens_only_its_three_month_limit_which_pauses(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    """CaseFiled.proceeding non_litigation: case.close-non-litigation (3 CM), not case.close;
    a suspension and an appraisal overlapping it (days 10-30 and 20-40) pause it 30 days."""
    clock = SimulatedClock(MONDAY_9AM)
    host = deadlines_host(isolated, clock, tmp_path)
    engine = engine_of(host)
    await host.start()
    try:
        filed = case_events_pb2.CaseFiled(
            case_id="case-n", court_code="苏1283", case_type_code="执", claim_amount_fen=100,
            proceeding="non_litigation",
        )  # fmt: skip
        await publisher.publish(case_event(filed, "case-n", clock))
        expected = CASE_CLOCKS - {"case.close"} | {"case.close-non-litigation"}

        async def opened() -> bool:
            return {s.rule_id for s in await engine.clocks_of("case-n")} == expected

        await eventually(opened)
        limit = await engine.get("case.close-non-litigation:case-n")
        assert limit is not None and limit.last_day == dt.date(2026, 6, 2)
        acts = []
        for days, payload in (
            (10, case_events_pb2.CaseSuspended(case_id="case-n", pause_id="p1")),
            (20, case_events_pb2.AppraisalStarted(case_id="case-n", pause_id="p2")),
            (30, case_events_pb2.CaseResumed(case_id="case-n", pause_id="p1")),
            (40, case_events_pb2.AppraisalEnded(case_id="case-n", pause_id="p2")),
        ):
            clock.set(MONDAY_9AM + dt.timedelta(days=days))
            acts.append(case_event(payload, "case-n", clock))
        await publisher.publish_many(acts)

        async def resumed() -> bool:
            state = await engine.get("case.close-non-litigation:case-n")
            return state is not None and state.status == "running" and bool(state.ended_pauses)

        await eventually(resumed)
        state = await engine.get("case.close-non-litigation:case-n")
        assert state is not None
        assert state.paused_seconds == dt.timedelta(days=30).total_seconds()
        assert state.last_day == dt.date(2026, 7, 1)  # 3 CM from 04-01 (03-02 + 30 days)
    finally:
        await host.stop()


async def post(host: ServiceHost, path: str, token: str, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as client:
        return await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


async def ask_extension(
    host: ServiceHost, clock_id: str, token: str, **body: object
) -> httpx.Response:
    body = {"added": 3, "reason": "案情复杂"} | body
    return await post(host, f"/v1/clocks/{clock_id}/extension-requests", token, body)


async def post_extension(
    host: ServiceHost, clock_id: str, token: str, **body: object
) -> httpx.Response:
    body = {"request_id": "ext-1", "approval_ref": "（2026）苏1283执延1号", "reason": "同意"} | body
    return await post(host, f"/v1/clocks/{clock_id}/extensions", token, body)


async def test_the_president_extends_the_case_limit_on_a_request_recorded_in_its_last_days(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    """The request is its own act, recorded on the service's clock and judged against the
    window then (a day the client names is refused as unknown input); the president approves
    or refuses the recorded request."""
    clock = SimulatedClock(MONDAY_9AM)
    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    try:
        await publisher.publish(case_filed_event("case-x", clock=clock))
        clock_id = "case.close:case-x"  # last day 2026-09-02

        async def opened() -> bool:
            return len(await engine_of(host).clocks_of("case-x")) == len(CASE_CLOCKS)

        await eventually(opened)
        tokens = TokenAuthority(isolated.auth, clock)

        def token(role: Role, court: str = "苏1283", subject: str = "院长 王某") -> str:
            return tokens.issue(subject=subject, court_code=court, role=role)

        clock.set(dt.datetime(2026, 8, 27, 9, 0, tzinfo=CHINA_TZ))  # the 6th day before
        officer = token(Role.OFFICER, subject="执行员 李某")
        early = await ask_extension(host, clock_id, officer)
        assert early.status_code == 409, early.text
        assert early.json()["unmet_rules"] == ["case.extension-window"]
        claimed = await ask_extension(host, clock_id, officer, requested_on="2026-08-29")
        assert claimed.status_code == 422  # the day asked is the service's, not the client's

        clock.set(dt.datetime(2026, 8, 29, 9, 0, tzinfo=CHINA_TZ))
        officer = token(Role.OFFICER, subject="执行员 李某")
        for refused in (token(Role.CLERK), token(Role.COMMAND, "苏12")):
            assert (await ask_extension(host, clock_id, refused)).status_code == 403
        assert (await ask_extension(host, clock_id, officer, added=0)).status_code == 422
        other = await ask_extension(host, "asset.network-query:case-x", officer)
        assert other.status_code == 409 and "case.extension-window" in other.text
        asked = await ask_extension(host, clock_id, officer)
        assert asked.status_code == 201, asked.text
        assert asked.json()["request"] | {"requested_at": ""} == asked.json()["request"] | {
            "request_id": "ext-1", "added": 3, "requested_by": "执行员 李某",
            "requested_on": "2026-08-29", "status": "pending", "requested_at": "",
        }  # fmt: skip
        assert (await ask_extension(host, clock_id, officer)).status_code == 409  # pending

        president = token(Role.PRESIDENT)
        for refused in (officer, token(Role.LEADER), token(Role.PRESIDENT, "苏12")):
            assert (await post_extension(host, clock_id, refused)).status_code == 403
        refusal = await post(host, f"/v1/clocks/{clock_id}/extension-refusals", president,
                             {"request_id": "ext-1", "reason": "不符合延长条件"})  # fmt: skip
        assert refusal.status_code == 200, refusal.text
        assert refusal.json()["extension_requests"][0]["status"] == "refused"
        assert (await post_extension(host, clock_id, president)).status_code == 409

        clock.set(dt.datetime(2026, 8, 30, 9, 0, tzinfo=CHINA_TZ))
        leader = token(Role.LEADER, subject="局长 赵某")
        again = await ask_extension(host, clock_id, leader)
        assert again.status_code == 201 and again.json()["request"]["request_id"] == "ext-2"
        unknown = await post_extension(host, clock_id, token(Role.PRESIDENT), request_id="ext-9")
        assert unknown.status_code == 409
        extended = await post_extension(host, clock_id, token(Role.PRESIDENT), request_id="ext-2")
        assert extended.status_code == 200, extended.text  # the 3rd day before
        assert extended.json()["last_day"] == "2026-12-02"
        (record,) = extended.json()["extensions"]
        assert (record["request_id"], record["requested_on"]) == ("ext-2", "2026-08-30")

        # The limit extended ran out: a request now is refused, whatever it claims.
        clock.set(dt.datetime(2026, 12, 10, 9, 0, tzinfo=CHINA_TZ))
        late = await ask_extension(host, clock_id, token(Role.PRESIDENT))
        assert late.status_code == 409 and late.json()["unmet_rules"] == ["case.extension-window"]
        await settled(host, clock, isolated)
    finally:
        await host.stop()
    events = [p for _, p in await deadline_events(isolated)]
    extensions = [p for p in events if isinstance(p, pb.ClockExtended)]
    assert [(e.approved_by, e.approval_ref, e.added, e.request_id) for e in extensions] == [
        ("院长 王某", "（2026）苏1283执延1号", 3, "ext-2")
    ]
    # Every ask and every refusal is an event of its own, kept in the audit trail.
    asks = [(p.request_id, p.requested_by) for p in events
            if isinstance(p, pb.ClockExtensionRequested)]  # fmt: skip
    assert asks == [("ext-1", "执行员 李某"), ("ext-2", "局长 赵某")]
    refusals = [(p.request_id, p.reason) for p in events if isinstance(p, pb.ClockExtensionRefused)]
    assert refusals == [("ext-1", "不符合延长条件")]


async def test_a_breached_case_limit_stays_breached_after_an_extension(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    """Asked in time (on 08-31), approved after the breach (09-05): the clock stays breached,
    its breach is counted once in the figures when the new due time passes too, and the case
    closed within the extension is not closed within the limit."""
    clock = SimulatedClock(MONDAY_9AM)
    centre = command_host(isolated, clock, tmp_path)
    await centre.start()
    try:
        assert centre.deadlines is not None
        engine = engine_of(centre.deadlines)
        filed = case_events_pb2.CaseFiled(
            case_id="case-b", court_code="苏1283", case_type_code="执", claim_amount_fen=100,
            filed_on="2026-03-02",
        )  # fmt: skip
        await publisher.publish(case_event(filed, "case-b", clock))

        async def opened() -> bool:
            return len(await engine.clocks_of("case-b")) == len(CASE_CLOCKS)

        await eventually(opened)
        clock.set(dt.datetime(2026, 8, 31, 9, 0, tzinfo=CHINA_TZ))
        officer = TokenAuthority(isolated.auth, clock).issue(
            subject="执行员 李某", court_code="苏1283", role=Role.OFFICER
        )
        asked = await ask_extension(centre.deadlines, "case.close:case-b", officer, added=1)
        assert asked.status_code == 201, asked.text
        clock.set(dt.datetime(2026, 9, 5, 9, 0, tzinfo=CHINA_TZ))
        await settled(centre.deadlines, clock, isolated)
        before = await engine.get("case.close:case-b")
        assert before is not None and before.breached
        president = TokenAuthority(isolated.auth, clock).issue(
            subject="院长 王某", court_code="苏1283", role=Role.PRESIDENT
        )
        extended = await post_extension(centre.deadlines, "case.close:case-b", president)
        assert extended.status_code == 200, extended.text
        assert extended.json()["breached"] and extended.json()["state"] == "breached"
        command = TokenAuthority(isolated.auth, clock).issue(
            subject="c", court_code="苏12", role=Role.COMMAND
        )

        async def board_shows_it_breached_with_the_new_due_day() -> bool:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{centre.http_port}") as h:
                answer = await h.get("/v1/board/alerts", params={"court": "苏1283",
                                     "rule": "case.close"},
                                     headers={"Authorization": f"Bearer {command}"})  # fmt: skip
            rows = [a for a in answer.json()["alerts"] if a["clock_id"] == "case.close:case-b"]
            return (
                bool(rows)
                and rows[0]["state"] == "breached"
                and (rows[0]["last_day"] == extended.json()["last_day"])
            )

        await eventually(board_shows_it_breached_with_the_new_due_day)
        clock.set(dt.datetime(2026, 10, 9, 9, 0, tzinfo=CHINA_TZ))  # past the new due time
        await settled(centre.deadlines, clock, isolated)
        closed = case_events_pb2.CaseClosed(case_id="case-b", method="执行完毕",
                                            closed_on="2026-10-09")  # fmt: skip
        await publisher.publish(case_event(closed, "case-b", clock))
        command = TokenAuthority(isolated.auth, clock).issue(  # the first has expired by now
            subject="c", court_code="苏12", role=Role.COMMAND
        )
        counts: dict[str, int] = {}

        async def counted() -> bool:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{centre.http_port}") as h:
                answer = await h.get("/v1/figures/苏1283",
                                     headers={"Authorization": f"Bearer {command}"})  # fmt: skip
            counts.update(answer.json()["counts"])
            return counts["closed"] == 1 and counts["clocks_cleared"] >= 1

        await eventually(counted)
        after = await engine.get("case.close:case-b")
        assert after is not None and after.breached and after.status == "cleared"
    finally:
        await centre.stop()
    breaches = [p for _, p in await deadline_events(isolated)
                if isinstance(p, pb.ClockBreached) and p.clock.rule_id == "case.close"]  # fmt: skip
    assert len(breaches) == 1
    assert counts["clocks_breached"] == len(CASE_CLOCKS)  # each of the case's clocks once
    assert counts["closed_in_time"] == 0


async def test_a_loaded_calendar_file_recomputes_provisional_clocks(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    """With two replicas: both count on the new calendar, the recomputation is made once."""
    clock = SimulatedClock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=CHINA_TZ))
    host = deadlines_host(isolated, clock, tmp_path)
    await host.start()
    replica = deadlines_host(isolated, clock, tmp_path)
    await replica.start()
    counter_before = engine_of(replica).rules.counter
    try:
        await publisher.publish(case_filed_event("case-y", clock=clock))

        async def opened() -> bool:
            state = await engine_of(host).get("case.close:case-y")
            return state is not None and state.provisional

        await eventually(opened)
        before = await engine_of(host).get("case.close:case-y")
        assert before is not None and before.last_day == dt.date(2027, 6, 1)
        # The 2027 notice arrives: 2027-06-01 becomes a (hypothetical) holiday. The engine
        # may first see the file half-written (refused), then whole, while simulated time
        # stands still: each replica's follower watches the folder in wall-clock time.
        notice = tmp_path / "2027.yaml"
        notice.write_text("year: 2027\nsource: test notice\n", encoding="utf-8")
        clock.advance(dt.timedelta(minutes=1))
        await asyncio.sleep(0.5)
        notice.write_text(
            "year: 2027\nsource: test notice\nholidays: [2027-06-01]\n", encoding="utf-8"
        )

        async def recomputed() -> bool:
            state = await engine_of(host).get("case.close:case-y")
            return state is not None and not state.provisional

        await eventually(recomputed)
        await settled(host, clock, isolated)
        after = await engine_of(host).get("case.close:case-y")
        assert after is not None and after.last_day == dt.date(2027, 6, 2)
        assert await engine_of(host).provisional() == set()  # nothing left to recompute
        # The replica that does not lead loaded the file too: its periods count on it.
        await eventually(lambda: _true(engine_of(replica).rules.counter is not counter_before))
    finally:
        await replica.stop()
        await host.stop()
    events = [p for _, p in await deadline_events(isolated)]
    horizon = [e for e in events if isinstance(e, pb.CalendarHorizonReached)]
    assert [h.year for h in horizon] == [2027]
    # The platform's alert, not the case's: it lands on no case's timeline.
    recorded = [decode_event(r.value) for r in await read_topic(isolated, DEADLINE_EVENTS.name)]
    alerts = [e for e in recorded if isinstance(e.payload, pb.CalendarHorizonReached)]
    assert [e.aggregate_id for e in alerts] == ["calendar:2027"]
    recomputations = [e for e in events if isinstance(e, pb.ClockRecomputed)]
    assert len(recomputations) == 1  # by the replica leading, once
    assert {r.clock.rule_id for r in recomputations} == {"case.close"}
    assert recomputations[0].old_due_at.ToDatetime() < recomputations[0].due_at.ToDatetime()


async def _true(value: bool) -> bool:
    return value
