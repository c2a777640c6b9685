"""Natural persons as the law counts them: a person's age on a day, from the birth date in
the resident ID (GB 11643), and whether the person is a minor then (民法典 art 17; the age
of majority is the value of the catalogue's ``credit.listing-grounds``: a minor is never put
on the 失信 list). Intake flags minors at filing, the credit service refuses to list one."""

from __future__ import annotations

import datetime as dt

from stdnum.cn import ric

from zhixing.rules import Catalogue, catalogue

__all__ = ["MAJORITY_RULE", "age_on", "is_minor_on", "majority_age"]

MAJORITY_RULE = "credit.listing-grounds"


def majority_age(rules: Catalogue | None = None) -> int:
    """The age of majority, from the rule catalogue."""
    value = (rules or catalogue()).rule(MAJORITY_RULE).value
    assert value is not None, f"rule {MAJORITY_RULE} gives the age of majority as its value"
    return int(value)


def age_on(resident_id: str, day: dt.date) -> int:
    """The age in whole years on ``day`` of the holder of a valid resident ID."""
    born = ric.get_birth_date(resident_id)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_minor_on(resident_id: str, day: dt.date, rules: Catalogue | None = None) -> bool:
    """Whether the holder of a valid resident ID is under the age of majority on ``day``."""
    return age_on(resident_id, day) < majority_age(rules)
