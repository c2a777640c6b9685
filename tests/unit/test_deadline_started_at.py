"""A clock runs from the day its start act names (e.g. a petition's ``received_on``) when
that day is before the act was recorded; a day before ``EARLIEST_DAY`` (year 1 typed by a
client) is ignored like a malformed one, so the clock opens from the act instead of the
engine overflowing and the event dead-lettering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.deadlines.domain import Signal, started_at_of
from tests.unit.test_deadline_engine import MONDAY_9AM, SERVICE, Engine
from zhixing.bounds import EARLIEST_DAY
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import new_event
from zhixing.rules import catalogue
from zhixing.v1 import supervision_events_pb2 as pb

COURT = "苏1283"


def received(on: str) -> Signal:
    return Signal("e1", "PetitionReceived", "p-1", COURT, MONDAY_9AM, {"received_on": on})


@pytest.mark.parametrize("on", ["0001-01-01", "1949-09-30", "2026-02-30", "", "2026-03-03"])
def test_a_start_day_out_of_range_malformed_or_later_is_ignored(on: str) -> None:
    rule = catalogue().rule("petition.enter")
    assert started_at_of(rule, received(on)) == MONDAY_9AM


def test_an_earlier_day_in_range_starts_the_period() -> None:
    rule = catalogue().rule("petition.enter")
    for day in (EARLIEST_DAY, dt.date(2026, 2, 27)):
        started = started_at_of(rule, received(day.isoformat()))
        assert started == dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)


async def test_a_year_one_received_on_still_opens_the_clock(tmp_path: Path) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    event = new_event(
        pb.PetitionReceived(petition_id="p-1", court_code=COURT, received_on="0001-01-01"),
        aggregate_id="p-1", court_code=COURT, actor=SERVICE, clock=clock,
    )  # fmt: skip
    await service.consume([event])
    state = await service.engine.get("petition.enter:p-1")
    assert state is not None and state.started_at == MONDAY_9AM
