"""The simulator's workload: the same seed gives the same year, rest days file nothing, and
every filing is one intake accepts."""

from __future__ import annotations

import datetime as dt

import pytest

from services.intake.domain import FileCase
from tools.simulator.workload import Workload, WorkloadSettings
from zhixing.workcalendar import StatutoryCalendar


def workload(**overrides: object) -> Workload:
    settings = WorkloadSettings(**{"courts": 2, "cases_per_court_per_year": 2_000, "days": 14,
                                   **overrides})  # type: ignore[arg-type]  # fmt: skip
    return Workload(settings, StatutoryCalendar.load())


def test_the_same_seed_gives_the_same_year_and_another_seed_another() -> None:
    first, again, other = workload(), workload(), workload(seed=7)
    day = dt.date(2026, 1, 6)
    assert first.filings_on(day) == again.filings_on(day)
    assert first.filings_on(day) != other.filings_on(day)


def test_courts_file_on_working_days_only_at_the_yearly_rate() -> None:
    year = workload(days=365, courts=1, cases_per_court_per_year=500)
    filed = {day: len(year.filings_on(day)) for day in year.days}
    assert filed[dt.date(2026, 1, 10)] == 0  # a Saturday
    assert filed[dt.date(2026, 10, 1)] == 0  # 国庆节
    # Spread over the working days: 500 ± a few (each day rounds at random).
    assert 450 <= sum(filed.values()) <= 550


def test_every_filing_is_one_intake_accepts() -> None:
    year = workload(days=30)
    filings = [f for day in year.days for f in year.filings_on(day)]
    assert len(filings) > 100
    for filing in filings:
        FileCase.model_validate(filing.body)  # raises on anything intake would refuse
    assert len({f.key for f in filings}) == len(filings)
    kinds = {f.body["debtors"][0]["kind"] for f in filings}
    assert kinds == {"organisation", "natural_person"}


def test_a_jurisdiction_without_basic_courts_is_refused() -> None:
    with pytest.raises(ValueError, match="no basic courts"):
        workload(intermediate_court="苏1283")
