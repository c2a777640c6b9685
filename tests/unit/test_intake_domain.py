"""Intake's pure rules: case numbers, triage, minors."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.intake.domain import FileCase, NewFiling, Track, case_number, triage
from tests.factories import filing, full_width
from tools.demo import resident_id


def test_case_numbers_follow_the_2015_format() -> None:
    assert case_number(2026, "苏1283", "执", 12) == "（2026）苏1283执12号"
    assert case_number(2026, "苏1283", "执恢", 1) == "（2026）苏1283执恢1号"


@pytest.mark.parametrize(
    ("needed", "liquid", "to_dispose", "count", "track"),
    [
        (100, 100, 0, 1, Track.SIMPLE),  # money covers it in one go
        (100, 0, 0, 0, Track.SIMPLE),  # nothing found, nothing to dispose of
        (100, 60, 0, 1, Track.ORDINARY),  # not enough
        (100, 0, 1, 1, Track.ORDINARY),  # a house to sell
    ],
)
def test_triage_asks_the_three_questions_of_paragraph_7(
    needed: int, liquid: int, to_dispose: int, count: int, track: Track
) -> None:
    decided, reasons = triage(
        needed_fen=needed, liquid_value_fen=liquid, assets_to_dispose=to_dispose,
        asset_count=count,
    )  # fmt: skip
    assert decided is track and reasons


def test_a_debtor_is_a_minor_until_the_day_after_the_eighteenth_birthday() -> None:
    born = date(2008, 5, 5)
    person = resident_id("321283", born, 3)
    cmd = FileCase.model_validate(
        filing(debtors=[{"kind": "natural_person", "name": "王某", "id_number": person}])
    )
    assert cmd.minor_debtors(date(2026, 5, 5)) == [person]
    assert cmd.minor_debtors(date(2026, 5, 6)) == []


@pytest.mark.parametrize("account", ["6222 0212 0000 0001", "6222-0212-0000-0001", "62220212"])
def test_a_receiving_account_as_written_is_accepted(account: str) -> None:
    assert FileCase.model_validate(filing(receiving_account=account)).receiving_account == account


@pytest.mark.parametrize("account", ["见附件", "tbd", " - ", "6222;DROP"])
def test_a_filing_without_an_account_money_can_be_paid_to_is_refused_naming_the_gate(
    account: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        FileCase.model_validate(filing(receiving_account=account))
    (error,) = refused.value.errors()
    assert error["loc"] == ("receiving_account",)
    assert "rule intake.receiving-account" in error["msg"]


def test_a_year_one_date_is_refused_before_it_can_overflow_a_clock() -> None:
    with pytest.raises(ValidationError) as refused:
        FileCase.model_validate(filing(received_on="0001-01-01"))
    assert refused.value.errors()[0]["loc"] == ("received_on",)
    assert "1949-10-01" in refused.value.errors()[0]["msg"]


def test_a_party_named_twice_or_on_both_sides_is_refused_naming_where() -> None:
    person = filing()["applicants"][0]
    company = filing()["debtors"][0]
    twice = filing(debtors=[company, {**company, "name": "另一个名字"}])
    both = filing(debtors=[company, {**person, "name": "张三"}])
    for body, loc, said in (
        (twice, ("debtors",), "debtors[1] has the id_number of debtors[0]"),
        (filing(applicants=[person, person]), ("applicants",), "applicants[1] has the id_number"),
        (both, ("debtors",), "debtors[1] has the id_number of an applicant"),
    ):
        with pytest.raises(ValidationError) as refused:
            NewFiling.model_validate(body)
        (error,) = refused.value.errors()
        assert error["loc"] == loc and said in error["msg"]
        FileCase.model_validate(body)  # an application kept before the check still reads


def test_an_id_number_typed_full_width_is_kept_as_ascii_and_is_the_same_party() -> None:
    """A debtor filed with a full-width digit was kept as typed: the nationwide credit query
    by the real number did not find them, and the applicant could be filed as a debtor."""
    person = filing()["applicants"][0]
    wide = full_width(person["id_number"])
    assert wide != person["id_number"]
    kept = FileCase.model_validate(filing(debtors=[{**person, "id_number": f" {wide} "}]))
    assert kept.debtors[0].id_number == person["id_number"]
    with pytest.raises(ValidationError, match="debtors\\[0\\] has the id_number of an applicant"):
        NewFiling.model_validate(filing(debtors=[{**person, "id_number": wide}]))
