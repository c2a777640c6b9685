"""The supervision service's HTTP API: the 专人 task queue and answers (this module), and
the routers of petitions, the interference register and officers' postings (``ROUTERS``).
The dashboard calls the task routes from the browser (CORS: ``SupervisionSettings``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.supervision.domain import Outcome, StatusFilter
from services.supervision.officers_api import router as officers_router
from services.supervision.petitions_api import router as petitions_router
from services.supervision.register_api import router as register_router
from services.supervision.tasks import Tasks
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_ID, PathId, Text

router = APIRouter(prefix="/v1", tags=["supervision tasks"])

MAX_QUEUE = 500


def _tasks(request: Request) -> Tasks:
    tasks: Tasks = request.app.state.task_queue
    return tasks


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome = Field(description="corrected (纠正), explained (说明情况) or ordered (责令)")
    text: Text = Field(description="What was done or found")


class AnswerView(BaseModel):
    outcome: str
    text: str
    by: str
    at: str
    late: bool = Field(description="Answered after respond_by")


class TaskView(BaseModel):
    task_id: str
    kind: str = Field(description="escalation (a breached clock) or reminder (a rotation due)")
    clock_id: str
    rule_id: str
    rule_title: str = Field(description="The rule's title in the catalogue")
    subject_id: str
    case_id: str = Field(description="The case, when the subject is one or names one")
    case_number: str = Field(description="The case's number (empty when no case is known)")
    breached_court: str = Field(description="The court whose clock ran out")
    court_code: str = Field(description="The court whose people answer")
    level: int = Field(description="1 supervisor, 2 court leaders, 3 superior command")
    assignee_role: str = Field(description="supervisor, court_leader or superior_command")
    status: str = Field(description="open, answered, escalated (superseded) or closed")
    opened_at: str
    respond_by: str = Field(description="RFC 3339: the answer is due by then")
    due_at: str | None = Field(description="RFC 3339: when the clock itself ran (runs) out")
    overdue: bool = Field(description="Open and past respond_by")
    supersedes_task_id: str
    next_task_id: str = Field(description="The task of the next level, once escalated")
    answer: AnswerView | None
    closed_at: str | None
    closed_reason: str = Field(description='"clock_cleared" when the act was done')


async def _view(tasks: Tasks, task: dict[str, Any]) -> TaskView:
    return TaskView.model_validate(await tasks.view(task))


@router.get("/supervision/tasks", summary="My task queue: overdue first, then by respond_by")
async def task_queue(
    identity: CurrentIdentity,
    request: Request,
    court: Annotated[str | None, Query(max_length=MAX_ID,
                                       description="Default the caller's court")] = None,
    status: StatusFilter = StatusFilter.OPEN,
    limit: Annotated[int, Query(ge=1, le=MAX_QUEUE)] = 100,
) -> list[TaskView]:  # fmt: skip
    tasks = _tasks(request)
    found = await tasks.queue(identity, court=court, status=status, limit=limit)
    return [await _view(tasks, t) for t in found]


@router.get("/supervision/tasks/{task_id}", summary="One task")
async def get_task(task_id: PathId, identity: CurrentIdentity, request: Request) -> TaskView:
    tasks = _tasks(request)
    return await _view(tasks, await tasks.task(task_id, identity))


@router.post("/supervision/tasks/{task_id}/answer",
             summary="Answer the task: it closes, and its escalation stops")  # fmt: skip
async def answer_task(
    task_id: PathId, body: AnswerIn, identity: CurrentIdentity, request: Request
) -> TaskView:
    tasks = _tasks(request)
    task = await tasks.answer(task_id, identity, outcome=body.outcome, text=body.text)
    return await _view(tasks, task)


ROUTERS = (router, petitions_router, register_router, officers_router)
