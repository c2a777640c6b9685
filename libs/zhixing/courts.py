"""Court codes (法院代字) and the hierarchy they imply.

Per 法〔2015〕137号: the Supreme People's Court is 最高法; a high court (高院) is its
province's one-character abbreviation; an intermediate court (中院) adds 2 digits; a basic
court (基层) adds the last 4 digits of its administrative division code (泰兴 321283 →
苏1283). Codes 71–99 after the province are special courts.

This module reads the hierarchy off the code's structure. The court directory (a later
issue) replaces ``superior_of`` with data for courts whose superior the code cannot show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

SUPREME_COURT = "最高法"

PROVINCE_ABBREVIATIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼兵"

_CODE = re.compile(rf"^(?P<province>[{PROVINCE_ABBREVIATIONS}])(?P<digits>\d{{2}}|\d{{4}})?$")


class CourtLevel(StrEnum):
    SUPREME = "最高法"
    HIGH = "高院"
    INTERMEDIATE = "中院"
    BASIC = "基层"


class UnknownCourtCode(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CourtCode:
    code: str
    level: CourtLevel


def parse_court_code(code: str) -> CourtCode:
    if code == SUPREME_COURT:
        return CourtCode(code, CourtLevel.SUPREME)
    match = _CODE.match(code)
    if not match:
        raise UnknownCourtCode(
            f"{code!r} is not a court code (最高法, a province abbreviation such as 苏, "
            "then 2 digits for an intermediate court or 4 for a basic court)"
        )
    digits = match["digits"] or ""
    level = {0: CourtLevel.HIGH, 2: CourtLevel.INTERMEDIATE, 4: CourtLevel.BASIC}[len(digits)]
    return CourtCode(code, level)


def superior_of(code: str) -> str | None:
    """The court directly above ``code``; None for the Supreme People's Court."""
    court = parse_court_code(code)
    if court.level is CourtLevel.SUPREME:
        return None
    if court.level is CourtLevel.HIGH:
        return SUPREME_COURT
    return code[:-2]


def ancestors(code: str) -> list[str]:
    """Every court above ``code``, nearest first."""
    chain = []
    current = superior_of(code)
    while current is not None:
        chain.append(current)
        current = superior_of(current)
    return chain


def covers(actor_court: str, target_court: str) -> bool:
    """True when ``actor_court`` is ``target_court`` or one of its superiors."""
    return actor_court == target_court or actor_court in ancestors(target_court)
