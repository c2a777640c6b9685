"""The dashboard's board (指挥大屏) through the real stack: a case filed at intake shows at its
node, its clocks turn warned and breached on the simulated clock and colour the tree, a
command issued from a warning stays pending until answered, the event stream announces
the changes, scope holds, and the board is the same after a replay from the topics."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.platform_stack import MONDAY_9AM, Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case
from tests.integration.test_deadlines import CommandCentre, command_host, settled
from tests.integration.test_figures import history, wipe_projection
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.v1 import case_events_pb2, funds_events_pb2

pytestmark = pytest.mark.integration

NODES = ("filed", "querying", "controlling", "disposing", "paying")


async def get(stack: Stack, path: str, as_court: str = "苏12", role: Role = Role.COMMAND,
              **params: Any) -> httpx.Response:  # fmt: skip
    async with stack.client(stack.commander) as http:
        return await http.get(path, params=params, headers=stack.headers(role, as_court))


def find(tree: dict[str, Any], code: str) -> dict[str, Any]:
    if tree["code"] == code:
        return tree
    for child in tree["children"]:
        if found := find(child, code):
            return found
    return {}


async def tree_of(stack: Stack, court: str = "苏12", role: Role = Role.COMMAND) -> dict[str, Any]:
    answer = await get(stack, "/v1/board/tree", court, role)
    assert answer.status_code == 200, answer.text
    root: dict[str, Any] = answer.json()["root"]
    return root


async def read_stream(stack: Stack, court: str, seen: list[dict[str, Any]]) -> None:
    """Collect the board events of the stream as ``court``'s command centre sees them."""
    async with (
        stack.client(stack.commander) as http,
        http.stream(
            "GET", "/v1/board/stream", headers=stack.headers(Role.COMMAND, court), timeout=None
        ) as response,  # fmt: skip
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                seen.append({"event": event, **json.loads(line.removeprefix("data: "))})


async def test_the_board_follows_a_case_its_clocks_and_a_command_live(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        seen: list[dict[str, Any]] = []
        listener = asyncio.create_task(read_stream(stack, "苏12", seen))
        await eventually(lambda: _has(seen, "hello"))

        case_id = await file_case(stack, case_with(credit_code(61), 10**9))

        async def on_board() -> bool:
            taixing = find(await tree_of(stack), "苏1283")
            return bool(taixing["own"]["open_cases"] == 1)

        await eventually(on_board)
        root = await tree_of(stack)
        assert root["code"] == "苏12" and root["level"] == "中院"
        assert root["total"]["open_cases"] == 1
        assert find(root, "苏1282")["total"]["open_cases"] == 0
        taixing = find(root, "苏1283")
        assert sum(taixing["own"][f"node_{n}"] for n in NODES) == 1
        # The case moves on through the nodes as asset control works: it is at one of them.
        listed: list[dict[str, Any]] = []

        async def at_one_node() -> bool:
            listed.clear()
            for node in NODES:
                at = (await get(stack, "/v1/board/courts/苏1283/cases", node=node)).json()
                listed.extend(at["cases"])
            return [c["case_id"] for c in listed] == [case_id]

        await eventually(at_one_node)
        assert listed[0]["case_number"].startswith("（2026）苏1283执")
        # The stream said 苏1283 changed.
        await eventually(lambda: _has(seen, "board", "苏1283"))

        # 9 days on: the officer was not assigned in 7 days (breached), and the execution
        # notice's 10 days have 2 working days left (warned).
        stack.clock.set(dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))

        async def coloured() -> bool:
            tree = await tree_of(stack)
            return bool(tree["state"] == "breached" and find(tree, "苏1283")["total"]
                        ["clocks_warned"] >= 1)  # fmt: skip

        await eventually(coloured)
        await settled(stack.deadlines, stack.clock, isolated)  # every timer due by now fired

        async def still() -> bool:  # and the board has taken all of it in
            first = await get(stack, "/v1/board/alerts")
            await asyncio.sleep(0.5)
            return bool(first.json() == (await get(stack, "/v1/board/alerts")).json())

        await eventually(still)
        tree = await tree_of(stack)
        assert find(tree, "苏1283")["state"] == "breached"
        assert find(tree, "苏1282")["state"] == "normal"
        alerts = (await get(stack, "/v1/board/alerts")).json()["alerts"]
        by_rule = {a["rule_id"]: a for a in alerts}
        assert by_rule["intake.assign-officer"]["state"] == "breached"
        assert by_rule["intake.execution-notice"]["state"] == "warned"
        assert all(a["case_id"] == case_id and a["court_code"] == "苏1283" for a in alerts)
        assert by_rule["intake.assign-officer"]["title"] and by_rule["intake.assign-officer"][
            "court_name"
        ].endswith("人民法院")
        assert [a["due_at"] for a in alerts] == sorted(a["due_at"] for a in alerts)
        latest_first = (await get(stack, "/v1/board/alerts", sort="-due_at")).json()["alerts"]
        assert [a["clock_id"] for a in latest_first] == [a["clock_id"] for a in alerts][::-1]
        only_warned = (await get(stack, "/v1/board/alerts", state="warned")).json()["alerts"]
        assert only_warned and {a["state"] for a in only_warned} == {"warned"}
        by_prefix = (await get(stack, "/v1/board/alerts", rule="intake.assign")).json()["alerts"]
        assert [a["rule_id"] for a in by_prefix] == ["intake.assign-officer"]

        # One click from the warning: an urge. Pending at 苏1283 until it is answered.
        async with stack.client(stack.commander) as http:
            urge = {"action": "urge", "case_id": case_id, "instruction": "请立即分配承办人",
                    "reply_working_days": 2}  # fmt: skip
            issued = await http.post(
                "/v1/commands", headers=stack.headers(Role.COMMAND, "苏12"), json=urge
            )
        assert issued.status_code == 201, issued.text
        command_id = issued.json()["command_id"]

        async def pending(count: int) -> bool:
            listed = (await get(stack, "/v1/board/courts/苏1283/commands")).json()
            return len(listed) == count and (not count or listed[0]["command_id"] == command_id)

        await eventually(lambda: pending(1))
        assert find(await tree_of(stack), "苏12")["total"]["commands_pending"] == 1
        async with stack.client(stack.commander) as http:
            path = f"/v1/commands/{command_id}"
            officer = stack.headers(Role.OFFICER, "苏1283")
            assert (await http.post(f"{path}/acknowledgement", headers=officer)).status_code == 200
            # Signed for, but an urge waits for its reply.
            await asyncio.sleep(0.5)
            assert len((await get(stack, "/v1/board/courts/苏1283/commands")).json()) == 1
            replied = await http.post(f"{path}/reply", headers=officer, json={"text": "已分配"})
            assert replied.status_code == 200, replied.text
        await eventually(lambda: pending(0))

        # A command about no case (调配力量): pending at the lending court, with no case number.
        async with stack.client(stack.commander) as http:
            lent = await http.post(
                "/v1/commands/officer-loans", headers=stack.headers(Role.COMMAND, "苏12"),
                json={"from_court": "苏1283", "to_court": "苏1282", "officers": ["o-1"],
                      "instruction": "抽调执行干警参加集中执行行动"},
            )  # fmt: skip
        assert lent.status_code == 201, lent.text

        async def loan_pending() -> bool:
            listed = await get(stack, "/v1/board/courts/苏1283/commands")
            assert listed.status_code == 200, listed.text
            return [(c["command_id"], c["case_number"]) for c in listed.json()] == [
                (lent.json()["command_id"], "")
            ]

        await eventually(loan_pending)

        # Officer assigned: that clock clears and leaves the board.
        async with stack.client(stack.intake) as http:
            assigned = await http.post(
                f"/v1/cases/{case_id}/assignment", json={"officer_id": "officer-7"},
                headers=stack.headers(Role.CLERK, "苏1283"),
            )  # fmt: skip
        assert assigned.status_code == 204, assigned.text

        async def cleared() -> bool:
            rules = {a["rule_id"] for a in (await get(stack, "/v1/board/alerts")).json()["alerts"]}
            return "intake.assign-officer" not in rules

        await eventually(cleared)
        listener.cancel()


def _has(seen: list[dict[str, Any]], event: str, court: str | None = None) -> Any:
    async def check() -> bool:
        return any(s["event"] == event and (court is None or court in s.get("courts", []))
                   for s in seen)  # fmt: skip

    return check()


async def test_board_scope_and_bad_requests(isolated: Isolated, tmp_path: Path) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        # A basic court sees itself only; another jurisdiction sees none of 苏12's courts.
        own = await tree_of(stack, "苏1282", Role.OFFICER)
        assert own["code"] == "苏1282" and own["children"] == []
        assert (await get(stack, "/v1/board/tree", "苏1282", Role.OFFICER,
                          root="苏12")).status_code == 404  # fmt: skip
        assert (await get(stack, "/v1/board/alerts", "苏02", court="苏1283")).status_code == 404
        assert (await get(stack, "/v1/board/courts/苏1283/cases", "苏02",
                          node="filed")).status_code == 404  # fmt: skip
        # An overseer reads, and may not command.
        overseer = await get(stack, "/v1/me", "苏12", Role.OVERSEER)
        assert overseer.json()["read_only"] and not overseer.json()["may_command"]
        assert (await get(stack, "/v1/board/tree", "苏12", Role.OVERSEER)).status_code == 200
        command = (await get(stack, "/v1/me", "苏12", Role.COMMAND)).json()
        assert command["may_command"] and command["court_name"] == "泰州市中级人民法院"
        assert command["reply_limits"]["urge"] >= 1
        assert not (await get(stack, "/v1/me", "苏1283", Role.COMMAND)).json()["may_command"]
        # Bad input says what and where.
        for path, params, field in (
            ("/v1/board/courts/苏1283/cases", {"node": "nowhere"}, "node"),
            ("/v1/board/alerts", {"sort": "claim"}, "sort"),
            ("/v1/board/alerts", {"state": "late"}, "state"),
        ):
            bad = await get(stack, path, "苏12", Role.COMMAND, **params)
            assert bad.status_code == 422, bad.text
            assert bad.json()["detail"][0]["loc"] == ["query", field]
        assert (await get(stack, "/v1/board/tree", root="苏9999")).status_code == 404
        async with stack.client(stack.commander) as http:
            anonymous = await http.get("/v1/board/tree")
            assert anonymous.status_code == 401
            page = await http.get("/dashboard/")
            assert page.status_code == 200 and "执行指挥中心" in page.text
            echarts = await http.get("/dashboard/vendor/echarts.min.js")
            assert echarts.status_code == 200 and "echarts" in echarts.text[:2000]


async def board_view(host: CommandCentre, tokens: TokenAuthority) -> Any:
    token = tokens.issue(subject="c", court_code="苏12", role=Role.COMMAND)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
        tree = (await http.get("/v1/board/tree", headers=headers)).json()
        every = {"state": ["warned", "breached", "running"]}
        alerts = (await http.get("/v1/board/alerts", headers=headers, params=every)).json()
    return tree, alerts


async def test_the_board_is_the_same_after_a_replay(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)
    await publisher.publish_many(history(clock))
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:
        clock.set(dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))

        async def settled() -> bool:
            tree, _ = await board_view(host, tokens)
            total = tree["root"]["total"]
            # c2 and c3 were closed: c1, controlled, is the one open case.
            return bool(total["open_cases"] == 1 and total["clocks_breached"] >= 1)

        await eventually(settled)
        await asyncio.sleep(1)  # let the last timers of this instant land
        before = await board_view(host, tokens)
    finally:
        await host.stop()

    await wipe_projection(isolated, "board")
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def rebuilt() -> bool:
            return bool(await board_view(host, tokens) == before)

        await eventually(rebuilt)
    finally:
        await host.stop()
    tree, alerts = before
    assert find(tree["root"], "苏1283")["own"]["node_controlling"] == 1
    assert alerts["total"] >= 1


