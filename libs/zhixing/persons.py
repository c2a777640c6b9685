"""Natural persons as the law counts them: a person's age on a day, from the birth date in
the resident ID (GB 11643), and whether the person is a minor then (民法典 art 17; the age
of majority is the value of the catalogue's ``credit.listing-grounds``: a minor is never put
on the 失信 list). Intake flags minors at filing, the credit service refuses to list one."""

from __future__ import annotations

import datetime as dt
import unicodedata

from stdnum.cn import ric

from zhixing.rules import Catalogue, catalogue

__all__ = ["MAJORITY_RULE", "age_on", "id_number_text", "is_minor_on", "majority_age"]

MAJORITY_RULE = "credit.listing-grounds"


def id_number_text(text: str) -> str:
    """A resident ID or credit code in the one form the platform keeps and looks up: full-width
    characters as ASCII (NFKC: "３２１２８３…" or a full-width "Ｘ" typed with a Chinese input
    method), the spaces around dropped, letters upper-cased. A debtor filed with a full-width
    digit was kept as typed, and the nationwide credit query by the real number did not find
    them restricted (a probe)."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def majority_age(rules: Catalogue | None = None) -> int:
    """The age of majority, from the rule catalogue."""
    value = (rules or catalogue()).rule(MAJORITY_RULE).value
    assert value is not None, f"rule {MAJORITY_RULE} gives the age of majority as its value"
    return int(value)


def age_on(resident_id: str, day: dt.date) -> int:
    """The age in whole years (周岁) on ``day`` of the holder of a valid resident ID, as the
    law counts a period of years: the day of birth is not counted, so a year of life ends at
    24:00 on the birthday and the new age begins the next day (民法典 art 201; RULES.md,
    "Counting periods"; 法释〔2006〕1号 art 2: 周岁 "从周岁生日的第二天起算"). On the
    birthday that reaches the age of majority one is still a minor; born on 29 February,
    one's birthday in a common year is the 28th (民法典 art 202, the month's last day)."""
    born = ric.get_birth_date(resident_id)
    return day.year - born.year - ((day.month, day.day) <= (born.month, born.day))


def is_minor_on(resident_id: str, day: dt.date, rules: Catalogue | None = None) -> bool:
    """Whether the holder of a valid resident ID is under the age of majority on ``day``."""
    return age_on(resident_id, day) < majority_age(rules)
