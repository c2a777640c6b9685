"""Matter entrustment through the real stack: intake, asset control, entrustment and the
command service's clocks on Kafka and Redis, under a simulated clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.integration.platform_stack import MONDAY_9AM, Stack, platform_stack
from tests.integration.test_asset_control import case_with, file_case, until_query
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ

pytestmark = pytest.mark.integration

HANGZHOU_SHANGCHENG = "330102"  # 杭州市上城区 → 浙0102, another province


def client(stack: Stack) -> httpx.AsyncClient:
    assert stack.entrustment is not None
    return stack.client(stack.entrustment)


async def entrust(
    stack: Stack, case_id: str, overrides: dict[str, Any] | None = None
) -> httpx.Response:
    body = {
        "case_id": case_id,
        "matter_type": "deposit_freeze",
        "description": "冻结被执行人在杭州某银行账户内的存款",
        "location_division": HANGZHOU_SHANGCHENG,
        "documents": ["执行裁定书", "协助冻结存款通知书"],
        **(overrides or {}),
    }
    async with client(stack) as http:
        return await http.post(
            "/v1/entrustments", json=body, headers=stack.headers(Role.OFFICER, "苏1283")
        )


async def clocks(stack: Stack, subject: str, court: str, role: Role) -> dict[str, Any]:
    assert stack.command is not None
    async with stack.client(stack.command) as http:
        response = await http.get(
            f"/v1/subjects/{subject}/clocks", headers=stack.headers(role, court)
        )
    assert response.status_code == 200, response.text
    return {c["rule_id"]: c for c in response.json()}


async def test_a_matter_is_entrusted_across_provinces_ordered_done_and_returned_to_the_case(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_entrustment=True) as stack:
        case_id = await file_case(stack, case_with(credit_code(31), 10**9))
        await until_query(stack, case_id, "completed")

        async def known() -> bool:
            async with client(stack) as http:
                found = await http.get(
                    f"/v1/cases/{case_id}", headers=stack.headers(Role.OFFICER, "苏1283")
                )
            return found.status_code == 200

        await eventually(known)
        created = await entrust(stack, case_id)
        assert created.status_code == 201, created.text
        matter = created.json()
        assert matter["entrusted_court"] == "浙0102"
        assert matter["entrusted_court_name"] == "杭州市上城区人民法院"
        entrustment_id = matter["entrustment_id"]

        # Both clocks open, owned by the entrusted court, readable by both courts and the
        # command centres above each, and by no one else.
        async def clocks_open() -> bool:
            seen = await clocks(stack, entrustment_id, "浙0102", Role.OFFICER)
            return {"entrustment.start", "entrustment.status-report"} <= set(seen)

        await eventually(clocks_open)
        start = (await clocks(stack, entrustment_id, "浙0102", Role.OFFICER))["entrustment.start"]
        assert start["court_code"] == "浙0102"
        assert start["last_day"] == "2026-03-17"  # received 3-2; 15 days from the next day
        for court, role in (
            ("苏1283", Role.OFFICER),
            ("苏12", Role.COMMAND),
            ("浙01", Role.COMMAND),
        ):
            assert "entrustment.start" in await clocks(stack, entrustment_id, court, role)
        assert await clocks(stack, entrustment_id, "苏1282", Role.OFFICER) == {}

        async with client(stack) as http:
            path = f"/v1/entrustments/{entrustment_id}"
            assert (
                await http.get(path, headers=stack.headers(Role.OFFICER, "苏1282"))
            ).status_code == 404
            assert (
                await http.get(path, headers=stack.headers(Role.COMMAND, "浙01"))
            ).status_code == 200
            # Too early to ask the superior: the entrusted court still has time.
            early = await http.post(
                f"{path}/order-request", headers=stack.headers(Role.OFFICER, "苏1283")
            )
            assert early.status_code == 409

        # The last day passes without a start: the clock breaches the next day, not before.
        stack.clock.set(dt.datetime(2026, 3, 17, 23, 0, tzinfo=CHINA_TZ))

        async def breached() -> bool:
            seen = await clocks(stack, entrustment_id, "浙0102", Role.OFFICER)
            return bool(seen["entrustment.start"]["breached"])

        # Warned when two working days remained (3-16, 3-17: at the end of 3-15) and on
        # the last day; not breached yet.
        async def warned() -> bool:
            seen = await clocks(stack, entrustment_id, "浙0102", Role.OFFICER)
            fired = seen["entrustment.start"]["fired"]
            return {"warn:working_days_remaining=2@1", "warn:due_day=True@1"} <= set(fired)

        await eventually(warned)
        assert not await breached()
        stack.clock.set(dt.datetime(2026, 3, 18, 0, 1, tzinfo=CHINA_TZ))
        await eventually(breached)

        async with client(stack) as http:

            async def overdue() -> bool:
                record = (
                    await http.get(path, headers=stack.headers(Role.OFFICER, "苏1283"))
                ).json()
                return bool(record["start_overdue"])

            await eventually(overdue)
            asked = await http.post(
                f"{path}/order-request", headers=stack.headers(Role.OFFICER, "苏1283")
            )
            assert asked.status_code == 200 and asked.json()["asked"] == "浙01"
            not_superior = await http.post(
                f"{path}/order", json={"instruction": "立即办理"},
                headers=stack.headers(Role.COMMAND, "苏12"),
            )  # fmt: skip
            assert not_superior.status_code == 403  # 苏12 sees it (above 苏1283), orders not
            ordered = await http.post(
                f"{path}/order", json={"instruction": "立即办理"},
                headers=stack.headers(Role.COMMAND, "浙01"),
            )  # fmt: skip
            assert ordered.status_code == 204, ordered.text
            # Only the entrusted court acts on the matter.
            wrong = await http.post(f"{path}/start", headers=stack.headers(Role.OFFICER, "苏1283"))
            assert wrong.status_code == 403
            started = await http.post(
                f"{path}/start", headers=stack.headers(Role.OFFICER, "浙0102")
            )
            assert started.status_code == 204

        # The start opens the handling clock, read by both courts and the courts above.
        async def handling() -> bool:
            seen = await clocks(stack, entrustment_id, "苏1283", Role.OFFICER)
            return "entrustment.handle" in seen

        await eventually(handling)
        handle = (await clocks(stack, entrustment_id, "苏12", Role.COMMAND))["entrustment.handle"]
        assert handle["court_code"] == "浙0102" and "苏1283" in handle["observers"]
        assert "entrustment.handle" not in await clocks(
            stack, entrustment_id, "苏1282", Role.OFFICER
        )

        async with client(stack) as http:
            done = await http.post(
                f"{path}/completion",
                json={
                    "result": "已冻结", "documents": ["回执"],
                    "control": {
                        "kind": "bank_deposit", "asset_key": "bank:杭州-0001",
                        "description": "某银行杭州分行账户存款", "value_fen": 500_000,
                        "amount_fen": 500_000, "measure": "freeze",
                        "control_ref": "（2026）浙0102执协1号", "location_division": "330102",
                    },
                },
                headers=stack.headers(Role.OFFICER, "浙0102"),
            )  # fmt: skip
            assert done.status_code == 204, done.text

        # The freeze is an asset of the entrusting court's case, controlled.
        async def recorded() -> bool:
            async with stack.client(stack.assets) as http:
                view = (
                    await http.get(
                        f"/v1/cases/{case_id}/assets", headers=stack.headers(Role.OFFICER)
                    )
                ).json()
            return any(
                a["source"] == "entrustment" and a["status"] == "controlled"
                and a["control_ref"] == "（2026）浙0102执协1号"
                for a in view["assets"]
            )  # fmt: skip

        await eventually(recorded)

        async def cleared() -> bool:
            seen = await clocks(stack, entrustment_id, "苏1283", Role.OFFICER)
            return all(
                seen[r]["status"] == "cleared"
                for r in ("entrustment.start", "entrustment.status-report")
            )

        await eventually(cleared)


async def test_entrusting_is_refused_with_reasons_and_a_return_is_recorded(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(
        isolated, tmp_path, with_command=False, with_entrustment=True
    ) as stack:
        case_id = await file_case(stack, case_with(credit_code(32), 10**9))

        async def known() -> bool:
            return (await entrust(stack, case_id)).status_code == 201

        await eventually(known)
        cases = [
            ({"location_division": "12345"}, 422, "location_division"),
            ({"location_division": "321283"}, 422, "own region"),
            ({"location_division": "110101"}, 422, "no basic court"),
            ({"matter_type": "real_estate_transfer"}, 422, "control_expires_on"),
            ({"matter_type": "real_estate_transfer",
              "control_expires_on": (MONDAY_9AM.date() + dt.timedelta(days=20)).isoformat()},
             409, "renew it"),
            ({"case_id": "no-such-case"}, 404, "no case"),
        ]  # fmt: skip
        for overrides, status, says in cases:
            refused = await entrust(stack, case_id, overrides)
            assert refused.status_code == status, (overrides, refused.text)
            assert says in refused.text
        in_three_months = (MONDAY_9AM.date() + dt.timedelta(days=90)).isoformat()
        fine = await entrust(
            stack,
            case_id,
            {"matter_type": "real_estate_transfer", "control_expires_on": in_three_months},
        )
        assert fine.status_code == 201

        # A completion reports a control only for a matter that controls an asset, and a
        # control that fits it: each refusal names the field.
        control = {
            "kind": "bank_deposit", "asset_key": "acct-1", "description": "存款",
            "value_fen": 1_000_000, "amount_fen": 1_000_000, "measure": "freeze",
            "control_ref": "（2026）浙0102执协2号", "location_division": HANGZHOU_SHANGCHENG,
        }  # fmt: skip
        served = await entrust(stack, case_id, {"matter_type": "service_of_documents"})
        freezing = await entrust(stack, case_id)
        assert served.status_code == freezing.status_code == 201
        refusals: list[tuple[httpx.Response, dict[str, Any], list[str]]] = [
            (served, {}, ["body", "control"]),
            (freezing, {"location_division": "999999"}, ["body", "control", "location_division"]),
            (freezing, {"measure": "detain"}, ["body", "control", "measure"]),
            (freezing, {"kind": "real_estate", "measure": "seize"}, ["body", "control", "kind"]),
            (freezing, {"amount_fen": 5, "value_fen": 1}, ["body", "control", "amount_fen"]),
        ]
        async with client(stack) as http:
            for matter, changes, loc in refusals:
                refused = await http.post(
                    f"/v1/entrustments/{matter.json()['entrustment_id']}/completion",
                    json={"result": "已办结", "control": {**control, **changes}},
                    headers=stack.headers(Role.OFFICER, "浙0102"),
                )
                assert refused.status_code == 422, (changes, refused.text)
                assert refused.json()["detail"][0]["loc"] == loc

        path = f"/v1/entrustments/{fine.json()['entrustment_id']}"
        async with client(stack) as http:
            returned = await http.post(
                f"{path}/return", json={"reason": "该房产不在本院辖区"},
                headers=stack.headers(Role.OFFICER, "浙0102"),
            )  # fmt: skip
            assert returned.status_code == 204
            record = (await http.get(path, headers=stack.headers(Role.OFFICER, "苏1283"))).json()
            assert record["status"] == "returned"
            assert record["history"][-1]["reason"] == "该房产不在本院辖区"
            late = await http.post(f"{path}/start", headers=stack.headers(Role.OFFICER, "浙0102"))
            assert late.status_code == 409
            mine = await http.get("/v1/entrustments", headers=stack.headers(Role.OFFICER, "浙0102"))
            assert {e["entrustment_id"] for e in mine.json()} >= {fine.json()["entrustment_id"]}
