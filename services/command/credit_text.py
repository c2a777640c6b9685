"""How a case's credit punishment events (信用惩戒: 限制消费, 失信名单) read in its timeline:
one line of Chinese each, naming the debtor by name (from the case's filing, or the order
or listing that names them) instead of by ID number or ``debtor_key``.

The credit events' aggregate is the case, so they are the case's own timeline entries.
Codes (causes, reasons) are shown in words; a code not listed is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# RestrictionLiftDue.cause / RestrictionLifted.cause
LIFT_CAUSES = {
    "performed": "已履行完毕",
    "security": "已提供确实有效的担保",
    "consent": "申请执行人同意解除",
    "case_ended": "案件已以其他方式结案",
}
# ListingDeclined.reason
DECLINE_REASONS = {
    "only_restriction": "仅适用限制消费措施",
    "no_ground": "不存在失信情形",
    "security_sufficient": "已提供充分有效的担保",
}
# ListingGroundEnded.cause
GROUND_END_CAUSES = {
    "performed": "已履行完毕",
    "revoked": "失信决定被撤销",
    "applicant_consent": "申请执行人同意",
    "term_ended": "纳入期限届满",
    "case_ended": "案件已以其他方式结案",
    "requery_nothing_found": "终本后多次查询均未发现可供执行的财产",
    "other": "其他原因",
}
# ListingDeleted.cause
DELETE_CAUSES = {
    "ground_ended": "失信情形消除",
    "term_ended": "纳入期限届满",
    "corrected": "纠正错误纳入",
}

# The fields of credit events that carry a debtor's ID number: never kept in a timeline
# (the case view shows no ID numbers; the debtor is named instead).
ID_FIELDS = ("debtor_id_number",)


def then(text: Any, label: str = "") -> str:
    """``，<label><text>`` when there is text."""
    return f"，{label}{text}" if text else ""


def on(day: Any) -> str:
    """``（<day>）`` when there is a day."""
    return f"（{day}）" if day else ""


def words(table: dict[str, str], code: Any) -> str:
    return table.get(str(code or ""), str(code or ""))


class DebtorNames:
    """A case's debtors by ``debtor_key`` ("d" + their position in CaseFiled.debtors)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def learn(self, event: str, payload: dict[str, Any]) -> None:
        if event == "CaseFiled":
            for position, debtor in enumerate(payload.get("debtors") or []):
                if isinstance(debtor, dict) and debtor.get("name"):
                    self.names.setdefault(f"d{position}", str(debtor["name"]))
        elif payload.get("debtor_key") and payload.get("debtor_name"):
            self.names.setdefault(str(payload["debtor_key"]), str(payload["debtor_name"]))

    def of(self, payload: dict[str, Any]) -> str:
        """被执行人<name>, or 第N名被执行人 when the name is not known."""
        key = str(payload.get("debtor_key") or "")
        if key in self.names:
            return f"被执行人{self.names[key]}"
        if key.startswith("d") and key[1:].isdigit():
            return f"第{int(key[1:]) + 1}名被执行人"
        return "被执行人"


class CreditStory:
    """Reads a case's credit events."""

    def __init__(self, debtors: DebtorNames) -> None:
        self.debtors = debtors
        self._lines: dict[str, Callable[[dict[str, Any]], str]] = {
            "RestrictionOrdered": self._restriction_ordered,
            "RestrictionServed": lambda p: (
                f"限制消费令已送达{self.debtors.of(p)}{on(p.get('served_on'))}"
            ),
            "RestrictionLiftDue": self._lift_due,
            "RestrictionLifted": lambda p: (
                f"解除对{self.debtors.of(p)}的限制消费{on(p.get('lifted_on'))}"
                f"{then(words(LIFT_CAUSES, p.get('cause')), '原因：')}"
            ),
            "DebtorListed": self._listed,
            "ListingDeclined": lambda p: (
                f"决定不将{self.debtors.of(p)}纳入失信被执行人名单："
                f"{words(DECLINE_REASONS, p.get('reason'))}{then(p.get('details'))}"
            ),
            "ListingExtensionDecided": lambda p: (
                f"决定延长{self.debtors.of(p)}的失信名单期限 {p.get('extension_months', 0)}个月"
                f"（原期限届满后起算）{then(p.get('reason'), '理由：')}"
            ),
            "ListingExtended": lambda p: (
                f"{self.debtors.of(p)}的失信名单原期限届满，延长期限 "
                f"{p.get('extension_months', 0)}个月开始计算"
            ),
            "ListingGroundEnded": lambda p: (
                f"{self.debtors.of(p)}的失信情形消除（{words(GROUND_END_CAUSES, p.get('cause'))}"
                f"{then(p.get('ended_on'))}），应删除失信信息"
            ),
            "ListingDeleted": lambda p: (
                f"删除{self.debtors.of(p)}的失信信息（{words(DELETE_CAUSES, p.get('cause'))}"
                f"{then(p.get('deleted_on'))}）"
            ),
        }

    def line(self, event: str, payload: dict[str, Any]) -> str:
        """The event's line; empty for events that are not about credit punishment."""
        write = self._lines.get(event)
        return write(payload) if write else ""

    def _restriction_ordered(self, p: dict[str, Any]) -> str:
        effective = p.get("effective_on")
        takes_effect = f"自 {effective} 起生效" if effective else ""
        return (f"对{self.debtors.of(p)}发出限制消费令{then(p.get('ruling_number'), '文号 ')}"
                f"{on(p.get('ordered_on'))}{then(takes_effect)}")  # fmt: skip

    def _lift_due(self, p: dict[str, Any]) -> str:
        urgent = "（情况紧急，应立即解除）" if p.get("urgent") == "yes" else ""
        return (f"{self.debtors.of(p)}{words(LIFT_CAUSES, p.get('cause'))}，"
                f"应解除限制消费{urgent}")  # fmt: skip

    def _listed(self, p: dict[str, Any]) -> str:
        ground = p.get("ground_text") or (f"第{p['ground']}项情形" if p.get("ground") else "")
        term = "，有固定纳入期限" if p.get("fixed_term") == "yes" else "，至失信情形消除时止"
        return (f"将{self.debtors.of(p)}纳入失信被执行人名单{then(ground, '情形：')}"
                f"{then(p.get('decision_number'), '决定书 ')}{on(p.get('listed_on'))}"
                f"{term}")  # fmt: skip
