"""The simulator drives the real services through their public APIs on the simulated clock:
every filing and act of the workload lands, none is refused, the command centre's figures
count what was done, and the year's money reconciles."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.conftest import TEST_FETCH_MAX_WAIT_MS, Isolated
from tools.simulator import simulate
from tools.simulator.run import MONEY_ACTS
from tools.simulator.workload import Workload, WorkloadSettings
from zhixing.workcalendar import StatutoryCalendar

pytestmark = pytest.mark.integration


async def test_a_simulated_fortnight_lands_every_act(isolated: Isolated) -> None:
    settings = WorkloadSettings(
        courts=2, cases_per_court_per_year=1_000, days=14, entrustment_share=0.2,
        dispute_share=0.2, closure_share=0.5, closure_days_mean=5,
        payment_share=0.3, deduction_share=0.3, sale_share=0.3, hold_share=0.5, auction_days=2,
    )  # fmt: skip
    expected = _expected_acts(settings)
    assert expected["entrust"] and expected["dispute"] and expected["close"]
    # Every step of money in and out happens within the fortnight.
    assert all(expected[act] for act in MONEY_ACTS), expected

    report = await simulate(
        settings, bootstrap_servers=isolated.kafka.bootstrap_servers,
        redis_url=isolated.redis_settings.url, fetch_max_wait_ms=TEST_FETCH_MAX_WAIT_MS,
    )  # fmt: skip

    assert report.refused == Counter(), report.first_refusals
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
    planned = Workload(settings, StatutoryCalendar.load()).courts
    assert set(planned) <= set(courts) and all(c["balances"] for c in courts.values())
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
        redis_url=isolated.redis_settings.url, fetch_max_wait_ms=TEST_FETCH_MAX_WAIT_MS,
    )  # fmt: skip

    assert report.refused == Counter(), report.first_refusals
    for name, count in expected.items():
        assert report.acts[name] == count, name
    assert report.acts["zhongben-approve"] == expected["zhongben"]
    counts = report.figures["counts"]
    assert counts["closed"] == expected["close"] + expected["zhongben"]
    assert report.balances


async def test_the_services_as_replicated_processes_land_every_act(isolated: Isolated) -> None:
    """The bench's production shape: each service its own process, the hot ones two
    replicas sharing their consumer groups' partitions and one lease on their loops, all
    following the simulated clock through Redis. Every act lands once, the figures count
    it, the money balances, and each process's CPU time is reported."""
    settings = WorkloadSettings(
        courts=1, cases_per_court_per_year=1_500, days=5, start=dt.date(2026, 3, 2),
        closure_share=0.5, closure_days_mean=2, payment_share=0.5, deduction_share=0.3,
    )  # fmt: skip
    expected = _expected_acts(settings)
    assert expected["assign"] and expected["notice"] and expected["receipt"]
    replicas = {"intake": 2, "asset_control": 2, "command": 2, "deadlines": 2}
    report = await simulate(
        settings, bootstrap_servers=isolated.kafka.bootstrap_servers,
        redis_url=isolated.redis_settings.url, processes=True, replicas=replicas,
        fetch_max_wait_ms=TEST_FETCH_MAX_WAIT_MS,
    )  # fmt: skip

    assert report.refused == Counter(), report.first_refusals
    assert report.filed == expected["file"] > 0
    assert {act: report.acts[act] for act in expected} == dict(expected)
    counts = report.figures["counts"]
    assert counts["filed"] == report.filed and counts["closed"] == expected["close"]
    assert counts["clocks_opened"] >= 4 * report.filed
    assert report.balances
    services = {"deadlines", "intake", "asset_control", "command", "entrustment",
                "dispute_coordinator", "funds", "credit"}  # fmt: skip
    seconds = {f"{name}#1" for name in replicas}
    assert set(report.cpu_s) == services | seconds | {"simulator"}
    assert all(cpu > 0 for cpu in report.cpu_s.values()), report.cpu_s


def _expected_acts(settings: WorkloadSettings) -> Counter[str]:
    """The acts the workload plans within its days (those planned later are not done)."""
    workload = Workload(settings, StatutoryCalendar.load())
    last = settings.start + dt.timedelta(days=settings.days - 1)
    expected: Counter[str] = Counter()
    for day in workload.days:
        for filing in workload.filings_on(day):
            expected["file"] += 1
            for after, act in filing.later:
                if day + dt.timedelta(days=after) <= last:
                    expected[act.name] += 1
    return expected
