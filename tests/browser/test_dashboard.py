"""The command centre's page in a real browser: Debian's Chromium, headless, driven by
Playwright (which never downloads a browser of its own here). The page talks to the real
services on the test's Kafka and Redis; the simulated clock moves time so a warning and a
breach arrive while the page is open. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from playwright.async_api import Browser, Download, Page, async_playwright, expect

from services.command.board_api import SupervisionLink
from services.supervision.bootstrap import SupervisionSettings
from services.supervision.bootstrap import bootstrap as supervision_bootstrap
from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case, until_query
from tests.integration.test_board import money_of
from tests.integration.test_command_views import receive_application
from tests.integration.test_deadlines import infrastructure
from tests.integration.test_figures import TAIXING_NUMBER, zhongben_history
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ
from zhixing.courts import directory
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.service import ServiceHost
from zhixing.v1 import deadline_events_pb2

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


def _prepare(shots: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)


@asynccontextmanager
async def chromium(shots: Path) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with ``shots`` emptied for this module's screenshots."""
    _prepare(shots)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium(SHOTS) as launched:
        yield launched


async def open_dashboard(browser: Browser, stack: Stack) -> Page:
    context = await browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    await page.goto(f"http://127.0.0.1:{stack.commander.http_port}/dashboard/")
    return page


async def content_of(download: Download) -> bytes:
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def log_in(page: Page, stack: Stack, role: Role, court: str, subject: str,
                 first: str = "tree") -> None:  # fmt: skip
    """Sign in; ``first``: what the page shows first (the board's tree, or a view)."""
    # The simulated clock moves days ahead while the page is open: a token for a month.
    token = stack.tokens.issue(subject=subject, court_code=court, role=role,
                               ttl=dt.timedelta(days=30))  # fmt: skip
    await page.fill("#token", token)
    await page.click("[data-testid=login-submit]")
    await expect(page.get_by_test_id(first)).to_be_visible()


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
        # The reports (趋势与排名, 通报) are an overseer's to read; no task queue, no register.
        await expect(page.get_by_test_id("view-tasks")).to_have_count(0)
        await expect(page.get_by_test_id("view-register")).to_have_count(0)
        await page.screenshot(path=SHOTS / "06-overseer.png", full_page=True)

        # The jurisdiction's cases and breaches, exported as files (CSV and XLSX).
        async with page.expect_download() as csv_download:
            await page.get_by_test_id("export-cases-csv").click()
        download = await csv_download.value
        assert download.suggested_filename == "泰州市中级人民法院执行案件.csv"
        text = (await content_of(download)).decode("utf-8-sig")
        assert text.startswith("案号,执行法院") and "（2026）苏1283执" in text
        async with page.expect_download() as xlsx_download:
            await page.get_by_test_id("export-breaches-xlsx").click()
        download = await xlsx_download.value
        assert download.suggested_filename == "泰州市中级人民法院超期记录.xlsx"
        assert (await content_of(download)).startswith(b"PK")  # a zip: XLSX


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


@asynccontextmanager
async def with_supervision(isolated: Isolated, stack: Stack) -> AsyncIterator[ServiceHost]:
    """The supervision service on the stack's topics and clock, allowing the page's origin,
    and the command service telling the page where it answers."""
    origin = f"http://127.0.0.1:{stack.commander.http_port}"
    host = supervision_bootstrap(infrastructure(isolated, stack.clock),
                                 settings=SupervisionSettings(cors_origins=[origin]))  # fmt: skip
    await host.start()
    stack.commander.http.state.supervision_link = SupervisionLink(
        supervision_url=f"http://127.0.0.1:{host.http_port}"
    )
    try:
        yield host
    finally:
        await host.stop()


async def filed(stack: Stack, debtor: int) -> tuple[str, str]:
    """A case filed at 泰兴: its id and number."""
    async with stack.client(stack.intake) as http:
        answer = await http.post("/v1/cases", json=case_with(credit_code(debtor), 10**9),
                                 headers=stack.headers(Role.CLERK, "苏1283"))  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"], answer.json()["case_number"]


