"""The command centre's page in a real browser: Debian's Chromium, headless, driven by
Playwright (which never downloads a browser of its own here). The page talks to the real
services on the test's Kafka and Redis; the simulated clock moves time so a warning and a
breach arrive while the page is open. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import Isolated
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case, until_query
from tests.integration.test_board import money_of
from tests.integration.test_figures import TAIXING_NUMBER, zhongben_history
from tools.demo import credit_code
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ
from zhixing.courts import directory
from zhixing.publisher import EventPublisher

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags, Chromium keeps reaching for Google's hosts,
# which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
TIMEOUT_MS = 30_000


def _prepare() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    _prepare()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_dashboard(browser: Browser, stack: Stack) -> Page:
    context = await browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    await page.goto(f"http://127.0.0.1:{stack.commander.http_port}/dashboard/")
    return page


async def log_in(page: Page, stack: Stack, role: Role, court: str, subject: str) -> None:
    # The simulated clock moves days ahead while the page is open: a token for a month.
    token = stack.tokens.issue(subject=subject, court_code=court, role=role,
                               ttl=dt.timedelta(days=30))  # fmt: skip
    await page.fill("#token", token)
    await page.click("[data-testid=login-submit]")
    await expect(page.get_by_test_id("tree")).to_be_visible()


async def test_a_command_centre_logs_in_drills_down_commands_and_sees_live_changes(
    isolated: Isolated, tmp_path: Path, browser: Browser
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(credit_code(71), 10**9))
        # Queried and its money frozen: the case stays at its node while the page drills
        # down to it (a slow first start of Kafka once let it move between the two clicks).
        await until_query(stack, case_id, "completed")
        page = await open_dashboard(browser, stack)

        # Login: a forged token is refused with a reason; a real one opens the board.
        await expect(page.get_by_test_id("login")).to_be_visible()
        await page.fill("#token", "not-a-token")
        await page.click("[data-testid=login-submit]")
        await expect(page.get_by_test_id("login-error")).to_contain_text("令牌无效")
        await page.screenshot(path=SHOTS / "01-login-refused.png")
        await log_in(page, stack, Role.COMMAND, "苏12", "指挥中心值班员")
        await expect(page.get_by_test_id("who-court")).to_contain_text("泰州市中级人民法院")
        await expect(page.get_by_test_id("live")).to_contain_text("实时")

        # The tree: the intermediate court and its basic courts, 泰兴 with one open case.
        taixing = page.locator('[data-testid=court][data-code="苏1283"]')
        await expect(taixing).to_contain_text("在办1")
        await expect(page.locator("[data-testid=court]")).to_have_count(
            1 + len(directory().children("苏12"))
        )
        await expect(taixing).to_have_attribute("data-state", "normal")
        await page.screenshot(path=SHOTS / "02-tree.png", full_page=True)

        # Drill down: court → node → case (timeline with its audit record).
        await taixing.click()
        await expect(page.get_by_test_id("court-title")).to_contain_text("泰兴市人民法院")
        node = page.locator("[data-testid=node]").filter(has_text="1")
        await node.first.click()
        await page.get_by_test_id("node-case").first.locator(".link").click()
        timeline = page.get_by_test_id("timeline")
        await expect(timeline.locator('[data-event="CaseFiled"]')).to_contain_text("立案")
        await expect(timeline.locator('[data-event="CaseFiled"]')).to_contain_text("审计链 #")
        await expect(page.get_by_test_id("case-clocks")).to_contain_text("执行通知书")
        await page.screenshot(path=SHOTS / "03-case.png", full_page=True)
        await page.click("#case-close")

        # Live: time moves on 9 days; the page turns 泰兴 red without a reload.
        stack.clock.set(dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))
        await expect(taixing).to_have_attribute("data-state", "breached")
        await expect(page.locator('[data-testid=court][data-code="苏12"]')).to_have_attribute(
            "data-state", "breached"
        )
        breached = page.locator('[data-testid=alert][data-state="breached"]')
        unassigned = breached.filter(has_text="确定承办人")
        await expect(unassigned).to_have_count(1)
        await page.screenshot(path=SHOTS / "04-live-breach.png", full_page=True)

        # Filter: breaches only.
        await page.select_option("[data-testid=filter-state]", "breached")
        await expect(page.locator('[data-testid=alert][data-state="warned"]')).to_have_count(0)
        await expect(breached).not_to_have_count(0)

        # One click: an urge from the breached clock's row.
        await unassigned.locator("[data-testid=command-urge]").click()
        await expect(page.get_by_test_id("command-dialog")).to_be_visible()
        await page.click("[data-testid=command-submit]")
        await expect(page.get_by_test_id("toast")).to_contain_text("已下达督办")
        await expect(page.get_by_test_id("pending-command").first).to_contain_text("督办")
        await page.screenshot(path=SHOTS / "05-urge-issued.png", full_page=True)
        async with stack.client(stack.commander) as http:
            listed = await http.get("/v1/commands", headers=stack.headers(Role.OFFICER, "苏1283"))
        assert [(c["action"], c["case_id"]) for c in listed.json()] == [("urge", case_id)]


async def test_an_overseer_reads_the_board_and_is_offered_no_command(
    isolated: Isolated, tmp_path: Path, browser: Browser
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        await file_case(stack, case_with(credit_code(72), 10**9))
        stack.clock.set(dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))
        page = await open_dashboard(browser, stack)
        await log_in(page, stack, Role.OVERSEER, "苏12", "检察监督员")
        await expect(page.get_by_test_id("who-role")).to_contain_text("检察监督（只读）")
        await expect(
            page.locator('[data-testid=alert][data-state="breached"]').first
        ).to_be_visible()
        await expect(page.locator("button[data-action]")).to_have_count(0)
        await expect(page.get_by_test_id("views")).to_be_hidden()  # no task queue, no register
        await page.screenshot(path=SHOTS / "06-overseer.png", full_page=True)

        # The jurisdiction's cases and breaches, exported as files (CSV and XLSX).
        async with page.expect_download() as csv_download:
            await page.get_by_test_id("export-cases-csv").click()
        download = await csv_download.value
        assert download.suggested_filename == "泰州市中级人民法院执行案件.csv"
        text = Path(await download.path()).read_text(encoding="utf-8-sig")
        assert text.startswith("案号,执行法院") and "（2026）苏1283执" in text
        async with page.expect_download() as xlsx_download:
            await page.get_by_test_id("export-breaches-xlsx").click()
        download = await xlsx_download.value
        assert download.suggested_filename == "泰州市中级人民法院超期记录.xlsx"
        assert Path(await download.path()).read_bytes().startswith(b"PK")  # a zip: XLSX


async def test_a_case_with_money_shows_at_its_node_with_its_funds_and_the_money_figures(
    isolated: Isolated, tmp_path: Path, browser: Browser, publisher: EventPublisher
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(credit_code(73), 10**9))
        await until_query(stack, case_id, "completed")
        # The funds service's events for the case (published here: it is not in the stack).
        await publisher.publish_many(money_of(case_id, stack.clock))
        page = await open_dashboard(browser, stack)
        await log_in(page, stack, Role.COMMAND, "苏12", "指挥中心值班员")
        await page.locator('[data-testid=court][data-code="苏1283"]').click()

        # The node 案款发放, its case, and the case's money and timeline.
        paying = page.locator('[data-testid=node][data-node="paying"]')
        await expect(paying).to_contain_text("案款发放 1")
        await paying.click()
        await page.get_by_test_id("node-case").first.locator(".link").click()
        funds = page.get_by_test_id("case-funds")
        for text in ("到账", "1,050.00元", "已发放", "400.00元", "100.00元", "提存", "300.00元"):
            await expect(funds).to_contain_text(text)
        await expect(page.get_by_test_id("case-accounts")).to_contain_text("6217 0000 1111 2222")
        timeline = page.get_by_test_id("timeline")
        await expect(timeline.locator('[data-event="FundsPaid"]')).to_contain_text("案款发放 ")
        await expect(timeline.locator('[data-event="FundsPaid"]')).to_contain_text(
            "向申请执行人发放 400.00元"
        )
        await expect(page.get_by_test_id("case-clocks")).to_contain_text("案款到账后通知财务发放")

        # The money figures, with their definitions.
        recovered = page.locator('[data-rate="实际到位率"]')
        await expect(recovered).to_have_attribute("title", re.compile("申请执行标的额"))
        await expect(page.locator('[data-rate="案款发放及时率"]')).to_be_visible()
        await page.screenshot(path=SHOTS / "07-case-funds.png", full_page=True)


async def test_a_zhongben_case_shows_at_its_node_with_its_ruling_credit_and_the_figures(
    isolated: Isolated, tmp_path: Path, browser: Browser, publisher: EventPublisher
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        # Cases closed as 终本 at 泰兴 (one in re-query, one revoked and resumed) and 靖江.
        await publisher.publish_many(zhongben_history(stack.clock))
        page = await open_dashboard(browser, stack)
        await log_in(page, stack, Role.COMMAND, "苏12", "指挥中心值班员")
        await page.locator('[data-testid=court][data-code="苏1283"]').click()

        # The node 终本 and its case, with the re-query rounds started.
        zhongben = page.locator('[data-testid=node][data-node="zhongben"]')
        await expect(zhongben).to_contain_text("终本 1")
        await zhongben.click()
        cases = page.get_by_test_id("node-cases")
        await expect(cases).to_contain_text("定期查询次数")
        await expect(page.get_by_test_id("node-case")).to_contain_text(TAIXING_NUMBER)
        await page.get_by_test_id("node-case").first.locator(".link").click()

        # The case's 终本, credit punishment and timeline, in Chinese.
        await expect(page.get_by_test_id("zhongben-state")).to_have_text("已裁定终结本次执行程序")
        ending = page.get_by_test_id("case-zhongben")
        await expect(ending).to_contain_text("裁定已于 2026-06-12 送达当事人")
        await expect(ending).to_contain_text("已完成 1 次")
        credit = page.get_by_test_id("credit-row")
        await expect(credit).to_contain_text("限制消费")
        await expect(credit).to_contain_text("某某有限公司")
        await expect(credit).to_contain_text("应予解除")
        timeline = page.get_by_test_id("timeline")
        await expect(timeline.locator('[data-event="RestrictionOrdered"]')).to_contain_text(
            "对被执行人某某有限公司发出限制消费令"
        )

        # The 终本 figures of 泰兴, with their definitions on hover.
        for name, shown, defined in (
            ("终本率", "100.0%", "终结本次执行"),
            ("终本合格率", "50.0%", "未被撤销"),
            ("恢复执行率", "50.0%", "恢复执行"),
        ):
            rate = page.locator(f'[data-rate="{name}"]')
            await expect(rate).to_contain_text(shown)
            await expect(rate).to_have_attribute("title", re.compile(defined))
        await page.screenshot(path=SHOTS / "08-zhongben.png", full_page=True)
