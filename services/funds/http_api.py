"""The funds service's HTTP API: a case's ledger, receipts, deductions, holds, notices,
payouts, the receiving account, and reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.funds import domain
from services.funds.accounts import CourtReconciliation
from services.funds.handlers import Funds
from zhixing.auth import CurrentIdentity, Role, require_role
from zhixing.bounds import MAX_ID, MAX_NAME, MAX_TEXT, BankAccount, Fen, PastDate, PathId
from zhixing.case_accounts import is_case_account_number
from zhixing.funds import HOLD_REASON_LABELS, REASONS_OF_KIND, HoldKind, HoldReason
from zhixing.idempotency import IdempotencyKey
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor
from zhixing.records import HistoryEntry

router = APIRouter(prefix="/v1", tags=["funds"])

RECONCILERS = (
    Role.FINANCE,
    Role.LEADER,
    Role.PRESIDENT,  # a leader of the court (院长), as the docs' "leaders" are
    Role.COMMAND,
    Role.OVERSEER,
    Role.DISCIPLINE,
    Role.SERVICE,
)
LEDGER_LISTERS = (*RECONCILERS, Role.OFFICER)
"""Who lists every case's money in a court (its totals add up to the reconciliation): those
who reconcile, and the officers, who notify finance of what is payable. Clerks, coordinators
and the 专人 read a case's ledger through the case, not the court's money as a list."""


def _funds(request: Request) -> Funds:
    funds: Funds = request.app.state.funds
    return funds


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _case_account(text: str) -> str:
    if not is_case_account_number(text):
        raise ValueError("not a case account number (17 digits with a valid check digit)")
    return text


CaseAccountNumber = Annotated[
    str, Field(min_length=17, max_length=17), AfterValidator(_case_account)
]


def _not_reserved(text: str) -> str:
    if prefix := domain.reserved_prefix(text):
        raise ValueError(f"a bank reference may not begin with {prefix}: (the platform's own "
                         "references of sale proceeds and payouts do)")  # fmt: skip
    return text


Reference = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID, pattern=r"^[0-9A-Za-z][0-9A-Za-z:_./-]*$"),
    AfterValidator(_not_reserved),
]
Note = Annotated[str, Field(max_length=MAX_TEXT)]


class ReceiptIn(_Body):
    account_number: CaseAccountNumber = Field(description="The case's account credited")
    bank_reference: Reference = Field(description="The bank's reference of the transfer")
    amount_fen: Fen
    payer: Annotated[str, Field(max_length=MAX_NAME)] = ""
    arrived_on: PastDate | None = Field(None, description="Value date; default today")


class DeductionIn(_Body):
    asset_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    amount_fen: Fen


class DeductionReviewIn(_Body):
    moved: bool = Field(
        description="Whether the bank statement shows the deduction's money in the case's account"
    )
    bank_reference: Reference | None = Field(
        None, description="The bank's reference of the transfer (only when moved)"
    )
    amount_fen: Fen | None = Field(
        None, description="What arrived, at most what was asked (only when moved)"
    )
    arrived_on: PastDate | None = Field(None, description="Value date; default today")
    note: Note = ""

    @model_validator(mode="after")
    def _figures_when_moved(self) -> DeductionReviewIn:
        figures = {"bank_reference": self.bank_reference, "amount_fen": self.amount_fen,
                   "arrived_on": self.arrived_on}  # fmt: skip
        if self.moved:
            missing = [name for name in ("bank_reference", "amount_fen") if figures[name] is None]
            if missing:
                raise ValueError(f"money that moved needs {' and '.join(missing)}")
        else:
            given = [name for name, value in figures.items() if value is not None]
            if given:
                raise ValueError(f"nothing moved: {', '.join(given)} must not be given")
        return self


class HoldIn(_Body):
    payment_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    amount_fen: Fen
    kind: HoldKind
    reason: HoldReason
    note: Note = ""


class DecisionIn(_Body):
    approve: bool
    note: Note = ""


class NoteIn(_Body):
    note: Note = ""


class PayoutIn(_Body):
    amount_fen: Fen = Field(description="The amount transferred: must match the notice")
    to_account: BankAccount = Field(description="The account paid: the case's receiving account")
    bank_reference: Reference = Field(description="The bank's reference of the payout")


class AccountChangeIn(_Body):
    new_account: BankAccount
    reason: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class _View(BaseModel):
    # Later steps add their fields (a decision, a payout id, the payment a hold became).
    model_config = ConfigDict(extra="allow")


class PaymentView(_View):
    payment_id: str
    amount_fen: int
    source: str = Field(description="payment, deduction, sale, self_disposal or release")
    bank_reference: str
    arrived_on: str
    notice_id: str | None = None


class HoldView(_View):
    hold_id: str
    payment_id: str
    amount_fen: int
    kind: HoldKind
    reason: HoldReason
    status: str
    requested_by: str


class NoticeView(_View):
    notice_id: str
    payment_id: str
    amount_fen: int
    to_account: str
    issued_by: str
    payout_id: str | None = None


class PayoutView(_View):
    payout_id: str
    notice_id: str
    amount_fen: int
    to_account: str
    approved_by: str
    bank_reference: str
    paid_on: str


class DeductionView(_View):
    deduction_id: str
    asset_id: str
    amount_fen: int
    status: str


class AccountChangeView(_View):
    change_id: str
    new_account: str
    status: str


class TotalsView(BaseModel):
    received_fen: int
    paid_fen: int
    in_account_fen: int = Field(description="Not yet paid: payable, held, or noticed")
    held_fen: int = Field(description="Held back, or awaiting a leader's decision")
    lodged_fen: int


class CaseFundsView(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    account_number: str
    receiving_account: str
    officer_id: str
    totals: TotalsView
    payments: list[PaymentView]
    holds: list[HoldView]
    notices: list[NoticeView]
    payouts: list[PayoutView]
    deductions: list[DeductionView]
    account_changes: list[AccountChangeView]
    history: list[HistoryEntry]


class CaseFundsSummary(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    account_number: str
    totals: TotalsView
    deductions_to_review: int = Field(
        description="Deductions answered as transferred whose answer could not be recorded "
        "(unrecorded): finance reviews each against the bank statement"
    )


class ReceiptView(BaseModel):
    case_id: str
    case_number: str
    payment: PaymentView
    duplicate: bool = Field(description="The bank reference was recorded already")


class HoldReasonView(BaseModel):
    code: HoldReason
    label: str
    kinds: list[HoldKind]


class ReconciliationView(BaseModel):
    court_code: str
    cases: int
    received_fen: int
    paid_fen: int
    in_account_fen: int
    lodged_fen: int
    balances: bool
    unbalanced_case: str | None = Field(description="The first case that does not balance")
    problem: str | None
    deductions_to_review: int = Field(
        description="Deductions answered as transferred whose answer could not be recorded: "
        "the bank may have moved money that is in none of the figures until finance reviews "
        "each against the statement"
    )
    to_review_fen: int = Field(description="What those deductions asked for, in fen")


def _totals(record: dict[str, Any]) -> TotalsView:
    parts = domain.totals(record)
    return TotalsView(
        received_fen=parts.received,
        paid_fen=parts.paid,
        in_account_fen=parts.in_account,
        held_fen=parts.held,
        lodged_fen=parts.lodged,
    )


def _view(record: dict[str, Any]) -> CaseFundsView:
    return CaseFundsView.model_validate(
        {
            **{k: v for k, v in record.items() if k not in ("counters", "claim_fen")},
            "totals": _totals(record),
            **{
                part: list(record[part].values())
                for part in (
                    "payments",
                    "holds",
                    "notices",
                    "payouts",
                    "deductions",
                    "account_changes",
                )
            },
        }
    )


@router.get("/cases/{case_id}/funds", summary="A case's funds: its account, money in and out")
async def get_case_funds(
    case_id: PathId, identity: CurrentIdentity, request: Request
) -> CaseFundsView:
    return _view(await _funds(request).accounts.ledger(case_id, identity))


@router.get(
    "/funds",
    summary="The funds of every case of a court and the courts below it, a page at a time",
)
async def list_funds(
    identity: CurrentIdentity,
    request: Request,
    response: Response,
    court: Annotated[str | None, Query(max_length=MAX_NAME)] = None,
    limit: Limit = DEFAULT_PAGE,
    after: After = None,
) -> list[CaseFundsSummary]:
    require_role(identity, *LEDGER_LISTERS)
    found = await _funds(request).accounts.cases_of(identity, court, limit=limit, after=after)
    send_cursor(response, found)
    return [
        CaseFundsSummary(
            case_id=r["case_id"],
            case_number=r["case_number"],
            court_code=r["court_code"],
            account_number=r["account_number"],
            totals=_totals(r),
            deductions_to_review=len(domain.deductions_to_review(r)),
        )
        for r in found.items
    ]


@router.get("/funds/hold-reasons", summary="The legal reasons to defer or lodge money")
async def hold_reasons(identity: CurrentIdentity) -> list[HoldReasonView]:
    return [
        HoldReasonView(
            code=reason, label=label, kinds=[k for k in HoldKind if reason in REASONS_OF_KIND[k]]
        )
        for reason, label in HOLD_REASON_LABELS.items()
    ]


@router.get("/funds/reconciliation", summary="received = paid + in account + lodged, per court")
async def reconciliation(
    identity: CurrentIdentity,
    request: Request,
    court: Annotated[str | None, Query(max_length=MAX_NAME)] = None,
) -> list[ReconciliationView]:
    require_role(identity, *RECONCILERS)
    results: list[CourtReconciliation] = await _funds(request).accounts.reconcile(identity, court)
    return [
        ReconciliationView(
            court_code=r.court_code,
            cases=r.cases,
            received_fen=r.received_fen,
            paid_fen=r.paid_fen,
            in_account_fen=r.in_account_fen,
            lodged_fen=r.lodged_fen,
            balances=r.balances,
            unbalanced_case=r.unbalanced_case,
            problem=r.problem,
            deductions_to_review=r.deductions_to_review,
            to_review_fen=r.to_review_fen,
        )
        for r in results
    ]


@router.post(
    "/receipts",
    status_code=status.HTTP_201_CREATED,
    summary="Record money credited to a case's account (from the bank statement)",
    responses={200: {"description": "The bank reference was recorded already (one receipt)"}},
)
async def record_receipt(
    body: ReceiptIn, identity: CurrentIdentity, request: Request, response: Response
) -> ReceiptView:
    record, payment, new = await _funds(request).money_in.record_receipt(
        identity=identity,
        account_number=body.account_number,
        bank_reference=body.bank_reference,
        amount=body.amount_fen,
        payer=body.payer,
        arrived_on=body.arrived_on,
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return ReceiptView(
        case_id=record["case_id"],
        case_number=record["case_number"],
        payment=PaymentView.model_validate(payment),
        duplicate=not new,
    )


@router.post(
    "/cases/{case_id}/deductions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Deduct (扣划) frozen money into the case's account",
)
async def request_deduction(
    case_id: PathId, body: DeductionIn, identity: CurrentIdentity, request: Request,
    response: Response, idempotency_key: IdempotencyKey = None,
) -> DeductionView:  # fmt: skip
    deduction, new = await _funds(request).money_in.request_deduction_once(
        case_id, identity=identity, asset_id=body.asset_id, amount=body.amount_fen,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    if not new:  # sent again with its Idempotency-Key: the first deduction
        response.status_code = status.HTTP_200_OK
    return DeductionView.model_validate(deduction)


@router.post(
    "/cases/{case_id}/deductions/{deduction_id}/review",
    summary="Finance reviews a deduction whose answer could not be recorded, from the statement",
)
async def review_deduction(
    case_id: PathId, deduction_id: PathId, body: DeductionReviewIn, identity: CurrentIdentity,
    request: Request,
) -> DeductionView:  # fmt: skip
    deduction = await _funds(request).money_in.review_deduction(
        case_id,
        deduction_id,
        identity=identity,
        moved=body.moved,
        bank_reference=body.bank_reference or "",
        amount=body.amount_fen or 0,
        arrived_on=body.arrived_on,
        note=body.note,
    )
    return DeductionView.model_validate(deduction)


@router.post(
    "/cases/{case_id}/holds",
    status_code=status.HTTP_201_CREATED,
    summary="Ask to defer or lodge part or all of a payment (a leader decides)",
)
async def request_hold(
    case_id: PathId, body: HoldIn, identity: CurrentIdentity, request: Request,
    response: Response, idempotency_key: IdempotencyKey = None,
) -> HoldView:  # fmt: skip
    hold, new = await _funds(request).money_out.request_hold_once(
        case_id, identity=identity, payment_id=body.payment_id, amount=body.amount_fen,
        kind=body.kind, reason=body.reason, note=body.note, idempotency_key=idempotency_key,
    )  # fmt: skip
    if not new:  # sent again with its Idempotency-Key: the first hold
        response.status_code = status.HTTP_200_OK
    return HoldView.model_validate(hold)


@router.post("/cases/{case_id}/holds/{hold_id}/decision", summary="A leader decides a hold")
async def decide_hold(
    case_id: PathId,
    hold_id: PathId,
    body: DecisionIn,
    identity: CurrentIdentity,
    request: Request,
) -> HoldView:
    hold = await _funds(request).money_out.decide_hold(
        case_id, hold_id, identity=identity, approve=body.approve, note=body.note
    )
    return HoldView.model_validate(hold)


@router.post("/cases/{case_id}/holds/{hold_id}/release", summary="The hold's reason ended")
async def release_hold(
    case_id: PathId, hold_id: PathId, body: NoteIn, identity: CurrentIdentity, request: Request
) -> HoldView:
    hold = await _funds(request).money_out.release_hold(
        case_id, hold_id, identity=identity, note=body.note
    )
    return HoldView.model_validate(hold)


@router.post(
    "/cases/{case_id}/payments/{payment_id}/notice",
    status_code=status.HTTP_201_CREATED,
    summary="Tell finance to pay everything of a payment not held (支付案款通知)",
)
async def issue_notice(
    case_id: PathId, payment_id: PathId, identity: CurrentIdentity, request: Request
) -> NoticeView:
    notice = await _funds(request).money_out.issue_notice(case_id, payment_id, identity=identity)
    return NoticeView.model_validate(notice)


@router.post(
    "/cases/{case_id}/notices/{notice_id}/payout",
    status_code=status.HTTP_201_CREATED,
    summary="Finance pays a notice to the applicant",
)
async def pay(
    case_id: PathId,
    notice_id: PathId,
    body: PayoutIn,
    identity: CurrentIdentity,
    request: Request,
) -> PayoutView:
    payout = await _funds(request).money_out.pay(
        case_id,
        notice_id,
        identity=identity,
        amount=body.amount_fen,
        to_account=body.to_account,
        bank_reference=body.bank_reference,
    )
    return PayoutView.model_validate(payout)


@router.post(
    "/cases/{case_id}/receiving-account-changes",
    status_code=status.HTTP_201_CREATED,
    summary="Ask to pay into another receiving account (a leader decides)",
)
async def request_account_change(
    case_id: PathId, body: AccountChangeIn, identity: CurrentIdentity, request: Request
) -> AccountChangeView:
    change = await _funds(request).money_out.request_account_change(
        case_id, identity=identity, new_account=body.new_account, reason=body.reason
    )
    return AccountChangeView.model_validate(change)


@router.post(
    "/cases/{case_id}/receiving-account-changes/{change_id}/decision",
    summary="A leader decides a change of the receiving account",
)
async def decide_account_change(
    case_id: PathId,
    change_id: PathId,
    body: DecisionIn,
    identity: CurrentIdentity,
    request: Request,
) -> AccountChangeView:
    change = await _funds(request).money_out.decide_account_change(
        case_id, change_id, identity=identity, approve=body.approve, note=body.note
    )
    return AccountChangeView.model_validate(change)
