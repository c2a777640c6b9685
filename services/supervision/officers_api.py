"""Officers' postings and rotation (¶42) over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.supervision.domain import PostKind
from services.supervision.officers import Officers
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_ID, MAX_NAME, PastDate, PathId, ShortText
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor

router = APIRouter(prefix="/v1", tags=["officers"])


def _officers(request: Request) -> Officers:
    officers: Officers = request.app.state.officers
    return officers


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PostingIn(_Body):
    officer_name: ShortText
    post: ShortText = Field(description="e.g. 执行局局长, 执行法官, 执行员")
    post_kind: PostKind = Field(
        description="leader (leaders, independent handlers) or other: which rotation clock runs"
    )
    since: PastDate = Field(
        description="The day the officer took up the post; from 1949-10-01, not in the future"
    )


class RotationIn(_Body):
    to_post: Annotated[str, Field(max_length=MAX_NAME)] = Field(
        "", description="The post taken up (empty: left enforcement)"
    )
    rotated_on: PastDate = Field(description="Not before the posting began, not in the future")


class PastPostingView(BaseModel):
    model_config = ConfigDict(extra="allow")

    post: str
    post_kind: str
    since: str
    rotated_on: str
    to_post: str


class OfficerView(BaseModel):
    officer_id: str
    officer_name: str
    court_code: str
    post: str | None = Field(description="The current post; null when none")
    post_kind: str | None
    since: str | None
    years_in_post: float | None
    rotation_rule: str | None
    rotation_rule_title: str | None
    rotation_due_on: str | None = Field(description="The last day of the term in post")
    rotation_due_from: str | None = Field(
        description='"clock" (the deadline engine\'s clock) or "catalogue" (nominal)'
    )
    past: list[PastPostingView]


def _view(officers: Officers, record: dict[str, Any]) -> OfficerView:
    return OfficerView.model_validate(officers.view(record))


@router.post("/officers/{officer_id}/postings", status_code=status.HTTP_201_CREATED,
             summary="An officer took up a post at the caller's court")  # fmt: skip
async def post_officer(
    officer_id: PathId, body: PostingIn, identity: CurrentIdentity, request: Request
) -> OfficerView:
    officers = _officers(request)
    record = await officers.post(
        officer_id, identity, officer_name=body.officer_name, post=body.post,
        post_kind=body.post_kind, since=body.since,
    )  # fmt: skip
    return _view(officers, record)


@router.post("/officers/{officer_id}/rotation", summary="The officer left the post (轮岗)")
async def rotate_officer(
    officer_id: PathId, body: RotationIn, identity: CurrentIdentity, request: Request
) -> OfficerView:
    officers = _officers(request)
    record = await officers.rotate(
        officer_id, identity, to_post=body.to_post, rotated_on=body.rotated_on
    )
    return _view(officers, record)


@router.get("/officers", summary="Officers' postings: years in post and the rotation due day")
async def list_officers(
    identity: CurrentIdentity,
    request: Request,
    response: Response,
    court: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    limit: Limit = DEFAULT_PAGE,
    after: After = None,
) -> list[OfficerView]:
    found = await _officers(request).listing(identity, court=court, limit=limit, after=after)
    send_cursor(response, found)
    return [OfficerView.model_validate(v) for v in found.items]
