"""Intake's HTTP routes of the pauses of a case's clock (中止, 暂缓, 公告, 评估/鉴定, 请示,
拍卖): start one, end it, list them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake.pauses import PauseKind, Pauses
from zhixing.auth import CurrentIdentity, require_visible
from zhixing.bounds import MAX_ID, MAX_TEXT, PathId, Text

router = APIRouter(prefix="/v1", tags=["cases"])

DocumentNumber = Annotated[
    str, Field(max_length=MAX_ID, description="The ruling or decision's number, where there is one")
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PauseStart(_Body):
    kind: PauseKind = Field(
        description="suspension (中止执行), deferral (暂缓执行), public_notice (公告), "
        "appraisal (评估/鉴定), instruction (请示), auction (拍卖/变卖)"
    )
    on: dt.date = Field(description="The day it started: not after today, not before filing")
    document_number: DocumentNumber = ""
    reason: Text


class PauseEnd(_Body):
    on: dt.date = Field(description="The day it ended: not after today, not before its start")
    document_number: DocumentNumber = ""
    reason: Annotated[str, Field(max_length=MAX_TEXT)] = ""


class PauseView(BaseModel):
    pause_id: str
    kind: PauseKind
    started_on: str
    start_document: str = ""
    reason: str
    started_by: str
    ended_on: str | None = Field(None, description="Absent while the pause is open")
    end_document: str | None = None
    end_reason: str | None = None
    ended_by: str | None = None


def _pauses(request: Request) -> Pauses:
    pauses: Pauses = request.app.state.pauses
    return pauses


@router.post(
    "/cases/{case_id}/pauses",
    status_code=status.HTTP_201_CREATED,
    response_model=PauseView,
    summary="Start a pause of the case's clock (中止/暂缓/公告/评估/请示/拍卖): one open per kind",
)
async def start_pause(
    case_id: PathId, body: PauseStart, identity: CurrentIdentity, request: Request
) -> PauseView:
    pause = await _pauses(request).start(
        case_id, body.kind, body.on, body.document_number, body.reason, identity=identity
    )
    return PauseView.model_validate(pause)


@router.post(
    "/cases/{case_id}/pauses/{pause_id}/end",
    response_model=PauseView,
    summary="End a pause of the case's clock: its end act (恢复执行, 公告期满, 评估完成, ...)",
)
async def end_pause(
    case_id: PathId, pause_id: PathId, body: PauseEnd, identity: CurrentIdentity,
    request: Request,
) -> PauseView:  # fmt: skip
    pause = await _pauses(request).end(
        case_id, pause_id, body.on, body.document_number, body.reason, identity=identity
    )
    return PauseView.model_validate(pause)


@router.get(
    "/cases/{case_id}/pauses",
    response_model=list[PauseView],
    summary="The pauses of a case's clock, oldest first",
)
async def list_pauses(
    case_id: PathId, identity: CurrentIdentity, request: Request
) -> list[PauseView]:
    pauses = _pauses(request)
    record = await pauses.records.read(case_id)
    require_visible(identity, record.court_code if record else None, f"case {case_id}")
    return [PauseView.model_validate(p) for p in await pauses.of_case(case_id)]
