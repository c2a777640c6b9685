"""The bounds of every input: strings, lists, amounts and periods.

Every request field is bounded, so that nothing a client sends can overflow an int64 in an
event or a sum, fill Redis, or flood the outside systems (issue 13). Amounts are whole fen
(分) and at most ``MAX_AMOUNT_FEN``, so the sum of ``MAX_AMOUNTS_SUMMED`` of them still fits
a signed 64-bit integer (protobuf ``int64``), with room to spare; a case never holds more
amounts than that (parties, leads and assets are bounded below it).

The numbers here are engineering bounds, not statutory ones: statutory limits live in the
rule catalogue (``zhixing.rules``).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field, StrictInt

__all__ = [
    "INT64_MAX",
    "MAX_ACCOUNT",
    "MAX_AMOUNTS_SUMMED",
    "MAX_AMOUNT_FEN",
    "MAX_DAYS",
    "MAX_ID",
    "MAX_LEADS_PER_CASE",
    "MAX_LIST",
    "MAX_NAME",
    "MAX_PARTIES",
    "MAX_TEXT",
    "BankAccount",
    "Days",
    "Fen",
    "FenOrZero",
    "PathId",
    "ShortText",
    "Text",
    "bank_account",
]

INT64_MAX = 2**63 - 1

MAX_AMOUNT_FEN = 10**15
"""One amount: 10 trillion yuan (十万亿元), far above any claim a court has enforced."""

MAX_AMOUNTS_SUMMED = INT64_MAX // MAX_AMOUNT_FEN
"""How many maximal amounts may be added before an int64 overflows (9,223)."""

MAX_PARTIES = 100
"""Applicants, or debtors, of one filing. Each debtor is queried on every channel, so this
also bounds the query units one filing creates (with ``Channel``'s 8 channels: 800)."""

MAX_LEADS_PER_CASE = 200
"""Asset leads of one case, given at filing and later together."""

MAX_LIST = 50
"""Any other list in a request (documents, case ids, courts of a dispute)."""

MAX_ID = 100
"""An identifier: a case, asset, lead, dispute, entrustment or command id, a reference."""

MAX_NAME = 200
"""A name: a party, a court, a department, an officer."""

MAX_TEXT = 2000
"""Free text: a reason, an instruction, an opinion, a description."""

MAX_ACCOUNT = 64
"""A receiving account (¶20): a bank account number, with spaces or dashes as written."""

_BANK_ACCOUNT = re.compile(r"[0-9 -]*[0-9][0-9 -]*")


def bank_account(text: str) -> str:
    """A bank account number as people write it: digits, spaced or dashed, at least one
    digit; anything else is refused (it could not be paid to)."""
    if not _BANK_ACCOUNT.fullmatch(text):
        raise ValueError("a bank account number is digits, spaced or dashed as written")
    return text


BankAccount = Annotated[
    str, Field(min_length=1, max_length=MAX_ACCOUNT), AfterValidator(bank_account)
]
"""A receiving account: where a case's money is paid (¶20)."""

MAX_DAYS = 3650
"""A number of days or working days in a request (ten years): any statutory period asked
for is far below it, and its rule checks the real limit."""

assert MAX_AMOUNTS_SUMMED > MAX_PARTIES * 8 + MAX_LEADS_PER_CASE + 2  # a case's sums fit

Fen = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_FEN, description="Whole fen (分), > 0")]
"""A positive amount of money."""

FenOrZero = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_FEN, description="Whole fen (分)")]
"""An amount that may be zero (costs, a disputed amount)."""

Days = Annotated[StrictInt, Field(gt=0, le=MAX_DAYS)]
"""A positive number of days in a request."""

PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID)]
"""An identifier in a URL path."""

ShortText = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
"""A required name or short label."""

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
"""Required free text."""