def escalation(case_id: str, respond_by: dt.datetime, clock: Any) -> Any:
    """The deadline engine's word that a case's clock escalated to the court's supervisor."""
    ref = deadline_events_pb2.ClockRef(clock_id=f"intake.assign-officer:{case_id}", cycle=1,
                                       rule_id="intake.assign-officer", subject_id=case_id,
                                       court_code="苏1283")  # fmt: skip
    by = Timestamp()
    by.FromDatetime(respond_by)
    payload = deadline_events_pb2.ClockEscalated(clock=ref, level=1, escalated_to="supervisor",
                                                 to_court_code="苏1283", respond_by=by)  # fmt: skip
    return new_event(payload, aggregate_id=case_id, court_code="苏1283", actor=ACTOR,
                     clock=clock)  # fmt: skip


async def test_a_supervisor_sees_an_overdue_task_first_opens_its_case_and_answers_it(
    isolated: Isolated, tmp_path: Path, browser: Browser, publisher: EventPublisher
) -> None:
    async with platform_stack(isolated, tmp_path) as stack, with_supervision(isolated, stack):
        late_id, late_number = await filed(stack, 74)
        soon_id, soon_number = await filed(stack, 75)
        now = stack.clock.now()
        # One task whose answer was due an hour ago, one due tomorrow (published first).
        await publisher.publish_many([
            escalation(soon_id, now + dt.timedelta(days=1), stack.clock),
            escalation(late_id, now - dt.timedelta(hours=1), stack.clock),
        ])  # fmt: skip
        page = await open_dashboard(browser, stack)
        await log_in(page, stack, Role.SUPERVISOR, "苏1283", "专人 周某", first="tasks-view")
        await expect(page.get_by_test_id("who-role")).to_contain_text("专人监管")

        # The page opens on the queue: the overdue task first, in red, by case number.
        tasks = page.get_by_test_id("task")
        for _ in range(30):  # the queue is read when the view opens: re-open until both came
            if await tasks.count() == 2:
                break
            await page.wait_for_timeout(500)
            await page.get_by_test_id("view-tasks").click()
        await expect(tasks).to_have_count(2)
        await expect(tasks.first).to_have_attribute("data-overdue", "true")
        await expect(tasks.first).to_contain_text(late_number)
        await expect(tasks.first).to_contain_text("立案后确定承办人")
        await expect(tasks.first).to_contain_text("已逾期")
        red = "rgb(229, 72, 77)"  # --breached
        await expect(tasks.first.locator("td").nth(2)).to_have_css("color", red)
        await expect(tasks.nth(1)).to_have_attribute("data-overdue", "false")
        await expect(tasks.nth(1)).to_contain_text(soon_number)
        await expect(page.get_by_test_id("tasks-count")).to_contain_text("1 项已逾期")
        await page.screenshot(path=SHOTS / "09-supervisor-tasks.png", full_page=True)

        # One click opens the case's panel.
        await tasks.first.get_by_test_id("task-case").click()
        await expect(page.get_by_test_id("case")).to_be_visible()
        await expect(page.locator("#case-title")).to_contain_text(late_number)
        await page.click("#case-close")

        # The answer: explained, with what was done; the task leaves the open queue.
        await tasks.first.get_by_test_id("task-answer").click()
        await page.select_option("[data-testid=answer-outcome]", "explained")
        await page.fill("[data-testid=answer-text]", "承办人因病请假，已于今日指定")
        await page.click("[data-testid=answer-submit]")
        await expect(page.get_by_test_id("toast")).to_contain_text("已答复：已说明情况")
        await expect(tasks).to_have_count(1)
        await expect(tasks.first).to_contain_text(soon_number)
        await page.select_option("[data-testid=tasks-status]", "closed")
        await expect(tasks.first).to_contain_text("已说明情况：承办人因病请假")
        await page.screenshot(path=SHOTS / "10-supervisor-answered.png", full_page=True)


