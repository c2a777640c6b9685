"""The weeks and months the command centre reports on (trends, rankings, the bulletin).

A week is an ISO week (Monday to Sunday), written ``2026-W48``; a month is written
``2026-11``. An event belongs to the period of the day it happened in China
(``occurred_at`` in Asia/Shanghai), so a week's figures are what happened in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from google.protobuf.timestamp_pb2 import Timestamp

from zhixing.clock import CHINA_TZ
from zhixing.errors import Invalid

__all__ = ["PeriodKind", "ReportPeriod", "labels_of"]

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, order=True)
class ReportPeriod:
    start: dt.date  # first day
    end: dt.date  # last day (inclusive)
    kind: PeriodKind
    label: str

    @classmethod
    def week_of(cls, day: dt.date) -> ReportPeriod:
        monday = day - dt.timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return cls(monday, monday + dt.timedelta(days=6), PeriodKind.WEEK, f"{year}-W{week:02d}")

    @classmethod
    def month_of(cls, day: dt.date) -> ReportPeriod:
        first = day.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        last = following - dt.timedelta(days=1)
        return cls(first, last, PeriodKind.MONTH, f"{first.year}-{first.month:02d}")

    @classmethod
    def of(cls, kind: PeriodKind, day: dt.date) -> ReportPeriod:
        return cls.week_of(day) if kind is PeriodKind.WEEK else cls.month_of(day)

    @classmethod
    def parse(cls, label: str, loc: tuple[str, ...] = ("query", "period")) -> ReportPeriod:
        """``2026-W48`` or ``2026-11``; Invalid (422, at ``loc``) for anything else."""
        try:
            if week := WEEK.match(label):
                return cls.week_of(dt.date.fromisocalendar(int(week[1]), int(week[2]), 1))
            if month := MONTH.match(label):
                return cls.month_of(dt.date(int(month[1]), int(month[2]), 1))
        except (ValueError, OverflowError):  # no such week, month or day (9999-W52's end)
            pass
        raise Invalid(f"{label!r} is not a week like 2026-W48 or a month like 2026-11", loc=loc)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def next(self) -> ReportPeriod:
        return ReportPeriod.of(self.kind, self.end + dt.timedelta(days=1))

    def previous(self) -> ReportPeriod:
        return ReportPeriod.of(self.kind, self.start - dt.timedelta(days=1))

    def title(self) -> str:
        """As a bulletin names it: 2026年第48周（11月23日至11月29日） or 2026年11月."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year}年{self.start.month}月"
        year, week, _ = self.start.isocalendar()
        return (f"{year}年第{week}周（{self.start.month}月{self.start.day}日至"
                f"{self.end.month}月{self.end.day}日）")  # fmt: skip


def labels_of(at: Timestamp) -> tuple[str, str]:
    """The week and the month an event that happened at ``at`` belongs to.

    Every event the command centre counts asks this: the answer is worked out once per hour
    (China's offset from UTC has changed only on the hour since 1901, and a day starts on
    one), what happened before 1970 each time."""
    if at.seconds < 0:
        return _labels_of_day(at.ToDatetime(tzinfo=dt.UTC).astimezone(CHINA_TZ).date())
    return _labels_of_hour(at.seconds // 3600)


@functools.lru_cache(maxsize=256)
def _labels_of_hour(hour: int) -> tuple[str, str]:
    return _labels_of_day(
        dt.datetime.fromtimestamp(hour * 3600, dt.UTC).astimezone(CHINA_TZ).date()
    )


def _labels_of_day(day: dt.date) -> tuple[str, str]:
    return ReportPeriod.week_of(day).label, ReportPeriod.month_of(day).label
