"""The dispute coordinator's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.dispute_coordinator.domain import AgencyKind
from services.dispute_coordinator.handlers import Disputes
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_LONG_TEXT, FenOrZero
from zhixing.courts import KnownCourt
from zhixing.errors import NotFound
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor
from zhixing.records import HistoryEntry

router = APIRouter(prefix="/v1", tags=["disputes"])

Text = Annotated[str, Field(min_length=1, max_length=MAX_LONG_TEXT)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgencyIn(_Body):
    kind: AgencyKind
    name: Short
    id: Annotated[str, Field(min_length=1, max_length=100, description="The agency's user id")]


class InstrumentIn(_Body):
    court_code: Short
    document_number: Short
    description: Annotated[str, Field(max_length=2000)] = ""


class PositionIn(_Body):
    party: Short
    text: Text


class OpenIn(_Body):
    courts: Annotated[list[Short], Field(min_length=1, max_length=20)]
    agency: AgencyIn | None = None
    subject: Text
    asset_key: Annotated[str, Field(max_length=200)] = ""
    case_ids: Annotated[list[Short], Field(max_length=50)] = []
    case_numbers: Annotated[list[Short], Field(max_length=50)] = []
    conflicting_instruments: Annotated[list[InstrumentIn], Field(max_length=20)] = []
    positions: Annotated[list[PositionIn], Field(max_length=20)] = []
    documents: Annotated[list[Short], Field(max_length=50)] = []


class NegotiationIn(_Body):
    note: Text
    outcome: Literal["ongoing", "settled", "failed"] = "ongoing"
    superior_must_coordinate: bool = Field(
        False, description="Court vs agency: the superior court must coordinate with departments"
    )


class OpinionIn(_Body):
    opinion: Text


class PlanIn(_Body):
    plan: Text
    designated_account: Annotated[str, Field(max_length=100)] = Field(
        "", description="Account the disputed money is to be paid into (执行规定 art 69)"
    )
    disputed_amount_fen: FenOrZero = 0


class ReportIn(_Body):
    report: Text


class ReasonIn(_Body):
    reason: Text


class AnswerIn(_Body):
    court_code: KnownCourt
    answer: Text
    plan: Annotated[str, Field(max_length=MAX_LONG_TEXT)] | None = None


class CommitteeIn(_Body):
    committee: Short = "政法委"
    report: Text


class DepartmentsIn(_Body):
    departments: Annotated[list[Short], Field(min_length=1, max_length=20)]


class ConclusionIn(_Body):
    terms: Text = Field(description="What the coordination with the departments settled")


class DisputeView(BaseModel):
    """A dispute and its history; its later steps add their fields (the escalation and its
    branches, the plan, the reconsiderations, the reports of a dispute with an agency)."""

    model_config = ConfigDict(extra="allow")

    dispute_id: str
    kind: str = Field(description="courts, or agency")
    courts: list[str]
    agency: dict[str, str]
    subject: str
    asset_key: str
    case_ids: list[str]
    case_numbers: list[str]
    conflicting_instruments: list[dict[str, str]]
    positions: list[dict[str, str]]
    documents: list[str]
    status: str
    stops: dict[str, str] = Field(description="Court → stopped or lifted (执行规定 art 68)")
    negotiation: list[dict[str, Any]]
    history: list[HistoryEntry]
    opened_at: str


def _disputes(request: Request) -> Disputes:
    disputes: Disputes = request.app.state.disputes
    return disputes


@router.post(
    "/disputes",
    status_code=status.HTTP_201_CREATED,
    summary="Open a dispute",
    response_model=DisputeView,
)
async def open_dispute(body: OpenIn, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    return await _disputes(request).open(
        identity=identity,
        courts=body.courts,
        agency=body.agency.model_dump(mode="json") if body.agency else None,
        subject=body.subject,
        asset_key=body.asset_key,
        case_ids=body.case_ids,
        case_numbers=body.case_numbers,
        instruments=[i.model_dump() for i in body.conflicting_instruments],
        positions=[p.model_dump() for p in body.positions],
        documents=body.documents,
    )


@router.get(
    "/disputes",
    summary="Disputes my court (or agency) is party to, newest first, a page at a time",
    response_model=list[DisputeView],
)
async def list_disputes(
    identity: CurrentIdentity, request: Request, response: Response,
    limit: Limit = DEFAULT_PAGE, after: After = None,
) -> list[dict[str, Any]]:  # fmt: skip
    found = await _disputes(request).list_for(identity, limit=limit, after=after)
    send_cursor(response, found)
    return found.items


@router.get("/disputes/{dispute_id}", summary="One dispute", response_model=DisputeView)
async def get_dispute(
    dispute_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    disputes = _disputes(request)
    record = await disputes.get(dispute_id)
    if record is None or not disputes.visible_to(identity, record):
        raise NotFound(f"no dispute {dispute_id} in your jurisdiction")
    return record


@router.post(
    "/disputes/{dispute_id}/negotiation",
    summary="Record negotiation; settle or fail",
    response_model=DisputeView,
)
async def negotiate(
    dispute_id: str, body: NegotiationIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).negotiate(
        dispute_id, body.note, body.outcome, identity=identity,
        superior_must_coordinate=body.superior_must_coordinate,
    )  # fmt: skip


@router.post(
    "/disputes/{dispute_id}/escalation",
    summary="Report up to the common superior",
    response_model=DisputeView,
)
async def escalate(dispute_id: str, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    return await _disputes(request).escalate(dispute_id, identity=identity)


@router.post(
    "/disputes/{dispute_id}/forward",
    summary="Forward upward with this court's opinion",
    response_model=DisputeView,
)
async def forward(
    dispute_id: str, body: OpinionIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).forward(dispute_id, body.opinion, identity=identity)


@router.post(
    "/disputes/{dispute_id}/plan",
    summary="The common superior's binding plan",
    response_model=DisputeView,
)
async def issue_plan(
    dispute_id: str, body: PlanIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).issue_plan(
        dispute_id, body.plan, body.designated_account, body.disputed_amount_fen,
        identity=identity,
    )  # fmt: skip


@router.post(
    "/disputes/{dispute_id}/implementation",
    summary="Report the plan implemented",
    response_model=DisputeView,
)
async def implement(
    dispute_id: str, body: ReportIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).implement(dispute_id, body.report, identity=identity)


@router.post(
    "/disputes/{dispute_id}/reconsideration",
    summary="Ask for reconsideration (dispute.plan-reconsideration)",
    response_model=DisputeView,
)
async def reconsider(
    dispute_id: str, body: ReasonIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).request_reconsideration(
        dispute_id, body.reason, identity=identity
    )


@router.post(
    "/disputes/{dispute_id}/reconsideration-answer",
    summary="Answer a reconsideration",
    response_model=DisputeView,
)
async def answer(
    dispute_id: str, body: AnswerIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).answer_reconsideration(
        dispute_id, body.court_code, body.answer, body.plan, identity=identity
    )


@router.post(
    "/disputes/{dispute_id}/stops/{court_code}/lift",
    summary="Lift a stop of enforcement",
    response_model=DisputeView,
)
async def lift(
    dispute_id: str, court_code: KnownCourt, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).lift_stop(dispute_id, court_code, identity=identity)


@router.post(
    "/disputes/{dispute_id}/committee-report",
    summary="Report to the same-level 政法委",
    response_model=DisputeView,
)
async def committee(
    dispute_id: str, body: CommitteeIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).report_to_committee(
        dispute_id, body.committee, body.report, identity=identity
    )


@router.post(
    "/disputes/{dispute_id}/superior-report",
    summary="Report to the superior (dispute.report-to-superior)",
    response_model=DisputeView,
)
async def superior_report(
    dispute_id: str, body: ReportIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).report_to_superior(dispute_id, body.report, identity=identity)


@router.post(
    "/disputes/{dispute_id}/department-coordination",
    summary="The superior starts coordinating (dispute.superior-starts-coordination)",
    response_model=DisputeView,
)
async def departments(
    dispute_id: str, body: DepartmentsIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).start_department_coordination(
        dispute_id, body.departments, identity=identity
    )


@router.post(
    "/disputes/{dispute_id}/department-coordination/conclusion",
    summary="The superior records what its coordination with the departments settled",
    response_model=DisputeView,
)
async def conclude_departments(
    dispute_id: str, body: ConclusionIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _disputes(request).conclude_department_coordination(
        dispute_id, body.terms, identity=identity
    )
