"""专人 tasks on the in-memory repository: an escalation opens the task of its level (once,
however often it is redelivered), assigned to the supervisor, then the court's leaders,
then the superior command centre; the next level supersedes the open one below; only the
assignee answers, once, late after respond_by; an escalation fired before the engine heard
of the answer opens nothing; a cleared clock closes the open tasks; a rotation warning
reminds the leaders; the queue is the caller's, overdue first, naming the case by number."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import HTTPException
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.supervision.domain import Outcome, StatusFilter
from services.supervision.handler import SERVICE_ACTOR
from services.supervision.officers import Officers
from services.supervision.petitions import Petitions
from services.supervision.reactions import CaseFacts
from services.supervision.register import Register
from services.supervision.repository import SupervisionRecords
from services.supervision.tasks import Tasks
from tests.factories import START
from tests.fakes import in_memory_context, person, staged, staged_types
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event, new_event
from zhixing.projection import Transaction
from zhixing.service import ServiceContext
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import case_events_pb2 as case_pb
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb

COURT = "苏1283"
SUPERIOR = "苏12"
NUMBER = "（2026）苏1283执1号"
CLOCK_ID = "asset.network-query:case-1"
SUPERVISOR = person(Role.SUPERVISOR, COURT, "supervisor-1")
LEADER = person(Role.LEADER, COURT, "leader-1")
PRESIDENT = person(Role.PRESIDENT, COURT, "president-1")
COMMAND = person(Role.COMMAND, SUPERIOR, "command-1")


class Service:
    """The supervision handlers on one in-memory context, with case-1 known."""

    def __init__(self) -> None:
        self.clock = SimulatedClock(START)
        self.ctx: ServiceContext = in_memory_context("supervision", self.clock)
        self.records = SupervisionRecords(self.ctx.redis, self.ctx.keys)
        self.tasks = Tasks(self.ctx, self.records)
        self.petitions = Petitions(self.ctx, self.records)
        self.register = Register(self.ctx, self.records)
        self.officers = Officers(self.ctx, self.records)

    async def know_case(self, case_id: str = "case-1", number: str = NUMBER,
                        court: str = COURT, filed_on: str = "") -> None:  # fmt: skip
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.keep_case(pipe, case_id, number, court, filed_on)
            await pipe.execute()


async def service_with_case() -> Service:
    service = Service()
    await service.know_case()
    return service


def ref(clock_id: str = CLOCK_ID, subject: str = "case-1", cycle: int = 1) -> clocks.ClockRef:
    return clocks.ClockRef(clock_id=clock_id, rule_id=clock_id.split(":")[0], subject_id=subject,
                           court_code=COURT, cycle=cycle)  # fmt: skip


def stamp(instant: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(instant)
    return ts


def escalation(level: int, hours: int = 24, clock_ref: clocks.ClockRef | None = None,
               version: int = 1) -> clocks.ClockEscalated:  # fmt: skip
    to = {1: "supervisor", 2: "court_leader", 3: "superior_command"}[level]
    return clocks.ClockEscalated(
        clock=clock_ref or ref(), level=level, escalated_to=to,
        to_court_code=SUPERIOR if level == 3 else COURT,
        respond_by=stamp(START + dt.timedelta(hours=hours)), due_version=version,
    )  # fmt: skip


async def test_an_escalation_opens_one_task_at_the_supervisor_naming_the_case() -> None:
    service = await service_with_case()
    task_id = await service.tasks.escalated(escalation(1))
    assert task_id is not None
    assert await service.tasks.escalated(escalation(1)) is None  # a redelivery
    (event,) = await staged(service.ctx)
    opened = event.payload
    assert isinstance(opened, pb.SupervisionTaskOpened)
    assert (opened.level, opened.assignee_role, opened.court_code) == (1, "supervisor", COURT)
    assert opened.case_number == NUMBER and opened.case_id == "case-1"
    assert event.envelope.aggregate_id == task_id
    (queued,) = await service.tasks.queue(SUPERVISOR, court=None, status=StatusFilter.OPEN,
                                          limit=10)  # fmt: skip
    view = await service.tasks.view(queued)
    assert view["case_number"] == NUMBER and view["rule_title"] and not view["overdue"]
    # Nobody else's queue holds it.
    assert await service.tasks.queue(LEADER, court=None, status=StatusFilter.OPEN, limit=10) == []


async def test_the_next_level_supersedes_the_open_task_below_it() -> None:
    service = await service_with_case()
    first = await service.tasks.escalated(escalation(1))
    second = await service.tasks.escalated(escalation(2, hours=48))
    third = await service.tasks.escalated(escalation(3, hours=72))
    assert await staged_types(service.ctx) == [
        "SupervisionTaskOpened", "SupervisionTaskEscalated", "SupervisionTaskOpened",
        "SupervisionTaskEscalated", "SupervisionTaskOpened",
    ]  # fmt: skip
    assert first and second and third
    assert (await service.tasks.task(first, SUPERVISOR))["status"] == "escalated"
    leader_task = await service.tasks.task(second, LEADER)
    assert leader_task["status"] == "escalated" and leader_task["next_task_id"] == third
    top = await service.tasks.task(third, COMMAND)
    assert top["supersedes_task_id"] == second and top["court_code"] == SUPERIOR
    with pytest.raises(Conflict, match="escalated"):
        await service.tasks.answer(first, SUPERVISOR, outcome=Outcome.CORRECTED, text="已纠正")
    answered = await service.tasks.answer(third, COMMAND, outcome=Outcome.ORDERED, text="督促")
    assert answered["status"] == "answered"


async def test_only_the_assignee_answers_once_and_late_after_respond_by() -> None:
    service = await service_with_case()
    task_id = await service.tasks.escalated(escalation(2, hours=2))
    assert task_id is not None
    with pytest.raises(ScopeError, match="leader/president"):
        await service.tasks.answer(task_id, SUPERVISOR, outcome=Outcome.EXPLAINED, text="说明")
    with pytest.raises(ScopeError):  # a command centre is no leader of the court
        await service.tasks.answer(task_id, COMMAND, outcome=Outcome.EXPLAINED, text="说明")
    other_court = person(Role.LEADER, "苏1282", "leader-9")
    with pytest.raises(NotFound):
        await service.tasks.answer(task_id, other_court, outcome=Outcome.EXPLAINED, text="说明")
    service.clock.advance(dt.timedelta(hours=3))
    (overdue,) = await service.tasks.queue(PRESIDENT, court=None, status=StatusFilter.OPEN,
                                           limit=10)  # fmt: skip
    assert (await service.tasks.view(overdue))["overdue"]
    task = await service.tasks.answer(task_id, PRESIDENT, outcome=Outcome.EXPLAINED,
                                      text="已说明情况")  # fmt: skip
    assert task["answer"]["late"] and task["answer"]["by"] == PRESIDENT.subject
    with pytest.raises(Conflict, match="answered"):
        await service.tasks.answer(task_id, LEADER, outcome=Outcome.EXPLAINED, text="再答")
    answer = (await staged(service.ctx))[-1].payload
    assert isinstance(answer, pb.SupervisionTaskAnswered)
    assert answer.clock_id == CLOCK_ID and answer.late and answer.outcome == "explained"


async def test_an_escalation_fired_before_the_answer_was_heard_opens_nothing() -> None:
    service = await service_with_case()
    task_id = await service.tasks.escalated(escalation(1))
    assert task_id is not None
    await service.tasks.answer(task_id, SUPERVISOR, outcome=Outcome.CORRECTED, text="已纠正")
    assert await service.tasks.escalated(escalation(2)) is None
    # A new cycle of the clock is a new escalation.
    assert await service.tasks.escalated(escalation(1, clock_ref=ref(cycle=2))) is not None


async def test_a_new_due_time_that_breaches_again_opens_its_own_tasks() -> None:
    """An extended (or resumed) clock keeps its cycle but gets a new due version: when the
    new due time breaches too, its chain opens new tasks although the first was answered."""
    service = await service_with_case()
    first = await service.tasks.escalated(escalation(1, version=1))
    assert first is not None
    await service.tasks.answer(first, SUPERVISOR, outcome=Outcome.CORRECTED, text="已纠正")
    assert await service.tasks.escalated(escalation(2, version=1)) is None  # still answered
    again = await service.tasks.escalated(escalation(1, version=2))
    assert again is not None and again != first
    assert await service.tasks.escalated(escalation(1, version=2)) is None  # a redelivery
    task = await service.tasks.task(again, SUPERVISOR)
    assert (task["status"], task["due_version"]) == ("open", 2)
    # The next level of the new due time supersedes it (not the answered first chain).
    above = await service.tasks.escalated(escalation(2, hours=48, version=2))
    assert above is not None
    assert (await service.tasks.task(again, SUPERVISOR))["next_task_id"] == above
    # An event from before the field (due_version 0) is the first due version's.
    assert await service.tasks.escalated(escalation(1, version=0)) is None


async def test_a_cleared_clock_closes_its_open_tasks_once() -> None:
    service = await service_with_case()
    task_id = await service.tasks.escalated(escalation(1))
    cleared = clocks.ClockCleared(clock=ref(), late=True)
    assert await service.tasks.clock_cleared(cleared) == 1
    assert await service.tasks.clock_cleared(cleared) == 0
    assert task_id is not None
    task = await service.tasks.task(task_id, SUPERVISOR)
    assert task["status"] == "closed" and task["closed_reason"] == "clock_cleared"
    assert (await staged_types(service.ctx))[-1] == "SupervisionTaskClosed"
    assert await service.tasks.queue(SUPERVISOR, court=None, status=StatusFilter.OPEN,
                                     limit=10) == []  # fmt: skip
    closed = await service.tasks.queue(SUPERVISOR, court=None, status=StatusFilter.CLOSED,
                                       limit=10)  # fmt: skip
    assert [t["task_id"] for t in closed] == [task_id]


async def test_a_rotation_warning_reminds_the_leaders_once_per_cycle() -> None:
    service = Service()
    rotation = ref("officer.rotation-leader:officer-1", subject="officer-1")
    warned = clocks.ClockWarned(clock=rotation, warning="days_before=30",
                                due_at=stamp(START + dt.timedelta(days=30)))  # fmt: skip
    task_id = await service.tasks.remind(warned)
    assert task_id is not None
    assert await service.tasks.remind(warned) is None
    other = clocks.ClockWarned(clock=ref(), warning="due_day")
    assert await service.tasks.remind(other) is None  # only rotation clocks remind
    (task,) = await service.tasks.queue(LEADER, court=None, status=StatusFilter.OPEN, limit=10)
    assert task["kind"] == "reminder" and task["assignee_role"] == "court_leader"


async def test_the_queue_orders_overdue_first_and_command_sees_its_jurisdiction() -> None:
    service = await service_with_case()
    await service.know_case("case-2", "（2026）苏1283执2号")
    late = await service.tasks.escalated(escalation(1, hours=5))
    soon = await service.tasks.escalated(escalation(
        1, hours=1, clock_ref=ref("asset.network-query:case-2", subject="case-2")))  # fmt: skip
    service.clock.advance(dt.timedelta(hours=2))  # soon is overdue now
    queue = await service.tasks.queue(SUPERVISOR, court=None, status=StatusFilter.OPEN, limit=10)
    assert [t["task_id"] for t in queue] == [soon, late]
    seen = await service.tasks.queue(COMMAND, court=None, status=StatusFilter.ALL, limit=1)
    assert [t["task_id"] for t in seen] == [soon]
    # Another jurisdiction's court reads as missing (it was 403); one the directory does not
    # know is bad input naming ``court``; a court within it but not one's own stays 403.
    for who, court in ((SUPERVISOR, "苏1282"), (COMMAND, "苏02")):
        with pytest.raises(HTTPException) as missing:
            await service.tasks.queue(who, court=court, status=StatusFilter.OPEN, limit=10)
        assert missing.value.status_code == 404
    with pytest.raises(Invalid) as unknown:
        await service.tasks.queue(COMMAND, court="XX99", status=StatusFilter.OPEN, limit=10)
    assert unknown.value.loc == ("query", "court")
    with pytest.raises(ScopeError):
        await service.tasks.queue(person(Role.LEADER, SUPERIOR), court=COURT,
                                  status=StatusFilter.OPEN, limit=10)  # fmt: skip
    with pytest.raises(ScopeError):
        await service.tasks.queue(person(Role.OFFICER, COURT), court=None,
                                  status=StatusFilter.OPEN, limit=10)  # fmt: skip


async def test_a_task_about_an_asset_names_the_asset_s_case() -> None:
    service = await service_with_case()
    found: Event[Message] = new_event(
        asset_pb.AssetFound(asset_id="asset-1", case_id="case-1"), aggregate_id="asset-1",
        court_code=COURT, actor=SERVICE_ACTOR, clock=service.clock,
    )  # fmt: skip
    async with service.ctx.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        await CaseFacts(service.records)([found], Transaction(service.ctx.redis, pipe,
                                                              service.ctx.keys))  # fmt: skip
        await pipe.execute()
    clock_ref = ref("asset.control-term:asset-1", subject="asset-1")
    await service.tasks.escalated(escalation(1, clock_ref=clock_ref))
    opened = (await staged(service.ctx))[-1].payload
    assert isinstance(opened, pb.SupervisionTaskOpened)
    assert (opened.case_id, opened.case_number) == ("case-1", NUMBER)


async def assigned(service: Service, officer_id: str, case_id: str = "case-1") -> None:
    """Intake's OfficerAssigned applied as the service's projection applies it."""
    event: Event[Message] = new_event(
        case_pb.OfficerAssigned(case_id=case_id, officer_id=officer_id, team="法官团队"),
        aggregate_id=case_id, court_code=COURT, actor=SERVICE_ACTOR, clock=service.clock,
    )  # fmt: skip
    async with service.ctx.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        await CaseFacts(service.records)([event], Transaction(service.ctx.redis, pipe,
                                                              service.ctx.keys))  # fmt: skip
        await pipe.execute()


async def test_the_officer_whose_node_breached_does_not_answer_its_task() -> None:
    """A leader who is the case's own officer answered the level-2 task of its breach
    ("本人承办…") and stopped the chain: the task names the case's officer when it opens, and
    neither that officer nor one assigned since answers it (rule
    oversight.no-self-supervision); another leader does."""
    service = await service_with_case()
    await assigned(service, LEADER.subject)
    task_id = await service.tasks.escalated(escalation(2, hours=48))
    assert task_id is not None
    await assigned(service, PRESIDENT.subject)  # reassigned after the breach
    for responsible in (LEADER, PRESIDENT):
        with pytest.raises(ScopeError, match=r"oversight\.no-self-supervision"):
            await service.tasks.answer(task_id, responsible, outcome=Outcome.EXPLAINED,
                                       text="本人承办…")  # fmt: skip
    assert (await service.tasks.task(task_id, LEADER))["status"] == "open"
    other = person(Role.LEADER, COURT, "leader-2")
    answered = await service.tasks.answer(task_id, other, outcome=Outcome.ORDERED, text="督促")
    assert answered["answer"]["by"] == "leader-2"


async def test_a_leader_does_not_answer_the_reminder_of_their_own_rotation() -> None:
    service = Service()
    rotation = ref(f"officer.rotation-leader:{LEADER.subject}", subject=LEADER.subject)
    warned = clocks.ClockWarned(clock=rotation, warning="days_before=30",
                                due_at=stamp(START + dt.timedelta(days=30)))  # fmt: skip
    task_id = await service.tasks.remind(warned)
    assert task_id is not None
    with pytest.raises(ScopeError, match=r"oversight\.no-self-supervision"):
        await service.tasks.answer(task_id, LEADER, outcome=Outcome.EXPLAINED, text="知悉")
    await service.tasks.answer(task_id, PRESIDENT, outcome=Outcome.ORDERED, text="安排轮岗")
