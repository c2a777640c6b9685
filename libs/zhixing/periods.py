"""Counting statutory periods (期间), as RULES.md "Counting periods" states them.

* The starting day (or hour) is not counted: a day period starts the next day
  (民诉法 art 85; 民诉解释 art 125).
* WD: working days after the starting day; the period ends on the Nth one.
* CD: the Nth calendar day after the starting day; CM: the corresponding day of the final
  month, or that month's last day if it has none (1-31 + 1 CM → 2-28/29; 民法典 arts
  200–203). If that last day is a statutory rest day (weekends included), the period ends
  on the next working day; rest days inside the period are not deducted (民诉法 art 85).
* h: the period ends N hours after the starting instant.
* A day period ends at 24:00 China time of its last day.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from zhixing.clock import CHINA_TZ
from zhixing.workcalendar import CalendarHorizonError, StatutoryCalendar

__all__ = [
    "Due",
    "PeriodCounter",
    "Step",
    "Unit",
    "add_months",
    "end_of_day",
]


class Unit(StrEnum):
    WORKING_DAYS = "WD"
    CALENDAR_DAYS = "CD"
    CALENDAR_MONTHS = "CM"
    HOURS = "h"


@dataclass(frozen=True, slots=True)
class Step:
    """One day looked at while counting, for ``explain``."""

    day: dt.date
    counted: bool
    why: str


@dataclass(frozen=True, slots=True)
class Due:
    """When a period ends. ``last_day`` is the last day on which the act is in time."""

    due_at: dt.datetime
    last_day: dt.date | None
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()
    steps: tuple[Step, ...] = field(default=(), compare=False)


def end_of_day(day: dt.date) -> dt.datetime:
    """24:00 China time of ``day``, as an aware instant."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ)


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class PeriodCounter:
    """Computes due dates on a statutory calendar."""

    def __init__(self, statutory_calendar: StatutoryCalendar) -> None:
        self.calendar = statutory_calendar

    def due(
        self,
        start: dt.datetime,
        unit: Unit,
        amount: int,
        *,
        provisional: bool = False,
        explain: bool = False,
    ) -> Due:
        """The end of a period of ``amount`` ``unit`` starting at ``start``.

        Raises ``CalendarHorizonError`` when a day that matters lies in an unknown year,
        unless ``provisional`` is set: then only weekends and the holidays fixed by date
        (``workcalendar.FIXED_DATE_HOLIDAYS``) are assumed off there, and the result is
        flagged.
        """
        if amount < 0:
            raise ValueError(f"a period cannot be negative ({amount} {unit.value})")
        if start.tzinfo is None:
            raise ValueError("the start of a period must be an aware datetime")
        if unit is Unit.HOURS:
            return Due(start + dt.timedelta(hours=amount), None)
        first = start.astimezone(CHINA_TZ).date()
        steps: list[Step] = [Step(first, False, "starting day, not counted")]
        unknown: set[int] = set()

        def working(day: dt.date) -> bool:
            if not self.calendar.covers(day):
                if not provisional:
                    raise CalendarHorizonError(day.year)
                unknown.add(day.year)
            return self.calendar.is_working_day(day, provisional=provisional)

        if unit is Unit.WORKING_DAYS:
            day, counted = first, 0
            while counted < amount:
                day += dt.timedelta(days=1)
                is_working = working(day)
                counted += is_working
                if explain:
                    why = self.calendar.describe(day)
                    steps.append(
                        Step(day, is_working, why if not is_working else f"{why} #{counted}")
                    )
            last = day
        else:
            if unit is Unit.CALENDAR_DAYS:
                nominal = first + dt.timedelta(days=amount)
            else:
                nominal = add_months(first, amount)
            if explain:
                steps.append(Step(nominal, True, f"nominal last day ({amount} {unit.value})"))
            last = nominal
            while not working(last):
                if explain:
                    steps.append(
                        Step(last, False, f"{self.calendar.describe(last)}: rolls to the next day")
                    )
                last += dt.timedelta(days=1)
            if explain and last != nominal:
                steps.append(Step(last, True, "next working day: the period ends here"))
        return Due(
            end_of_day(last),
            last,
            provisional=bool(unknown),
            unknown_years=tuple(sorted(unknown)),
            steps=tuple(steps) if explain else (),
        )
