"""How a case's funds events (案款) read in its timeline: one line of Chinese each, with the
amounts, where the money came from, the legal reason of a hold, and the accounts, instead
of the payment, hold and notice ids the events carry.

A refusal or the end of a deferral names its hold only: its amount and kind come from the
hold's request in the same timeline (and a notice's payment from its arrival). The words of
sources, hold kinds and legal reasons are the library's (``zhixing.funds``, shared with the
funds service); a code not listed is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from zhixing import money
from zhixing.funds import HOLD_KIND_LABELS, HOLD_REASON_LABELS, SOURCE_LABELS

SOURCES = {source.value: label for source, label in SOURCE_LABELS.items()}
HOLD_KINDS = {kind.value: label for kind, label in HOLD_KIND_LABELS.items()}
HOLD_REASONS = {reason.value: label for reason, label in HOLD_REASON_LABELS.items()}


def yuan(fen: Any) -> str:
    """Whole fen as an event's JSON carries it (an int64 is a string of digits there) as
    yuan: 1,234.50元; anything else as it came, in fen."""
    try:
        return money.yuan(int(fen or 0))
    except (TypeError, ValueError):
        return f"{fen}分"


def _reason(code: str) -> str:
    return HOLD_REASONS.get(code, code)


def _then(text: str, label: str = "") -> str:
    """``，<label><text>`` when there is text."""
    return f"，{label}{text}" if text else ""


class FundsStory:
    """Reads a case's funds events, remembering what other events refer to by id."""

    def __init__(self) -> None:
        self.payments: dict[str, str] = {}  # payment id → how the money came ("…到账的 X元")
        self.holds: dict[str, tuple[str, str]] = {}  # hold id → (kind, amount)
        self.changes: dict[str, str] = {}  # account change id → the new account asked for
        self._lines: dict[str, Callable[[dict[str, Any]], str]] = {
            "CaseAccountOpened": self._opened,
            "FundsArrived": self._arrived,
            "DeductionRequested": self._deduction,
            "DeductionFailed": lambda p: f"扣划未成功{_then(p.get('error', ''), '原因：')}",
            "DeductionAnswerUnrecorded": self._unrecorded,
            "DeductionReviewed": self._reviewed,
            "HoldRequested": self._hold_requested,
            "HoldRefused": self._hold_refused,
            "FundsHeld": lambda p: self._approved(p, "批准延缓发放其中"),
            "PaymentDeferralApproved": lambda p: self._approved(p, "批准延缓发放该笔案款"),
            "PaymentDeferralEnded": self._deferral_ended,
            "FundsReleased": self._released,
            "FundsLodged": lambda p: self._approved(p, "批准提存其中"),
            "PaymentLodged": lambda p: self._approved(p, "批准提存该笔案款"),
            "PaymentNoticeIssued": self._notice,
            "FundsPaid": self._paid,
            "ReceivingAccountChangeRequested": self._change_requested,
            "ReceivingAccountChanged": lambda p: (
                f"收款账户由 {p.get('old_account', '')} 变更为 {p.get('new_account', '')}"
            ),
            "ReceivingAccountChangeRefused": self._change_refused,
        }

    def line(self, event: str, payload: dict[str, Any]) -> str:
        """The event's line; empty for events that are not about funds."""
        write = self._lines.get(event)
        return write(payload) if write else ""

    def _payment(self, payload: dict[str, Any]) -> str:
        return self.payments.get(payload.get("payment_id", ""), "")

    def _opened(self, p: dict[str, Any]) -> str:
        return (f"案款账户 {p.get('account_number', '')}"
                f"{_then(p.get('receiving_account', ''), '申请执行人收款账户 ')}")  # fmt: skip

    def _arrived(self, p: dict[str, Any]) -> str:
        source = SOURCES.get(p.get("source", ""), p.get("source", ""))
        amount = yuan(p.get("amount_fen"))
        day = p.get("arrived_on", "")
        self.payments[p.get("payment_id", "")] = (
            f"{day} 到账的 {amount}" if day else f"到账的 {amount}"
        )
        return (f"到账 {amount}{f'（{source}）' if source else ''}"
                f"{_then(p.get('payer', ''), '付款人 ')}{_then(day, '到账日 ')}")  # fmt: skip

    def _deduction(self, p: dict[str, Any]) -> str:
        source = p.get("asset_key", "")
        return f"申请{f'从 {source} ' if source else ''}扣划 {yuan(p.get('amount_fen'))}"

    def _unrecorded(self, p: dict[str, Any]) -> str:
        reported = p.get("reported_amount_fen")
        said = _then(yuan(reported) if reported else "", "答复称已扣划 ")
        reference = _then(p.get("bank_reference", ""), "银行流水号 ")
        return (
            f"扣划答复无法入账，待财务核查{said}{reference}{_then(p.get('reason', ''), '原因：')}"
        )

    def _reviewed(self, p: dict[str, Any]) -> str:
        note = _then(p.get("note", ""), "说明：")
        if not p.get("moved"):
            return f"财务核查扣划答复：款项未到账，扣划未成功{note}"
        reference = _then(p.get("bank_reference", ""), "银行流水号 ")
        return f"财务核查扣划答复：已到账 {yuan(p.get('amount_fen'))}{reference}{note}"

    def _hold_requested(self, p: dict[str, Any]) -> str:
        kind = HOLD_KINDS.get(p.get("kind", ""), p.get("kind", ""))
        amount = yuan(p.get("amount_fen"))
        self.holds[p.get("hold_id", "")] = (kind, amount)
        of = self._payment(p)
        reason = _then(_reason(p.get("reason", "")), "事由：")
        return f"申请{kind} {amount}{f'（{of}）' if of else ''}{reason}{_then(p.get('note', ''))}"

    def _hold_refused(self, p: dict[str, Any]) -> str:
        kind, amount = self.holds.get(p.get("hold_id", ""), ("延缓发放或提存", ""))
        note = _then(p.get("note", ""))
        return f"不准许{kind}{f' {amount}' if amount else ''}，案款可予发放{note}"

    def _approved(self, p: dict[str, Any], what: str) -> str:
        return f"{what} {yuan(p.get('amount_fen'))}{_then(_reason(p.get('reason', '')), '事由：')}"

    def _deferral_ended(self, p: dict[str, Any]) -> str:
        _, amount = self.holds.get(p.get("hold_id", ""), ("", ""))
        return (f"延缓发放事由消除，{amount or '该笔案款'}恢复发放"
                f"{_then(p.get('note', ''))}")  # fmt: skip

    def _released(self, p: dict[str, Any]) -> str:
        amount = yuan(p.get("amount_fen"))
        self.payments[p.get("payment_id", "")] = f"恢复发放的 {amount}"
        return f"延缓发放的 {amount} 恢复发放{_then(p.get('note', ''))}"

    def _notice(self, p: dict[str, Any]) -> str:
        of = self._payment(p)
        return (f"通知财务部门发放 {yuan(p.get('amount_fen'))}{f'（{of}）' if of else ''}"
                f"{_then(p.get('to_account', ''), '收款账户 ')}")  # fmt: skip

    def _paid(self, p: dict[str, Any]) -> str:
        return (f"向申请执行人发放 {yuan(p.get('amount_fen'))}"
                f"{_then(p.get('to_account', ''), '收款账户 ')}"
                f"{_then(p.get('paid_on', ''), '发放日 ')}")  # fmt: skip

    def _change_requested(self, p: dict[str, Any]) -> str:
        account = p.get("new_account", "")
        self.changes[p.get("change_id", "")] = account
        return f"申请将收款账户变更为 {account}{_then(p.get('reason', ''), '理由：')}"

    def _change_refused(self, p: dict[str, Any]) -> str:
        asked = self.changes.get(p.get("change_id", ""), "")
        return f"不准许变更收款账户{f'为 {asked}' if asked else ''}{_then(p.get('note', ''))}"


def funds_lines(entries: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each (event name, payload) of a timeline → its line ('' if not funds). The story is
    read twice: the first reading learns what each id stands for, so no line depends on the
    order of events stamped in the same millisecond."""
    story, read = FundsStory(), list(entries)
    for event, payload in read:
        story.line(event, payload)
    return [story.line(event, payload) for event, payload in read]
