"""The command service's HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from google.protobuf.json_format import MessageToDict

from services.command.figures import CourtFigures
from services.command.projections import CaseOverviews
from services.command.timelines import CaseTimelines
from zhixing.auth import CurrentIdentity, require_visible
from zhixing.courts import UnknownCourtCode, directory
from zhixing.errors import NotFound

router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/cases/{case_id}", summary="The command centre's view of a case")
async def get_case_overview(
    case_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    overviews: CaseOverviews = request.app.state.overviews
    overview = await overviews.get(case_id)
    require_visible(identity, overview.court_code if overview else None, f"case {case_id}")
    assert overview is not None
    return MessageToDict(
        overview, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


@router.get("/figures/{court_code}", summary="A court's figures, or its jurisdiction's")
async def get_figures(
    court_code: str, identity: CurrentIdentity, request: Request, jurisdiction: bool = False
) -> dict[str, Any]:
    """结案率, 实际执结率, 执行完毕率, 法定期限内结案率, 终本率, 保全率, 平均结案用时, and the
    clock and command counts, from the figures projection (definitions:
    ``services/command/figures.py``)."""
    try:
        directory().lookup(court_code)
    except UnknownCourtCode as exc:
        raise NotFound(str(exc)) from None
    require_visible(identity, court_code, f"court {court_code}")
    figures: CourtFigures = request.app.state.figures
    return await figures.figures(court_code, jurisdiction=jurisdiction)


@router.get("/cases/{case_id}/timeline", summary="Every event, clock and command of a case")
async def get_timeline(case_id: str, identity: CurrentIdentity, request: Request) -> list[Any]:
    """The case's events in time order, with its assets', leads', matters', disputes' and
    command actions' events and every clock event, each with its audit record."""
    overviews: CaseOverviews = request.app.state.overviews
    overview = await overviews.get(case_id)
    require_visible(identity, overview.court_code if overview else None, f"case {case_id}")
    timelines: CaseTimelines = request.app.state.timelines
    return await timelines.timeline(case_id)
