"""Intake's HTTP API: translates requests into commands and results into responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain import ClosureMethod, NewFiling, PartyKind
from services.intake.handlers import Filed, Intake, record_view
from zhixing.auth import CurrentIdentity, require_visible
from zhixing.idempotency import IdempotencyKey

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseFiledResponse(BaseModel):
    case_id: str
    status: str
    case_number: str = Field("", description="Issued when the case is docketed")
    flags: list[str] = Field(
        default_factory=list,
        description="Raised at filing without stopping it, e.g. minor_debtor:<id number>",
    )


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    officer_id: Annotated[str, Field(min_length=1, max_length=100)]
    team: Annotated[str, Field(min_length=1, max_length=100)] = "法官团队"


class Closure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: ClosureMethod


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _filed_response(filed: Filed, response: Response) -> CaseFiledResponse:
    if not filed.created:
        response.status_code = status.HTTP_200_OK
    return CaseFiledResponse(
        case_id=filed.case_id,
        status=filed.status.value,
        case_number=filed.case_number,
        flags=filed.flags,
    )


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseFiledResponse,
    summary="File an enforcement case (立案): receive and docket at once",
    responses={200: {"description": "Replay of an earlier request with the same Idempotency-Key"}},
)
async def post_case(
    cmd: NewFiling,
    identity: CurrentIdentity,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CaseFiledResponse:
    filed = await _intake(request).receive(
        cmd, identity=identity, idempotency_key=idempotency_key, docket=True
    )
    return _filed_response(filed, response)


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseFiledResponse,
    summary="Receive an application (收案): the docketing clock (intake.docket) starts",
)
async def post_application(
    cmd: NewFiling,
    identity: CurrentIdentity,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CaseFiledResponse:
    filed = await _intake(request).receive(
        cmd, identity=identity, idempotency_key=idempotency_key, docket=False
    )
    return _filed_response(filed, response)


@router.post(
    "/applications/{case_id}/docket",
    response_model=CaseFiledResponse,
    summary="Docket a received application (立案): the case number is issued",
)
async def docket_application(
    case_id: str, identity: CurrentIdentity, request: Request
) -> CaseFiledResponse:
    filed = await _intake(request).docket(case_id, identity=identity)
    return CaseFiledResponse(
        case_id=filed.case_id,
        status=filed.status.value,
        case_number=filed.case_number,
        flags=filed.flags,
    )


@router.post(
    "/applications/{case_id}/refusal",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Rule not to docket an application (裁定不予受理)",
)
async def refuse_application(
    case_id: str, body: Refusal, identity: CurrentIdentity, request: Request
) -> None:
    await _intake(request).refuse(case_id, body.reason, identity=identity)


@router.post(
    "/cases/{case_id}/assignment",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Assign the responsible officer and team (确定承办人)",
)
async def assign(
    case_id: str, body: Assignment, identity: CurrentIdentity, request: Request
) -> None:
    await _intake(request).assign_officer(case_id, body.officer_id, body.team, identity=identity)


@router.post(
    "/cases/{case_id}/execution-notice",
    summary="Record the execution notice and asset-report order as served",
)
async def serve_notice(case_id: str, identity: CurrentIdentity, request: Request) -> dict[str, str]:
    served_on = await _intake(request).serve_notice(case_id, identity=identity)
    return {"case_id": case_id, "served_on": served_on}


@router.post(
    "/cases/{case_id}/closure",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Close the case (结案)",
)
async def close(case_id: str, body: Closure, identity: CurrentIdentity, request: Request) -> None:
    await _intake(request).close(case_id, body.method, identity=identity)


class PartyView(BaseModel):
    """A party as the filing named it, ``kind`` spelt as POST /v1/cases accepts it."""

    kind: str = Field("", description=f"one of {', '.join(PartyKind)}; empty if the filing "
                      "recorded none")  # fmt: skip
    name: str = ""
    id_number: str = ""


class CaseRecordView(BaseModel):
    """A case or application as intake recorded it: the filing's fields (the ``CaseFiled``
    message, in JSON) once docketed, and its later facts (officer, notice, track, closure)
    as they happen."""

    model_config = ConfigDict(extra="allow")

    case_id: str
    status: str = Field(description="received, filed, refused or closed")
    court_code: str = Field(description="The court handling it now")
    receipt_number: str | None = Field(
        None,
        description="The application's number in the court's register of applications "
        "(收件编号: （2026）苏1283收1号), how it is named until it has a case number",
    )
    applicants: list[PartyView] | None = Field(None, description="Once docketed")
    debtors: list[PartyView] | None = Field(None, description="Once docketed")
    claim_amount_fen: int | None = Field(
        None, description="The claim in whole fen, a JSON number (once docketed)"
    )
    costs_fen: int | None = Field(None, description="Costs in whole fen, a JSON number")


@router.get(
    "/cases/{case_id}",
    summary="A case (or application) as intake recorded it",
    response_model=CaseRecordView,
)
async def get_case(case_id: str, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    record = await _intake(request).records.read(case_id)
    require_visible(identity, record.court_code if record else None, f"case {case_id}")
    assert record is not None
    return record_view(record)
