"""The clocks of a case, as the command centre's page reads them.

The clocks belong to the deadlines service; the page, served from this origin, reads a
case's clocks here and this route asks the deadlines service with the caller's own token,
so the deadlines service alone decides what the caller may read. When it does not answer,
the page is told to try again (503 with Retry-After), as for any dependency.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.auth import CurrentIdentity
from zhixing.service import REDIS_RETRY_AFTER_S
from zhixing.settings import service_settings

router = APIRouter(prefix="/v1", tags=["clocks"])


class DeadlinesLink(BaseSettings):
    """Where the deadlines service answers (``ZHIXING_DEADLINES_URL``); by default on this
    host at the deadlines service's HTTP port (``ZHIXING_DEADLINES_HTTP_PORT``, or its
    default in ``zhixing.ports``)."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_DEADLINES_", extra="ignore")

    url: str | None = Field(None, description="Base URL of the deadlines service's HTTP API")
    timeout_s: float = Field(5.0, gt=0, description="How long a forwarded read may take")

    def base_url(self) -> str:
        if self.url:
            return self.url.rstrip("/")
        return f"http://127.0.0.1:{service_settings('deadlines').http_port}"


@router.get(
    "/subjects/{subject_id}/clocks",
    summary="The clocks of a case, asset, dispute, ... (read from the deadlines service)",
    response_model=list[dict[str, Any]],
)
async def clocks_of(subject_id: str, identity: CurrentIdentity, request: Request) -> Any:
    if not subject_id.strip("."):
        return []  # "." or "..": no subject has such an id (and a URL would drop the segment)
    link: DeadlinesLink = request.app.state.deadlines_link
    unavailable = JSONResponse(
        {"detail": "the deadlines service does not answer; try again shortly"},
        status_code=503,
        headers={"Retry-After": str(REDIS_RETRY_AFTER_S)},
    )
    try:
        async with httpx.AsyncClient(base_url=link.base_url(), timeout=link.timeout_s) as client:
            answer = await client.get(
                f"/v1/subjects/{quote(subject_id, safe='')}/clocks",
                headers={"Authorization": request.headers.get("Authorization", "")},
            )
    except httpx.HTTPError:
        return unavailable
    if answer.status_code >= 500:
        return unavailable
    try:
        body = answer.json()
    except ValueError:
        return unavailable
    if answer.status_code != 200:
        challenge = answer.headers.get("WWW-Authenticate")
        headers = {"WWW-Authenticate": challenge} if challenge else None
        return JSONResponse(body, status_code=answer.status_code, headers=headers)
    return body
