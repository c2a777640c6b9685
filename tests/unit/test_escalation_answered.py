"""A breached clock's escalation stops once its 专人 task is answered: after
``SupervisionTaskAnswered`` names the clock, the engine fires no further ``ClockEscalated``
for its due time; unanswered, the next level follows; an answer before the breach, or a
redelivered one, changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.fakes import staged
from tests.unit.test_deadline_engine import MONDAY_9AM, SERVICE, Engine
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import Event, new_event
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
