"""Entrustment's HTTP API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.entrustment.domain import MatterType
from services.entrustment.handlers import Entrustments
from zhixing.assets import AssetKind, Measure
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_LONG_TEXT, Fen
from zhixing.errors import NotFound
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor
from zhixing.records import HistoryEntry
from zhixing.v1 import entrustment_events_pb2 as pb

router = APIRouter(prefix="/v1", tags=["entrustments"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Division = Annotated[str, Field(pattern=r"^\d{6}$", description="GB/T 2260 division code")]
Documents = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=50)
]


class EntrustIn(_Body):
    case_id: Annotated[str, Field(min_length=1, max_length=100)]
    matter_type: MatterType
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    location_division: Division
    documents: Documents = []
    control_expires_on: dt.date | None = Field(
        None, description="When the control handed over expires (deduction, transfer)"
    )


class ReportIn(_Body):
    report: Annotated[str, Field(min_length=1, max_length=MAX_LONG_TEXT)]


class ReasonIn(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class OrderIn(_Body):
    instruction: Annotated[str, Field(min_length=1, max_length=2000)]


class ControlIn(_Body):
    kind: AssetKind
    asset_key: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(min_length=1, max_length=500)]
    value_fen: Fen
    amount_fen: Fen
    measure: Measure
    control_ref: Annotated[str, Field(min_length=1, max_length=100)]
    location_division: Division


class CompletionIn(_Body):
    result: Annotated[str, Field(min_length=1, max_length=MAX_LONG_TEXT)]
    documents: Documents = []
    control: ControlIn | None = Field(None, description="The asset controlled, if any")


class EntrustmentView(BaseModel):
    """A matter entrusted and its history; its later steps add their fields (the result,
    the control done, an order, a return and its reason)."""

    model_config = ConfigDict(extra="allow")

    entrustment_id: str
    case_id: str
    entrusting_court: str
    entrusted_court: str
    entrusted_court_name: str
    matter_type: MatterType
    description: str
    location_division: str
    documents: list[str]
    status: str
    entrusted_by: str
    entrusted_at: str
    start_overdue: bool = Field(description="Not started in time: an order may be asked for")
    history: list[HistoryEntry]


def _entrustments(request: Request) -> Entrustments:
    entrustments: Entrustments = request.app.state.entrustments
    return entrustments


@router.post(
    "/entrustments",
    status_code=status.HTTP_201_CREATED,
    summary="Entrust a matter to the court where the asset or person is",
    response_model=EntrustmentView,
)
async def entrust(body: EntrustIn, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    return await _entrustments(request).entrust(
        identity=identity,
        case_id=body.case_id,
        matter_type=body.matter_type,
        description=body.description,
        location_division=body.location_division,
        documents=body.documents,
        control_expires_on=body.control_expires_on,
    )


@router.get(
    "/entrustments",
    summary="Entrustments my court is party to, newest first, a page at a time",
    response_model=list[EntrustmentView],
)
async def list_entrustments(
    identity: CurrentIdentity, request: Request, response: Response,
    limit: Limit = DEFAULT_PAGE, after: After = None,
) -> list[dict[str, Any]]:  # fmt: skip
    found = await _entrustments(request).list_for(identity, limit=limit, after=after)
    send_cursor(response, found)
    return found.items


@router.get(
    "/entrustments/{entrustment_id}",
    summary="One entrustment, for both courts and above",
    response_model=EntrustmentView,
)
async def get_entrustment(
    entrustment_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    entrustments = _entrustments(request)
    record = await entrustments.get(entrustment_id)
    if record is None or not entrustments.visible_to(identity, record):
        raise NotFound(f"no entrustment {entrustment_id} in your jurisdiction")
    return record


@router.post(
    "/entrustments/{entrustment_id}/start",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="The entrusted court starts (the clock of entrustment.start)",
)
async def start(entrustment_id: str, identity: CurrentIdentity, request: Request) -> None:
    await _entrustments(request).start(entrustment_id, identity=identity)


@router.post(
    "/entrustments/{entrustment_id}/status-report",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Report how the matter stands (the clock of entrustment.status-report)",
)
async def report(
    entrustment_id: str, body: ReportIn, identity: CurrentIdentity, request: Request
) -> None:
    await _entrustments(request).report_status(entrustment_id, body.report, identity=identity)


@router.post(
    "/entrustments/{entrustment_id}/order-request",
    summary="Ask the entrusted court's superior for an order (not started in time)",
)
async def request_order(
    entrustment_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, str]:
    superior = await _entrustments(request).request_order(entrustment_id, identity=identity)
    return {"entrustment_id": entrustment_id, "asked": superior}


@router.post(
    "/entrustments/{entrustment_id}/order",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="The superior orders the entrusted court to act",
)
async def order(
    entrustment_id: str, body: OrderIn, identity: CurrentIdentity, request: Request
) -> None:
    await _entrustments(request).order(entrustment_id, body.instruction, identity=identity)


def _control(control: ControlIn | None) -> pb.EntrustedControl | None:
    if control is None:
        return None
    return pb.EntrustedControl(
        kind=control.kind.value,
        asset_key=control.asset_key,
        description=control.description,
        value_fen=control.value_fen,
        amount_fen=control.amount_fen,
        measure=control.measure.value,
        control_ref=control.control_ref,
        location_division=control.location_division,
    )


@router.post(
    "/entrustments/{entrustment_id}/completion",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Complete: the result and documents go back to the case",
)
async def complete(
    entrustment_id: str, body: CompletionIn, identity: CurrentIdentity, request: Request
) -> None:
    documents: Sequence[str] = body.documents
    await _entrustments(request).complete(
        entrustment_id, body.result, documents, _control(body.control), identity=identity
    )


@router.post(
    "/entrustments/{entrustment_id}/return",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Return the matter with its reasons (audited)",
)
async def return_matter(
    entrustment_id: str, body: ReasonIn, identity: CurrentIdentity, request: Request
) -> None:
    await _entrustments(request).return_matter(entrustment_id, body.reason, identity=identity)
