"""A breached clock's escalation stops once its 专人 task is answered: after
``SupervisionTaskAnswered`` names the clock, the engine fires no further ``ClockEscalated``
for its due time; unanswered, the next level follows; an answer before the breach, or a
redelivered one, changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.fakes import staged
from tests.unit.test_deadline_engine import MONDAY_9AM, SERVICE, Engine
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import Event, new_event
from zhixing.v1 import case_events_pb2
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb

COURT = "苏1283"
CLOCK = "petition.enter:p-1"


def received(clock: SimulatedClock) -> Event[pb.PetitionReceived]:
    return new_event(
        pb.PetitionReceived(petition_id="p-1", court_code=COURT, received_on="2026-03-02"),
        aggregate_id="p-1", court_code=COURT, actor=SERVICE, clock=clock,
    )  # fmt: skip


def answered(clock: SimulatedClock) -> Event[pb.SupervisionTaskAnswered]:
    return new_event(
        pb.SupervisionTaskAnswered(task_id="t-1", clock_id=CLOCK, outcome="corrected"),
        aggregate_id="t-1", court_code=COURT, actor=SERVICE, clock=clock,
    )  # fmt: skip


async def levels(service: Engine) -> list[int]:
    return [e.payload.level for e in await staged(service.ctx)
            if isinstance(e.payload, clocks.ClockEscalated)]  # fmt: skip


async def breached(tmp_path: Path) -> tuple[SimulatedClock, Engine]:
    """petition.enter ran out (5 WD from Monday 2 March): breached, escalated to level 1."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    await service.consume([received(clock)])
    clock.set(dt.datetime(2026, 3, 10, 0, 30, tzinfo=CHINA_TZ))
    await service.engine.drain()
    assert await levels(service) == [1]
    return clock, service


async def test_unanswered_the_escalation_goes_on_to_the_next_levels(tmp_path: Path) -> None:
    clock, service = await breached(tmp_path)
    clock.set(dt.datetime(2026, 3, 31, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    assert await levels(service) == [1, 2, 3]


async def test_once_answered_no_further_escalation_follows(tmp_path: Path) -> None:
    clock, service = await breached(tmp_path)
    await service.consume([answered(clock)])
    state = await service.engine.get(CLOCK)
    assert state is not None and state.breached  # still breached: the answer does not undo it
    await service.consume([answered(clock)])  # a redelivery changes nothing
    clock.set(dt.datetime(2026, 3, 31, 9, 0, tzinfo=CHINA_TZ))
    report = await service.engine.drain()
    assert report.fired == 0
    assert await levels(service) == [1]


async def test_an_answer_before_the_breach_leaves_the_chain_alone(tmp_path: Path) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    await service.consume([received(clock)])
    await service.consume([answered(clock)])  # e.g. a reminder answered in time
    clock.set(dt.datetime(2026, 3, 31, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    assert await levels(service) == [1, 2, 3]


async def test_a_breached_clock_given_a_new_due_time_escalates_it_again(tmp_path: Path) -> None:
    """The answer stops the chain of the due time it answered. A pause and resumption after
    the breach (like an extension) sets a new due time, due version 2: when it runs out too,
    its own chain fires, naming the version, so supervision opens a new task instead of
    taking it for the answered one."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    filed = case_events_pb2.CaseFiled(case_id="case-4", court_code=COURT, case_type_code="执",
                                      proceeding="non_litigation")  # fmt: skip
    await service.consume([act(filed, "case-4", clock)])
    clock_id = "case.close-non-litigation:case-4"
    clock.set(dt.datetime(2026, 6, 3, 9, 0, tzinfo=CHINA_TZ))  # 3 CM from 2 March ran out
    await service.engine.drain()
    await service.consume([act(pb.SupervisionTaskAnswered(
        task_id="t-1", clock_id=clock_id, outcome="corrected",
    ), "t-1", clock)])  # fmt: skip
    clock.set(dt.datetime(2026, 6, 4, 9, 0, tzinfo=CHINA_TZ))
    await service.consume([act(case_events_pb2.CaseSuspended(case_id="case-4", pause_id="p1"),
                               "case-4", clock)])  # fmt: skip
    clock.set(dt.datetime(2026, 6, 14, 9, 0, tzinfo=CHINA_TZ))
    await service.consume([act(case_events_pb2.CaseResumed(case_id="case-4", pause_id="p1"),
                               "case-4", clock)])  # fmt: skip
    state = await service.engine.get(clock_id)
    assert state is not None and state.breached and state.due_version == 2
    clock.set(dt.datetime(2026, 8, 31, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    escalated = [(e.payload.level, e.payload.due_version) for e in await staged(service.ctx)
                 if isinstance(e.payload, clocks.ClockEscalated)
                 and e.payload.clock.clock_id == clock_id]  # fmt: skip
    assert escalated == [(1, 1), (1, 2), (2, 2), (3, 2)]


def act(payload: Any, aggregate_id: str, clock: SimulatedClock) -> Event[Any]:
    return new_event(payload, aggregate_id=aggregate_id, court_code=COURT, actor=SERVICE,
                     clock=clock)  # fmt: skip


async def test_a_late_answer_to_the_earlier_due_times_task_leaves_the_new_chain_alone(
    tmp_path: Path,
) -> None:
    """Breached at due version 1, its task left open; a pause and resumption give version 2,
    which breaches and escalates to its supervisor. Answering the old task now must not stop
    version 2's climb to the leader and the superior command centre; answering version 2's
    task does."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    filed = case_events_pb2.CaseFiled(case_id="case-5", court_code=COURT, case_type_code="执",
                                      proceeding="non_litigation")  # fmt: skip
    await service.consume([act(filed, "case-5", clock)])
    clock_id = "case.close-non-litigation:case-5"
    clock.set(dt.datetime(2026, 6, 3, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    clock.set(dt.datetime(2026, 6, 4, 9, 0, tzinfo=CHINA_TZ))
    await service.consume([act(case_events_pb2.CaseSuspended(case_id="case-5", pause_id="p1"),
                               "case-5", clock)])  # fmt: skip
    clock.set(dt.datetime(2026, 6, 14, 9, 0, tzinfo=CHINA_TZ))
    await service.consume([act(case_events_pb2.CaseResumed(case_id="case-5", pause_id="p1"),
                               "case-5", clock)])  # fmt: skip
    clock.set(dt.datetime(2026, 6, 15, 9, 30, tzinfo=CHINA_TZ))  # version 2 ran out
    await service.engine.drain()

    def answer(task_id: str, version: int) -> Event[Any]:
        return act(pb.SupervisionTaskAnswered(task_id=task_id, clock_id=clock_id,
                                              outcome="explained", due_version=version),
                   task_id, clock)  # fmt: skip

    await service.consume([answer("t-old", 1)])
    clock.set(dt.datetime(2026, 6, 18, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    await service.consume([answer("t-new", 2)])
    clock.set(dt.datetime(2026, 8, 31, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    escalated = [(e.payload.level, e.payload.due_version) for e in await staged(service.ctx)
                 if isinstance(e.payload, clocks.ClockEscalated)
                 and e.payload.clock.clock_id == clock_id]  # fmt: skip
    assert escalated[:2] == [(1, 1), (1, 2)]
    assert (2, 2) in escalated and (3, 2) not in escalated
