"""The statutory clocks over HTTP: read them; ask to extend one (the handling court), and
approve or refuse that recorded request (the president)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from services.deadlines.domain import ClockState
from services.deadlines.engine import DeadlineEngine
from services.deadlines.extensions import WINDOW_GATE, ExtensionRefused
from zhixing.auth import (
    CurrentIdentity,
    Identity,
    Role,
    ScopeError,
    require_handling_court,
    require_role,
    require_scope,
    require_visible,
)
from zhixing.clock_states import ClockCondition
from zhixing.service import ErrorBody

router = APIRouter(prefix="/v1", tags=["clocks"])


def _engine(request: Request) -> DeadlineEngine:
    engine: DeadlineEngine = request.app.state.deadlines
    return engine


class RuleSummary(BaseModel):
    title: str
    source: str
    unit: str = Field(description="WD, CD, CM or h")


class NextTimer(BaseModel):
    at: str = Field(description="RFC 3339")
    kind: str = Field(description="warning, breach or escalation")


class ClockView(BaseModel):
    """A statutory clock as the deadlines service keeps it."""

    clock_id: str
    rule_id: str
    subject_id: str
    court_code: str = Field(description="The responsible court")
    state: ClockCondition = Field(description="running, warned, breached, paused or cleared")
    status: str = Field(description="The engine's own: running, paused or cleared")
    breached: bool
    cycle: int
    started_at: str
    limit: int = Field(description="In the rule's unit")
    due_at: str
    last_day: str | None
    provisional: bool = Field(description="Due time estimated: the year's calendar is missing")
    unknown_years: list[int]
    due_version: int
    per_values: list[str]
    paused_at: str | None
    paused_seconds: float
    paused_spans: list[list[str]] = Field(description="Closed stretches stopped, merged")
    fired: list[str] = Field(description="Timers fired: warnings, breach, escalations")
    extensions: list[dict[str, Any]]
    extension_requests: list[dict[str, Any]] = Field(
        description="Requests to extend (申请延长), as recorded: pending, approved or refused"
    )
    observers: list[str] = Field(description="Other courts that read it")
    rule: RuleSummary
    next_timer: NextTimer | None


def _view(state: ClockState, engine: DeadlineEngine) -> ClockView:
    timer = engine.rules.next_timer(state)
    rule = engine.rules.rule(state.rule_id)
    return ClockView.model_validate({
        **state.to_json(),
        "state": state.condition,
        "rule": {"title": rule.title, "source": rule.source, "unit": rule.period.unit.value},
        "next_timer": {"at": timer.at.isoformat(), "kind": timer.kind} if timer else None,
    })  # fmt: skip


def _readable(identity: Identity, state: ClockState) -> bool:
    """The responsible court's scope reads a clock, and so do its observers' scopes."""
    for court in (state.court_code, *state.observers):
        try:
            require_scope(identity, court, write=False)
            return True
        except ScopeError:
            continue
    return False


@router.get("/clocks/{clock_id}", summary="One statutory clock")
async def get_clock(clock_id: str, identity: CurrentIdentity, request: Request) -> ClockView:
    engine = _engine(request)
    state = await engine.get(clock_id)
    if state is None or not _readable(identity, state):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no clock {clock_id} in your jurisdiction")
    return _view(state, engine)


@router.get("/subjects/{subject_id}/clocks", summary="The clocks of a case, asset, dispute, ...")
async def list_clocks(
    subject_id: str, identity: CurrentIdentity, request: Request
) -> list[ClockView]:
    engine = _engine(request)
    visible = []
    for state in await engine.clocks_of(subject_id):
        if _readable(identity, state):
            visible.append(_view(state, engine))
    return visible


REQUESTERS = (Role.OFFICER, Role.LEADER, Role.PRESIDENT)
"""Who asks for an extension: the handling court's officer or leader, or its president."""


class ExtensionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Strict: "30" is refused, not read as 30 (the request is recorded as sent).
    added: Annotated[
        StrictInt, Field(gt=0, le=120, description="Added to the limit, in the rule's unit")
    ]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ExtensionRequested(BaseModel):
    request: dict[str, Any] = Field(
        description="The request as recorded: request_id, added, "
        "reason, requested_by, requested_at (the server's clock)"
    )
    clock: ClockView


