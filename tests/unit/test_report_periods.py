"""Weeks and months of the reports, and how courts are ranked."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import fakeredis
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.command.report_periods import PeriodKind, ReportPeriod, labels_of
from services.command.reports import Reports, ranking
from tests.factories import ACTOR
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.courts import directory
from zhixing.errors import Invalid
from zhixing.events import new_event
from zhixing.state import KeySpace
from zhixing.v1 import case_events_pb2


def test_weeks_are_iso_weeks_and_months_calendar_months() -> None:
    week = ReportPeriod.parse("2026-W48")
    assert (week.start, week.end) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert week.title() == "2026年第48周（11月23日至11月29日）"
    assert week.next().label == "2026-W49" and week.previous().label == "2026-W47"
    # The ISO year of 2027-01-01 (a Friday) is 2026: its week is 2026-W53.
    assert ReportPeriod.week_of(dt.date(2027, 1, 1)).label == "2026-W53"
    february = ReportPeriod.parse("2028-02")
    assert (february.end, february.next().label) == (dt.date(2028, 2, 29), "2028-03")
    assert dt.date(2028, 2, 29) in february and dt.date(2028, 3, 1) not in february
    assert ReportPeriod.of(PeriodKind.MONTH, dt.date(2026, 12, 31)).label == "2026-12"


@pytest.mark.parametrize(
    "label", ["2026-W54", "2025-W53", "2026-13", "2026-00", "W48", "2026-1", "9999-12", "9999-W52"]
)
def test_a_misspelt_or_impossible_period_is_refused(label: str) -> None:
    with pytest.raises(Invalid, match="is not a week like 2026-W48 or a month like 2026-11"):
        ReportPeriod.parse(label)


def test_an_event_belongs_to_the_period_of_its_day_in_china() -> None:
    """23:30 on Sunday 29 November in UTC is Monday morning in China: the next week."""
    late = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    event = new_event(case_events_pb2.CaseFiled(case_id="c"), aggregate_id="c",
                      court_code="苏1283", actor=ACTOR, clock=SimulatedClock(late))  # fmt: skip
    assert labels_of(event.envelope.occurred_at) == ("2026-W49", "2026-11")
    assert late.astimezone(CHINA_TZ).date() == dt.date(2026, 11, 30)


def test_ranking_shares_ranks_on_ties_and_puts_courts_without_a_value_last() -> None:
    values = {"a": 0.5, "b": 0.9, "c": 0.5, "d": None, "e": 0.1}
    figures: dict[str, dict[str, Any]] = {court: {"结案率": v} for court, v in values.items()}
    assert [(r["court_code"], r["rank"]) for r in ranking(figures, "结案率", higher=True)] == [
        ("b", 1), ("a", 2), ("c", 2), ("e", 4), ("d", None)]  # fmt: skip
    assert [r["court_code"] for r in ranking(figures, "结案率", higher=False)][:2] == ["e", "a"]


def test_reports_reach_back_five_years_even_from_a_leap_day() -> None:
    leap_day = SimulatedClock(dt.datetime(2028, 2, 29, 10, tzinfo=CHINA_TZ))
    reports = Reports(fakeredis.FakeAsyncRedis(), KeySpace("unit.", "command"), directory(),
                      leap_day)  # fmt: skip
    window = reports.window(ReportPeriod.parse("2023-02"), 1)
    assert [p.label for p in window.after][:2] == ["2023-03", "2023-04"]
    assert window.after[-1].label == "2028-03"  # one past the present
    with pytest.raises(Invalid, match="reach back 5 years"):
        reports.window(ReportPeriod.parse("2023-01"), 1)
    with pytest.raises(Invalid, match="has not begun"):
        reports.window(ReportPeriod.parse("2028-03"), 1)


def test_an_instants_labels_are_those_of_its_day_in_china_in_any_year() -> None:
    """``labels_of`` works them out once per hour: every instant, before 1970 too and in the
    summers China kept daylight time (1986–1991), gets its own day's week and month."""
    rng = random.Random(19)
    start, end = dt.datetime(1900, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    span = int((end - start).total_seconds())
    instants = [start + dt.timedelta(seconds=rng.randrange(span)) for _ in range(3_000)]
    # Either side of a day's start in China, in daylight time and out of it.
    instants += [dt.datetime(1988, 7, 1, 15, tzinfo=dt.UTC) + dt.timedelta(seconds=s)
                 for s in (-3_601, -1, 0, 3_599, 3_600)]  # fmt: skip
    instants += [dt.datetime(2026, 11, 29, 16, tzinfo=dt.UTC) + dt.timedelta(seconds=s)
                 for s in (-1, 0, 1)]  # fmt: skip
    for instant in instants:
        at = Timestamp()
        at.FromDatetime(instant)
        day = instant.astimezone(CHINA_TZ).date()
        expected = (ReportPeriod.week_of(day).label, ReportPeriod.month_of(day).label)
        assert labels_of(at) == expected, instant
