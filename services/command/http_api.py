"""The command service's HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from google.protobuf.json_format import MessageToDict

from services.command.projections import CaseOverviews
from zhixing.auth import CurrentIdentity, require_visible

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
