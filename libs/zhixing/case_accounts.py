"""The case's own account number (一案一账号, ¶19–21).

Each court keeps one special account for enforcement money (执行款专户, ¶21); each case gets
a sub-account of it, and the execution notice tells the debtor to pay into that number and
nowhere else (¶20). The number is a pure function of the case number, so intake (which
states it on the notice at filing) and the funds service (which matches the money arriving
in it) agree without asking each other, and two cases never share one.

Layout, 17 digits: the court (6: province code and the court's digits, padded), the year
(2), the case type (1), the case's sequence (7) and a Luhn check digit, which catches a
mistyped digit before a search for a case that does not exist.
"""

from __future__ import annotations

import re

from stdnum import luhn

from zhixing.courts import PROVINCE_ABBREVIATIONS, SUPREME_COURT

__all__ = [
    "CASE_TYPE_CODES",
    "account_of_case_number",
    "case_account_number",
    "is_case_account_number",
]

CASE_TYPE_CODES = ("执", "执恢", "执保", "执异", "执复", "执监", "执协", "执请")
"""The case type codes (法〔2015〕137号) in the order that numbers them in an account."""

_PROVINCE_OF = {abbreviation: code for code, abbreviation in PROVINCE_ABBREVIATIONS.items()}
_PROVINCE_OF["兵"] = "66"  # the Xinjiang Production and Construction Corps courts
_ACCOUNT = re.compile(r"^\d{17}$")
MAX_SEQUENCE = 9_999_999


def _court_digits(court_code: str) -> str:
    if court_code == SUPREME_COURT:
        return "000000"
    province = _PROVINCE_OF.get(court_code[:1])
    digits = court_code[1:]
    if province is None or (not digits.isdigit() and digits):
        raise ValueError(f"{court_code!r} has no account prefix")
    return province + digits.ljust(4, "0")


def case_account_number(court_code: str, year: int, type_code: str, sequence: int) -> str:
    """The sub-account of the case numbered ``（year）court type sequence 号``."""
    if type_code not in CASE_TYPE_CODES:
        raise ValueError(f"unknown case type code {type_code!r}")
    if not 0 < sequence <= MAX_SEQUENCE:
        raise ValueError(f"case sequence {sequence} does not fit an account number")
    body = (
        f"{_court_digits(court_code)}{year % 100:02d}"
        f"{CASE_TYPE_CODES.index(type_code) + 1}{sequence:07d}"
    )
    return body + luhn.calc_check_digit(body)


def is_case_account_number(text: str) -> bool:
    """Has the shape of a case account number and a valid check digit."""
    return bool(_ACCOUNT.match(text)) and luhn.is_valid(text)


def account_of_case_number(case_number: str, court_code: str, type_code: str) -> str | None:
    """The account of a case known by its number (``（2026）苏1283执13号``), for events
    recorded before the account was stated on them; None if the number is not of that court
    and type."""
    match = re.fullmatch(
        rf"（(\d{{4}})）{re.escape(court_code)}{re.escape(type_code)}(\d+)号", case_number
    )
    if match is None:
        return None
    try:
        return case_account_number(court_code, int(match[1]), type_code, int(match[2]))
    except ValueError:
        return None