NUMBER = "（2026）苏1283执88号"


def money_of(case_id: str, clock: SimulatedClock) -> list[Any]:
    """The funds events of a case at 泰兴: its account opened, money arriving, partly held
    back, paid, lodged, and arriving again; its receiving account changed. The ids are ones
    no line of its timeline should show."""
    ids: dict[str, Any] = {"case_id": case_id}

    def event(payload: Any) -> Any:
        return new_event(payload, aggregate_id=case_id, court_code="苏1283", actor=ACTOR,
                         clock=clock)  # fmt: skip

    f = funds_events_pb2
    return [
        event(f.CaseAccountOpened(**ids, case_number=NUMBER, account_number="32128326000088",
                                  court_code="苏1283", receiving_account="6222 0212 0000 0001")),
        event(f.FundsArrived(**ids, payment_id="pay-91c2", amount_fen=50_000, source="deduction",
                             payer="某某有限公司", arrived_on="2026-03-02")),
        event(f.HoldRequested(**ids, hold_id="hold-5d10", payment_id="pay-91c2",
                              amount_fen=10_000, kind="defer", reason="disputed",
                              note="案外人主张部分款项")),
        event(f.FundsHeld(**ids, hold_id="hold-5d10", payment_id="pay-91c2", amount_fen=10_000,
                          reason="disputed")),
        event(f.PaymentNoticeIssued(**ids, payment_id="pay-91c2", notice_id="notice-66e0",
                                    amount_fen=40_000, to_account="6222 0212 0000 0001")),
        event(f.FundsPaid(**ids, payment_id="pay-91c2", notice_id="notice-66e0",
                          payout_id="payout-03aa", amount_fen=40_000,
                          to_account="6222 0212 0000 0001", paid_on="2026-03-02")),
        event(f.FundsArrived(**ids, payment_id="pay-a4b4", amount_fen=30_000, source="sale",
                             arrived_on="2026-03-02")),
        event(f.HoldRequested(**ids, hold_id="hold-e71c", payment_id="pay-a4b4",
                              amount_fen=30_000, kind="lodge", reason="applicant_missing")),
        event(f.PaymentLodged(**ids, hold_id="hold-e71c", payment_id="pay-a4b4",
                              amount_fen=30_000, reason="applicant_missing")),
        event(f.ReceivingAccountChangeRequested(**ids, change_id="change-2b9f",
                                                new_account="6217 0000 1111 2222",
                                                reason="原账户已注销")),
        event(f.ReceivingAccountChanged(**ids, change_id="change-2b9f",
                                        old_account="6222 0212 0000 0001",
                                        new_account="6217 0000 1111 2222")),
        # Money in, not yet notified to finance: its notify-finance clock runs.
        event(f.FundsArrived(**ids, payment_id="pay-c0de", amount_fen=25_000,
                             source="payment", arrived_on="2026-03-02")),
    ]  # fmt: skip