RequestId = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^ext-[0-9]{1,4}$",
               description="A recorded extension request (its id, as asked: ext-1, ...)"),
]  # fmt: skip


class Extension(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: RequestId
    approval_ref: Annotated[str, Field(min_length=1, max_length=100, description="批准文书编号")]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: RequestId
    reason: Annotated[str, Field(min_length=1, max_length=500)]


REQUEST_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Not the handling court's officer, leader or "
          "president"},
    409: {"model": ErrorBody, "description": f"Refused by {WINDOW_GATE} (`unmet_rules`): the "
          "rule allows no extension, or today is outside the window, or the clock is paused; "
          "or a request is pending already, or the clock is cleared"},
}  # fmt: skip

EXTENSION_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Not the president of the clock's court"},
    404: {"model": ErrorBody, "description": "No such clock in your jurisdiction"},
    409: {"model": ErrorBody, "description": "No such request on the clock, or it was decided "
          "already, or the clock is cleared"},
}  # fmt: skip


async def _handled_clock(
    engine: DeadlineEngine, identity: Identity, clock_id: str, *roles: Role
) -> ClockState:
    require_role(identity, *roles)
    state = await engine.get(clock_id)
    require_visible(identity, state.court_code if state else None, f"clock {clock_id}")
    assert state is not None
    require_handling_court(identity, state.court_code, f"clock {clock_id}")
    return state


async def _extender_of(engine: DeadlineEngine, identity: Identity, clock_id: str) -> ClockState:
    """The clock, when ``identity`` is the one who extends it (the catalogue's ``extension``)."""
    extenders = {r.extension.by.value for r in engine.rules.catalogue.clocks if r.extension}
    state = await _handled_clock(
        engine, identity, clock_id, *(Role(by) for by in sorted(extenders))
    )
    rule = engine.rules.rule(state.rule_id)
    if rule.extension is not None and rule.extension.by.value != identity.role.value:
        raise ScopeError(
            f"only the {rule.extension.by.value} of the court extends the limit of rule "
            f"{rule.id} (rule {WINDOW_GATE})"
        )
    return state


def _refused(exc: ExtensionRefused) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "unmet_rules": exc.unmet_rules}, status_code=exc.status
    )


@router.post(
    "/clocks/{clock_id}/extension-requests", summary="Ask to extend a case's limit (申请延长)",
    status_code=status.HTTP_201_CREATED, response_model=ExtensionRequested,
    responses=REQUEST_REFUSALS,
)  # fmt: skip
async def request_extension(
    clock_id: str, body: ExtensionRequest, identity: CurrentIdentity, request: Request
) -> Any:
    """Recorded now, on the server's clock, and checked against the window now: no day the
    client names is taken for the day it was asked."""
    engine = _engine(request)
    await _handled_clock(engine, identity, clock_id, *REQUESTERS)
    try:
        recorded = await engine.request_extension(
            clock_id, added=body.added, reason=body.reason, requested_by=identity.subject
        )
    except ExtensionRefused as exc:
        return _refused(exc)
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    state = await engine.get(clock_id)
    assert state is not None
    return ExtensionRequested(request=recorded, clock=_view(state, engine))


@router.post(
    "/clocks/{clock_id}/extensions", summary="Approve a request to extend (延长, the president)",
    response_model=ClockView, responses=EXTENSION_REFUSALS,
)  # fmt: skip
async def extend_clock(
    clock_id: str, body: Extension, identity: CurrentIdentity, request: Request
) -> Any:
    engine = _engine(request)
    await _extender_of(engine, identity, clock_id)
    try:
        extended = await engine.extend(
            clock_id, request_id=body.request_id, approved_by=identity.subject,
            approval_ref=body.approval_ref, reason=body.reason,
        )  # fmt: skip
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _view(extended, engine)


@router.post(
    "/clocks/{clock_id}/extension-refusals", summary="Refuse a request to extend (the president)",
    response_model=ClockView, responses=EXTENSION_REFUSALS,
)  # fmt: skip
async def refuse_extension(
    clock_id: str, body: Refusal, identity: CurrentIdentity, request: Request
) -> Any:
    engine = _engine(request)
    await _extender_of(engine, identity, clock_id)
    refused = await engine.refuse_extension(
        clock_id, request_id=body.request_id, refused_by=identity.subject, reason=body.reason
    )
    return _view(refused, engine)
