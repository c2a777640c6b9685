import datetime as dt
import os
from pathlib import Path

from services.deadlines.calendar_watch import CalendarWatcher
from services.deadlines.domain import ClockRules
from zhixing.periods import PeriodCounter
from zhixing.rules import load_catalogue
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

GOOD = "year: 2027\nsource: notice\nholidays: [2027-01-01]\n"


def test_a_half_written_file_is_retried_until_it_loads(tmp_path: Path) -> None:
    settings = CalendarSettings(dir=tmp_path)
    rules = ClockRules(load_catalogue(environ={}), PeriodCounter(StatutoryCalendar.load(settings)))
    watcher = CalendarWatcher(rules, settings)
    assert watcher() is False  # nothing changed

    path = tmp_path / "2027.yaml"
    path.write_text("year: 2027\nsource: notice\n", encoding="utf-8")  # holidays not yet written
    assert watcher() is False
    assert not rules.counter.calendar.covers(dt.date(2027, 1, 1))

    stamp = path.stat().st_mtime_ns
    path.write_text(GOOD, encoding="utf-8")
    os.utime(path, ns=(stamp, stamp))  # same mtime as the half-written file
    assert watcher() is True
    assert rules.counter.calendar.covers(dt.date(2027, 1, 1))
    assert watcher() is False