def filed_with_money(clock: SimulatedClock) -> tuple[str, list[Any]]:
    """A case filed and numbered at 泰兴, then its money (``money_of``)."""
    case_id = "case-7f3a"

    def event(payload: Any) -> Any:
        return new_event(payload, aggregate_id=case_id, court_code="苏1283", actor=ACTOR,
                         clock=clock)  # fmt: skip

    return case_id, [
        event(case_events_pb2.CaseFiled(case_id=case_id, court_code="苏1283",
                                        case_type_code="执", claim_amount_fen=1_000_000,
                                        filed_on="2026-03-02")),
        event(case_events_pb2.CaseNumberIssued(case_id=case_id, case_number=NUMBER,
                                               court_code="苏1283")),
        *money_of(case_id, clock),
    ]  # fmt: skip


async def test_money_moves_a_case_to_paying_and_shows_in_its_view_timeline_and_alerts(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)
    case_id, events = filed_with_money(clock)
    await publisher.publish_many(events)
    host = command_host(isolated, clock, tmp_path)
    await host.start()

    async def read(path: str, **params: Any) -> Any:
        token = tokens.issue(subject="c", court_code="苏12", role=Role.COMMAND)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
            answer = await http.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    try:
        nodes = await read("/v1/board/nodes")
        # The open nodes, the furthest last, then 终本 (closed cases in re-query).
        assert nodes[-2:] == [
            {"id": "paying", "title": "案款发放", "open": True},
            {"id": "zhongben", "title": "终本", "open": False},
        ]

        async def at_paying() -> bool:
            tree = await read("/v1/board/tree")
            return bool(find(tree["root"], "苏1283")["own"]["node_paying"] == 1)

        await eventually(at_paying)
        listed = await read("/v1/board/courts/苏1283/cases", node="paying")
        assert [(c["case_id"], c["case_number"]) for c in listed["cases"]] == [(case_id, NUMBER)]

        # The case's money, from its funds events.
        expected = {
            "account_number": "32128326000088", "receiving_account": "6217 0000 1111 2222",
            "received_fen": 105_000, "paid_fen": 40_000, "held_fen": 10_000,
            "lodged_fen": 30_000, "in_account_fen": 35_000, "arrivals": 3, "payouts": 1,
        }  # fmt: skip

        async def funds_known() -> bool:
            return bool((await read(f"/v1/cases/{case_id}"))["funds"] == expected)

        await eventually(funds_known)

        # Every funds event in the timeline, told in Chinese, without the events' ids.
        async def told() -> bool:
            timeline = await read(f"/v1/cases/{case_id}/timeline")
            return sum(e["event"] == "FundsArrived" for e in timeline) == 3 and not any(
                e["audit"] is None for e in timeline
            )

        await eventually(told)
        timeline = await read(f"/v1/cases/{case_id}/timeline")
        lines = {(e["event"], e["summary"]) for e in timeline if e["summary"]}
        funds_events = {type(e.payload).__name__ for e in events[2:]}
        assert {event for event, _ in lines} == funds_events
        text = " ".join(line for _, line in lines)
        for internal in ("pay-", "hold-", "notice-", "payout-", "change-"):
            assert internal not in text
        said = dict(lines)
        assert said["FundsHeld"] == "批准延缓发放其中 100.00元，事由：部分案款有争议"
        assert said["FundsPaid"] == (
            "向申请执行人发放 400.00元，收款账户 6222 0212 0000 0001，发放日 2026-03-02"
        )
        assert said["PaymentLodged"] == "批准提存该笔案款 300.00元，事由：申请执行人下落不明"
        assert said["ReceivingAccountChanged"] == (
            "收款账户由 6222 0212 0000 0001 变更为 6217 0000 1111 2222"
        )
        arrivals = [e["summary"] for e in timeline if e["event"] == "FundsArrived"]
        assert "到账 500.00元（扣划），付款人 某某有限公司，到账日 2026-03-02" in arrivals
        notice = said["PaymentNoticeIssued"]
        assert notice.startswith("通知财务部门发放 400.00元（2026-03-02 到账的 500.00元）")

        # The funds clocks show like every other: running now, with the catalogue's title…
        running = await read("/v1/board/alerts", state="running", rule="funds.")
        assert [(a["rule_id"], a["title"], a["case_number"]) for a in running["alerts"]] == [
            ("funds.notify-finance", "案款到账后通知财务发放", NUMBER)
        ]
        # …and breached in the warnings list once the limit has passed without a notice.
        clock.set(dt.datetime(2026, 3, 18, 10, 0, tzinfo=CHINA_TZ))

        async def breached() -> bool:
            alerts = (await read("/v1/board/alerts"))["alerts"]
            return any(a["rule_id"] == "funds.notify-finance" and a["state"] == "breached"
                       and a["case_id"] == case_id for a in alerts)  # fmt: skip

        await eventually(breached)
    finally:
        await host.stop()
