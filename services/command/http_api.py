"""The command service's HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from google.protobuf.json_format import MessageToDict

from services.command.projections import CaseOverviews
from zhixing.auth import CurrentIdentity, ScopeError, require_scope

router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/cases/{case_id}", summary="The command centre's view of a case")
async def get_case_overview(
    case_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, Any]:
    overviews: CaseOverviews = request.app.state.overviews
    overview = await overviews.get(case_id)
    not_found = HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} in your jurisdiction")
    if overview is None:
        raise not_found
    try:
        require_scope(identity, overview.court_code, write=False)
    except ScopeError:
        raise not_found from None
    return MessageToDict(
        overview, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
