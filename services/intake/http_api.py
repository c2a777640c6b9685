"""Intake's HTTP API: translates requests into commands and results into responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel

from services.intake.domain import FileCase
from services.intake.handlers import IdempotencyConflict, file_case
from services.intake.repository import CaseRecords
from zhixing.auth import CurrentIdentity, require_visible
from zhixing.service import ServiceContext

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseFiledResponse(BaseModel):
    case_id: str


def _ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def _records(request: Request) -> CaseRecords:
    records: CaseRecords = request.app.state.records
    return records


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseFiledResponse,
    summary="File an enforcement case (立案)",
    responses={200: {"description": "Replay of an earlier request with the same Idempotency-Key"}},
)
async def post_case(
    cmd: FileCase,
    identity: CurrentIdentity,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CaseFiledResponse:
    try:
        filed = await file_case(
            cmd,
            identity=identity,
            ctx=_ctx(request),
            records=_records(request),
            idempotency_key=idempotency_key,
        )
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if not filed.created:
        response.status_code = status.HTTP_200_OK
    return CaseFiledResponse(case_id=filed.case_id)


@router.get("/cases/{case_id}", summary="A filed case as intake recorded it")
async def get_case(case_id: str, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    filed = await _records(request).get(case_id)
    require_visible(identity, filed.court_code if filed else None, f"case {case_id}")
    assert filed is not None
    return MessageToDict(filed, preserving_proto_field_name=True)