async def test_discipline_inspection_reads_the_register_its_report_and_exports_it(
    isolated: Isolated, tmp_path: Path, browser: Browser
) -> None:
    async with (
        platform_stack(isolated, tmp_path) as stack,
        with_supervision(isolated, stack) as supervision,
    ):
        case_id, number = await filed(stack, 76)
        officer = stack.headers(Role.OFFICER, "苏1283", subject="执行员 张某")
        record = {"person_name": "李某", "person_position": "副主任",
                  "person_organisation": "某区人大", "inside_court": False,
                  "occurred_at": "2026-03-02T08:30:00+08:00", "manner": "phone",
                  "content": "询问案件何时能执行到位", "handling": "告知依法办理"}  # fmt: skip
        async with stack.client(supervision) as http:

            async def recorded() -> httpx.Response:
                return await http.post(f"/v1/cases/{case_id}/interference", json=record,
                                       headers=officer)  # fmt: skip

            first = await eventually_answer(recorded)  # once the service knows the case
            correction = await http.post(
                f"/v1/interference/{first['record_id']}/corrections", headers=officer,
                json=record | {"handling": "告知依法办理，并报告院领导"},
            )  # fmt: skip
            assert correction.status_code == 201, correction.text

        page = await open_dashboard(browser, stack)
        await log_in(page, stack, Role.DISCIPLINE, "苏12", "纪检监察 吴某")
        await expect(page.get_by_test_id("who-role")).to_contain_text("纪检监察（只读）")
        await expect(page.get_by_test_id("view-tasks")).to_have_count(0)
        await page.get_by_test_id("view-register").click()
        rows = page.get_by_test_id("register-record")
        await expect(rows).to_have_count(2)
        original = page.locator(f'[data-record="{first["record_id"]}"]')
        await expect(original).to_contain_text(number)
        await expect(original).to_contain_text("某区人大副主任")
        await expect(original).to_contain_text("院外")
        await expect(original).to_contain_text("电话")
        await expect(original).to_contain_text("询问案件何时能执行到位")
        await expect(original).to_contain_text("已有更正记录")
        await expect(rows.filter(has_text="更正记录（更正")).to_contain_text("并报告院领导")
        report = page.locator('[data-testid=register-report-row][data-court="苏1283"]')
        await expect(report).to_contain_text("2")
        await page.screenshot(path=SHOTS / "11-register.png", full_page=True)

        # The register as files, from the supervision service.
        for format, magic in (("csv", "\ufeff".encode()), ("xlsx", b"PK")):
            async with page.expect_download() as waiting:
                await page.get_by_test_id(f"register-export-{format}").click()
            download = await waiting.value
            assert download.suggested_filename.endswith(f".{format}")
            content = await content_of(download)
            assert content.startswith(magic)
            if format == "csv":
                assert "询问案件何时能执行到位" in content.decode("utf-8-sig")

        # The case's timeline shows discipline inspection the records.
        await original.locator(".link").click()
        timeline = page.get_by_test_id("timeline")
        entries = timeline.locator('[data-event="InterferenceRecorded"]')
        await expect(entries).to_have_count(2)
        await expect(entries.first).to_contain_text("干预过问登记")
        await expect(entries.first).to_contain_text("李某（某区人大副主任，院外）")
        await page.screenshot(path=SHOTS / "12-register-timeline.png", full_page=True)


async def eventually_answer(call: Any) -> dict[str, Any]:
    """The JSON of ``call()``'s first 201 (a 404 until the service has heard of the case)."""
    answers: list[httpx.Response] = []

    async def created() -> bool:
        answers.append(await call())
        status = answers[-1].status_code
        assert status in (201, 404), answers[-1].text
        return bool(status == 201)

    await eventually(created)
    body: dict[str, Any] = answers[-1].json()
    return body


