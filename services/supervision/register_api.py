"""The interference register (干预过问案件登记) over HTTP: record, correct (a new record),
read, report and export. There is no route to edit or delete a record."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from services.supervision.domain import Manner
from services.supervision.handler import Saved
from services.supervision.register import Interference, Register
from zhixing.auth import CurrentIdentity
from zhixing.bounds import MAX_ID, PastDateTime, PathId, ShortText, Text
from zhixing.export import MAX_EXPORT_ROWS, ExportFormat, table_response
from zhixing.idempotency import IdempotencyKey
from zhixing.paging import DEFAULT_PAGE, After, Limit, send_cursor

router = APIRouter(prefix="/v1", tags=["interference register"])

EXPORT_TRUNCATED = "X-Export-Truncated"
"""On an export cut short at ``MAX_EXPORT_ROWS`` rows: "<rows>/<records matched>"."""


def _register(request: Request) -> Register:
    register: Register = request.app.state.register
    return register


class InterferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_name: ShortText = Field(description="Who inquired or intervened")
    person_position: ShortText = Field(description="Their post")
    person_organisation: ShortText = Field(description="Their organisation")
    # Strict: an append-only record keeps what was sent, so "yes" is refused, not read as
    # true.
    inside_court: StrictBool = Field(description="Whether they are of the court (院内) or not")
    occurred_at: PastDateTime = Field(
        description="When; from 1949-10-01, not in the future (China time if no offset)"
    )
    manner: Manner
    content: Text = Field(description="What was asked or said")
    handling: Text = Field(description="How it was handled")

    def entry(self) -> Interference:
        return Interference(**self.model_dump())


class InterferenceView(BaseModel):
    record_id: str
    case_id: str
    case_number: str
    court_code: str = Field(description="The court handling the case")
    recorded_by: str
    recorder_court: str
    recorded_at: str
    person_name: str
    person_position: str
    person_organisation: str
    inside_court: bool
    occurred_at: str
    manner: str
    content: str
    handling: str
    corrects_record_id: str = Field(description="The record this one corrects; empty if none")


class CourtReportView(BaseModel):
    court_code: str
    records: int
    inside_court: int
    outside_court: int
    corrections: int
    by_manner: dict[str, int]


Court = Annotated[str | None, Query(max_length=MAX_ID, description="Default the caller's court")]
From = Annotated[dt.date | None, Query(alias="from", description="First day (occurred), included")]
To = Annotated[dt.date | None, Query(alias="to", description="Last day (occurred), included")]


REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"description": "A repeat of a request with the same Idempotency-Key: the record it made"}
}


def _saved(saved: Saved, response: Response) -> InterferenceView:
    if not saved.created:
        response.status_code = status.HTTP_200_OK
    return InterferenceView.model_validate(saved.record)


@router.post("/cases/{case_id}/interference", status_code=status.HTTP_201_CREATED,
             summary="Record an inquiry or intervention about a case",
             responses=REPLAYED)  # fmt: skip
async def record_interference(
    case_id: PathId, body: InterferenceIn, identity: CurrentIdentity, request: Request,
    response: Response, idempotency_key: IdempotencyKey = None,
) -> InterferenceView:  # fmt: skip
    saved = await _register(request).record_once(case_id, identity, body.entry(),
                                                 idempotency_key)  # fmt: skip
    return _saved(saved, response)


@router.post("/interference/{record_id}/corrections", status_code=status.HTTP_201_CREATED,
             summary="Correct a record: a new record naming it (the original stays)",
             responses=REPLAYED)  # fmt: skip
async def correct_interference(
    record_id: PathId, body: InterferenceIn, identity: CurrentIdentity, request: Request,
    response: Response, idempotency_key: IdempotencyKey = None,
) -> InterferenceView:  # fmt: skip
    saved = await _register(request).correct_once(record_id, identity, body.entry(),
                                                  idempotency_key)  # fmt: skip
    return _saved(saved, response)


@router.get("/cases/{case_id}/interference", summary="A case's interference records (a page)")
async def case_interference(
    case_id: PathId, identity: CurrentIdentity, request: Request, response: Response,
    limit: Limit = DEFAULT_PAGE, after: After = None,
) -> list[InterferenceView]:  # fmt: skip
    found = await _register(request).of_case(case_id, identity, limit=limit, after=after)
    send_cursor(response, found)
    return [InterferenceView.model_validate(r) for r in found.items]


@router.get("/interference", summary="The register of a court and the courts below it (a page)")
async def list_interference(
    identity: CurrentIdentity, request: Request, response: Response, court: Court = None,
    since: From = None, until: To = None, limit: Limit = DEFAULT_PAGE, after: After = None,
) -> list[InterferenceView]:  # fmt: skip
    found = await _register(request).listing(
        identity, court=court, since=since, until=until, limit=limit, after=after
    )
    send_cursor(response, found)
    return [InterferenceView.model_validate(r) for r in found.items]


@router.get("/interference/report", summary="Per-court counts: inside/outside, manner, corrections")
async def interference_report(
    identity: CurrentIdentity, request: Request, court: Court = None, since: From = None,
    until: To = None,
) -> list[CourtReportView]:  # fmt: skip
    rows = await _register(request).report(identity, court=court, since=since, until=until)
    return [CourtReportView.model_validate(r) for r in rows]


@router.get("/interference/export", response_class=Response,
            summary=f"The register as CSV or XLSX: at most {MAX_EXPORT_ROWS} rows, the earliest "
                    f"({EXPORT_TRUNCATED} says how many matched when there were more)")  # fmt: skip
async def export_interference(
    identity: CurrentIdentity, request: Request, court: Court = None, since: From = None,
    until: To = None, format: ExportFormat = ExportFormat.CSV,
) -> Response:  # fmt: skip
    table, matched = await _register(request).table(identity, court=court, since=since, until=until)
    response = await table_response(table, format, filename="干预过问案件登记")
    if matched > len(table.rows):  # cut short: the caller narrows by court or period
        response.headers[EXPORT_TRUNCATED] = f"{len(table.rows)}/{matched}"
    return response


@router.get("/interference/{record_id}", summary="One record (never edited or deleted)")
async def get_interference(
    record_id: PathId, identity: CurrentIdentity, request: Request
) -> InterferenceView:
    return InterferenceView.model_validate(await _register(request).one(record_id, identity))
