"""Command actions over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.command.domain import Action, visible_to
from services.command.handlers import CommandActions
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_LONG_TEXT, Days
from zhixing.errors import Invalid, NotFound
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor
from zhixing.records import HistoryEntry

router = APIRouter(prefix="/v1", tags=["command actions"])

Text = Annotated[str, Field(min_length=1, max_length=MAX_LONG_TEXT)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IssueIn(_Body):
    action: Action
    case_id: Annotated[str, Field(min_length=1, max_length=100)]
    instruction: Text
    reply_working_days: Days | None = None
    to_court: Annotated[str, Field(min_length=1, max_length=20)] | None = Field(
        None, description="Designation: the court that takes the case"
    )


class TogetherIn(_Body):
    action: Annotated[Action, Field(description="consolidate or cross")]
    debtor_id: Annotated[str, Field(min_length=1, max_length=40)]
    to_court: Annotated[str, Field(min_length=1, max_length=20)]
    instruction: Text


class LendIn(_Body):
    from_court: Annotated[str, Field(min_length=1, max_length=20)]
    to_court: Annotated[str, Field(min_length=1, max_length=20)]
    officers: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]],
                        Field(min_length=1, max_length=50)]  # fmt: skip
    instruction: Text


class TextIn(_Body):
    text: Text


class AnswerIn(_Body):
    answer: Text
    upheld: bool


class CommandActionView(BaseModel):
    """A command action and its history; an action adds its own fields (the debtor of a
    consolidation, the officers lent, a reply, a reconsideration and its answer)."""

    model_config = ConfigDict(extra="allow")

    command_id: str
    action: Action
    case_id: str = Field(description="Empty for officers lent")
    issuing_court: str
    target_court: str = Field(description="The court that receives it and answers")
    instruction: str
    reply_working_days: int | None
    to_court: str | None = Field(description="Where a move sends the case")
    reconsiderable: bool
    status: str
    acknowledged: bool
    reconsideration_closed: bool
    issued_by: str
    issued_at: str
    history: list[HistoryEntry]


class ProposedCase(BaseModel):
    case_id: str
    court_code: str


class Proposal(BaseModel):
    """One debtor's cases in several courts of the jurisdiction."""

    debtor_id: str
    cases: list[ProposedCase]
    courts: list[str]
    suggested_court: str = Field(description="The court holding most of them")


def _actions(request: Request) -> CommandActions:
    actions: CommandActions = request.app.state.actions
    return actions


@router.post("/commands", status_code=status.HTTP_201_CREATED, response_model=CommandActionView,
             summary="Issue a command action to a court of the jurisdiction")  # fmt: skip
async def issue(body: IssueIn, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    return await _actions(request).issue(
        identity=identity, action=body.action, case_id=body.case_id,
        instruction=body.instruction, reply_working_days=body.reply_working_days,
        to_court=body.to_court,
    )  # fmt: skip


@router.get("/commands/proposals", response_model=list[Proposal],
            summary="One debtor's cases across courts: proposals to consolidate")  # fmt: skip
async def proposals(identity: CurrentIdentity, request: Request) -> list[dict[str, Any]]:
    return await _actions(request).proposals(identity)


@router.post("/commands/consolidation", status_code=status.HTTP_201_CREATED,
             response_model=list[CommandActionView],
             summary="Consolidate (集中执行) or cross-execute (交叉执行) cases")  # fmt: skip
async def bring_together(
    body: TogetherIn, identity: CurrentIdentity, request: Request
) -> list[dict[str, Any]]:
    if body.action not in (Action.CONSOLIDATE, Action.CROSS):
        raise Invalid("action is consolidate or cross here", loc=("body", "action"))
    return await _actions(request).bring_together(
        identity=identity, action=body.action, debtor_id=body.debtor_id, to_court=body.to_court,
        instruction=body.instruction,
    )  # fmt: skip


@router.post("/commands/officer-loans", status_code=status.HTTP_201_CREATED,
             response_model=CommandActionView,
             summary="Lend officers to another court (调配力量)")  # fmt: skip
async def lend(body: LendIn, identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    return await _actions(request).lend_officers(
        identity=identity, from_court=body.from_court, to_court=body.to_court,
        officers=body.officers, instruction=body.instruction,
    )  # fmt: skip


@router.get(
    "/commands",
    summary="Command actions my court issued or received, newest first, a page at a time",
    response_model=list[CommandActionView],
)
async def list_commands(
    identity: CurrentIdentity, request: Request, response: Response,
    limit: Limit = DEFAULT_PAGE, after: After = None,
) -> list[dict[str, Any]]:  # fmt: skip
    found = await _actions(request).list_for(identity, limit=limit, after=after)
    send_cursor(response, found)
    return found.items


@router.get(
    "/commands/{command_id}",
    summary="One command action and its history",
    response_model=CommandActionView,
)
async def get_command(
    command_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    actions = _actions(request)
    record = await actions.get(command_id)
    if record is None or not visible_to(identity, record):
        raise NotFound(f"no command {command_id} in your jurisdiction")
    return record


@router.post(
    "/commands/{command_id}/acknowledgement",
    summary="The receiving court signs for it",
    response_model=CommandActionView,
)
async def acknowledge(
    command_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _actions(request).acknowledge(command_id, identity=identity)


@router.post(
    "/commands/{command_id}/reply",
    summary="Reply to an urge; report a correction",
    response_model=CommandActionView,
)
async def reply(
    command_id: str, body: TextIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _actions(request).reply(command_id, body.text, identity=identity)


@router.post(
    "/commands/{command_id}/reconsideration",
    summary="Ask for reconsideration (command.reconsideration)",
    response_model=CommandActionView,
)
async def reconsider(
    command_id: str, body: TextIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _actions(request).request_reconsideration(command_id, body.text, identity=identity)


@router.post(
    "/commands/{command_id}/reconsideration-answer",
    summary="Uphold or withdraw it",
    response_model=CommandActionView,
)
async def answer(
    command_id: str, body: AnswerIn, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    return await _actions(request).answer_reconsideration(
        command_id, body.answer, body.upheld, identity=identity
    )
