"""Command actions (督办, 函告纠正, 裁定纠正) through the real stack: intake's case reaches the
command service, which issues the order; the receiving court acknowledges and answers;
the clocks run on the simulated clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case, until_query
from tests.integration.test_entrustment import client as entrustment_client
from tests.integration.test_entrustment import clocks
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role

pytestmark = pytest.mark.integration


async def post(
    stack: Stack, path: str, court: str, role: Role, body: dict[str, Any] | None = None
) -> httpx.Response:
    async with stack.client(stack.commander) as http:
        return await http.post(path, json=body or {}, headers=stack.headers(role, court))


async def command_case(stack: Stack) -> str:
    case_id = await file_case(stack, case_with(credit_code(51), 10**9))

    async def known() -> bool:
        async with stack.client(stack.commander) as http:
            found = await http.get(
                f"/v1/cases/{case_id}", headers=stack.headers(Role.COMMAND, "苏12")
            )
        return found.status_code == 200

    await eventually(known)
    return case_id


async def clock_of(stack: Stack, command_id: str, rule: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def present() -> bool:
        seen.update(await clocks(stack, command_id, "苏12", Role.COMMAND))
        return rule in seen

    await eventually(present)
    state: dict[str, Any] = seen[rule]
    return state


async def test_an_urge_is_acknowledged_and_answered_on_its_clocks_and_scope_holds(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await command_case(stack)
        urge = {
            "action": "urge",
            "case_id": case_id,
            "instruction": "请于3个工作日内报告财产处置进展",
            "reply_working_days": 3,
        }
        # A basic court issues no commands; another jurisdiction does not see the case.
        basic = await post(stack, "/v1/commands", "苏1283", Role.COMMAND, urge)
        assert basic.status_code == 403
        other = await post(stack, "/v1/commands", "苏02", Role.COMMAND, urge)
        assert other.status_code == 404
        too_long = await post(stack, "/v1/commands", "苏12", Role.COMMAND,
                              {**urge, "reply_working_days": 30})  # fmt: skip
        assert too_long.status_code == 422 and "reply_working_days" in too_long.text

        issued = await post(stack, "/v1/commands", "苏12", Role.COMMAND, urge)
        assert issued.status_code == 201, issued.text
        command = issued.json()
        assert command["target_court"] == "苏1283" and not command["reconsiderable"]
        path = f"/v1/commands/{command['command_id']}"

        ack_clock = await clock_of(stack, command["command_id"], "command.acknowledge")
        assert ack_clock["court_code"] == "苏1283" and ack_clock["last_day"] == "2026-03-03"
        reply_clock = await clock_of(stack, command["command_id"], "command.urge-reply")
        assert reply_clock["limit"] == 3 and reply_clock["last_day"] == "2026-03-05"
        # The receiving court sees it too; a sibling court does not.
        mine = await clocks(stack, command["command_id"], "苏1283", Role.OFFICER)
        assert "command.urge-reply" in mine
        assert await clocks(stack, command["command_id"], "苏1282", Role.OFFICER) == {}

        not_receiver = await post(stack, f"{path}/acknowledgement", "苏1282", Role.OFFICER)
        assert not_receiver.status_code == 404
        acked = await post(stack, f"{path}/acknowledgement", "苏1283", Role.OFFICER)
        assert acked.status_code == 200 and acked.json()["acknowledged"]
        no_reconsideration = await post(stack, f"{path}/reconsideration", "苏1283", Role.OFFICER,
                                        {"text": "不同意"})  # fmt: skip
        assert no_reconsideration.status_code == 409

        # No reply in 3 working days: the reply clock breaches and escalates.
        stack.clock.set(dt.datetime(2026, 3, 6, 10, 0, tzinfo=dt.UTC))

        async def breached() -> bool:
            state = await clock_of(stack, command["command_id"], "command.urge-reply")
            return bool(state["breached"]) and any(f.startswith("escalate") for f in state["fired"])

        await eventually(breached)
        replied = await post(stack, f"{path}/reply", "苏1283", Role.OFFICER,
                             {"text": "已启动网络询价，预计下周完成"})  # fmt: skip
        assert replied.json()["status"] == "answered"

        async def cleared() -> bool:
            state = await clock_of(stack, command["command_id"], "command.urge-reply")
            return bool(state["status"] == "cleared")

        await eventually(cleared)
        async with stack.client(stack.commander) as http:
            listed = await http.get("/v1/commands", headers=stack.headers(Role.OFFICER, "苏1283"))
        assert [c["command_id"] for c in listed.json()] == [command["command_id"]]


async def test_a_correction_may_be_reconsidered_within_five_days_then_it_stands(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await command_case(stack)
        letter = await post(stack, "/v1/commands", "苏12", Role.COMMAND, {
            "action": "correction_letter", "case_id": case_id,
            "instruction": "该案冻结数额超出执行标的，请自行纠正", "reply_working_days": 5,
        })  # fmt: skip
        assert letter.status_code == 201, letter.text
        path = f"/v1/commands/{letter.json()['command_id']}"
        asked = await post(stack, f"{path}/reconsideration", "苏1283", Role.OFFICER,
                           {"text": "冻结数额系按申请执行人请求确定"})  # fmt: skip
        assert asked.json()["status"] == "reconsideration_requested"
        not_issuer = await post(stack, f"{path}/reconsideration-answer", "苏1283", Role.COMMAND,
                                {"answer": "x", "upheld": False})  # fmt: skip
        assert not_issuer.status_code == 403
        upheld = await post(stack, f"{path}/reconsideration-answer", "苏12", Role.COMMAND,
                            {"answer": "维持原函", "upheld": True})  # fmt: skip
        assert upheld.json()["status"] == "issued"
        again = await post(
            stack, f"{path}/reconsideration", "苏1283", Role.OFFICER, {"text": "再议"}
        )
        assert again.status_code == 409
        reported = await post(
            stack, f"{path}/reply", "苏1283", Role.OFFICER, {"text": "已解除超标冻结"}
        )
        assert reported.json()["status"] == "answered"

        # A ruling that nobody contests within 5 days (3-7 is a Saturday: 3-9) stands.
        ruling = await post(stack, "/v1/commands", "苏12", Role.COMMAND, {
            "action": "correction_ruling", "case_id": case_id, "instruction": "裁定撤销违法拍卖",
        })  # fmt: skip
        assert ruling.status_code == 201, ruling.text
        ruling_id = ruling.json()["command_id"]
        window = await clock_of(stack, ruling_id, "command.reconsideration")
        assert window["last_day"] == "2026-03-09"
        stack.clock.set(dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC))

        async def stands() -> bool:
            async with stack.client(stack.commander) as http:
                record = (
                    await http.get(
                        f"/v1/commands/{ruling_id}", headers=stack.headers(Role.COMMAND, "苏12")
                    )
                ).json()
            return bool(record["reconsideration_closed"])

        await eventually(stands)
        late = await post(stack, f"/v1/commands/{ruling_id}/reconsideration", "苏1283",
                          Role.OFFICER, {"text": "迟到"})  # fmt: skip
        assert late.status_code == 409 and "stands" in late.text
        assert (
            "(rule command.reconsideration)" in late.text
        )  # the rule, its period from the catalogue


async def test_a_designated_case_moves_in_every_service_and_keeps_its_clocks(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_entrustment=True) as stack:
        case_id = await command_case(stack)
        view = await until_query(stack, case_id, "completed")
        asset_id = view["assets"][0]["asset_id"] if view["assets"] else None

        async def entrustment_knows() -> bool:
            async with entrustment_client(stack) as http:
                found = await http.get(f"/v1/cases/{case_id}", headers=stack.headers(Role.OFFICER))
            return found.status_code == 200

        await eventually(entrustment_knows)
        async with entrustment_client(stack) as http:
            entrusted = await http.post("/v1/entrustments", json={
                "case_id": case_id, "matter_type": "asset_investigation",
                "description": "调查被执行人在杭州的财产", "location_division": "330102",
            }, headers=stack.headers(Role.OFFICER, "苏1283"))  # fmt: skip
        assert entrusted.status_code == 201, entrusted.text
        entrustment_id = entrusted.json()["entrustment_id"]
        before = await clock_of(stack, case_id, "case.close")

        designate = {"action": "designate", "case_id": case_id, "to_court": "苏1282",
                     "instruction": "泰兴法院消极执行，指令靖江法院执行"}  # fmt: skip
        outside = await post(stack, "/v1/commands", "苏12", Role.COMMAND,
                             {**designate, "to_court": "苏0281"})  # fmt: skip
        assert outside.status_code == 403 and "jurisdiction" in outside.text
        moved = await post(stack, "/v1/commands", "苏12", Role.COMMAND, designate)
        assert moved.status_code == 201, moved.text
        assert moved.json()["to_court"] == "苏1282" and moved.json()["reconsiderable"]

        # Every service follows: intake, asset control, entrustment, the clocks.
        async def everywhere() -> bool:
            command_centre = stack.headers(Role.COMMAND, "苏12")
            async with stack.client(stack.intake) as http:
                intake = (await http.get(f"/v1/cases/{case_id}", headers=command_centre)).json()
            assets = await stack.control.records.case(case_id)
            clocks_now = await clocks(stack, case_id, "苏12", Role.COMMAND)
            async with entrustment_client(stack) as http:
                path = f"/v1/entrustments/{entrustment_id}"
                matter = (await http.get(path, headers=command_centre)).json()
            asset_court = "苏1282"
            if asset_id is not None:
                record = await stack.control.records.asset(asset_id)
                asset_court = record["court_code"] if record else ""
            return (
                intake["court_code"] == "苏1282"
                and assets is not None and assets["court_code"] == "苏1282"
                and asset_court == "苏1282"
                and all(c["court_code"] == "苏1282" for c in clocks_now.values())
                and matter["entrusting_court"] == "苏1282"
            )  # fmt: skip

        await eventually(everywhere)
        after = await clock_of(stack, case_id, "case.close")
        assert after["started_at"] == before["started_at"]  # not restarted (¶28)
        assert after["cycle"] == before["cycle"]
        # The new court acts; the old one no longer sees the case.
        async with stack.client(stack.intake) as http:
            old = await http.get(
                f"/v1/cases/{case_id}", headers=stack.headers(Role.OFFICER, "苏1283")
            )
            new = await http.get(
                f"/v1/cases/{case_id}", headers=stack.headers(Role.OFFICER, "苏1282")
            )
        assert (old.status_code, new.status_code) == (404, 200)
        assert new.json()["filing_court"] == "苏1283"

        # The new entrusting court reads the matter's clocks (the engine learns of it from
        # the entrustment service's own event, after the case's move).
        async def matter_clocks_visible() -> bool:
            matter_clocks = await clocks(stack, entrustment_id, "苏1282", Role.OFFICER)
            return "entrustment.start" in matter_clocks

        await eventually(matter_clocks_visible)

        # The board and the figures count the case and its running clocks at the new court
        # (each moved clock said so with ClockMoved); at the old court only the designation's
        # own clocks run (it must sign for it, and may ask for reconsideration).
        async def counted_at_new_court() -> bool:
            command_centre = stack.headers(Role.COMMAND, "苏12")
            async with stack.client(stack.commander) as http:
                tree = (await http.get("/v1/board/tree", headers=command_centre)).json()["root"]
                every = {"state": ["running", "warned", "breached", "paused"]}
                alerts = (await http.get("/v1/board/alerts", headers=command_centre,
                                         params=every)).json()["alerts"]  # fmt: skip
                figures = {court: (await http.get(f"/v1/figures/{court}",
                                                  headers=command_centre)).json()
                           for court in ("苏1283", "苏1282")}  # fmt: skip
            board = {c["code"]: c["own"] for c in tree["children"]}
            open_clocks = {court: sum(board[court][f"clocks_{s}"] for s in every["state"])
                           for court in figures}  # fmt: skip
            at_old = {a["subject_id"] for a in alerts if a["court_code"] == "苏1283"}
            return bool(
                board["苏1283"]["open_cases"] == 0 and board["苏1282"]["open_cases"] == 1
                and at_old == {moved.json()["command_id"]}
                and any(a["subject_id"] == case_id and a["court_code"] == "苏1282"
                        for a in alerts)
                and all(figures[c]["rates"]["clocks_running"] == open_clocks[c] for c in figures)
            )  # fmt: skip

        await eventually(counted_at_new_court)

        # Not back to the court it was taken from, nor to where it is.
        back = await post(stack, "/v1/commands", "苏12", Role.COMMAND,
                          {**designate, "to_court": "苏1283"})  # fmt: skip
        assert back.status_code == 409 and "passive" in back.text
        assert "command.designation-must-speed" in back.text
        same = await post(stack, "/v1/commands", "苏12", Role.COMMAND, designate)
        assert same.status_code == 409

        # Elevation: the intermediate court takes it.
        elevated = await post(stack, "/v1/commands", "苏12", Role.COMMAND, {
            "action": "elevate", "case_id": case_id, "instruction": "提级执行",
        })  # fmt: skip
        assert elevated.status_code == 201, elevated.text

        async def at_intermediate() -> bool:
            assets = await stack.control.records.case(case_id)
            return assets is not None and assets["court_code"] == "苏12"

        await eventually(at_intermediate)


async def test_one_debtors_cases_are_found_proposed_and_consolidated_and_officers_lent(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = credit_code(61)
    async with platform_stack(isolated, tmp_path) as stack:
        cases = [
            await file_case(stack, case_with(debtor, 10**9, court=court))
            for court in ("苏1283", "苏1283", "苏1282")
        ]

        async def proposed() -> list[dict[str, Any]]:
            async with stack.client(stack.commander) as http:
                answer = await http.get(
                    "/v1/commands/proposals", headers=stack.headers(Role.COMMAND, "苏12")
                )
            assert answer.status_code == 200, answer.text
            return [p for p in answer.json() if p["debtor_id"] == debtor]

        async def all_three() -> bool:
            found = await proposed()
            return bool(found) and len(found[0]["cases"]) == 3

        await eventually(all_three)
        (proposal,) = await proposed()
        assert proposal["courts"] == ["苏1282", "苏1283"]
        assert proposal["suggested_court"] == "苏1283"  # it holds two of the three
        async with stack.client(stack.commander) as http:
            elsewhere = await http.get(
                "/v1/commands/proposals", headers=stack.headers(Role.COMMAND, "苏02")
            )
        assert [p for p in elsewhere.json() if p["debtor_id"] == debtor] == []

        together = {"debtor_id": debtor, "to_court": "苏1283", "instruction": "集中执行"}
        cross = await post(stack, "/v1/commands/consolidation", "苏12", Role.COMMAND,
                           {**together, "action": "cross"})  # fmt: skip
        assert cross.status_code == 409  # 苏1283 holds some: not cross execution
        done = await post(stack, "/v1/commands/consolidation", "苏12", Role.COMMAND,
                          {**together, "action": "consolidate"})  # fmt: skip
        assert done.status_code == 201, done.text
        assert [(c["case_id"], c["target_court"]) for c in done.json()] == [(cases[2], "苏1282")]

        async def consolidated() -> bool:
            async with stack.client(stack.intake) as http:
                case = await http.get(
                    f"/v1/cases/{cases[2]}", headers=stack.headers(Role.COMMAND, "苏12")
                )
            return bool(case.json()["court_code"] == "苏1283")

        await eventually(consolidated)
        await eventually(lambda: _no_proposal(proposed))

        lent = await post(stack, "/v1/commands/officer-loans", "苏12", Role.COMMAND, {
            "from_court": "苏1282", "to_court": "苏1283", "officers": ["o-7", "o-8"],
            "instruction": "抽调执行干警参加集中执行行动",
        })  # fmt: skip
        assert lent.status_code == 201, lent.text
        path = f"/v1/commands/{lent.json()['command_id']}"
        acked = await post(stack, f"{path}/acknowledgement", "苏1282", Role.LEADER)
        assert acked.status_code == 200 and acked.json()["acknowledged"]
        async with stack.client(stack.commander) as http:
            seen = await http.get(path, headers=stack.headers(Role.OFFICER, "苏1283"))
        assert seen.status_code == 200 and seen.json()["officers"] == ["o-7", "o-8"]


async def _no_proposal(proposed: Any) -> bool:
    return bool(await proposed() == [])


async def test_a_cases_timeline_has_every_event_clock_and_command_with_its_audit_record(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await command_case(stack)
        view = await until_query(stack, case_id, "completed")
        urged = await post(stack, "/v1/commands", "苏12", Role.COMMAND, {
            "action": "urge", "case_id": case_id, "instruction": "请报告进展",
            "reply_working_days": 5,
        })  # fmt: skip
        assert urged.status_code == 201
        wanted = {
            "ApplicationReceived", "CaseFiled", "CaseNumberIssued", "NetworkQueryStarted",
            "NetworkQueryCompleted", "ClockOpened", "ClockCleared", "CommandIssued",
        }  # fmt: skip
        if view["assets"]:
            wanted |= {"AssetFound", "AssetsPushedToParties"}
        seen: list[dict[str, Any]] = []

        async def complete() -> bool:
            async with stack.client(stack.commander) as http:
                answer = await http.get(
                    f"/v1/cases/{case_id}/timeline", headers=stack.headers(Role.COMMAND, "苏12")
                )
            seen[:] = answer.json()
            opened = {e["payload"]["clock"]["rule_id"] for e in seen if e["event"] == "ClockOpened"}
            return (
                wanted <= {e["event"] for e in seen}
                and {"case.close", "asset.network-query", "command.urge-reply"} <= opened
                and all(e["audit"] for e in seen)
            )

        await eventually(complete)
        assert [e["at"] for e in seen] == sorted(e["at"] for e in seen)
        assert all(len(e["audit"]["hash"]) == 64 for e in seen)
        async with stack.client(stack.commander) as http:
            hidden = await http.get(
                f"/v1/cases/{case_id}/timeline", headers=stack.headers(Role.OFFICER, "苏1282")
            )
        assert hidden.status_code == 404
