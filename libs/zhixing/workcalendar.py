"""The statutory calendar: which days are working days (工作日), year by year.

Data comes from the ``chinese-calendar`` package for the years it covers, and from operator
files (one YAML file per year in ``ZHIXING_CALENDAR_DIR``, default ``config/calendar/``)
that add a year or correct one; a file overrides the package for its year. A date in a year
that neither covers is never treated as an ordinary weekday: ``is_working_day`` raises
``CalendarHorizonError`` naming the year, unless the caller asks for the provisional
estimate (weekends and the holidays fixed by date, ``FIXED_DATE_HOLIDAYS``), which is then
flagged.

File format::

    year: 2027
    source: 国务院办公厅关于2027年部分节假日安排的通知
    holidays: [2027-01-01, ...]   # days off
    workdays: [2027-02-20, ...]   # make-up working days (调休补班) on a weekend
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import yaml
from chinese_calendar import constants as package_data
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.paths import ROOT

__all__ = [
    "FIXED_DATE_HOLIDAYS",
    "HOLIDAY_NAMES_ZH",
    "CalendarError",
    "CalendarFileError",
    "CalendarHorizonError",
    "CalendarSettings",
    "StatutoryCalendar",
    "YearSchedule",
    "load_operator_files",
    "load_year_file",
]


class CalendarSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIXING_CALENDAR_", extra="ignore")

    dir: Path = Field(ROOT / "config" / "calendar", description="Folder of operator year files")
    makeup_days_are_working_days: bool = Field(
        True,
        description=(
            "Count make-up working days (调休补班) as working days. RULES.md: confidence U, "
            "default yes"
        ),
    )


class CalendarError(Exception):
    """Base of the calendar's errors."""


class CalendarHorizonError(CalendarError, LookupError):
    """A date falls in a year whose holiday schedule is not loaded."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the holiday schedule for {year} is not loaded: add config/calendar/{year}.yaml "
            "from the State Council's notice (or use the flagged provisional estimate)"
        )
        self.year = year


class CalendarFileError(CalendarError, ValueError):
    """An operator file is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True, slots=True)
class YearSchedule:
    year: int
    source: str
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    names: dict[dt.date, str]


HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
}


