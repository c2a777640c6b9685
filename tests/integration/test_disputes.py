"""Enforcement disputes through the real stack: the dispute coordinator, the command
service's clocks and intake's cases on Kafka and Redis, under a simulated clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case
from tests.integration.test_entrustment import clocks
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role

pytestmark = pytest.mark.integration


def client(stack: Stack) -> httpx.AsyncClient:
    assert stack.disputes is not None
    return stack.client(stack.disputes)


async def act(
    stack: Stack, path: str, court: str, role: Role = Role.COORDINATOR,
    body: dict[str, Any] | None = None, subject: str = "u1",
) -> httpx.Response:  # fmt: skip
    async with client(stack) as http:
        return await http.post(
            path, json=body or {}, headers=stack.headers(role, court, subject=subject)
        )


async def case_known(stack: Stack, case_id: str) -> None:
    async def known() -> bool:
        async with client(stack) as http:
            found = await http.get(f"/v1/cases/{case_id}", headers=stack.headers(Role.OFFICER))
        return found.status_code == 200

    await eventually(known)


async def clock_state(stack: Stack, subject: str, rule: str, court: str = "苏12") -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def present() -> bool:
        seen.update(await clocks(stack, subject, court, Role.COMMAND))
        return rule in seen

    await eventually(present)
    state: dict[str, Any] = seen[rule]
    return state


async def test_a_dispute_between_courts_goes_up_level_by_level_and_its_plan_is_implemented(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_disputes=True) as stack:
        case_id = await file_case(stack, case_with(credit_code(41), 10**9))
        await case_known(stack, case_id)
        opened = await act(stack, "/v1/disputes", "苏1283", body={
            "courts": ["苏1283", "浙0102"],
            "subject": "同一房产被两地法院分别裁定查封、过户",
            "asset_key": "real_estate:杭房权证-0001",
            "case_ids": [case_id],
            "conflicting_instruments": [
                {"court_code": "苏1283", "document_number": "（2026）苏1283执1号"},
                {"court_code": "浙0102", "document_number": "（2026）浙0102执9号"},
            ],
            "positions": [{"party": "苏1283", "text": "本院首先查封"}],
        })  # fmt: skip
        assert opened.status_code == 201, opened.text
        dispute = opened.json()
        dispute_id = dispute["dispute_id"]
        path = f"/v1/disputes/{dispute_id}"
        # Conflicting instruments: both courts stop at once; the case's clock pauses.
        assert dispute["stops"] == {"苏1283": "stopped", "浙0102": "stopped"}
        paused = await clock_state(stack, case_id, "case.close")

        async def case_clock(status: str) -> bool:
            return bool((await clock_state(stack, case_id, "case.close"))["status"] == status)

        await eventually(lambda: case_clock("paused"))
        assert paused["rule_id"] == "case.close"

        # Negotiation, seen only by the courts involved and the courts above them.
        noted = await act(stack, f"{path}/negotiation", "浙0102", body={"note": "坚持过户有效"})
        assert noted.status_code == 200
        async with client(stack) as http:
            hidden = await http.get(path, headers=stack.headers(Role.OFFICER, "苏1282"))
            assert hidden.status_code == 404
            above = await http.get(path, headers=stack.headers(Role.COMMAND, "浙01"))
            assert above.status_code == 200
        assert (await act(stack, f"{path}/escalation", "苏1283")).status_code == 409  # negotiating
        failed = await act(stack, f"{path}/negotiation", "苏1283",
                           body={"note": "协商不成", "outcome": "failed"})  # fmt: skip
        assert failed.json()["status"] == "negotiation_failed"

        # Up level by level: each court between a party and 最高法 forwards with its opinion.
        escalated = (await act(stack, f"{path}/escalation", "苏1283")).json()
        assert escalated["escalation"]["common_superior"] == "最高法"
        assert [b["forwarders"] for b in escalated["escalation"]["branches"]] == [
            ["苏12", "苏"], ["浙01", "浙"]
        ]  # fmt: skip
        too_soon = await act(stack, f"{path}/forward", "苏", body={"opinion": "同意"})
        assert too_soon.status_code == 409
        for court in ("苏12", "苏", "浙01"):
            forwarded = await act(stack, f"{path}/forward", court, Role.COMMAND,
                                  body={"opinion": f"{court}意见"})  # fmt: skip
            assert forwarded.json()["status"] == "escalating", forwarded.text
        last = await act(stack, f"{path}/forward", "浙", Role.COMMAND, body={"opinion": "意见"})
        assert last.json()["status"] == "referred"

        resolve = await clock_state(stack, dispute_id, "dispute.superior-resolves")
        assert resolve["court_code"] == "最高法"
        assert resolve["last_day"] == "2026-04-02"  # one month from 3-2

        # Only the common superior decides; its plan binds and goes to each court.
        not_it = await act(stack, f"{path}/plan", "苏", body={"plan": "x"})
        assert not_it.status_code == 403
        planned = await act(stack, f"{path}/plan", "最高法", body={
            "plan": "由苏1283先行处置，款项划入指定账户", "designated_account": "最高法-执行款专户",
            "disputed_amount_fen": 100_000_000,
        })  # fmt: skip
        assert planned.json()["status"] == "planned", planned.text
        await eventually(lambda: case_clock("running"))  # coordination no longer pauses it

        implement = await clock_state(stack, dispute_id, "dispute.implement")
        assert implement["last_day"] == "2026-03-23"  # 15 working days from 3-2
        all_clocks = await clocks(stack, dispute_id, "最高法", Role.COMMAND)
        assert all_clocks["dispute.superior-resolves"]["status"] == "cleared"

        # 浙0102 asks for reconsideration within 5 days; the answer binds.
        asked = await act(stack, f"{path}/reconsideration", "浙0102", body={"reason": "异议"})
        assert asked.status_code == 200
        answered = await act(stack, f"{path}/reconsideration-answer", "最高法",
                             body={"court_code": "浙0102", "answer": "维持"})  # fmt: skip
        assert answered.status_code == 200
        again = await act(stack, f"{path}/reconsideration", "浙0102", body={"reason": "再议"})
        assert again.status_code == 409

        # 苏1283 lets its 5 days pass (3-7 is a Saturday, so they end on Monday 3-9): then
        # the plan binds it too.
        recon = await clocks(stack, dispute_id, "苏1283", Role.COORDINATOR)
        assert recon["dispute.plan-reconsideration"]["last_day"] == "2026-03-09"
        stack.clock.advance(dt.timedelta(days=8))

        async def lapsed() -> bool:
            async with client(stack) as http:
                record = (await http.get(path, headers=stack.headers(Role.COMMAND, "苏12"))).json()
            return "苏1283" in record["reconsideration_closed"]

        await eventually(lapsed)
        late = await act(stack, f"{path}/reconsideration", "苏1283", body={"reason": "迟到"})
        assert late.status_code == 409 and "binds" in late.text
        assert "5 days (rule dispute.plan-reconsideration)" in late.text

        for court in ("苏1283", "浙0102"):
            done = await act(stack, f"{path}/implementation", court, body={"report": "已落实"})
            assert done.status_code == 200, done.text
        closed = done.json()
        assert closed["status"] == "closed"
        assert closed["stops"] == {"苏1283": "lifted", "浙0102": "lifted"}


async def test_a_dispute_with_an_agency_reports_to_the_committee_and_the_superior_on_time(
    isolated: Isolated, tmp_path: Path
) -> None:
    police = {"kind": "police", "name": "泰兴市公安局", "id": "agency:taixing-police"}
    async with platform_stack(isolated, tmp_path, with_disputes=True) as stack:
        opened = await act(stack, "/v1/disputes", "苏1283", body={
            "courts": ["苏1283"], "agency": police,
            "subject": "公安机关扣押的车辆与法院查封冲突",
        })  # fmt: skip
        assert opened.status_code == 201, opened.text
        path = f"/v1/disputes/{opened.json()['dispute_id']}"
        dispute_id = opened.json()["dispute_id"]

        # The agency sees and acts on its own dispute only.
        async with client(stack) as http:
            mine = await http.get(path, headers=stack.headers(Role.AGENCY, "苏1283", police["id"]))
            assert mine.status_code == 200
            other = await http.get(path, headers=stack.headers(Role.AGENCY, "苏1283", "agency:tax"))
            assert other.status_code == 404
            listed = await http.get(
                "/v1/disputes", headers=stack.headers(Role.AGENCY, "苏1283", police["id"])
            )
            assert [d["dispute_id"] for d in listed.json()] == [dispute_id]
        said = await act(stack, f"{path}/negotiation", "苏1283", Role.AGENCY,
                         body={"note": "车辆系涉案物品"}, subject=police["id"])  # fmt: skip
        assert said.status_code == 200
        not_theirs = await act(
            stack, f"{path}/negotiation", "苏1283", Role.AGENCY,
            body={"note": "x", "outcome": "failed"}, subject=police["id"],
        )  # fmt: skip
        assert not_theirs.status_code == 403

        failed = await act(stack, f"{path}/negotiation", "苏1283", body={
            "note": "协商不成", "outcome": "failed", "superior_must_coordinate": True,
        })  # fmt: skip
        assert failed.status_code == 200
        report = await clock_state(stack, dispute_id, "dispute.report-to-superior")
        assert report["court_code"] == "苏1283" and report["last_day"] == "2026-03-09"
        committee = await act(
            stack, f"{path}/committee-report", "苏1283",
            body={"committee": "泰兴市委政法委", "report": "书面报告"},
        )  # fmt: skip
        assert committee.json()["committee_report"]["committee"] == "泰兴市委政法委"

        # Past the 5 working days: the clock breaches; the report is still taken.
        stack.clock.advance(dt.timedelta(days=8))

        async def breached() -> bool:
            state = await clock_state(stack, dispute_id, "dispute.report-to-superior")
            return bool(state["breached"])

        await eventually(breached)
        reported = await act(
            stack, f"{path}/superior-report", "苏1283", body={"report": "请求协调"}
        )
        assert reported.json()["superior_court"] == "苏12"
        starts = await clock_state(stack, dispute_id, "dispute.superior-starts-coordination")
        assert starts["court_code"] == "苏12"
        not_superior = await act(stack, f"{path}/department-coordination", "苏",
                                 body={"departments": ["公安"]})  # fmt: skip
        assert not_superior.status_code == 403
        started = await act(stack, f"{path}/department-coordination", "苏12", Role.COMMAND,
                            body={"departments": ["泰兴市公安局"]})  # fmt: skip
        assert started.json()["status"] == "department_coordination"

        async def cleared() -> bool:
            state = await clock_state(stack, dispute_id, "dispute.superior-starts-coordination")
            return bool(state["status"] == "cleared")

        await eventually(cleared)
        # The superior records what the coordination settled: the dispute ends (before,
        # nothing could end it and its cases' clocks stayed paused).
        conclusion = f"{path}/department-coordination/conclusion"
        concluded = await act(stack, conclusion, "苏12", Role.COMMAND,
                              body={"terms": "公安机关解除扣押，由法院处置"})  # fmt: skip
        assert concluded.status_code == 200, concluded.text
        assert concluded.json()["status"] == "coordination_concluded"
        again = await act(stack, conclusion, "苏12", Role.COMMAND, body={"terms": "再次"})
        assert again.status_code == 409


async def test_bad_disputes_are_refused_naming_the_field(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_disputes=True, with_command=False) as stack:
        for body, status, where in (
            ({"courts": ["苏1283"], "subject": "x"}, 422, "two or more"),
            ({"courts": ["苏1283", "苏9999"], "subject": "x"}, 422, "苏9999"),
            ({"courts": ["苏1282", "浙0102"], "subject": "x"}, 403, "not a party"),
            ({"courts": ["苏1283", "浙0102"], "subject": "x", "case_ids": ["nope"]}, 422, "nope"),
            ({"courts": ["苏1283"], "subject": "x",
              "agency": {"kind": "army", "name": "某", "id": "a"}}, 422, "agency"),
        ):  # fmt: skip
            refused = await act(stack, "/v1/disputes", "苏1283", body=body)
            assert refused.status_code == status, (body, refused.text)
            assert where in refused.text
