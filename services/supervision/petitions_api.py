"""Petitions (信访) over HTTP: receive (and register at once), register, reply, read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.supervision.domain import Channel, PetitionerRole, PetitionStatus, ReplyChannel
from services.supervision.petitions import Petition, Petitions
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_ID, MAX_LIST, MAX_NAME, PastDate, PathId, ShortText, Text
from zhixing.idempotency import IdempotencyKey
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor

router = APIRouter(prefix="/v1", tags=["petitions"])


def _petitions(request: Request) -> Petitions:
    petitions: Petitions = request.app.state.petitions
    return petitions


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


CaseNumber = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Handler = Annotated[str, Field(max_length=MAX_NAME)]


class PetitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    received_on: PastDate = Field(
        description="The day the court received it; from 1949-10-01, not in the future"
    )
    channel: Channel
    petitioner_name: ShortText
    petitioner_role: PetitionerRole
    summary: Text
    case_numbers: list[CaseNumber] = Field(
        min_length=1, max_length=MAX_LIST,
        description="Case numbers (案号) of the caller's court or the courts below it",
    )  # fmt: skip
    register_now: bool = Field(
        False, alias="register", description="Register it in the same call (needs handler)"
    )
    handler: Handler = Field("", description="Who handles it (with register)")


class RegistrationIn(_Body):
    handler: ShortText = Field(description="Who handles it")


class ReplyIn(_Body):
    reply: Text = Field(description="What the petitioner was told")
    replied_on: PastDate = Field(
        description="The day the petitioner was told; from 1949-10-01, not in the future"
    )
    reply_channel: ReplyChannel


class PetitionCaseView(BaseModel):
    case_id: str
    case_number: str
    petitions: int = Field(description="Registered petitions naming this case (repeat count)")


class RegistrationView(BaseModel):
    handler: str
    by: str
    at: str
    repeat_counts: list[int] = Field(description="Each case's count when it was registered")


class ReplyView(BaseModel):
    reply: str
    replied_on: str
    reply_channel: str
    by: str
    at: str


class PetitionView(BaseModel):
    petition_id: str
    court_code: str
    received_on: str
    channel: str
    petitioner_name: str
    petitioner_role: str
    summary: str
    status: str = Field(description="received, registered or answered")
    received_by: str
    received_at: str
    cases: list[PetitionCaseView]
    registration: RegistrationView | None
    answer: ReplyView | None


async def _view(petitions: Petitions, record: dict[str, Any]) -> PetitionView:
    return PetitionView.model_validate(await petitions.view(record))


@router.post("/petitions", status_code=status.HTTP_201_CREATED,
             summary="Receive a petition (信访) at the caller's court",
             responses={200: {"description": "A repeat of a request with the same "
                                             "Idempotency-Key: the petition it received"}},
             )  # fmt: skip
async def receive_petition(
    body: PetitionIn, identity: CurrentIdentity, request: Request, response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PetitionView:  # fmt: skip
    petitions = _petitions(request)
    saved = await petitions.receive_once(
        identity,
        Petition(received_on=body.received_on, channel=body.channel,
                 petitioner_name=body.petitioner_name, petitioner_role=body.petitioner_role,
                 summary=body.summary, case_numbers=tuple(body.case_numbers)),
        register=body.register_now, handler=body.handler, idempotency_key=idempotency_key,
    )  # fmt: skip
    if not saved.created:
        response.status_code = status.HTTP_200_OK
    return await _view(petitions, saved.record)


@router.post("/petitions/{petition_id}/registration",
             summary="Register the petition (录入) with its cases")  # fmt: skip
async def register_petition(
    petition_id: PathId, body: RegistrationIn, identity: CurrentIdentity, request: Request
) -> PetitionView:
    petitions = _petitions(request)
    record = await petitions.register(petition_id, identity, handler=body.handler)
    return await _view(petitions, record)


@router.post("/petitions/{petition_id}/reply",
             summary="The petition was resolved and the petitioner told")  # fmt: skip
async def reply_petition(
    petition_id: PathId, body: ReplyIn, identity: CurrentIdentity, request: Request
) -> PetitionView:
    petitions = _petitions(request)
    record = await petitions.reply(
        petition_id, identity, reply=body.reply, replied_on=body.replied_on,
        reply_channel=body.reply_channel,
    )  # fmt: skip
    return await _view(petitions, record)


@router.get("/petitions", summary="Petitions of a court and the courts below it")
async def list_petitions(
    identity: CurrentIdentity,
    request: Request,
    response: Response,
    court: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    case_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    status: PetitionStatus | None = None,
    limit: Limit = DEFAULT_PAGE,
    after: After = None,
) -> list[PetitionView]:
    petitions = _petitions(request)
    found = await petitions.listing(
        identity, court=court, case_id=case_id, status=status, limit=limit, after=after
    )
    send_cursor(response, found)
    return [await _view(petitions, p) for p in found.items]


@router.get("/petitions/{petition_id}", summary="One petition")
async def get_petition(
    petition_id: PathId, identity: CurrentIdentity, request: Request
) -> PetitionView:
    petitions = _petitions(request)
    return await _view(petitions, await petitions.petition(petition_id, identity))
