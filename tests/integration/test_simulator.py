"""The simulator drives the real services through their public APIs on the simulated clock:
every filing and act of the workload lands, none is refused, and the command centre's
figures count what was done."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.conftest import Isolated
from tools.simulator import simulate
from tools.simulator.workload import Workload, WorkloadSettings
from zhixing.workcalendar import StatutoryCalendar

pytestmark = pytest.mark.integration


async def test_a_simulated_fortnight_lands_every_act(isolated: Isolated) -> None:
    settings = WorkloadSettings(
        courts=2, cases_per_court_per_year=1_000, days=14, entrustment_share=0.2,
        dispute_share=0.2, closure_share=0.5, closure_days_mean=5,
    )  # fmt: skip
    workload = Workload(settings, StatutoryCalendar.load())
    last = settings.start + dt.timedelta(days=settings.days - 1)
    expected: Counter[str] = Counter()
    for day in workload.days:
        for filing in workload.filings_on(day):
            expected["file"] += 1
            for after, act in filing.later.items():
                if day + dt.timedelta(days=after) <= last:
                    expected[act.split(":")[0]] += 1
    assert expected["entrust"] and expected["dispute"] and expected["close"]

    report = await simulate(
        settings, bootstrap_servers=isolated.kafka.bootstrap_servers,
        redis_url=isolated.redis_settings.url,
    )  # fmt: skip

    assert report.refused == Counter()
    assert report.days == 14 and report.filed == expected["file"]
    for act in ("file", "assign", "notice", "entrust", "dispute", "close"):
        assert report.acts[act] == expected[act], act
    counts = report.figures["counts"]
    assert counts["filed"] == report.filed and counts["closed"] == expected["close"]
    # Every case opened its clocks, and every event of every topic is in the audit chain.
    assert counts["clocks_opened"] >= 4 * report.filed
    assert report.events > counts["clocks_opened"]
