"""The notification service's HTTP API: a case's notices and the notices a court must deliver
another way (court people, with a token); the public progress of a case by its query code
(no token); and the plain page where a party types the code (``GET /progress``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from services.notification.reads import (
    DEFAULT_NOTICES,
    MAX_NOTICES,
    MAX_UNDELIVERED,
    RateLimited,
    Reads,
    client_address,
)
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_NAME, PathId
from zhixing.paging import NEXT_CURSOR, After, send_cursor
from zhixing.service import ErrorBody

STATIC = Path(__file__).parent / "static"

router = APIRouter(prefix="/v1", tags=["notification"])
page = APIRouter(include_in_schema=False)


def _reads(request: Request) -> Reads:
    reads: Reads = request.app.state.reads
    return reads


class NoticeView(BaseModel):
    notice_id: str
    node: str = Field(description="filed, assets_found, asset_controlled, reference_price, "
                      "sale_started, sale_completed, money_received, money_paid, zhongben, "
                      "resumed, command, court_changed, closed")  # fmt: skip
    party_key: str = Field(description='"a0".. applicants, "d0".. debtors, as filed')
    party_role: str = Field(description="applicant or debtor")
    party_name: str
    channel: str = Field(description="sms, hotline_12368 or court_app")
    text: str = Field(description="As sent, with the case query code masked")
    status: str = Field(description="queued, delivered or undelivered")
    attempts: int
    queued_at: str
    retry_at: str | None = Field(description="When a queued notice is sent again")
    receipt_id: str | None = Field(description="The gateway's receipt of a delivered notice")
    delivered_at: str | None
    undelivered_at: str | None = Field(
        None, description="When it was found undelivered and listed for the court"
    )
    last_error: str | None


class CaseNoticesView(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    notices: list[NoticeView]


class UndeliveredView(NoticeView):
    case_id: str
    case_number: str
    court_code: str


class ProgressNode(BaseModel):
    on: str = Field(description="日期")
    title: str = Field(description="节点")


class ProgressView(BaseModel):
    case_number: str
    court_name: str
    role: str = Field(description="申请执行人 or 被执行人: whose code this is")
    case_account: str = Field(description="The case account (一案一账号)")
    claim_amount_fen: int = Field(description="The amount the case enforces")
    received_fen: int = Field(description="Money received on the case account so far")
    paid_fen: int | None = Field(
        description="Money paid out to the applicant so far; null on a debtor's code (the "
        "payment is told to the applicant only)"
    )
    nodes: list[ProgressNode] = Field(
        description="The nodes so far that this party is told of, oldest first"
    )


def _notice(notice: dict[str, Any]) -> dict[str, Any]:
    # The notice keeps its party's name (and its contact reference, which is not shown).
    return {k: v for k, v in notice.items() if k != "party_ref"}


@router.get(
    "/cases/{case_id}/notices",
    summary="The notices of a case and what became of them, a page at a time",
    responses={200: {"headers": {NEXT_CURSOR: {
        "description": "The cursor of the next page (?after=), when there is one",
        "schema": {"type": "string"},
    }}}},
)  # fmt: skip
async def case_notices(
    case_id: PathId, identity: CurrentIdentity, request: Request, response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_NOTICES, description=(
        f"Notices per page, in the order queued (at most {MAX_NOTICES})"))] = DEFAULT_NOTICES,
    after: After = None,
) -> CaseNoticesView:  # fmt: skip
    record, found = await _reads(request).case(case_id, identity, limit, after)
    send_cursor(response, found)
    return CaseNoticesView(
        case_id=record["case_id"], case_number=record["case_number"],
        court_code=record["court_code"],
        notices=[NoticeView.model_validate(_notice(n)) for n in found.items],
    )  # fmt: skip


@router.get("/notices/undelivered", summary="The notices a court must deliver another way")
async def undelivered(
    identity: CurrentIdentity,
    request: Request,
    court: Annotated[str | None, Query(max_length=MAX_NAME)] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_UNDELIVERED,
            description=f"The oldest this many (at most {MAX_UNDELIVERED})",
        ),
    ] = 100,
) -> list[UndeliveredView]:
    found = await _reads(request).undelivered(identity, court, limit)
    return [
        UndeliveredView.model_validate({
            **_notice(notice), "case_id": record["case_id"],
            "case_number": record["case_number"], "court_code": record["court_code"],
        })
        for record, notice in found
    ]  # fmt: skip


Code = Annotated[
    str,
    Query(min_length=1, max_length=40, description="The case query code (案件查询码) of a notice"),
]


@router.get(
    "/progress",
    summary="A case's progress for the party holding its query code (public, rate-limited)",
    responses={
        404: {"model": ErrorBody, "description": "Unknown or wrong code (one answer for both)"},
        429: {
            "model": ErrorBody,
            "description": "Too many lookups from this address or of this code",
            "headers": {
                "Retry-After": {
                    "description": "Seconds until the window ends",
                    "schema": {"type": "integer"},
                }
            },
        },
    },
)
async def progress(code: Code, request: Request) -> ProgressView:
    reads = _reads(request)
    client = client_address(
        request.client.host if request.client is not None else None,
        request.headers.getlist("x-forwarded-for"),
        reads.settings.progress_trusted_proxies,
    )
    try:
        found = await reads.progress(code, client)
    except RateLimited as exc:
        return JSONResponse(  # type: ignore[return-value]
            {"detail": str(exc)}, status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )  # fmt: skip
    return ProgressView(
        case_number=found.case_number, court_name=found.court_name, role=found.role,
        case_account=found.case_account, claim_amount_fen=found.claim_amount_fen,
        received_fen=found.received_fen, paid_fen=found.paid_fen,
        nodes=[ProgressNode(on=on, title=title) for on, title in found.nodes],
    )  # fmt: skip


@page.get("/progress")
async def progress_page() -> FileResponse:
    return FileResponse(STATIC / "progress.html", headers={"Cache-Control": "no-cache"})
