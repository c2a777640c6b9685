"""The simulator's workload: the same seed gives the same year, rest days file nothing,
every filing is one intake accepts, the money of a case comes from one source the query
will find and goes out through a notice and a payout, the notice late sometimes, and a case
ends this round (终本) only the way the law allows."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from pydantic import ValidationError

from services.agency_gateway.synthetic import synthetic_assets
from services.intake.domain import FileCase
from tools.simulator.run import subject
from tools.simulator.workload import (
    NOTIFY_LIMIT_WD,
    PAY_LIMIT_WD,
    ZHONGBEN_MIN_MONTHS,
    Filing,
    Workload,
    WorkloadSettings,
)
from zhixing.assets import CHANNELS, LIQUID_KINDS, AssetKind
from zhixing.auth import Role
from zhixing.periods import add_months
from zhixing.workcalendar import StatutoryCalendar


def workload(**overrides: object) -> Workload:
    settings = WorkloadSettings(**{"courts": 2, "cases_per_court_per_year": 2_000, "days": 14,
                                   **overrides})  # type: ignore[arg-type]  # fmt: skip
    return Workload(settings, StatutoryCalendar.load())


def test_the_same_seed_gives_the_same_year_and_another_seed_another() -> None:
    first, again, other = workload(), workload(), workload(seed=7)
    day = dt.date(2026, 1, 6)
    assert first.filings_on(day) == again.filings_on(day)
    assert first.filings_on(day) != other.filings_on(day)


def test_courts_file_on_working_days_only_at_the_yearly_rate() -> None:
    year = workload(days=365, courts=1, cases_per_court_per_year=500)
    filed = {day: len(year.filings_on(day)) for day in year.days}
    assert filed[dt.date(2026, 1, 10)] == 0  # a Saturday
    assert filed[dt.date(2026, 10, 1)] == 0  # 国庆节
    # Spread over the working days: 500 ± a few (each day rounds at random).
    assert 450 <= sum(filed.values()) <= 550


def test_every_filing_is_one_intake_accepts() -> None:
    year = workload(days=30)
    filings = [f for day in year.days for f in year.filings_on(day)]
    assert len(filings) > 100
    for filing in filings:
        FileCase.model_validate(filing.body)  # raises on anything intake would refuse
    assert len({f.key for f in filings}) == len(filings)
    kinds = {f.body["debtors"][0]["kind"] for f in filings}
    assert kinds == {"organisation", "natural_person"}


def test_a_jurisdiction_without_basic_courts_is_refused() -> None:
    with pytest.raises(ValueError, match="no basic courts"):
        workload(intermediate_court="苏1283")


# --- money ---------------------------------------------------------------------------------

MONEY_IN = ("receipt", "deduct", "sold")
MONEY_OUT = ("hold", "approve", "pay-notice", "payout", "release")


def money_year(**overrides: object) -> Workload:
    return workload(**{"days": 365, "courts": 1, "cases_per_court_per_year": 1_500,
                       "payment_share": 0.3, "deduction_share": 0.3, "sale_share": 0.3,
                       "hold_share": 0.3, "late_notice_share": 0.2, **overrides})  # fmt: skip


def ends_round(filing: Filing) -> bool:
    return any(act.name == "zhongben" for _, act in filing.later)


def test_each_case_has_one_source_of_money_and_pays_it_out_in_order() -> None:
    year = money_year()
    sources: Counter[str] = Counter()
    filings = [f for day in year.days for f in year.filings_on(day) if not ends_round(f)]
    for filing in filings:
        acts = [(after, act.name) for after, act in filing.later]
        names = [name for _, name in acts]
        assert [after for after, _ in acts] == sorted(after for after, _ in acts)
        arrivals = [name for name in names if name in MONEY_IN]
        assert len(arrivals) <= 1
        if not arrivals:
            assert "pay-notice" not in names and "payout" not in names
            continue
        sources[arrivals[0]] += 1
        arrival = names.index(arrivals[0])
        if "seize" in names:
            assert names[:arrival].count("seize") == 1
            assert names.index("seize") < names.index("price") < names.index("price-fixed")
            assert names.index("price-fixed") < names.index("sale") < arrival
        # Money out: notice then payout for the arrival, and again for a held part released.
        out = [name for name in names[arrival + 1 :] if name in MONEY_OUT]
        if "hold" in out:
            assert out == ["hold", "approve", "pay-notice", "payout", "release", "pay-notice",
                           "payout"]  # fmt: skip
        else:
            assert out == ["pay-notice", "payout"]
        if "close" in names:  # closed once its money is out (a restriction lifted after)
            close = names.index("close")
            assert set(names[close + 1 :]) <= {"lift"}
            last_money = max(after for after, name in acts if name in MONEY_IN + MONEY_OUT)
            assert acts[close][0] > last_money
    # Every source happens, each for about its share of the cases.
    for source in MONEY_IN:
        assert sources[source] > 0.1 * len(filings), sources


def test_deductions_and_sales_act_on_what_the_query_will_find_within_the_claim() -> None:
    year = money_year()
    seed = year.settings.seed
    checked: Counter[str] = Counter()
    for day in year.days:
        for filing in year.filings_on(day):
            found = {a.asset_key: a for channel in CHANNELS
                     for a in synthetic_assets(seed, filing.debtor_id, channel)}  # fmt: skip
            money = sum(a.value_fen for a in found.values()
                        if AssetKind(a.kind) in LIQUID_KINDS and a.online_control)  # fmt: skip
            claim = filing.body["claim_amount_fen"]
            for _, act in filing.later:
                if act.name == "deduct":  # a deposit the query froze whole
                    deposit = found[act.asset_key]
                    assert AssetKind(deposit.kind) in LIQUID_KINDS and deposit.online_control
                    assert act.amount_fen == deposit.value_fen and money <= claim
                elif act.name == "seize":  # room left by the money frozen: no over-seizure
                    asset = found[act.asset_key]
                    assert AssetKind(asset.kind) not in LIQUID_KINDS and asset.online_control
                    assert asset.value_fen + money <= claim
                elif act.name in ("price-fixed", "sold", "receipt"):
                    assert act.amount_fen > 0
                elif act.name == "hold":
                    assert 0 < act.permille < 1000
                if act.name in ("deduct", "seize"):
                    assert not filing.shared_debtor  # no two cases race for one asset
                checked[act.name] += 1
    assert checked["deduct"] and checked["seize"]


def test_notices_to_finance_are_late_sometimes_and_payouts_in_time() -> None:
    year = money_year(late_notice_share=0.2)
    on_time = late = 0
    for day in year.days:
        for filing in year.filings_on(day):
            acts = list(filing.later)
            arrival = next((after for after, act in acts if act.name in MONEY_IN), None)
            if arrival is None or ends_round(filing):
                continue
            notice = next(after for after, act in acts if act.name == "pay-notice")
            payout = next(after for after, act in acts if act.name == "payout")
            limit = year.last_working_day(day + dt.timedelta(days=arrival), NOTIFY_LIMIT_WD)
            if day + dt.timedelta(days=notice) > limit:
                late += 1
            else:
                on_time += 1
            paid_by = year.last_working_day(day + dt.timedelta(days=notice), PAY_LIMIT_WD)
            assert day + dt.timedelta(days=payout) <= paid_by
    assert 0.15 < late / (late + on_time) < 0.25


def test_the_money_shares_leave_one_source_per_case() -> None:
    with pytest.raises(ValidationError, match="one source"):
        WorkloadSettings(payment_share=0.5, deduction_share=0.4, sale_share=0.2)


def test_officer_leader_and_finance_are_different_people() -> None:
    people = {subject(role, "苏1283") for role in (Role.OFFICER, Role.LEADER, Role.FINANCE)}
    assert len(people) == 3
    assert subject(Role.OFFICER, "苏1283") != subject(Role.OFFICER, "苏1281")


# --- ending this round (终本) -----------------------------------------------------------


def test_a_case_ends_this_round_only_after_the_gate_period_and_every_act_it_needs() -> None:
    year = money_year(listing_share=0.5, resumption_share=0.5)
    ended: Counter[str] = Counter()
    for day in year.days:
        for filing in year.filings_on(day):
            if not ends_round(filing):
                continue
            acts = [(after, act.name) for after, act in filing.later]
            names = [name for _, name in acts]
            when = dict((name, after) for after, name in acts)
            end = when["zhongben"]
            assert day + dt.timedelta(days=end) > add_months(day, ZHONGBEN_MIN_MONTHS)
            assert "close" not in names  # the ruling closes it
            # Everything the gate asks for happens before the proposal.
            for needed in (
                "notice",
                "decline-property",
                "visit",
                "interview",
                "restrict",
                "serve-restriction",
            ):
                assert when[needed] < end, needed
            listed = "list" in names
            assert listed != ("decline-listing" in names)
            if listed:  # ground 4: the report-assets order broken, and punished, first
                assert when["report-violation"] < when["punish"] < when["list"] < end
            # What the query froze is deducted and paid out before the round ends.
            deductions = [after for after, name in acts if name == "deduct"]
            assert names.count("payout") == names.count("pay-notice") == len(deductions)
            assert all(after < when["payout"] < end for after in deductions)
            assert when["serve-ruling"] > end and when.get("resume", end + 1) > end
            ended["ended"] += 1
            ended["listed"] += listed
            ended["resumed"] += "resume" in names
    assert ended["ended"] > 50 and 0 < ended["listed"] < ended["ended"]
    assert 0 < ended["resumed"] < ended["ended"]


def test_only_a_debtor_whose_money_is_frozen_whole_and_short_of_the_claim_ends_the_round() -> None:
    year = money_year()
    seed = year.settings.seed
    for day in year.days:
        for filing in year.filings_on(day):
            if not ends_round(filing):
                continue
            found = [a for channel in CHANNELS
                     for a in synthetic_assets(seed, filing.debtor_id, channel)]  # fmt: skip
            money = [a for a in found if AssetKind(a.kind) in LIQUID_KINDS and a.online_control]
            assert not filing.shared_debtor
            assert sum(a.value_fen for a in money) < filing.body["claim_amount_fen"]
            deducted = sorted(act.asset_key for _, act in filing.later if act.name == "deduct")
            assert deducted == sorted(a.asset_key for a in money)


def test_a_restricted_debtor_of_a_performed_case_is_lifted_after_the_closure() -> None:
    year = money_year(restriction_share=1.0)
    lifted = 0
    for day in year.days:
        for filing in year.filings_on(day):
            acts = {act.name: after for after, act in filing.later}
            if "lift" not in acts:
                continue
            closed = next(after for after, act in filing.later if act.name == "close")
            assert next(act.method for _, act in filing.later if act.name == "close") == "执行完毕"
            assert acts["restrict"] < closed < acts["lift"]
            lifted += 1
    assert lifted > 50
