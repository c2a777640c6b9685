"""Intake's HTTP routes of 终本 (终结本次执行): the acts the gate asks for, the gate's
evaluation, proposal and ruling, service, objection, and resumption (恢复执行)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake.zhongben import Act, GateRefused, Zhongben
from services.intake.zhongben_domain import (
    ObstructionKind,
    PunishmentKind,
    ResumptionCause,
    VisitKind,
)
from zhixing.auth import CurrentIdentity, require_visible
from zhixing.bounds import MAX_ID, Fen, PathId, ShortText, Text
from zhixing.service import ErrorBody

router = APIRouter(prefix="/v1", tags=["终本"])

DebtorKey = Annotated[
    str,
    Field(pattern=r"^d[0-9]{1,3}$", max_length=4,
          description='"d" and the debtor\'s position in the filing, from 0: "d0", "d1", ...'),
]  # fmt: skip
OnDay = Annotated[dt.date | None, Field(description="Defaults to today (China time)")]

GATE_REFUSAL: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody,
          "description": "The 终本 gate is not met (or the case's state does not allow the act): "
          "`detail` names every unmet condition with its rule id, `unmet_rules` lists the ids"},
}  # fmt: skip


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Visit(_Body):
    debtor_key: DebtorKey
    kind: VisitKind
    on: OnDay = None
    result: Text


class Interview(_Body):
    on: OnDay = None
    summary: Text


class ObstructionIn(_Body):
    debtor_key: DebtorKey
    kind: ObstructionKind
    on: OnDay = None
    details: Text


class Search(_Body):
    debtor_key: DebtorKey
    on: OnDay = None
    result: Text


class Punishment(_Body):
    debtor_key: DebtorKey
    kind: PunishmentKind
    decision_number: ShortText
    on: OnDay = None


class Proposal(_Body):
    reason: Text


class Decision(_Body):
    approve: bool
    reason: Text
    ruling_number: Annotated[
        str | None, Field(min_length=1, max_length=MAX_ID, description="Needed to approve")
    ] = None


class Objection(_Body):
    grounds: Text
    received_on: OnDay = None


class ObjectionDecision(_Body):
    upheld: bool
    reason: Text


class ResumptionIn(_Body):
    # objection_upheld is the objection decision's own cause, not asked for here.
    cause: Literal["applicant_request", "assets_found"]
    reason: Text
    claim_amount_fen: Fen | None = Field(
        None,
        description="What of the claim is still unperformed, in fen, as the request to resume "
        "states it (the 执恢 case enforces this): at most, and by default, the 终本 case's "
        "claim less what was paid out of it to the applicant or lodged for them",
    )


class ResumedCase(BaseModel):
    case_id: str = Field(description="The 执恢 case")
    case_number: str
    resumed_from: str = Field(description="The case closed as 终本 that it resumes")


def _zhongben(request: Request) -> Zhongben:
    zhongben: Zhongben = request.app.state.zhongben
    return zhongben


def _gate_refusal(exc: GateRefused) -> JSONResponse:
    """The house's error shape, with the unmet rule ids for clients to read."""
    return JSONResponse(
        {"detail": str(exc), "unmet_rules": exc.unmet_rules}, status_code=exc.status
    )


@router.post("/cases/{case_id}/visits", status_code=status.HTTP_204_NO_CONTENT,
             summary="Record a debtor visited or summoned (约谈、传唤被执行人)")  # fmt: skip
async def post_visit(case_id: PathId, body: Visit, identity: CurrentIdentity,
                     request: Request) -> None:  # fmt: skip
    await _zhongben(request).record_visit(
        case_id, Act(body.on, body.debtor_key), body.kind, body.result, identity=identity
    )


@router.post("/cases/{case_id}/interviews", status_code=status.HTTP_204_NO_CONTENT,
             summary="Record the applicant interviewed (约谈申请执行人)")  # fmt: skip
async def post_interview(case_id: PathId, body: Interview, identity: CurrentIdentity,
                         request: Request) -> None:  # fmt: skip
    await _zhongben(request).record_interview(
        case_id, Act(body.on), body.summary, identity=identity
    )


@router.post("/cases/{case_id}/obstructions", status_code=status.HTTP_201_CREATED,
             summary="Record concealment or a breach of the report-assets order")  # fmt: skip
async def post_obstruction(case_id: PathId, body: ObstructionIn, identity: CurrentIdentity,
                           request: Request) -> dict[str, str]:  # fmt: skip
    obstruction_id = await _zhongben(request).record_obstruction(
        case_id, Act(body.on, body.debtor_key), body.kind, body.details, identity=identity
    )
    return {"case_id": case_id, "obstruction_id": obstruction_id}


@router.post("/cases/{case_id}/searches", status_code=status.HTTP_204_NO_CONTENT,
             summary="Record a search of the debtor (搜查)")  # fmt: skip
async def post_search(case_id: PathId, body: Search, identity: CurrentIdentity,
                      request: Request) -> None:  # fmt: skip
    await _zhongben(request).record_search(
        case_id, Act(body.on, body.debtor_key), body.result, identity=identity
    )


