"""The 终本 gate as a pure function of a case's facts and today: each condition alone failing
names exactly its rule; the minor exemption from listing; obstructions that need a search,
or a fine or detention, after them."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from google.protobuf.message import Message

from services.intake.zhongben_domain import (
    GATE_RULES,
    Debtor,
    GateFacts,
    Obstruction,
    ObstructionKind,
    evaluate_gate,
    unmet,
)
from services.intake.zhongben_facts import ZhongbenFacts, unpaid_fen
from zhixing.periods import add_months
from zhixing.rules import catalogue
from zhixing.state import KeySpace
from zhixing.v1 import funds_events_pb2 as funds

FILED_ON = dt.date(2026, 1, 5)
MIN_MONTHS = catalogue().rule("zhongben.min-period").period.limit
TODAY = add_months(FILED_ON, MIN_MONTHS) + dt.timedelta(days=10)
DEBTORS = (Debtor("d0", "某某有限公司"), Debtor("d1", "李四"))
KEYS = frozenset(d.key for d in DEBTORS)

LAWFUL = GateFacts(
    filed_on=FILED_ON,
    debtors=DEBTORS,
    network_query_answered=True,
    visited=KEYS,
    applicant_interviewed=True,
    report_order_served=True,
    restricted=KEYS,
    listed_or_declined=KEYS,
)


def unmet_rules(facts: GateFacts, today: dt.date = TODAY) -> list[str]:
    return [c.rule_id for c in unmet(evaluate_gate(facts, today))]


def test_a_case_meeting_every_condition_passes_and_every_rule_is_checked() -> None:
    conditions = evaluate_gate(LAWFUL, TODAY)
    assert [c.rule_id for c in conditions] == list(GATE_RULES)
    assert all(c.met and not c.missing for c in conditions)
    assert all(c.title == catalogue().rule(c.rule_id).title for c in conditions)


@pytest.mark.parametrize(
    ("rule_id", "change"),
    [
        ("zhongben.network-query", {"network_query_answered": False}),
        ("zhongben.debtor-visited", {"visited": frozenset({"d0"})}),
        ("zhongben.applicant-interviewed", {"applicant_interviewed": False}),
        ("zhongben.report-order", {"report_order_served": False}),
        ("zhongben.restriction", {"restricted": frozenset({"d1"})}),
        ("zhongben.listing", {"listed_or_declined": frozenset({"d0"})}),
        ("zhongben.assets-disposed", {"undisposed_assets": ("asset-1",)}),
        ("zhongben.property-available", {"uncontrolled_assets": ("asset-2",)}),
        ("case.money-paid-out", {"unpaid_fen": 1}),
    ],
)
def test_each_condition_alone_failing_names_exactly_its_rule(
    rule_id: str, change: dict[str, object]
) -> None:
    assert unmet_rules(dataclasses.replace(LAWFUL, **change)) == [rule_id]  # type: ignore[arg-type]


def test_the_minimum_period_has_passed_once_its_last_day_has() -> None:
    # Filed 01-05: the filing day not counted, three months end at 24:00 on 04-05.
    last_day = add_months(FILED_ON, MIN_MONTHS)
    assert last_day == dt.date(2026, 4, 5)
    assert unmet_rules(LAWFUL, last_day) == ["zhongben.min-period"]
    assert unmet_rules(LAWFUL, last_day + dt.timedelta(days=1)) == []
    (condition,) = unmet(evaluate_gate(LAWFUL, last_day))
    assert "至2026-04-05 24时方满3个月，2026-04-06起方可终本".replace(" ", "") in condition.missing


def test_the_missing_text_names_the_debtors_missing() -> None:
    facts = dataclasses.replace(LAWFUL, visited=frozenset({"d0"}))
    (condition,) = unmet(evaluate_gate(facts, TODAY))
    assert "李四（d1）" in condition.missing and "d0" not in condition.missing


def test_a_minor_debtor_need_be_neither_listed_nor_restricted_as_credit_does_neither() -> None:
    with_minor = dataclasses.replace(
        LAWFUL,
        debtors=(DEBTORS[0], Debtor("d1", "小明", minor=True)),
        listed_or_declined=frozenset({"d0"}),
    )
    assert unmet_rules(with_minor) == []
    assert unmet_rules(dataclasses.replace(with_minor, restricted=frozenset({"d0"}))) == []
    # The adult still must be.
    assert unmet_rules(dataclasses.replace(with_minor, restricted=frozenset({"d1"}))) == [
        "zhongben.restriction"
    ]


def test_concealment_needs_a_search_of_that_debtor_on_or_after_it() -> None:
    found = dt.date(2026, 2, 10)
    concealed = dataclasses.replace(
        LAWFUL, obstructions=(Obstruction("o1", "d1", ObstructionKind.CONCEALMENT, found),)
    )
    assert unmet_rules(concealed) == ["zhongben.search-punishment"]
    before = {"d1": found - dt.timedelta(days=1)}
    assert unmet_rules(dataclasses.replace(concealed, last_search=before)) == [
        "zhongben.search-punishment"
    ]
    other_debtor = {"d0": found}
    assert unmet_rules(dataclasses.replace(concealed, last_search=other_debtor)) == [
        "zhongben.search-punishment"
    ]
    punished = {"d1": found}  # a fine does not stand for a search
    assert unmet_rules(dataclasses.replace(concealed, last_punishment=punished)) == [
        "zhongben.search-punishment"
    ]
    assert unmet_rules(dataclasses.replace(concealed, last_search={"d1": found})) == []


def test_a_report_violation_needs_a_fine_or_detention_of_that_debtor_after_it() -> None:
    found = dt.date(2026, 2, 10)
    violated = dataclasses.replace(
        LAWFUL,
        obstructions=(Obstruction("o2", "d0", ObstructionKind.REPORT_VIOLATION, found),),
    )
    assert unmet_rules(violated) == ["zhongben.search-punishment"]
    assert unmet_rules(dataclasses.replace(violated, last_search={"d0": found})) == [
        "zhongben.search-punishment"
    ]
    later = {"d0": found + dt.timedelta(days=3)}
    assert unmet_rules(dataclasses.replace(violated, last_punishment=later)) == []


def test_every_unmet_condition_is_listed_at_once() -> None:
    bare = GateFacts(filed_on=TODAY, debtors=DEBTORS, undisposed_assets=("asset-1",),
                     uncontrolled_assets=("asset-2",), unpaid_fen=1)  # fmt: skip
    assert unmet_rules(bare) == [r for r in GATE_RULES if r != "zhongben.search-punishment"]


def test_a_debtor_with_a_listing_ground_on_record_must_be_listed_unless_a_minor() -> None:
    grounds = dataclasses.replace(LAWFUL, grounds_on_record=frozenset({"d1"}))
    # A decision not to list (in LAWFUL, every debtor's) does not answer for d1.
    assert unmet_rules(grounds) == ["zhongben.listing"]
    missing = next(c.missing for c in evaluate_gate(grounds, TODAY) if not c.met)
    assert "李四（d1）" in missing and "某某有限公司" not in missing
    assert unmet_rules(dataclasses.replace(grounds, listed=frozenset({"d1"}))) == []
    minor = (DEBTORS[0], dataclasses.replace(DEBTORS[1], minor=True))
    assert unmet_rules(dataclasses.replace(grounds, debtors=minor)) == []


def test_money_waiting_in_the_account_is_named_with_its_amount() -> None:
    (condition,) = unmet(evaluate_gate(dataclasses.replace(LAWFUL, unpaid_fen=800_000), TODAY))
    assert condition.rule_id == "case.money-paid-out"
    assert "800000" in condition.missing and "提存" in condition.missing


def keep_all(*payloads: Message) -> dict[str, str]:
    """The facts these events leave, as the gate reads them back (each field as text)."""
    pipe = _RecordingPipe()
    facts = ZhongbenFacts(None, KeySpace("t:", "intake"))  # type: ignore[arg-type]
    for payload in payloads:
        facts.keep(pipe, payload)  # type: ignore[arg-type]
    return {name: str(value) for name, value in pipe.fields.items()}


class _RecordingPipe:
    def __init__(self) -> None:
        self.fields: dict[str, object] = {}

    def hset(self, key: str, name: str, value: object) -> None:
        self.fields[name] = value

    def hdel(self, key: str, name: str) -> None:
        self.fields.pop(name, None)


def test_the_money_waiting_is_what_arrived_less_what_was_paid_out_or_lodged() -> None:
    arrived = [funds.FundsArrived(case_id="c", payment_id=p, amount_fen=a, source="payment")
               for p, a in (("p1", 500_000), ("p2", 300_000))]  # fmt: skip
    paid = funds.FundsPaid(case_id="c", payment_id="p1", payout_id="o1", amount_fen=500_000)
    lodged = funds.FundsLodged(case_id="c", hold_id="h1", payment_id="p2", amount_fen=100_000)
    # A hold released as a payment of its own re-enters nothing (it never left the account);
    # what is paid of it, or of a part released from it in turn, leaves its arrival's money.
    released = funds.FundsReleased(case_id="c", hold_id="h2", payment_id="p3",
                                   from_payment_id="p2", amount_fen=50_000)  # fmt: skip
    again = funds.FundsReleased(case_id="c", hold_id="h4", payment_id="p4",
                                from_payment_id="p3", amount_fen=20_000)  # fmt: skip
    assert unpaid_fen(keep_all(*arrived)) == 800_000
    assert unpaid_fen(keep_all(*arrived, paid, paid, released)) == 300_000  # read twice: once
    of_part = funds.FundsPaid(case_id="c", payment_id="p4", payout_id="o2", amount_fen=20_000)
    assert unpaid_fen(keep_all(*arrived, paid, released, again, of_part)) == 280_000
    whole = funds.PaymentLodged(case_id="c", hold_id="h3", payment_id="p2", amount_fen=200_000)
    assert unpaid_fen(keep_all(*arrived, paid, lodged, whole)) == 0


def test_money_out_of_an_arrival_not_kept_hides_none_kept_since() -> None:
    """Money that arrived before the facts were kept is not known: what is paid of it is
    not counted against money that arrived since."""
    old = funds.FundsPaid(case_id="c", payment_id="old", payout_id="o1", amount_fen=900_000)
    arrived = funds.FundsArrived(case_id="c", payment_id="p1", amount_fen=100_000)
    assert unpaid_fen(keep_all(old)) == 0
    assert unpaid_fen(keep_all(arrived, old)) == 100_000
