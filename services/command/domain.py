"""The command centre's vocabulary: the command actions (统一指挥, ¶26–28), which of them
move a case or may be reconsidered, the rules that bound their replies, and the pure checks
of who may issue and read them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from zhixing.auth import Identity, Role, ScopeError, may_read, require_role
from zhixing.courts import CourtLevel, UnknownCourtCode, covers, directory, parse_court_code
from zhixing.errors import Invalid


class Action(StrEnum):
    URGE = "urge"  # 督办
    CORRECTION_LETTER = "correction_letter"  # 函告纠正
    CORRECTION_RULING = "correction_ruling"  # 裁定纠正
    ELEVATE = "elevate"  # 提级执行: the issuing court takes the case
    DESIGNATE = "designate"  # 指令执行: another court of the jurisdiction takes it
    CONSOLIDATE = "consolidate"  # 集中执行: one debtor's cases to one court
    CROSS = "cross"  # 交叉执行: one debtor's cases to a court other than their own
    LEND_OFFICERS = "lend_officers"  # 调配力量: officers lent for a joint operation


ACTION_TITLES: dict[str, str] = {
    Action.URGE: "督办",
    Action.CORRECTION_LETTER: "函告纠正",
    Action.CORRECTION_RULING: "裁定纠正",
    Action.ELEVATE: "提级执行",
    Action.DESIGNATE: "指令执行",
    Action.CONSOLIDATE: "集中执行",
    Action.CROSS: "交叉执行",
    Action.LEND_OFFICERS: "调配力量",
}
"""Each command action's name as courts write it (the bulletin, exports)."""

MOVES = frozenset({Action.ELEVATE, Action.DESIGNATE})
DESIGNATION_MUST_SPEED = "command.designation-must-speed"
"""The gate of a designation (¶28; 民诉法 art 237): it must speed enforcement, never delay
it, so a case is never designated back to the court it was taken from for passive
enforcement, and its clocks keep running wherever it goes."""
RECONSIDERABLE = frozenset(
    {Action.CORRECTION_LETTER, Action.CORRECTION_RULING, Action.ELEVATE, Action.DESIGNATE}
)
REPLY_RULES = {
    Action.URGE: "command.urge-reply",
    Action.CORRECTION_LETTER: "command.correction-reply",
}


def visible_to(identity: Identity, record: dict[str, Any]) -> bool:
    """Whether ``identity`` may read a command action: the courts it names, and above them."""
    courts = (record["target_court"], record["issuing_court"], record.get("to_court"),
              record.get("lend_to_court"))  # fmt: skip
    return any(court and may_read(identity, court) for court in courts)


def command_centre(identity: Identity) -> None:
    """Command actions come from the command role of a court above the basic level."""
    require_role(identity, Role.COMMAND)
    if parse_court_code(identity.court_code).level is CourtLevel.BASIC:
        raise ScopeError("a basic court's command role issues no command actions")


def of_jurisdiction(identity: Identity, court: str, field: str) -> None:
    """Refuse a court that is unknown (422, naming ``field``) or outside the jurisdiction
    (403, as every act outside one's jurisdiction is refused)."""
    try:
        directory().lookup(court)
    except UnknownCourtCode as exc:
        raise Invalid(str(exc), loc=("body", field)) from None
    if not covers(identity.court_code, court):
        raise ScopeError(f"{field}: {court} is not a court of {identity.court_code}'s "
                         "jurisdiction")  # fmt: skip
