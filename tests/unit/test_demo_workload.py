"""The lived-in demo's workload and the progress output of long work, without I/O."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from tools.progress import Work
from tools.simulator.lived_in import DemoSize, demo_workload
from tools.simulator.workload import CLOSURE_METHODS, Workload, WorkloadSettings
from zhixing.clock import CHINA_TZ
from zhixing.workcalendar import StatutoryCalendar


def test_the_demo_history_ends_with_the_last_day_whose_morning_has_passed() -> None:
    size = DemoSize(days=10)
    evening = demo_workload(dt.datetime(2026, 12, 2, 21, 0, tzinfo=CHINA_TZ), size)
    assert evening.start == dt.date(2026, 11, 23) and evening.days == 10
    dawn = demo_workload(dt.datetime(2026, 12, 2, 8, 59, tzinfo=CHINA_TZ), size)
    assert dawn.start == dt.date(2026, 11, 22)  # its last day is 1 December


def test_late_officers_serve_the_notice_past_its_limit_and_the_rest_moves_with_it() -> None:
    base = WorkloadSettings(courts=1, cases_per_court_per_year=2_500, days=5)
    calendar = StatutoryCalendar.load()
    on_time = Workload(base, calendar)
    late = Workload(base.model_copy(update={"late_notice_case_share": 1.0}), calendar)
    assert on_time.closure_weights == [w for _, w in CLOSURE_METHODS]
    for day in on_time.working_days:
        for kept, moved in zip(on_time.filings_on(day), late.filings_on(day), strict=True):
            assert kept.body == moved.body  # the same filing
            notice = dict((a.name, after) for after, a in kept.later)["notice"]
            late_notice = dict((a.name, after) for after, a in moved.later)["notice"]
            assert notice == 3 and 11 <= late_notice <= 28
            delay = late_notice - notice
            assert sorted(a for a, _ in moved.later) == sorted(
                a + delay if a >= 3 else a for a, _ in kept.later
            )


def test_long_work_in_a_log_is_plain_lines() -> None:
    out = io.StringIO()
    work = Work(Console(file=out, width=100))
    assert not work.live
    with work.waiting("Kafka to start"):
        pass
    with work.bar("days", 20) as bar:
        bar.waiting("the services to catch up")
        bar.waiting("the services to catch up")
        for _ in range(20):
            bar.advance(note="2026-12-02")
    lines = out.getvalue().splitlines()
    assert "\x1b[" not in out.getvalue()
    assert lines[0] == "waiting for Kafka to start…"
    assert lines.count("days: waiting for the services to catch up…") == 1  # said once
    assert lines[-1] == "days: 20/20 (2026-12-02)" and len(lines) == 3 + 10