async def test_hidden_parts_stay_hidden_a_case_panel_leaves_logout_reachable_and_an_icon(
    isolated: Isolated, tmp_path: Path, browser: Browser
) -> None:
    """Issue 18's first defects: the board showed under the login form (CSS display beat
    the hidden attribute), an open case panel covered 退出, and the favicon was a 404."""
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(credit_code(77), 10**9))
        await until_query(stack, case_id, "completed")
        page = await open_dashboard(browser, stack)
        board = page.locator("#app")

        # Before login and after a refused token: only the login form.
        await expect(page.get_by_test_id("login")).to_be_visible()
        for hidden in (board, page.locator("#who"), page.get_by_test_id("views")):
            await expect(hidden).to_be_hidden()
        await page.fill("#token", "not-a-token")
        await page.click("[data-testid=login-submit]")
        await expect(page.get_by_test_id("login-error")).to_contain_text("令牌无效")
        await expect(board).to_be_hidden()
        await expect(page.get_by_test_id("tree")).to_be_hidden()

        # The icon the page links answers, and so does the one browsers guess.
        icon = await page.locator("link[rel=icon]").get_attribute("href")
        assert icon is not None
        for path in (icon, "/favicon.ico"):
            answer = await page.request.get(f"http://127.0.0.1:{stack.commander.http_port}{path}")
            assert answer.status == 200, path
            assert answer.headers["content-type"].startswith("image/svg+xml")

        # Logged in: the board, not the login form; the case panel opens at the case.
        await log_in(page, stack, Role.COMMAND, "苏12", "指挥中心值班员")
        await expect(page.get_by_test_id("login")).to_be_hidden()
        await page.locator('[data-testid=court][data-code="苏1283"]').click()
        await page.locator("[data-testid=node]").filter(has_text="1").first.click()
        await page.get_by_test_id("node-case").first.locator(".link").click()
        await expect(page.get_by_test_id("case")).to_be_visible()

        # 督办 asks for a reply period and no court; 指令执行 asks for the court.
        dialog = page.get_by_test_id("command-dialog")
        await page.get_by_test_id("case-actions").get_by_test_id("command-urge").click()
        await expect(dialog).to_be_visible()
        await expect(page.locator("#command-court-label")).to_be_hidden()
        await expect(page.locator("#command-days-label")).to_be_visible()
        await page.click("#command-cancel")
        await expect(dialog).to_be_hidden()
        await page.get_by_test_id("case-actions").get_by_test_id("command-designate").click()
        await expect(page.locator("#command-court")).to_be_visible()
        await expect(page.locator("#command-court option[value='苏1283']")).to_have_count(1)
        await page.click("#command-cancel")
        await expect(dialog).to_be_hidden()

        # With the case panel open, 退出 is not covered (a real click, no force) and its
        # close button is still there; logout leaves only the login form.
        await expect(page.get_by_test_id("case")).to_be_visible()
        await expect(page.locator("#case-close")).to_be_visible()
        await page.screenshot(path=SHOTS / "13-case-open-logout-reachable.png")
        await page.get_by_role("button", name="退出").click()
        await expect(page.get_by_test_id("login")).to_be_visible()
        await expect(board).to_be_hidden()
        await expect(page.get_by_test_id("case")).to_be_hidden()
        await page.screenshot(path=SHOTS / "14-logged-out.png")


