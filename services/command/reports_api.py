"""Trends, rankings (排名) and the bulletin (通报) of a jurisdiction, over HTTP.

Management reports: the command centre, court leaders and presidents, the supervisors and
the overseers read them, for their court and the courts below it. What each figure means:
``services/command/figures.py``; how periods are counted: ``services/command/reports.py``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.command.bulletin import (
    PdfBusy,
    bulletin_html,
    bulletin_tables,
    bulletin_xlsx,
    render_pdf,
)
from services.command.report_periods import PeriodKind, ReportPeriod
from services.command.reports import MOST_PERIODS, Reports
from zhixing.auth import CurrentIdentity, Role, readable_court, require_role
from zhixing.courts import court_name

router = APIRouter(prefix="/v1", tags=["reports"])

REPORT_READERS = (
    Role.COMMAND, Role.LEADER, Role.PRESIDENT, Role.SUPERVISOR, Role.OVERSEER, Role.DISCIPLINE,
)  # fmt: skip
CourtQuery = Annotated[str | None, Query(max_length=20, description="default: yours")]
PeriodQuery = Annotated[
    str, Query(max_length=8, description="A week like 2026-W48 or a month like 2026-11")
]

OptionalPeriodQuery = Annotated[
    str | None, Query(max_length=8, description="2026-W48 or 2026-11; default: now")
]


class TrendPoint(BaseModel):
    period: str = Field(description="2026-W48 or 2026-11")
    title: str
    start: str
    end: str
    filed: int = Field(description="Cases filed in the period")
    closed: int = Field(description="Cases closed in the period")
    warnings: int = Field(description="Clock warnings (预警) in the period")
    breaches: int = Field(description="Clock breaches (超期) in the period")
    rates: dict[str, float | None] = Field(
        description="结案率, 执行完毕率, 法定期限内结案率 as of the period's last day (0 to 1)"
    )


class Trends(BaseModel):
    court_code: str
    courts: int = Field(description="Courts counted: the court and every court below it")
    kind: PeriodKind
    series: list[TrendPoint] = Field(description="Oldest first, ending with the current one")
    definitions: dict[str, str]


class RankRow(BaseModel):
    court_code: str
    court_name: str
    value: float | None
    rank: int | None = Field(description="1 is best; equal values share a rank; None: no value")


class Rankings(BaseModel):
    court_code: str
    period: str | None = Field(description="The period ranked as of its end; None: now")
    as_of: str
    rankings: dict[str, list[RankRow]]
    definitions: dict[str, str]


class BulletinFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    PDF = "pdf"
    XLSX = "xlsx"


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


@router.get("/trends", summary="Breaches, warnings and rates per week or month (趋势)")
async def trends(
    identity: CurrentIdentity,
    request: Request,
    court: CourtQuery = None,
    kind: PeriodKind = PeriodKind.WEEK,
    count: Annotated[int, Query(ge=1, le=MOST_PERIODS)] = 12,
) -> Trends:
    """The court's jurisdiction (the court and every court below it) over its last
    ``count`` weeks or months: cases filed and closed, warnings and breaches in each, and
    结案率 / 执行完毕率 / 法定期限内结案率 as of each period's end."""
    require_role(identity, *REPORT_READERS)
    code = readable_court(identity, court)
    return Trends.model_validate(await _reports(request).trends(code, kind, count))


@router.get("/rankings", summary="The jurisdiction's courts ranked on each figure (排名)")
async def rankings(
    identity: CurrentIdentity,
    request: Request,
    court: CourtQuery = None,
    period: OptionalPeriodQuery = None,
) -> Rankings:
    """Every court of the jurisdiction ranked on each figure as of the period's end (a
    lower 终本率 and a shorter 平均结案用时 rank first), with the definitions."""
    require_role(identity, *REPORT_READERS)
    code = readable_court(identity, court)
    parsed = ReportPeriod.parse(period) if period else None
    return Rankings.model_validate(await _reports(request).rankings(code, parsed))


@router.get(
    "/bulletin",
    summary="The jurisdiction's bulletin (通报) for a week or month: JSON, HTML, PDF or XLSX",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/html": {},
                                 "application/pdf": {}, "application/vnd.openxmlformats-"
                                 "officedocument.spreadsheetml.sheet": {}}}},
)  # fmt: skip
async def bulletin(
    identity: CurrentIdentity,
    request: Request,
    period: PeriodQuery,
    court: CourtQuery = None,
    bulletin_format: Annotated[
        BulletinFormat, Query(alias="format", description="json, html, pdf or xlsx")
    ] = BulletinFormat.JSON,
) -> Any:
    """Each court's figures and rank, breaches by node and court, commands issued and not
    yet signed for, the cases elevated or designated: as data, as a printable page, as a
    PDF laid out from that page, or as a workbook of its tables."""
    require_role(identity, *REPORT_READERS)
    code = readable_court(identity, court)
    data = await _reports(request).bulletin(code, ReportPeriod.parse(period))
    if bulletin_format is BulletinFormat.JSON:
        return data
    page = bulletin_html(data)
    if bulletin_format is BulletinFormat.HTML:
        return HTMLResponse(page)
    name = f"{court_name(code)}执行工作通报-{data['period']}.{bulletin_format.value}"
    disposition = (f"attachment; filename=bulletin.{bulletin_format.value}; "
                   f"filename*=UTF-8''{quote(name)}")  # fmt: skip
    if bulletin_format is BulletinFormat.PDF:
        try:
            content = await render_pdf(page)
        except PdfBusy:
            raise HTTPException(503, "another bulletin is being laid out as PDF; try again "
                                "shortly", headers={"Retry-After": "10"}) from None  # fmt: skip
        except OSError as exc:  # no Pango on this machine: the page and the workbook still work
            unavailable = (f"PDF cannot be made here ({exc}); print the page (format=html) "
                           "or take the workbook (format=xlsx)")  # fmt: skip
            raise HTTPException(503, unavailable) from None
        media = "application/pdf"
    else:
        content = await run_in_threadpool(bulletin_xlsx, bulletin_tables(data, for_sheet=True))
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(content, media_type=media, headers={"Content-Disposition": disposition})