@router.post("/cases/{case_id}/punishments", status_code=status.HTTP_204_NO_CONTENT,
             summary="Record a fine or detention imposed on the debtor (罚款、拘留)")  # fmt: skip
async def post_punishment(case_id: PathId, body: Punishment, identity: CurrentIdentity,
                          request: Request) -> None:  # fmt: skip
    await _zhongben(request).record_punishment(
        case_id, Act(body.on, body.debtor_key), body.kind, body.decision_number,
        identity=identity,
    )  # fmt: skip


@router.get("/cases/{case_id}/zhongben",
            summary="The 终本 gate's evaluation today and the case's 终本 state")  # fmt: skip
async def get_zhongben(case_id: PathId, identity: CurrentIdentity,
                       request: Request) -> dict[str, Any]:  # fmt: skip
    zhongben = _zhongben(request)
    record = await zhongben.records.read(case_id)
    require_visible(identity, record.court_code if record else None, f"case {case_id}")
    assert record is not None
    return await zhongben.evaluation(record)


@router.post("/cases/{case_id}/zhongben", status_code=status.HTTP_201_CREATED,
             summary="Propose 终本: refused unless every condition of the gate is met",
             responses=GATE_REFUSAL, response_model=None)  # fmt: skip
async def propose(case_id: PathId, body: Proposal, identity: CurrentIdentity,
                  request: Request) -> dict[str, str] | JSONResponse:  # fmt: skip
    try:
        await _zhongben(request).propose(case_id, body.reason, identity=identity)
    except GateRefused as exc:
        return _gate_refusal(exc)
    return {"case_id": case_id, "zhongben": "proposed"}


@router.post("/cases/{case_id}/zhongben/decision",
             summary="A leader approves (the 终本 ruling closes the case) or refuses 终本",
             responses=GATE_REFUSAL, response_model=None)  # fmt: skip
async def decide(case_id: PathId, body: Decision, identity: CurrentIdentity,
                 request: Request) -> dict[str, str] | JSONResponse:  # fmt: skip
    try:
        case_status = await _zhongben(request).decide(
            case_id, approve=body.approve, reason=body.reason,
            ruling_number=body.ruling_number, identity=identity,
        )  # fmt: skip
    except GateRefused as exc:
        return _gate_refusal(exc)
    return {"case_id": case_id, "status": case_status}


@router.post("/cases/{case_id}/zhongben/service",
             summary="Record the 终本 ruling served on the parties")  # fmt: skip
async def serve(case_id: PathId, identity: CurrentIdentity,
                request: Request) -> dict[str, str]:  # fmt: skip
    served_on = await _zhongben(request).serve_ruling(case_id, identity=identity)
    return {"case_id": case_id, "served_on": served_on}


@router.post("/cases/{case_id}/zhongben/objections", status_code=status.HTTP_201_CREATED,
             summary="Record the applicant's objection to the 终本 (执行异议)")  # fmt: skip
async def post_objection(case_id: PathId, body: Objection, identity: CurrentIdentity,
                         request: Request) -> dict[str, str]:  # fmt: skip
    objection_id = await _zhongben(request).object(
        case_id, body.grounds, body.received_on, identity=identity
    )
    return {"case_id": case_id, "objection_id": objection_id}


@router.post("/cases/{case_id}/zhongben/objections/{objection_id}/decision",
             summary="Decide an objection; upheld, the ruling is revoked and the case resumes",
             response_model=None)  # fmt: skip
async def decide_objection(case_id: PathId, objection_id: PathId, body: ObjectionDecision,
                           identity: CurrentIdentity,
                           request: Request) -> dict[str, Any]:  # fmt: skip
    resumed = await _zhongben(request).decide_objection(
        case_id, objection_id, upheld=body.upheld, reason=body.reason, identity=identity
    )
    answer: dict[str, Any] = {"case_id": case_id, "objection_id": objection_id,
                              "upheld": body.upheld}  # fmt: skip
    if resumed is not None:
        answer["resumed_as"] = ResumedCase(
            case_id=resumed.case_id, case_number=resumed.case_number,
            resumed_from=resumed.resumed_from,
        ).model_dump()  # fmt: skip
    return answer


@router.post("/cases/{case_id}/resumption", status_code=status.HTTP_201_CREATED,
             response_model=ResumedCase,
             summary="Resume enforcement (恢复执行): a 执恢 case is filed")  # fmt: skip
async def resume(case_id: PathId, body: ResumptionIn, identity: CurrentIdentity,
                 request: Request) -> ResumedCase:  # fmt: skip
    resumed = await _zhongben(request).resume(
        case_id,
        ResumptionCause(body.cause),
        body.reason,
        identity=identity,
        claim_amount_fen=body.claim_amount_fen,
    )
    return ResumedCase(case_id=resumed.case_id, case_number=resumed.case_number,
                       resumed_from=resumed.resumed_from)  # fmt: skip
