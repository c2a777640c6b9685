"""The credit service's HTTP API: a case's credit record; restrictions (order, serve, lift
due, lift); listings (list, decline, extend, ground ended, delete); and the query by ID
number or credit code."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from services.credit import domain
from services.credit.domain import DeclineReason, DeleteCause, GroundEndedCause, LiftCause
from services.credit.handlers import Credit
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_ID, MAX_TEXT, PathId
from zhixing.records import HistoryEntry

router = APIRouter(prefix="/v1", tags=["credit"])


def _credit(request: Request) -> Credit:
    credit: Credit = request.app.state.credit
    return credit


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


DebtorKey = Annotated[
    str,
    Field(
        min_length=2, max_length=domain.MAX_DEBTOR_KEY, pattern=r"^d[0-9]+$",
        description='"d" and the debtor\'s position in the filing, from 0 ("d0", "d1", ...)',
    ),
]  # fmt: skip
DocumentNumber = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Note = Annotated[str, Field(max_length=MAX_TEXT)]


class RestrictionIn(_Body):
    debtor_key: DebtorKey
    ruling_number: DocumentNumber = Field(description="The restriction order's number")


class ServiceIn(_Body):
    served_on: dt.date | None = Field(None, description="Default today; never in the future")


class LiftDueIn(_Body):
    cause: LiftCause = Field(description="performed, security or consent")
    urgent: bool = Field(False, description="The debtor's need is urgent: lift at once")


class LiftIn(_Body):
    cause: LiftCause | None = Field(
        None,
        description="Default: the cause the lift is due for. performed, security, consent or "
        "corrected; case_ended is the platform's (recorded when the case ends) and refused",
    )


class ListingIn(_Body):
    debtor_key: DebtorKey
    ground: Annotated[StrictInt | None, Field(validate_default=True)] = Field(
        None, description="The ground of 法释〔2017〕7号 art 1, 1–6"
    )
    decision_number: DocumentNumber = Field(description="The listing decision's number")
    facts: Reason = Field(description="The facts found")

    @field_validator("ground")
    @classmethod
    def _statutory_ground(cls, value: int | None) -> int:
        if value is None or value not in domain.GROUNDS:
            raise ValueError(
                f"a listing needs one of the six grounds of 法释〔2017〕7号 art 1, numbered "
                f"{min(domain.GROUNDS)}–{max(domain.GROUNDS)} (rule {domain.LISTING_GROUNDS})"
            )
        return value


class DeclineIn(_Body):
    debtor_key: DebtorKey
    reason: DeclineReason
    details: Note = ""


class ExtensionIn(_Body):
    months: Annotated[StrictInt, Field(gt=0, le=domain.MAX_MONTHS)] = Field(
        description="Within the catalogue's bounds (rule credit.listing-extension)"
    )
    reason: Reason


class GroundEndedIn(_Body):
    cause: GroundEndedCause = Field(
        description="performed, revoked, applicant_consent or other; case_ended and "
        "requery_nothing_found are the platform's (recorded from events) and refused"
    )


class DeletionIn(_Body):
    cause: Annotated[DeleteCause, Field(description="ground_ended or corrected")]


class LiftDueView(BaseModel):
    cause: str
    urgent: bool
    by: str
    at: str


class RestrictionView(BaseModel):
    restriction_id: str
    debtor_key: str
    debtor_name: str
    ruling_number: str
    ordered_on: str
    effective_on: str = Field(description="After the grace period (rule credit.grace-period)")
    ordered_by: str
    served_on: str | None
    lift_due: LiftDueView | None
    status: str = Field(description="in_force or lifted")
    lifted_on: str | None
    lift_cause: str | None
    lifted_by: str | None


class ExtensionView(BaseModel):
    months: int
    reason: str
    on: str = Field(description="The day the leader decided it")
    by: str
    began_on: str | None = Field(
        None, description="The day the term ran out and the extension began; null before"
    )


class GroundEndedView(BaseModel):
    cause: str
    on: str
    by: str


class ListingView(BaseModel):
    listing_id: str
    debtor_key: str
    debtor_name: str
    ground: int
    ground_text: str
    fixed_term: bool
    decision_number: str
    facts: str
    listed_on: str
    effective_on: str
    listed_by: str
    term_ends_on: str | None = Field(
        description="Nominal last day of a fixed term, with the extension decided"
    )
    extension: ExtensionView | None
    ground_ended: GroundEndedView | None
    status: str = Field(description="in_force or deleted")
    deleted_on: str | None
    delete_cause: str | None
    deleted_by: str | None


class DeclineView(BaseModel):
    debtor_key: str
    reason: DeclineReason
    details: str
    decided_by: str
    on: str


class DebtorView(BaseModel):
    debtor_key: str
    name: str
    id_number: str
    kind: str
    minor: bool = Field(description="A minor today (never put on the 失信 list while so)")


class CreditRecordView(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    officer_id: str
    notice_served_on: str | None = Field(
        None, description="The day the execution notice was served (null: not yet, or not known)"
    )
    closed_as: str
    resumed_from_case_id: str = Field("", description="For a 执恢 case, the 终本 case it resumes")
    debtors: list[DebtorView]
    restrictions: list[RestrictionView]
    listings: list[ListingView]
    declines: list[DeclineView]
    history: list[HistoryEntry]


class SubjectListingView(BaseModel):
    case_number: str
    court_code: str
    since: str
    ground: int
    ground_text: str
    term_ends_on: str | None = Field(
        description="Nominal last day of a fixed term, with the extension decided"
    )


class SubjectRestrictionView(BaseModel):
    case_number: str
    court_code: str
    since: str
    ruling_number: str


class SubjectCreditView(BaseModel):
    id_number: str
    name: str | None = Field(
        description="As filed on the latest case with a measure in effect now; null otherwise"
    )
    listed: bool = Field(description="On the 失信 list now")
    restricted: bool = Field(description="Restricted in consumption now (in effect)")
    courts: list[str] = Field(description="The courts whose measures are in force")
    listings: list[SubjectListingView]
    restrictions: list[SubjectRestrictionView]


def _listing_view(credit: Credit, listing: dict[str, Any]) -> ListingView:
    return ListingView.model_validate(
        {**listing, "term_ends_on": domain.term_ends_on(listing, credit.rules)}
    )


def _record_view(credit: Credit, record: dict[str, Any]) -> CreditRecordView:
    return CreditRecordView.model_validate({
        **record,
        "debtors": [{**d, "minor": domain.is_minor_on(d, credit.today(), credit.rules)}
                    for d in record["debtors"].values()],
        "restrictions": list(record["restrictions"].values()),
        "listings": [_listing_view(credit, x) for x in record["listings"].values()],
    })  # fmt: skip


IdNumber = Annotated[
    str,
    Path(
        min_length=1, max_length=MAX_ID,
        description="An 18-character resident ID or unified social credit code",
    ),
]  # fmt: skip


@router.get("/credit/subjects/{id_number}", summary="Is this person or company listed or "
            "restricted now, by which courts, on which cases (nationwide)")  # fmt: skip
async def query_subject(
    id_number: IdNumber, identity: CurrentIdentity, request: Request
) -> SubjectCreditView:
    found = await _credit(request).subject(id_number)
    return SubjectCreditView(
        id_number=found.id_number, name=found.name, listed=found.listed,
        restricted=found.restricted, courts=found.courts,
        listings=[SubjectListingView.model_validate(x, from_attributes=True)
                  for x in found.listings],
        restrictions=[SubjectRestrictionView.model_validate(x, from_attributes=True)
                      for x in found.restrictions],
    )  # fmt: skip


@router.get("/cases/{case_id}/credit", summary="A case's restrictions, listings and decisions")
async def get_case_credit(
    case_id: PathId, identity: CurrentIdentity, request: Request
) -> CreditRecordView:
    credit = _credit(request)
    return _record_view(credit, await credit.record_of(case_id, identity))


@router.post("/cases/{case_id}/restrictions", status_code=status.HTTP_201_CREATED,
             summary="Order a consumption restriction (限制消费令) on a debtor")  # fmt: skip
async def order_restriction(
    case_id: PathId, body: RestrictionIn, identity: CurrentIdentity, request: Request
) -> RestrictionView:
    restriction = await _credit(request).restrictions.order(
        case_id, identity=identity, debtor_key=body.debtor_key, ruling_number=body.ruling_number
    )
    return RestrictionView.model_validate(restriction)


@router.post("/cases/{case_id}/restrictions/{restriction_id}/service",
             summary="The restriction order was served on the debtor")  # fmt: skip
async def serve_restriction(
    case_id: PathId, restriction_id: PathId, body: ServiceIn, identity: CurrentIdentity,
    request: Request,
) -> RestrictionView:  # fmt: skip
    restriction = await _credit(request).restrictions.serve(
        case_id, restriction_id, identity=identity, served_on=body.served_on
    )
    return RestrictionView.model_validate(restriction)


@router.post("/cases/{case_id}/restrictions/{restriction_id}/lift-due",
             summary="The restriction must be lifted: performed, security or consent")  # fmt: skip
async def restriction_lift_due(
    case_id: PathId, restriction_id: PathId, body: LiftDueIn, identity: CurrentIdentity,
    request: Request,
) -> RestrictionView:  # fmt: skip
    restriction = await _credit(request).restrictions.lift_due(
        case_id, restriction_id, identity=identity, cause=body.cause, urgent=body.urgent
    )
    return RestrictionView.model_validate(restriction)


@router.post("/cases/{case_id}/restrictions/{restriction_id}/lifting",
             summary="Lift the restriction")  # fmt: skip
async def lift_restriction(
    case_id: PathId, restriction_id: PathId, body: LiftIn, identity: CurrentIdentity,
    request: Request,
) -> RestrictionView:  # fmt: skip
    restriction = await _credit(request).restrictions.lift(
        case_id, restriction_id, identity=identity, cause=body.cause
    )
    return RestrictionView.model_validate(restriction)


@router.post("/cases/{case_id}/listings", status_code=status.HTTP_201_CREATED,
             summary="Put a debtor on the 失信 list (and restrict it, if not yet)")  # fmt: skip
async def list_debtor(
    case_id: PathId, body: ListingIn, identity: CurrentIdentity, request: Request
) -> ListingView:
    credit = _credit(request)
    listing = await credit.listings.list_debtor(
        case_id, identity=identity, debtor_key=body.debtor_key, ground=body.ground,
        decision_number=body.decision_number, facts=body.facts,
    )  # fmt: skip
    return _listing_view(credit, listing)


@router.post("/cases/{case_id}/listing-declines", status_code=status.HTTP_201_CREATED,
             summary="Decide, with a reason, not to list a debtor (replaces the standing "
             "decision on the debtor)")  # fmt: skip
async def decline_listing(
    case_id: PathId, body: DeclineIn, identity: CurrentIdentity, request: Request
) -> DeclineView:
    decline = await _credit(request).listings.decline(
        case_id, identity=identity, debtor_key=body.debtor_key, reason=body.reason,
        details=body.details,
    )  # fmt: skip
    return DeclineView.model_validate(decline)


@router.post("/cases/{case_id}/listings/{listing_id}/extension",
             summary="A leader decides to extend a fixed-term listing, with a reason: the "
             "extension begins when the term ends")  # fmt: skip
async def extend_listing(
    case_id: PathId, listing_id: PathId, body: ExtensionIn, identity: CurrentIdentity,
    request: Request,
) -> ListingView:  # fmt: skip
    credit = _credit(request)
    listing = await credit.listings.extend(
        case_id, listing_id, identity=identity, months=body.months, reason=body.reason
    )
    return _listing_view(credit, listing)


@router.post("/cases/{case_id}/listings/{listing_id}/ground-ended",
             summary="The listing's ground ended: its deletion is due")  # fmt: skip
async def listing_ground_ended(
    case_id: PathId, listing_id: PathId, body: GroundEndedIn, identity: CurrentIdentity,
    request: Request,
) -> ListingView:  # fmt: skip
    credit = _credit(request)
    listing = await credit.listings.ground_ended(
        case_id, listing_id, identity=identity, cause=body.cause
    )
    return _listing_view(credit, listing)


@router.post("/cases/{case_id}/listings/{listing_id}/deletion",
             summary="Delete the listing (删除失信信息)")  # fmt: skip
async def delete_listing(
    case_id: PathId, listing_id: PathId, body: DeletionIn, identity: CurrentIdentity,
    request: Request,
) -> ListingView:  # fmt: skip
    credit = _credit(request)
    listing = await credit.listings.delete(case_id, listing_id, identity=identity, cause=body.cause)
    return _listing_view(credit, listing)
