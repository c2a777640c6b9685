"""The simulator drives the real services through their public APIs on the simulated clock:
every filing and act of the workload lands, none is refused, the command centre's figures
count what was done, and the year's money reconciles."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.conftest import Isolated
from tools.simulator import simulate
from tools.simulator.run import MONEY_ACTS, ONE_PROCESS
from tools.simulator.workload import Workload, WorkloadSettings
from zhixing.workcalendar import StatutoryCalendar

pytestmark = pytest.mark.integration


async def test_a_simulated_fortnight_lands_every_act(isolated: Isolated) -> None:
    settings = WorkloadSettings(
        courts=2, cases_per_court_per_year=1_000, days=14, entrustment_share=0.2,
        dispute_share=0.2, closure_share=0.5, closure_days_mean=5,
        payment_share=0.3, deduction_share=0.3, sale_share=0.3, hold_share=0.5, auction_days=2,
    )  # fmt: skip
    workload = Workload(settings, StatutoryCalendar.load())
    last = settings.start + dt.timedelta(days=settings.days - 1)
    expected: Counter[str] = Counter()
    for day in workload.days:
        for filing in workload.filings_on(day):
            expected["file"] += 1
            for after, act in filing.later:
                if day + dt.timedelta(days=after) <= last:
                    expected[act.name] += 1
    assert expected["entrust"] and expected["dispute"] and expected["close"]
    # Every step of money in and out happens within the fortnight.
    assert all(expected[act] for act in MONEY_ACTS), expected

    report = await simulate(
        settings, bootstrap_servers=isolated.kafka.bootstrap_servers,
        redis_url=isolated.redis_settings.url,
    )  # fmt: skip

    assert report.refused == Counter()
    assert report.days == 14 and report.filed == expected["file"]
    for name in ("file", "assign", "notice", "entrust", "dispute", "close", *MONEY_ACTS):
        assert report.acts[name] == expected[name], name
    counts = report.figures["counts"]
    assert counts["filed"] == report.filed and counts["closed"] == expected["close"]
    # Every case opened its clocks, and every event of every topic is in the audit chain.
    assert counts["clocks_opened"] >= 4 * report.filed
    assert report.events > counts["clocks_opened"]
    # The year's money reconciles at every court: received = paid + in account + lodged.
    assert report.balances
    courts = {c["court_code"]: c for c in report.reconciliation}
    assert set(workload.courts) <= set(courts) and all(c["balances"] for c in courts.values())
    money = report.money
    assert money["paid_fen"] > 0 and money["in_account_fen"] > 0 and money["lodged_fen"] == 0
    assert money["received_fen"] == money["paid_fen"] + money["in_account_fen"]


async def test_a_simulated_season_ends_cases_only_as_the_law_allows(isolated: Isolated) -> None:
    """Three and a half months: the cases filed first reach the 终本 gate's period, and
    every one the workload ends this round passes it (deductions paid out, worthless
    property declined, debtor visited, applicant interviewed, debtor restricted and listed
    or not), so nothing is refused because the workload is lawful, not because the gate is
    loose."""
    settings = WorkloadSettings(
        courts=1, cases_per_court_per_year=250, days=108, entrustment_share=0,
        dispute_share=0, closure_share=1.0, closure_days_mean=15, payment_share=0.2,
        deduction_share=0.2, sale_share=0, hold_share=0, listing_share=0.5,
        resumption_share=0, restriction_share=0.5,
    )  # fmt: skip
    workload = Workload(settings, StatutoryCalendar.load())
    last = settings.start + dt.timedelta(days=settings.days - 1)
    expected: Counter[str] = Counter()
    for day in workload.days:
        for filing in workload.filings_on(day):
            for after, act in filing.later:
                if day + dt.timedelta(days=after) <= last:
                    expected[act.name] += 1
    for name in ("zhongben", "list", "decline-listing", "punish", "lift", "serve-ruling"):
        assert expected[name], name

    report = await simulate(
        settings, bootstrap_servers=isolated.kafka.bootstrap_servers,
        redis_url=isolated.redis_settings.url,
    )  # fmt: skip

    assert report.refused == Counter()
    for name, count in expected.items():
        assert report.acts[name] == count, name
    assert report.acts["zhongben-approve"] == expected["zhongben"]
    counts = report.figures["counts"]
    assert counts["closed"] == expected["close"] + expected["zhongben"]
    assert report.balances


async def test_the_services_as_processes_do_what_they_do_in_one(isolated: Isolated) -> None:
    """The bench's production shape: each service its own process, following the simulated
    clock through Redis. The same week lands the same acts, figures and money as with every
    service in one process, and each process's CPU time is reported."""
    settings = WorkloadSettings(
        courts=1, cases_per_court_per_year=1_500, days=5, start=dt.date(2026, 3, 2),
        closure_share=0.5, closure_days_mean=2, payment_share=0.5, deduction_share=0.3,
    )  # fmt: skip
    kafka, redis = isolated.kafka.bootstrap_servers, isolated.redis_settings.url
    alone = await simulate(settings, bootstrap_servers=kafka, redis_url=redis)
    apart = await simulate(settings, bootstrap_servers=kafka, redis_url=redis, processes=True)

    assert apart.refused == Counter() and apart.filed == alone.filed > 0
    assert apart.acts == alone.acts
    for figure in ("filed", "closed", "clocks_opened"):
        assert apart.figures["counts"][figure] == alone.figures["counts"][figure], figure
    assert apart.balances and apart.money == alone.money
    services = {"deadlines", "intake", "asset_control", "command", "entrustment",
                "dispute_coordinator", "funds", "credit"}  # fmt: skip
    assert set(apart.cpu_s) == services | {"simulator"}
    assert all(cpu > 0 for cpu in apart.cpu_s.values()), apart.cpu_s
    assert set(alone.cpu_s) == {ONE_PROCESS}
