"""Overseers' exports (¶34, ¶36): a jurisdiction's cases, open clocks, breaches and 终本
cases as CSV or XLSX (tables: ``services.command.export_tables``).

The procuratorate (检察监督), discipline inspection (纪检监察) and the command centre export
what they may read: a court's jurisdiction, as the board shows it. An overseer's export is
a read, so ``zhixing.access`` records it in the audit trail like any other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from services.command.export_tables import TITLES, ExportTable, Sources, build
from zhixing.auth import CurrentIdentity, Role, readable_court, require_role
from zhixing.courts import directory
from zhixing.export import ExportFormat, table_response

router = APIRouter(prefix="/v1", tags=["export"])

EXPORTERS = (Role.OVERSEER, Role.DISCIPLINE, Role.COMMAND)
TABLE_HELP = "cases (执行案件), clocks (节点期限), breaches (超期记录) or zhongben (终本案件)"


@router.get(
    "/export/{table}",
    summary="A jurisdiction's cases, clocks, breaches or 终本 cases as CSV or XLSX",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                 "officedocument.spreadsheetml.sheet": {}}}},
)  # fmt: skip
async def export(
    table: Annotated[ExportTable, PathParam(description=TABLE_HELP)],
    identity: CurrentIdentity,
    request: Request,
    court: Annotated[str | None, Query(max_length=20, description="default: yours")] = None,
    export_format: Annotated[
        ExportFormat, Query(alias="format", description="csv or xlsx")
    ] = ExportFormat.CSV,
) -> Response:
    """The court ``court`` (default: yours) and every court below it; headers in Chinese,
    cases by number, no party's ID number. Overseers and command centres export; an
    overseer's export is recorded in the audit trail."""
    require_role(identity, *EXPORTERS)
    found = directory().lookup(readable_court(identity, court))
    state = request.app.state
    sources = Sources(overviews=state.overviews, board=state.board, funds=state.case_funds,
                      zhongben=state.case_zhongben, breaches=state.breaches)  # fmt: skip
    rows = await build(table, directory().jurisdiction(found.code), sources)
    return await table_response(rows, export_format, filename=f"{found.name}{TITLES[table]}")
