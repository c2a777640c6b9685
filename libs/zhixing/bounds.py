"""The bounds of every input: strings, lists, amounts and periods.

Every request field is bounded, so that nothing a client sends can overflow an int64 in an
event or a sum, fill Redis, or flood the outside systems (issue 13). Amounts are whole fen
(分) and at most ``MAX_AMOUNT_FEN``, so the sum of ``MAX_AMOUNTS_SUMMED`` of them still fits
a signed 64-bit integer (protobuf ``int64``), with room to spare; a case holds far fewer
amounts than that (parties and leads are bounded; ``MAX_ASSETS_PER_CASE`` bounds the assets
the outside systems' answers and verified leads record, and ``zhixing.outside_answers`` each
answer; an entrusted court's controls, done by hand one by one, are not counted against it,
and ``MAX_ENTRUSTMENTS_PER_CASE`` bounds them).

The numbers here are engineering bounds, not statutory ones: statutory limits live in the
rule catalogue (``zhixing.rules``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, Field, StrictInt

from zhixing.clock import CHINA_TZ

__all__ = [
    "EARLIEST_DAY",
    "INT64_MAX",
    "MAX_ACCOUNT",
    "MAX_AMOUNTS_SUMMED",
    "MAX_AMOUNT_FEN",
    "MAX_ASSETS_PER_CASE",
    "MAX_DAYS",
    "MAX_ENTRUSTMENTS_PER_CASE",
    "MAX_ID",
    "MAX_LEADS_PER_CASE",
    "MAX_LIST",
    "MAX_LONG_TEXT",
    "MAX_NAME",
    "MAX_PARTIES",
    "MAX_PAUSES_PER_CASE",
    "MAX_REPEATED_ACTS",
    "MAX_TEXT",
    "NOT_TEXT",
    "BankAccount",
    "Days",
    "Fen",
    "FenOrZero",
    "PastDate",
    "PastDateTime",
    "PathId",
    "ShortText",
    "Text",
    "bank_account",
    "control_character_in",
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

MAX_ASSETS_PER_CASE = 4000
"""Assets the network query's answers and verified leads record in one case, over all its
rounds: an answer that would take a case past it fails (asset control's query), a lead's
verification is refused. Far above any debtor's holdings, and small enough that a case's
sums of its assets fit an int64 and its events stay small."""

MAX_ENTRUSTMENTS_PER_CASE = 200
"""Matters one case entrusts to other courts (事项委托), over its life. Each completed one
may report a control, which asset control records whatever the case's count of assets
(the control was done): this bounds those, so that a case's sums still fit an int64. (Matters
entrusted before the entrustment service kept a count per case are not in it.)"""

MAX_REPEATED_ACTS = 60
"""Status reports of one entrustment, and rounds of negotiation of one dispute, each: acts a
person may repeat, each kept in the record whole (a report every 30 days for five years).
Without it one party could grow a record, and every read of it, without end."""

MAX_PAUSES_PER_CASE = 200
"""Pauses (中止, 暂缓, 公告, 评估, 请示, 拍卖…) one case records over its life, each kept whole
and read for its closing limit: enough for three auction rounds of each of its assets and
more, and still a bound (120 cycles of one kind were taken, and listed unpaged)."""

MAX_LIST = 50
"""Any other list in a request (documents, case ids, courts of a dispute)."""

MAX_ID = 100
"""An identifier: a case, asset, lead, dispute, entrustment or command id, a reference."""

MAX_NAME = 200
"""A name: a party, a court, a department, an officer."""

MAX_TEXT = 2000
"""Free text: a reason, an instruction, an opinion, a description."""

MAX_LONG_TEXT = 4000
"""Longer free text: a dispute's notes and plan, a command's instruction, an entrusted
matter's report and result."""

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

NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""Characters no text a person types holds: the control characters (C0 but tab, line feed
and carriage return; DEL; C1) and lone surrogates. A spreadsheet (XML 1.0) cannot carry the
C0 ones, an SMS gateway mangles them, and UTF-8 cannot encode a surrogate: a record holding
one broke the interference register's XLSX export for good."""


def control_character_in(value: object, loc: tuple[str | int, ...] = ()) -> (
    tuple[tuple[str | int, ...], str] | None
):  # fmt: skip
    """Where in ``value`` (decoded JSON: strings, lists, objects; keys included) the first
    character of ``NOT_TEXT`` is, and which; None if there is none. Walked with a stack of
    its own, not by recursion: JSON nested as deep as the parser allows is no 500."""
    pending: list[tuple[tuple[str | int, ...], object]] = [(loc, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if found := NOT_TEXT.search(item):
                return where, found.group()
        elif isinstance(item, list):
            pending.extend(((*where, i), v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, member in reversed(list(item.items())):
                pending.append(((*where, key), member))
                pending.append(((*where, key), key))
    return None


MAX_DAYS = 3650
"""A number of days or working days in a request (ten years): any statutory period asked
for is far below it, and its rule checks the real limit."""

# A case's sums (its assets' and its entrusted controls') fit, with room to spare.
assert MAX_AMOUNTS_SUMMED > (MAX_ASSETS_PER_CASE + MAX_ENTRUSTMENTS_PER_CASE) * 2

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

EARLIEST_DAY = dt.date(1949, 10, 1)
"""The earliest day a date in a request may name (the founding of the People's Republic,
before any of its courts' acts). A date of year 1 would pass a "not in the future" check
and then overflow wherever a period is counted from it or it is turned into UTC."""


def _not_before_earliest(day: dt.date) -> None:
    if day < EARLIEST_DAY:
        raise ValueError(f"a date may not be before {EARLIEST_DAY.isoformat()}")


def _past_date(day: dt.date) -> dt.date:
    _not_before_earliest(day)
    return day


def _past_datetime(instant: dt.datetime) -> dt.datetime:
    if instant.year >= dt.MAXYEAR:  # +/- an offset of year 9999 leaves the calendar
        raise ValueError(f"a time must be before the year {dt.MAXYEAR}")
    # The date in China, where it is recorded (1949-10-01T00:00+14:00 is the 30th there,
    # 1949-09-30T20:00Z the 1st), but for the first year, whose conversion could overflow:
    # the date as written then, far before the floor anyway.
    convertible = instant.tzinfo is not None and instant.year > dt.MINYEAR
    _not_before_earliest(instant.astimezone(CHINA_TZ).date() if convertible else instant.date())
    return instant


def _written(value: object) -> object:
    """A date or time as JSON writes it: text (ISO 8601). A number is refused, where pydantic
    would read 1733000000 as a time in 2024 and record it as what was sent."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a date or time is written as ISO 8601 text, not a number")
    return value


PastDate = Annotated[dt.date, BeforeValidator(_written), AfterValidator(_past_date)]
"""A day something happened (received, posted, replied): not before ``EARLIEST_DAY``. Not
in the future either, but that is checked where the clock is known (``ctx.clock``), by the
handler, which says which field is in the future."""

PastDateTime = Annotated[dt.datetime, BeforeValidator(_written), AfterValidator(_past_datetime)]
"""When something happened, with or without an offset: not before ``EARLIEST_DAY`` (the
date as written); the handler checks it is not in the future, as for ``PastDate``."""
