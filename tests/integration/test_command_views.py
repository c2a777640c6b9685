"""What the command centre's pages read, as people read it (issue 18): a case named by its
number (an application not yet docketed by its receipt, and urgeable), one scope per view
(a court's subtree), the timeline in time order with its actors in Chinese, money in fen as
numbers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from tests.conftest import Isolated
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def get(stack: Stack, path: str, court: str = "苏12", role: Role = Role.COMMAND) -> Any:
    async with stack.client(stack.commander) as http:
        answer = await http.get(path, headers=stack.headers(role, court))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def known(stack: Stack, case_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def present() -> bool:
        async with stack.client(stack.commander) as http:
            answer = await http.get(f"/v1/cases/{case_id}", headers=stack.headers(Role.COMMAND))
        if answer.status_code == 200:
            seen.update(answer.json())
        return answer.status_code == 200 and bool(seen.get("label"))

    await eventually(present)
    return seen


async def receive_application(stack: Stack, debtor: int) -> str:
    async with stack.client(stack.intake) as http:
        answer = await http.post("/v1/applications", json=case_with(credit_code(debtor), 10**9),
                                 headers=stack.headers(Role.CLERK, "苏1283"))  # fmt: skip
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["case_id"]
    return case_id


async def test_the_case_view_names_the_case_and_counts_its_claim_in_fen(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(credit_code(81), 10**9))
        async with stack.client(stack.intake) as http:
            read = await http.get(f"/v1/cases/{case_id}", headers=stack.headers(Role.COMMAND))
        number = read.json()["case_number"]
        view = await known(stack, case_id)
        assert view["case_number"] == view["label"] == number
        assert view["claim_amount_fen"] == 10**9  # a number, as every service answers money
        assert view["court_name"] == "泰兴市人民法院"


async def test_an_application_not_yet_docketed_is_named_by_its_receipt_and_may_be_urged(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        first = await receive_application(stack, 86)
        application = await receive_application(stack, 82)
        # Named by its number in the court's register of applications (收件编号).
        async with stack.client(stack.intake) as http:
            read = await http.get(f"/v1/cases/{application}", headers=stack.headers(Role.COMMAND))
        assert read.json()["receipt_number"] == "（2026）苏1283收2号"
        view = await known(stack, application)
        assert view["label"] == "（2026）苏1283收2号（待立案）" and view["case_number"] == ""
        assert view["node"] == "received"
        assert (await known(stack, first))["label"] == "（2026）苏1283收1号（待立案）"

        # Its docketing clock (7 days) runs out: the alert names the application, not its id.
        stack.clock.set(dt.datetime(2026, 3, 20, 10, 0, tzinfo=CHINA_TZ))
        rows: list[dict[str, Any]] = []

        async def alerted() -> bool:
            rows[:] = (await get(stack, "/v1/board/alerts?rule=intake.docket"))["alerts"]
            return bool(rows)

        await eventually(alerted)
        (row,) = [r for r in rows if r["case_id"] == application]
        assert row["case_number"] == view["label"]
        assert not UUID.search(row["case_number"])

        # The command centre urges its docketing; nothing else is done to an application.
        urge = {"action": "urge", "case_id": application, "reply_working_days": 3,
                "instruction": "请依法审查立案"}  # fmt: skip
        async with stack.client(stack.commander) as http:
            headers = stack.headers(Role.COMMAND, "苏12")
            issued = await http.post("/v1/commands", json=urge, headers=headers)
            assert issued.status_code == 201, issued.text
            designate = {"action": "designate", "case_id": application, "to_court": "苏1282",
                         "instruction": "指令执行"}  # fmt: skip
            refused = await http.post("/v1/commands", json=designate, headers=headers)
            assert refused.status_code == 409, refused.text

        # One scope per view: the intermediate court's own list is empty, its jurisdiction's
        # holds the urge (as the tree's total counts it), named by the application's label.
        async def pending() -> bool:
            wide = await get(stack, "/v1/board/courts/苏12/commands?jurisdiction=true")
            return len(wide) == 1

        await eventually(pending)
        (wide,) = await get(stack, "/v1/board/courts/苏12/commands?jurisdiction=true")
        assert wide["case_number"] == view["label"] and wide["court_name"] == "泰兴市人民法院"
        assert await get(stack, "/v1/board/courts/苏12/commands") == []
        tree = (await get(stack, "/v1/board/tree"))["root"]
        assert tree["total"]["commands_pending"] == 1 and tree["own"]["commands_pending"] == 0


async def test_node_cases_follow_the_scope_of_the_tree_total(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        await file_case(stack, case_with(credit_code(83), 10**9))
        await file_case(stack, case_with(credit_code(84), 10**9, court="苏1282"))

        async def counted() -> bool:
            tree = (await get(stack, "/v1/board/tree"))["root"]
            return int(tree["total"]["open_cases"]) == 2

        await eventually(counted)
        nodes = ("filed", "querying", "controlling", "disposing", "paying")
        wide: list[dict[str, Any]] = []

        async def read_still() -> bool:
            # A case read at one node can reach the next before that node is read: read the
            # nodes again until no case moved in between (a case shown twice for good fails).
            wide[:] = [await get(stack, f"/v1/board/courts/苏12/cases?node={n}&jurisdiction=true")
                       for n in nodes]  # fmt: skip
            return sum(int(w["total"]) for w in wide) == 2

        await eventually(read_still)
        own = [await get(stack, f"/v1/board/courts/苏12/cases?node={n}") for n in nodes]
        assert sum(len(w["cases"]) for w in wide) == 2
        assert sum(o["total"] for o in own) == 0
        listed = {c["court_name"] for w in wide for c in w["cases"]}
        assert listed == {"泰兴市人民法院", "靖江市人民法院"}


async def test_the_timeline_is_in_time_order_and_names_its_actors_in_chinese(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(credit_code(85), 10**9))
        await known(stack, case_id)
        entries: list[dict[str, Any]] = []

        async def recorded() -> bool:
            entries[:] = await get(stack, f"/v1/cases/{case_id}/timeline")
            # Filed at once: the docketing clock opened and cleared in the same millisecond.
            docket = [e for e in entries if e["payload"].get("clock", {}).get("rule_id")
                      == "intake.docket"]  # fmt: skip
            return len(docket) >= 2 and all(e["audit"] for e in entries)

        await eventually(recorded)
        times = [dt.datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in entries]
        assert times == sorted(times)
        clocks: dict[str, list[str]] = {}
        for entry in entries:
            if clock := entry["payload"].get("clock"):
                clocks.setdefault(clock["clock_id"], []).append(entry["event"])
        for clock_id, events in clocks.items():
            assert events[0] == "ClockOpened", (clock_id, events)
            if "ClockCleared" in events:
                assert events[-1] == "ClockCleared", (clock_id, events)
        names = {e["actor"]: e["actor_name"] for e in entries}
        assert names["svc:deadlines"] == "节点期限管理系统"
        for actor, name in names.items():
            assert "svc:" not in name and re.search(r"[\u4e00-\u9fff]", name), (actor, name)
        person = next(n for a, n in names.items() if not a.startswith("svc:"))
        assert "泰兴市人民法院" in person and "立案人员" in person
