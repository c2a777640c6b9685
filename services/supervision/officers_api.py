"""Officers' postings and rotation (¶42) over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.supervision.domain import MAX_YEARS_IN_POST, PostKind
from services.supervision.officers import Officers
from zhixing.auth import CurrentIdentity, Identity
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
        description="The day the officer took up the post: not in the future, and at most "
        f"{MAX_YEARS_IN_POST} years ago"
    )
    court_code: Annotated[str | None, Field(max_length=MAX_ID)] = Field(
        None,
        description="The court the officer is posted at: the caller's (default) or one below "
        "it. An officer on record at another court is moved by a court above both, once "
        "their court recorded the rotation",
    )


class RotationIn(_Body):
    to_post: Annotated[str, Field(max_length=MAX_NAME)] = Field(
        "", description="The post taken up (empty: left enforcement)"
    )
    rotated_on: PastDate = Field(description="Not before the posting began, not in the future")


class PastPostingView(BaseModel):
    model_config = ConfigDict(extra="allow")

    court_code: str = Field(description="The court the officer held the post at")
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


def _view(officers: Officers, record: dict[str, Any], identity: Identity) -> OfficerView:
    return OfficerView.model_validate(officers.view(record, identity))


@router.post("/officers/{officer_id}/postings", status_code=status.HTTP_201_CREATED,
             summary="An officer took up a post at the caller's court or one below")  # fmt: skip
async def post_officer(
    officer_id: PathId, body: PostingIn, identity: CurrentIdentity, request: Request
) -> OfficerView:
    officers = _officers(request)
    record = await officers.post(
        officer_id, identity, officer_name=body.officer_name, post=body.post,
        post_kind=body.post_kind, since=body.since, court_code=body.court_code,
    )  # fmt: skip
    return _view(officers, record, identity)


@router.post("/officers/{officer_id}/rotation", summary="The officer left the post (轮岗)")
async def rotate_officer(
    officer_id: PathId, body: RotationIn, identity: CurrentIdentity, request: Request
) -> OfficerView:
    officers = _officers(request)
    record = await officers.rotate(
        officer_id, identity, to_post=body.to_post, rotated_on=body.rotated_on
    )
    return _view(officers, record, identity)


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
