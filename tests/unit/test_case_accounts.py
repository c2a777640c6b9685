"""The case's account number (一案一账号): unique per case number, checkable, and found
again from the case number for filings recorded before it was stated on them."""

from typing import get_args

import pytest

from services.intake.domain import CaseTypeCode
from zhixing.case_accounts import (
    CASE_TYPE_CODES,
    account_of_case_number,
    case_account_number,
    is_case_account_number,
)


def test_every_case_type_of_intake_numbers_an_account() -> None:
    assert set(get_args(CaseTypeCode)) == set(CASE_TYPE_CODES)


def test_case_numbers_of_different_courts_types_years_and_sequences_never_share_an_account() -> (
    None
):
    numbers = {
        case_account_number(court, year, type_code, sequence)
        for court in ("苏1283", "苏1282", "苏12", "苏", "浙0102", "最高法")
        for year in (2026, 2027)
        for type_code in CASE_TYPE_CODES
        for sequence in (1, 13, 9_999_999)
    }
    assert len(numbers) == 6 * 2 * len(CASE_TYPE_CODES) * 3
    assert all(is_case_account_number(n) for n in numbers)


def test_a_mistyped_digit_is_caught_by_the_check_digit() -> None:
    account = case_account_number("苏1283", 2026, "执", 13)
    wrong = account[:5] + str((int(account[5]) + 1) % 10) + account[6:]
    assert not is_case_account_number(wrong)
    assert not is_case_account_number(account[:-1])


@pytest.mark.parametrize("sequence", [0, 10_000_000])
def test_a_sequence_that_does_not_fit_is_refused(sequence: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        case_account_number("苏1283", 2026, "执", sequence)


def test_the_account_is_found_again_from_the_case_number() -> None:
    assert account_of_case_number("（2026）苏1283执恢13号", "苏1283", "执恢") == (
        case_account_number("苏1283", 2026, "执恢", 13)
    )
    assert account_of_case_number("（2026）苏1283执恢13号", "苏1283", "执") is None
    assert account_of_case_number("（2026）苏1282执13号", "苏1283", "执") is None
    assert account_of_case_number("", "苏1283", "执") is None
