"""The vocabulary and pure rules of case funds (执行案款): a case's ledger, what may be held
back and why, who may approve a payout.

A case's money is a list of **payments**: each arrival (the debtor's payment, a deduction,
sale proceeds) is one, and so is a held part released later. Each payment is notified to
finance once (rule ``funds.notify-finance``); the notice covers everything of it that is
not held, and finance pays the notice (rule ``funds.pay``). A **hold** keeps part or all
of a payment back, for a legal reason from a fixed list and with a leader's approval (rule
``funds.undisputed-first``): to defer it (延缓发放) or to lodge it (提存); the kinds and
reasons are the library's (``zhixing.funds``), which the command centre shows too.

Every amount is whole fen. The ledger of a case always balances:
``received = paid + held + lodged``, where *held* is the money still in the account (not
yet noticed, held back, or noticed and not yet paid). ``zhixing funds reconcile`` checks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from zhixing.auth import Identity, Role, ScopeError
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.funds import REASONS_OF_KIND, HoldKind, HoldReason, Source

Record = dict[str, Any]

SEPARATION = "funds.separation-of-duties"
UNDISPUTED_FIRST = "funds.undisputed-first"
RECEIVING_ACCOUNT = "funds.receiving-account"
ONE_ACCOUNT = "funds.one-case-one-account"
BALANCE = "funds.balance"

CONTROL_ENDED = "released"
"""The measure the asset facts keep once a control is released or lapsed (nothing frozen)."""

PAYOUT_REFERENCE = "payout"
"""The prefix of a payout's bank reference in the references' space ("payout:<ref>")."""
RESERVED_REFERENCE_PREFIXES = frozenset(
    {Source.SALE.value, Source.SELF_DISPOSAL.value, PAYOUT_REFERENCE}
)
"""Prefixes of the platform's own references ("sale:...", "self_disposal:...", "payout:..."),
which no bank reference may take, typed by a person (a receipt's, a statement line's, a
payout's) or given by the outside system answering a deduction."""


def reserved_prefix(reference: str) -> str:
    """The platform's prefix ``reference`` begins with ("sale", ...), or "" if none: such a
    reference would take the platform's own first, and the sale's proceeds (or the payout)
    could then not be recorded (found by a probe: the money was dead-lettered)."""
    prefix, colon, _ = reference.partition(":")
    return prefix if colon and prefix.lower() in RESERVED_REFERENCE_PREFIXES else ""


def proceeds_reference(source: Source, reference: str, asset_id: str) -> str:
    """The reference a sale's (or a self-disposal's) proceeds are recorded under: one per
    asset, so the assets of one auction sold under one reference (a package sale) are each
    recorded (the second asset's proceeds were refused as the first's reference, and lost)."""
    if reference == asset_id:  # a self-disposal's, or a sale recorded without a reference
        return f"{source.value}:{asset_id}"
    return f"{source.value}:{reference}:{asset_id}"


MAX_PAYMENTS_PER_CASE = 1000
"""Arrivals, holds, notices and deductions of one case, each (engineering bound: a case's
record stays small enough to rewrite on every act, and its sums fit an int64)."""


class HoldStatus(StrEnum):
    REQUESTED = "requested"  # awaiting a leader
    HELD = "held"  # part of a payment held back
    DEFERRED = "deferred"  # the whole rest of a payment deferred: its clock paused
    LODGED = "lodged"  # 提存: the money left the account
    REFUSED = "refused"  # the leader said no: the money is payable again
    ENDED = "ended"  # a deferral ended: the money is payable again on its payment
    RELEASED = "released"  # payable again as a payment of its own

    @property
    def keeps_money(self) -> bool:
        """The hold keeps its money in the account, out of any notice."""
        return self in (HoldStatus.REQUESTED, HoldStatus.HELD, HoldStatus.DEFERRED)

    @property
    def allocated(self) -> bool:
        """The hold's amount is no longer part of its payment's payable rest."""
        return self not in (HoldStatus.REFUSED, HoldStatus.ENDED)


class DeductionStatus(StrEnum):
    REQUESTED = "requested"
    TRANSFERRED = "transferred"
    FAILED = "failed"
    # Answered as transferred, and the answer could not be recorded as a receipt: the money
    # may have moved, so it stays counted against the deposit until finance reviews it.
    UNRECORDED = "unrecorded"


# --- the ledger ----------------------------------------------------------------------------


def payable_rest(record: Record, payment_id: str) -> int:
    """What of a payment is neither noticed nor held: what its notice would cover."""
    payment = record["payments"][payment_id]
    if payment.get("notice_id"):
        return 0
    allocated: int = sum(
        hold["amount_fen"]
        for hold in record["holds"].values()
        if hold["payment_id"] == payment_id and HoldStatus(hold["status"]).allocated
    )
    amount: int = payment["amount_fen"]
    return amount - allocated


@dataclass(frozen=True)
class Totals:
    """A case's money, each part summed from its own entries (never as a difference)."""

    received: int  # every arrival
    paid: int  # every payout
    lodged: int  # every lodging (提存)
    unnoticed: int  # payable, not yet notified to finance
    held: int  # held back, or awaiting a leader's decision
    noticed_unpaid: int  # notified to finance, not yet paid

    @property
    def in_account(self) -> int:
        """The money still in the case's account."""
        return self.unnoticed + self.held + self.noticed_unpaid

    @property
    def balances(self) -> bool:
        return self.received == self.paid + self.in_account + self.lodged


def totals(record: Record) -> Totals:
    payments = record["payments"]
    holds = record["holds"].values()
    notices = record["notices"].values()
    return Totals(
        received=sum(p["amount_fen"] for p in payments.values() if p["source"] != Source.RELEASE),
        paid=sum(p["amount_fen"] for p in record["payouts"].values()),
        lodged=sum(h["amount_fen"] for h in holds if h["status"] == HoldStatus.LODGED),
        unnoticed=sum(payable_rest(record, payment_id) for payment_id in payments),
        held=sum(h["amount_fen"] for h in holds if HoldStatus(h["status"]).keeps_money),
        noticed_unpaid=sum(n["amount_fen"] for n in notices if not n.get("payout_id")),
    )


def deductions_to_review(record: Record) -> list[Record]:
    """The case's deductions answered as transferred whose answer could not be recorded
    (unrecorded): money the bank may have moved that is in no figure until finance reviews
    each against the statement."""
    return [d for d in record["deductions"].values() if d["status"] == DeductionStatus.UNRECORDED]


def counters_balance(record: Record) -> bool:
    """The running counters kept with each act agree with the entries."""
    parts = totals(record)
    counters = record["counters"]
    return (counters["received_fen"], counters["paid_fen"], counters["lodged_fen"]) == (
        parts.received,
        parts.paid,
        parts.lodged,
    )


def new_case(
    *, case_id: str, case_number: str, court_code: str, account_number: str,
    receiving_account: str, claim_fen: int, opened_at: str, filed_on: str = "",
) -> Record:  # fmt: skip
    return {
        "case_id": case_id,
        "case_number": case_number,
        "court_code": court_code,
        "account_number": account_number,
        "receiving_account": receiving_account,
        "claim_fen": claim_fen,
        "officer_id": "",
        "opened_at": opened_at,
        # The day the case was filed, its account with it: no money arrived before it.
        "filed_on": filed_on,
        "counters": {"received_fen": 0, "paid_fen": 0, "lodged_fen": 0},
        "payments": {},
        "holds": {},
        "notices": {},
        "payouts": {},
        "deductions": {},
        "account_changes": {},
        "history": [],
    }


def check_room(record: Record, part: str) -> None:
    if len(record[part]) >= MAX_PAYMENTS_PER_CASE:
        raise Conflict(f"case {record['case_number']} has {MAX_PAYMENTS_PER_CASE} {part} already")


# --- checks --------------------------------------------------------------------------------


def check_hold(
    record: Record, payment_id: str, amount: int, kind: HoldKind, reason: HoldReason
) -> None:
    payment = require_payment(record, payment_id, loc=("body", "payment_id"))
    if reason not in REASONS_OF_KIND[kind]:
        allowed = ", ".join(sorted(r.value for r in REASONS_OF_KIND[kind]))
        raise Invalid(
            f"{reason.value} is not a legal reason to {kind.value} (rule {UNDISPUTED_FIRST}; "
            f"allowed: {allowed})",
            loc=("body", "reason"),
        )
    if payment.get("notice_id"):
        raise Conflict(
            f"payment {payment_id} was notified to finance already; it is paid as noticed"
        )
    rest = payable_rest(record, payment_id)
    if amount > rest:
        raise Conflict(
            f"hold of {amount} fen exceeds what payment {payment_id} has payable, {rest} fen"
        )


def require_payment(
    record: Record, payment_id: str, *, loc: tuple[str, ...] | None = None
) -> Record:
    """The payment: a path naming none reads as missing (404); a body, as bad input at
    ``loc`` (422)."""
    payment: Record | None = record["payments"].get(payment_id)
    if payment is None:
        message = f"case {record['case_number']} has no payment {payment_id}"
        if loc:
            raise Invalid(message, loc=loc)
        raise NotFound(message)
    return payment


def require_hold(record: Record, hold_id: str, *statuses: HoldStatus) -> Record:
    hold: Record | None = record["holds"].get(hold_id)
    if hold is None:
        raise NotFound(f"case {record['case_number']} has no hold {hold_id}")
    if HoldStatus(hold["status"]) not in statuses:
        wanted = " or ".join(s.value for s in statuses)
        raise Conflict(f"hold {hold_id} is {hold['status']}, not {wanted}")
    return hold


def clock_ends_with(record: Record, payment_id: str, hold_id: str) -> bool:
    """Approving ``hold_id`` leaves its payment nothing to notify (and no other request
    pending): the hold covers the whole payment's rest, so its clock pauses (a deferral) or
    ends (a lodging); a part held leaves the clock running on the rest."""
    payment = record["payments"][payment_id]
    if payment.get("notice_id") or not payment.get("clock_open", True):
        return False
    others_pending = any(
        h["payment_id"] == payment_id and h["status"] == HoldStatus.REQUESTED and i != hold_id
        for i, h in record["holds"].items()
    )
    return payable_rest(record, payment_id) == 0 and not others_pending


def check_approver(identity: Identity, record: Record, requested_by: str) -> None:
    """A leader decides, and never one who asked or handles the case (审批分离)."""
    if identity.role is not Role.LEADER:
        raise ScopeError(f"only a court leader approves holds and account changes "
                         f"(rule {UNDISPUTED_FIRST})")  # fmt: skip
    if identity.subject in (requested_by, record.get("officer_id")):
        raise ScopeError(
            f"{identity.subject} asked for this or handles case {record['case_number']}; another "
            f"leader decides (rule {SEPARATION})"
        )


def payout_conflicts(
    identity: Identity, record: Record, payment: Record, notice: Record
) -> list[str]:
    """Why ``identity`` may not approve this payout (分段办理, rule funds.separation-of-duties):
    it handles the case, issued the notice, controlled the asset the money came from, or
    approved the change of receiving account the money would go to (who chose where the
    money goes does not also send it there)."""
    roles = []
    if identity.subject == record.get("officer_id"):
        roles.append("handles the case")
    if identity.subject == notice.get("issued_by"):
        roles.append("issued the payment notice")
    if identity.subject in payment.get("controlled_by", []):
        roles.append("controlled the asset the money came from")
    approved = [c for c in record.get("account_changes", {}).values()
                if c.get("status") == "approved"]  # fmt: skip
    # The approval that set the account the money goes to: the latest one (of two decided
    # at one instant, the later asked: one change is asked at a time).
    current = max(
        reversed(approved), key=lambda c: c.get("decided_at", ""), default=None
    )  # max keeps the first of equals: of the reversed, the later asked
    if (
        current is not None and current.get("decided_by") == identity.subject
        and normalise_account(current["new_account"])
        == normalise_account(record["receiving_account"])
    ):  # fmt: skip
        roles.append("approved the change of receiving account it goes to")
    return roles


def check_payout(
    identity: Identity, record: Record, notice_id: str, amount: int, to_account: str,
) -> tuple[Record, Record]:  # fmt: skip
    """The notice and its payment, if ``identity`` may pay ``amount`` to ``to_account``."""
    if identity.role not in (Role.FINANCE, Role.LEADER):
        raise ScopeError(
            f"payouts are approved by finance or a court leader, not by role "
            f"{identity.role.value!r} (rule {SEPARATION})"
        )
    notice: Record | None = record["notices"].get(notice_id)
    if notice is None:
        raise NotFound(f"case {record['case_number']} has no payment notice {notice_id}")
    payment = record["payments"][notice["payment_id"]]
    conflicts = payout_conflicts(identity, record, payment, notice)
    if conflicts:
        raise ScopeError(
            f"{identity.subject} {' and '.join(conflicts)}: another person approves its "
            f"payout (分段办理, rule {SEPARATION})"
        )
    if notice.get("payout_id"):
        raise Conflict(f"notice {notice_id} was paid already (payout {notice['payout_id']})")
    parts = totals(record)
    if amount > notice["amount_fen"] or amount > parts.in_account - parts.held:
        raise Conflict(
            f"payout of {amount} fen exceeds the money available: notice {notice_id} is for "
            f"{notice['amount_fen']} fen; the case's account holds {parts.in_account} fen, of "
            f"which {parts.held} fen are held back (rule {BALANCE})"
        )
    if amount != notice["amount_fen"]:
        raise Conflict(
            f"payout of {amount} fen does not match notice {notice_id} for "
            f"{notice['amount_fen']} fen: a notice is paid as issued (rule {BALANCE})"
        )
    if normalise_account(to_account) != normalise_account(record["receiving_account"]):
        raise Conflict(
            f"{to_account} is not the applicant's receiving account of case "
            f"{record['case_number']}; money goes only to the account confirmed at filing, or "
            f"to a change a leader approved (rule {RECEIVING_ACCOUNT})"
        )
    return notice, payment


def normalise_account(text: str) -> str:
    """An account as written (spaces and dashes allowed) as the bank reads it."""
    return "".join(ch for ch in text if ch not in " -")


def controllers(assets: Iterable[Record]) -> list[str]:
    return sorted({a["controlled_by"] for a in assets if a.get("controlled_by")})
