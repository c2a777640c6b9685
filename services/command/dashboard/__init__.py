"""The command centre's web page (指挥中心大屏), served by the command service.

Plain HTML, CSS and JavaScript modules (no build step); Apache ECharts comes from the npm
package the project installs (``npm install``), never from a CDN: a court's network may
not reach one, and a page must not load code nobody reviewed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.errors import NotFound

STATIC = Path(__file__).parent / "static"
REPO_ROOT = Path(__file__).resolve().parents[3]


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIXING_DASHBOARD_", extra="ignore")

    echarts_file: Path = Field(
        REPO_ROOT / "node_modules" / "echarts" / "dist" / "echarts.min.js",
        description="echarts.min.js from the npm package (make setup installs it)",
    )


def mount(app: FastAPI, settings: DashboardSettings | None = None) -> None:
    settings = settings or DashboardSettings()
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    # Browsers ask for /favicon.ico on pages that link no icon (the API's /docs): the same
    # SVG the dashboard links, rather than a 404 in every log.
    @router.get("/favicon.ico")
    async def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @router.get("/dashboard")
    @router.get("/dashboard/")
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @router.get("/dashboard/vendor/echarts.min.js")
    async def echarts() -> FileResponse:
        if not settings.echarts_file.is_file():
            raise NotFound(
                f"ECharts is not installed at {settings.echarts_file}: run `make setup` "
                "(npm install), or set ZHIXING_DASHBOARD_ECHARTS_FILE"
            )
        return FileResponse(settings.echarts_file, media_type="text/javascript")

    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
