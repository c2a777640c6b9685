"""Period arithmetic on the statutory calendar (RULES.md, "Counting periods")."""

import datetime as dt
from pathlib import Path

import pytest

from zhixing.clock import CHINA_TZ
from zhixing.periods import PeriodCounter, Unit
from zhixing.workcalendar import (
    CalendarFileError,
    CalendarHorizonError,
    CalendarSettings,
    StatutoryCalendar,
)

WD, CD, CM = Unit.WORKING_DAYS, Unit.CALENDAR_DAYS, Unit.CALENDAR_MONTHS


@pytest.fixture(scope="module")
def counter() -> PeriodCounter:
    return PeriodCounter(StatutoryCalendar.load(CalendarSettings(dir=Path("/nonexistent"))))


def noon(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("start", "unit", "amount", "last_day"),
    [
        # Spring Festival 2026 (02-15..02-23 off) with the make-up Saturday 02-14.
        ("2026-02-12", WD, 5, "2026-02-26"),
        ("2026-02-13", WD, 1, "2026-02-14"),  # a make-up Saturday counts
        ("2026-02-12", CD, 7, "2026-02-24"),  # 02-19 is a holiday: rolls to 02-24
        # National Day 2026 (10-01..10-07 off), make-up Saturday 10-10.
        ("2026-09-24", CD, 7, "2026-10-08"),
        ("2026-09-29", WD, 3, "2026-10-09"),
        ("2026-10-08", WD, 2, "2026-10-10"),
        # Month ends: the corresponding day, else the month's last day.
        ("2026-01-31", CM, 1, "2026-02-28"),  # a make-up Saturday: in time that day
        ("2025-01-31", CM, 1, "2025-02-28"),
        ("2024-01-31", CM, 1, "2024-02-29"),  # leap year
        ("2026-04-30", CM, 1, "2026-06-01"),  # 05-30 is a Saturday: rolls to Monday
        ("2026-03-31", CM, 6, "2026-09-30"),
        ("2026-08-31", CM, 1, "2026-09-30"),
        # A weekend last day rolls to Monday; rest days inside are not deducted.
        ("2026-03-04", CD, 10, "2026-03-16"),
        ("2026-03-02", CD, 30, "2026-04-01"),
        ("2026-03-02", WD, 0, "2026-03-02"),
    ],
)
def test_due_dates(
    counter: PeriodCounter, start: str, unit: Unit, amount: int, last_day: str
) -> None:
    assert counter.due(noon(start), unit, amount).last_day == dt.date.fromisoformat(last_day)


def test_a_day_period_ends_at_midnight_china_time(counter: PeriodCounter) -> None:
    due = counter.due(noon("2026-03-02"), WD, 5)
    assert due.due_at == dt.datetime(2026, 3, 10, 0, 0, tzinfo=CHINA_TZ)


def test_hours_count_from_the_instant(counter: PeriodCounter) -> None:
    start = noon("2026-10-01")
    assert counter.due(start, Unit.HOURS, 24).due_at == start + dt.timedelta(hours=24)


def test_start_is_read_in_china_time(counter: PeriodCounter) -> None:
    # 2026-03-01 20:00 UTC is 03-02 04:00 in China: 03-02 is the starting day.
    start = dt.datetime(2026, 3, 1, 20, tzinfo=dt.UTC)
    assert counter.due(start, CD, 1).last_day == dt.date(2026, 3, 3)


def test_a_period_running_into_an_unknown_year_is_refused(counter: PeriodCounter) -> None:
    with pytest.raises(CalendarHorizonError, match="2027"):
        counter.due(noon("2026-12-20"), CD, 30)


def test_the_provisional_estimate_is_flagged(counter: PeriodCounter) -> None:
    due = counter.due(noon("2026-12-20"), CD, 30, provisional=True)
    assert due.provisional and due.unknown_years == (2027,)
    assert due.last_day == dt.date(2027, 1, 19)


def test_negative_periods_are_refused(counter: PeriodCounter) -> None:
    with pytest.raises(ValueError, match="negative"):
        counter.due(noon("2026-03-02"), CD, -1)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_operator_file_adds_a_year(tmp_path: Path) -> None:
    write(
        tmp_path,
        "2027.yaml",
        "year: 2027\nsource: test notice\nholidays: [2027-01-01, 2027-01-18]\n"
        "workdays: [2027-01-23]\n",
    )
    counter = PeriodCounter(StatutoryCalendar.load(CalendarSettings(dir=tmp_path)))
    assert counter.due(noon("2027-01-15"), WD, 1).last_day == dt.date(2027, 1, 19)
    assert counter.due(noon("2027-01-22"), WD, 1).last_day == dt.date(2027, 1, 23)
    assert not counter.due(noon("2026-12-20"), CD, 30).provisional


def test_an_operator_file_overrides_the_package(tmp_path: Path) -> None:
    write(tmp_path, "2026.yaml", "year: 2026\nsource: correction\nholidays: [2026-03-03]\n")
    calendar = StatutoryCalendar.load(CalendarSettings(dir=tmp_path))
    assert not calendar.is_working_day(dt.date(2026, 3, 3))
    assert calendar.is_working_day(dt.date(2026, 10, 1))  # the file replaced the whole year


def test_make_up_days_can_be_set_not_to_count(tmp_path: Path) -> None:
    calendar = StatutoryCalendar.load(
        CalendarSettings(dir=tmp_path, makeup_days_are_working_days=False)
    )
    assert not calendar.is_working_day(dt.date(2026, 2, 14))


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("year: 2027\nsource: x\nholidays: [2027-13-01]\n", 3, "not a YYYY-MM-DD date"),
        ("year: 2027\nsource: x\nholidays:\n  - 2027-01-01\n  - 2026-12-31\n", 5, "not in 2027"),
        ("year: 2027\nsource: x\nholidays: []\nworkdays:\n  - 2027-01-04\n", 5, "weekend"),
        ("year: 2027\nholidays: []\n", 1, "missing field 'source'"),
        ("year: 2027\nsource: x\nholidays: []\nextra: 1\n", 4, "unknown field 'extra'"),
        ("year: 2028\nsource: x\nholidays: []\n", 1, "holds year 2028"),
        ("year: 2027\nsource: x\nholidays: [2027-01-01\n", 4, "not valid YAML"),
        (
            "year: 2027\nsource: x\nholidays: [2027-01-02]\nworkdays: [2027-01-02]\n",
            4,
            "both a holiday and a make-up",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_file_line_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, "2027.yaml", text)
    with pytest.raises(CalendarFileError) as refused:
        StatutoryCalendar.load(CalendarSettings(dir=tmp_path))
    assert str(refused.value).startswith(f"{path}:{line}: ")
    assert problem in str(refused.value)


def test_the_provisional_estimate_counts_the_holidays_fixed_by_date_off() -> None:
    """元旦, 劳动节 and 国庆节 fall on fixed dates (放假办法 art 2): a year not loaded still
    has them off, so a working-day period across New Year ends a working day later."""
    calendar = StatutoryCalendar({})
    assert not calendar.is_working_day(dt.date(2027, 1, 1), provisional=True)  # a Friday
    assert not calendar.is_working_day(dt.date(2027, 10, 1), provisional=True)  # a Friday
    assert calendar.is_working_day(dt.date(2027, 1, 4), provisional=True)
    counter = PeriodCounter(StatutoryCalendar.load())
    due = counter.due(noon("2026-12-06"), WD, 30, provisional=True)  # a probe's petition
    assert due.provisional and due.last_day == dt.date(2027, 1, 18)
