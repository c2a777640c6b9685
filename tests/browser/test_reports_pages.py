"""The dashboard's 趋势与排名 and 通报 pages in headless Chromium, over the three weeks of
March 2026 that ``tests/integration/test_reports.py`` counts; screenshots land in
``test-artifacts/reports/``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from services.command.bootstrap import bootstrap as command_bootstrap
from tests.browser.test_dashboard import TIMEOUT_MS, chromium
from tests.conftest import Isolated
from tests.integration.test_deadlines import infrastructure
from tests.integration.test_reports import NOW, history
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SimulatedClock
from zhixing.publisher import EventPublisher

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium(SHOTS) as launched:
        yield launched


async def test_trends_rankings_and_the_bulletin_pages(
    browser: Browser, isolated: Isolated, publisher: EventPublisher
) -> None:
    clock = SimulatedClock(NOW)
    await publisher.publish_many(history())
    host = command_bootstrap(infrastructure(isolated, clock))
    await host.start()
    try:
        figures = host.http.state.figures

        async def counted() -> bool:
            counts = (await figures.figures("苏12", jurisdiction=True))["counts"]
            return bool(counts["filed"] == 3 and counts["clocks_breached"] == 2)

        await eventually(counted)
        token = TokenAuthority(isolated.auth, clock).issue(
            subject="指挥中心值班员", court_code="苏12", role=Role.COMMAND,
            ttl=dt.timedelta(days=1))  # fmt: skip
        context = await browser.new_context(viewport={"width": 1600, "height": 1000},
                                            locale="zh-CN", accept_downloads=True)  # fmt: skip
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        await page.goto(f"http://127.0.0.1:{host.http_port}/dashboard/")
        await page.fill("#token", token)
        await page.click("[data-testid=login-submit]")

        # 趋势与排名: twelve weeks up to week 12, the breaches of weeks 11 and 12 among them.
        await page.get_by_test_id("view-trends").click()
        table = page.get_by_test_id("trends-table")
        await expect(table).to_contain_text("2026-W12")
        week_11 = table.locator("tr", has_text="2026-W11")
        await expect(week_11.locator("td").nth(4)).to_have_text("1")  # one breach
        await expect(page.get_by_test_id("trends-scope")).to_contain_text("辖区法院")
        rankings = page.get_by_test_id("rankings")
        await expect(rankings.locator("tbody tr").first).to_contain_text("泰兴市人民法院")
        await expect(page.get_by_test_id("rank-definition")).to_contain_text("已结案件数 / 收案数")
        await page.get_by_test_id("rank-figure").select_option("平均结案用时")
        await expect(page.get_by_test_id("rank-definition")).to_contain_text("平均结案用时")
        await page.screenshot(path=SHOTS / "01-trends-rankings.png", full_page=True)

        # 通报: week 12's page, and its PDF.
        await page.get_by_test_id("view-bulletin").click()
        await page.get_by_test_id("bulletin-period").fill("2026-W13")
        await page.get_by_test_id("bulletin-show").click()
        await expect(page.get_by_test_id("bulletin-error")).to_contain_text("该期间尚未开始")
        await page.get_by_test_id("bulletin-period").fill("2026-W12")
        await page.get_by_test_id("bulletin-show").click()
        frame = page.frame_locator("[data-testid=bulletin-frame]")
        await expect(frame.locator("h1")).to_contain_text("辖区执行工作通报")
        await expect(frame.locator("body")).to_contain_text("2026年第12周")
        await expect(page.get_by_test_id("bulletin-error")).to_have_text("")
        async with page.expect_download() as waiting:
            await page.get_by_test_id("bulletin-pdf").click()
        download = await waiting.value
        assert download.suggested_filename.endswith("2026-W12.pdf")
        pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
        assert pdf.startswith(b"%PDF")
        await page.screenshot(path=SHOTS / "02-bulletin.png", full_page=True)
        await context.close()
    finally:
        await host.stop()