def _package_years() -> dict[int, YearSchedule]:
    years: dict[int, YearSchedule] = {}
    all_years = {d.year for d in package_data.holidays} | {d.year for d in package_data.workdays}
    source = f"chinese-calendar {version('chinese-calendar')}"
    for year in sorted(all_years):
        holidays = {
            d: HOLIDAY_NAMES_ZH.get(str(name), str(name))
            for d, name in package_data.holidays.items()
            if d.year == year
        }
        workdays = frozenset(d for d in package_data.workdays if d.year == year)
        years[year] = YearSchedule(year, source, frozenset(holidays), workdays, holidays)
    return years


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def load_year_file(path: Path) -> YearSchedule:
    """Parse and check one operator file."""

    def fail(line: int, problem: str) -> CalendarFileError:
        return CalendarFileError(f"{path}:{line}: {problem}")

    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise fail(line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(root, yaml.MappingNode):
        raise fail(1, "expected a mapping with year, source, holidays and workdays")
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in root.value:
        key = key_node.value
        if key not in {"year", "source", "holidays", "workdays"}:
            raise fail(_line(key_node), f"unknown field {key!r}")
        fields[key] = value_node
    for required in ("year", "source", "holidays"):
        if required not in fields:
            raise fail(1, f"missing field {required!r}")
    year_node = fields["year"]
    if not (isinstance(year_node, yaml.ScalarNode) and year_node.value.isdigit()):
        raise fail(_line(year_node), f"year must be a whole number, not {year_node.value!r}")
    year = int(year_node.value)
    if path.stem.isdigit() and int(path.stem) != year:
        raise fail(_line(year_node), f"file {path.name} holds year {year}")
    source = fields["source"]
    if not (isinstance(source, yaml.ScalarNode) and source.value.strip()):
        raise fail(_line(source), "source must name the notice the dates come from")

    def dates(name: str) -> dict[dt.date, int]:
        node = fields.get(name)
        if node is None:
            return {}
        if not isinstance(node, yaml.SequenceNode):
            raise fail(_line(node), f"{name} must be a list of dates")
        found: dict[dt.date, int] = {}
        for item in node.value:
            try:
                day = dt.date.fromisoformat(str(item.value))
            except (ValueError, TypeError):
                raise fail(
                    _line(item), f"{item.value!r} in {name} is not a YYYY-MM-DD date"
                ) from None
            if day.year != year:
                raise fail(_line(item), f"{day} in {name} is not in {year}")
            if day in found:
                raise fail(_line(item), f"{day} is listed twice in {name}")
            found[day] = _line(item)
        return found

    holidays = dates("holidays")
    workdays = dates("workdays")
    for day, line in workdays.items():
        if day in holidays:
            raise fail(line, f"{day} is both a holiday and a make-up working day")
        if day.weekday() < 5:
            raise fail(line, f"{day} is a {day:%A}; a make-up working day falls on a weekend")
    return YearSchedule(
        year,
        source.value.strip(),
        frozenset(holidays),
        frozenset(workdays),
        dict.fromkeys(holidays, "法定节假日"),
    )


def load_operator_files(folder: Path) -> dict[int, YearSchedule]:
    if not folder.is_dir():
        return {}
    years = {}
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        schedule = load_year_file(path)
        if schedule.year in years:
            raise CalendarFileError(f"{path}:1: a second file for {schedule.year}")
        years[schedule.year] = schedule
    return years


FIXED_DATE_HOLIDAYS: frozenset[tuple[int, int]] = frozenset({
    (1, 1),  # 元旦
    (5, 1), (5, 2),  # 劳动节
    (10, 1), (10, 2), (10, 3),  # 国庆节
})  # fmt: skip
"""(month, day) of the holidays 全国年节及纪念日放假办法 (2024) art 2 fixes by the Gregorian
date: a rest day every year, whatever its notice adds. The provisional estimate of a year not
loaded counts them off (it counted 1 January as a working day: a probe). The lunar ones
(春节, 端午, 中秋) and 清明, and the make-up days, wait for the year's notice."""


class StatutoryCalendar:
    """Working days, rest days and where each year's data came from."""

    def __init__(
        self,
        years: dict[int, YearSchedule],
        *,
        makeup_days_are_working_days: bool = True,
    ) -> None:
        self._years = years
        self._makeup_counts = makeup_days_are_working_days

    @classmethod
    def load(cls, settings: CalendarSettings | None = None) -> StatutoryCalendar:
        """The package's years, overridden and extended by the operator files."""
        settings = settings or CalendarSettings()
        years = _package_years()
        years.update(load_operator_files(settings.dir))
        return cls(years, makeup_days_are_working_days=settings.makeup_days_are_working_days)

    @property
    def known_years(self) -> list[int]:
        return sorted(self._years)

    def covers(self, day: dt.date) -> bool:
        return day.year in self._years

    def is_working_day(self, day: dt.date, *, provisional: bool = False) -> bool:
        """Mon–Fri minus holidays, plus make-up working days. With ``provisional``, a day in
        an unknown year is judged by its weekday and FIXED_DATE_HOLIDAYS alone (the caller
        flags the result)."""
        schedule = self._years.get(day.year)
        if schedule is None:
            if not provisional:
                raise CalendarHorizonError(day.year)
            # A make-up working day on 1 May's weekend cannot be known before the notice.
            return day.weekday() < 5 and (day.month, day.day) not in FIXED_DATE_HOLIDAYS
        if day in schedule.workdays:
            return self._makeup_counts
        return day.weekday() < 5 and day not in schedule.holidays

    def describe(self, day: dt.date) -> str:
        """Why a day is or is not a working day, for explanations."""
        schedule = self._years.get(day.year)
        if schedule is None:
            if (day.month, day.day) in FIXED_DATE_HOLIDAYS:
                return "unknown year (estimate: a holiday fixed by date)"
            return "unknown year (weekday estimate)"
        if day in schedule.workdays:
            return "make-up working day (调休补班)"
        if day in schedule.holidays:
            return f"holiday ({schedule.names.get(day, '法定节假日')})"
        return "weekend" if day.weekday() >= 5 else "working day"