async def test_cases_are_named_one_scope_per_view_chinese_actors_and_errors_and_whole_names(
    isolated: Isolated, tmp_path: Path, browser: Browser
) -> None:
    """Issue 18's later defects: an application's alert row showed its UUID and offered no
    督办; an intermediate court's node buttons counted its own cases (0) while its chart and
    cards counted its jurisdiction's; timeline actors and errors were English; the timeline
    was out of order; long court names wrapped mid-name."""
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(credit_code(78), 10**9))
        await until_query(stack, case_id, "completed")
        application = await receive_application(stack, 79)  # the court's 2nd receipt
        page = await open_dashboard(browser, stack)

        # A token whose signature is not the platform's: refused, in Chinese.
        token = stack.tokens.issue(subject="指挥中心值班员", court_code="苏12", role=Role.COMMAND)
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        await page.fill("#token", forged)
        await page.click("[data-testid=login-submit]")
        error = page.get_by_test_id("login-error")
        await expect(error).to_contain_text("令牌签名无效")
        await expect(error).not_to_contain_text("token")

        # The application's docketing limit (7 days) runs out.
        stack.clock.set(dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))
        await log_in(page, stack, Role.COMMAND, "苏12", "指挥中心值班员")

        # One scope, stated: the intermediate court with the courts below it, in every part.
        await expect(page.get_by_test_id("scope")).to_have_text(
            "范围：泰州市中级人民法院辖区（含下级法院）"
        )
        counted = page.locator("[data-testid=node]").filter(has_text=re.compile(r" [1-9]"))
        await expect(counted).to_have_count(1)  # the filed case's node, counted here too
        await counted.click()
        await expect(page.get_by_test_id("node-cases")).to_contain_text("辖区")
        await expect(page.get_by_test_id("node-case")).to_contain_text("泰兴市人民法院")

        # The application's row: named by its receipt, never by its id, with 督办.
        row = page.locator("[data-testid=alert]").filter(has_text="（2026）苏1283收2号（待立案）")
        await expect(row).to_have_count(1)
        await expect(row).not_to_contain_text(application)
        await expect(row).to_contain_text("立案审查")
        await page.screenshot(path=SHOTS / "15-jurisdiction-scope.png", full_page=True)
        await row.get_by_test_id("command-urge").click()
        await expect(page.locator("#command-case")).to_contain_text("苏1283收2号")
        await page.click("[data-testid=command-submit]")
        await expect(page.get_by_test_id("toast")).to_contain_text("已下达督办")
        # The card and the list count the same commands.
        pending = page.get_by_test_id("pending-command")
        await expect(pending).to_have_count(1)
        await expect(pending).to_contain_text("苏1283收2号（待立案）")
        await expect(pending).to_contain_text("泰兴市人民法院")
        card = page.get_by_test_id("cards").locator(".card").filter(has_text="待办指挥事项")
        await expect(card.locator(".value")).to_have_text("1")

        # Its panel: named by its receipt; only 督办 is offered for an application.
        await row.get_by_test_id("alert-case").click()
        await expect(page.locator("#case-title")).to_contain_text("苏1283收2号（待立案）")
        await expect(page.locator("#case-title")).not_to_contain_text(application)
        await expect(page.get_by_test_id("case-actions").locator("button")).to_have_count(1)
        await page.screenshot(path=SHOTS / "16-application-panel.png", full_page=True)
        await page.click("#case-close")

        # The filed case's timeline: in order (its docketing clock opened, then cleared, in
        # the same millisecond), actors in Chinese.
        await page.get_by_test_id("node-case").first.locator(".link").click()
        timeline = page.get_by_test_id("timeline")
        docket = timeline.locator(f'[data-clock="intake.docket:{case_id}"]')
        await expect(docket).to_have_count(2)
        assert await docket.evaluate_all("(items) => items.map((i) => i.dataset.event)") == [
            "ClockOpened", "ClockCleared",
        ]  # fmt: skip
        actors = page.get_by_test_id("timeline-actor")
        await expect(actors.filter(has_text="节点期限管理系统").first).to_be_visible()
        await expect(actors.filter(has_text="泰兴市人民法院 立案人员").first).to_be_visible()
        await expect(timeline).not_to_contain_text("svc:")
        await expect(timeline).not_to_contain_text("intake.")  # a limit by its title
        await expect(docket.first).to_contain_text("立案审查")
        await page.screenshot(path=SHOTS / "17-timeline-actors.png", full_page=True)
        await page.click("#case-close")

        # Court names stay whole in a narrow tree: one line each, the whole name in its title.
        await page.locator(".tree-panel").evaluate("(panel) => (panel.style.width = '190px')")
        names = page.locator("[data-testid=court] .name")
        await expect(names).to_have_count(1 + len(directory().children("苏12")))
        lines = await names.evaluate_all(  # a name's height in its font's sizes: 1 line < 2
            "(spans) => spans.map((s) => s.getBoundingClientRect().height"
            " / parseFloat(getComputedStyle(s).fontSize))"
        )
        assert all(0 < n < 2 for n in lines), lines
        await expect(names.first).to_have_attribute("title", "泰州市中级人民法院")
        await page.screenshot(path=SHOTS / "18-narrow-tree.png")
