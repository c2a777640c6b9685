"""Reloads the statutory calendar when an operator file is added or changed."""

from __future__ import annotations

import structlog

from services.deadlines.domain import ClockRules
from zhixing.periods import PeriodCounter
from zhixing.workcalendar import CalendarError, CalendarSettings, StatutoryCalendar

log = structlog.get_logger(__name__)


class CalendarWatcher:
    """Called by the scheduler on each pass; True when a new calendar was loaded."""

    def __init__(self, rules: ClockRules, settings: CalendarSettings) -> None:
        self._rules = rules
        self._settings = settings
        self._signature = self._current_signature()
        self._last_error = ""

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        folder = self._settings.dir
        if not folder.is_dir():
            return ()
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)

    def __call__(self) -> bool:
        signature = self._current_signature()
        if signature == self._signature:
            return False
        try:
            calendar = StatutoryCalendar.load(self._settings)
        except CalendarError as exc:
            # Keep counting on the calendar we have, and try again on the next pass: the
            # file may be half-written, or an operator is fixing it. Each problem is logged once.
            if str(exc) != self._last_error:
                self._last_error = str(exc)
                log.error("calendar file refused; keeping the current calendar", error=str(exc))
            return False
        self._signature = signature
        self._last_error = ""
        self._rules.counter = PeriodCounter(calendar)
        log.info("calendar loaded", years=f"{calendar.known_years[0]}–{calendar.known_years[-1]}")
        return True
