"""Stop orders (执行规定 art 68) through the real stack: two disputes over conflicting
instruments stop 苏1283 on one case; while either stop is in force asset control refuses a
control and a sale, funds a payout and intake the closure, each with a 409 naming the
dispute and rule dispute.stop-enforcement, while a release and a renewal go through; the
lift of one dispute leaves the other's stop in force; when both are lifted the acts go
through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import (
    case_with,
    debtor_with,
    everything_found,
    file_case,
    money_and_online_house,
    until_query,
)
from tests.integration.test_disputes import act, case_known
from tests.integration.test_funds import COURT, HANDLER, RECEIVING, assign, opened
from tests.polling import eventually
from zhixing.assets import LIQUID_KINDS, AssetKind
from zhixing.auth import Role
from zhixing.stops import STOP_RULE, StopOrders

pytestmark = pytest.mark.integration


def stop_orders(stack: Stack) -> list[StopOrders]:
    """The projection of each of the three services that enforce stops."""
    assert stack.funds is not None
    return [
        stack.intake.http.state.intake.stops,
        stack.control.stops,
        stack.funds.http.state.funds.money_out.stops,
    ]


async def stopped_by(stack: Stack, case_id: str, disputes: set[str]) -> None:
    """Wait until every service sees exactly ``disputes`` stopping the case in 苏1283."""

    async def seen() -> bool:
        for stops in stop_orders(stack):
            if {s.dispute_id for s in await stops.in_force(case_id, COURT)} != disputes:
                return False
        return True

    await eventually(seen)


async def open_dispute(stack: Stack, case_id: str, subject: str, number: str) -> str:
    opened_ = await act(stack, "/v1/disputes", COURT, body={
        "courts": [COURT, "苏1282"], "subject": subject,
        "asset_key": "real_estate:泰房权证-0001", "case_ids": [case_id],
        "conflicting_instruments": [
            {"court_code": COURT, "document_number": f"（2026）苏1283执{number}号"},
            {"court_code": "苏1282", "document_number": f"（2026）苏1282执{number}号"},
        ],
    })  # fmt: skip
    assert opened_.status_code == 201, opened_.text
    dispute_id: str = opened_.json()["dispute_id"]
    return dispute_id


def refused_by(response: httpx.Response, *disputes: str) -> None:
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert STOP_RULE in detail
    for dispute in disputes:
        assert dispute in detail


async def test_a_stopped_court_neither_controls_sells_pays_nor_closes_until_every_stop_is_lifted(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_and_online_house)
    found = everything_found(debtor)
    # The claim covers the money and the house, so each may be controlled without exception.
    claim = sum(a.value_fen for a in found if AssetKind(a.kind) in LIQUID_KINDS or
                a.kind == AssetKind.REAL_ESTATE) + 50_000  # fmt: skip
    async with platform_stack(isolated, tmp_path, with_disputes=True, with_funds=True) as stack:
        case_id = await file_case(stack, case_with(debtor, claim))
        await assign(stack, case_id)
        view = await until_query(stack, case_id, "completed")
        account = (await opened(stack, case_id))["account_number"]
        await case_known(stack, case_id)
        seizer = stack.headers(Role.OFFICER, COURT, "officer-a")
        approver = stack.headers(Role.OFFICER, COURT, "officer-b")
        finance = stack.headers(Role.FINANCE, COURT, "finance-1")
        handler = stack.headers(Role.OFFICER, COURT, HANDLER)
        house = next(a for a in view["assets"] if a["kind"] == AssetKind.REAL_ESTATE)
        deposit = next(a for a in view["assets"] if a["status"] == "controlled"
                       and AssetKind(a["kind"]) in LIQUID_KINDS)  # fmt: skip
        house_path, deposit_path = (
            f"/v1/assets/{house['asset_id']}",
            f"/v1/assets/{deposit['asset_id']}",
        )

        # Before any stop: the house is controlled and priced, money arrives and is noticed.
        async with stack.client(stack.assets) as http:
            control = await http.post(f"{house_path}/control", json={}, headers=seizer)
            assert control.status_code == 200, control.text

            async def house_controlled() -> bool:
                asset = await stack.control.records.asset(house["asset_id"])
                return asset is not None and asset["status"] == "controlled"

            await eventually(house_controlled)
            for path, body in ((f"{house_path}/reference-price", {"method": "网络询价"}),
                               (f"{house_path}/reference-price/fixed",
                                {"price_fen": house["value_fen"]})):  # fmt: skip
                done = await http.post(path, json=body, headers=seizer)
                assert done.status_code == 204, done.text
        assert stack.funds is not None
        async with stack.client(stack.funds) as http:
            receipt = await http.post("/v1/receipts", headers=finance, json={
                "account_number": account, "bank_reference": "ICBC-STOP-1", "amount_fen": 80_000,
                "payer": "某某有限公司"})  # fmt: skip
            assert receipt.status_code == 201, receipt.text
            payment_id = receipt.json()["payment"]["payment_id"]
            notice = await http.post(f"/v1/cases/{case_id}/payments/{payment_id}/notice",
                                     headers=handler)  # fmt: skip
            assert notice.status_code == 201, notice.text
            payout_path = f"/v1/cases/{case_id}/notices/{notice.json()['notice_id']}/payout"
        payout = {"amount_fen": 80_000, "to_account": RECEIVING, "bank_reference": "OUT-STOP-1"}

        # Two disputes over conflicting instruments each stop 苏1283 on the case.
        first = await open_dispute(stack, case_id, "同一房产被两院分别裁定查封、过户", "1")
        second = await open_dispute(stack, case_id, "同一房产的抵押权顺位冲突", "2")
        await stopped_by(stack, case_id, {first, second})

        async def acts_refused(*disputes: str) -> None:
            async with stack.client(stack.assets) as http:
                refused_by(await http.post(f"{house_path}/sale", json={}, headers=approver),
                           *disputes)  # fmt: skip
                refused_by(await http.post(f"{deposit_path}/control", headers=seizer,
                                           json={"amount_fen": deposit["value_fen"]}),
                           *disputes)  # fmt: skip
            async with stack.client(stack.funds) as http:  # type: ignore[arg-type]
                refused_by(await http.post(payout_path, json=payout, headers=finance), *disputes)
            async with stack.client(stack.intake) as http:
                closure = await http.post(f"/v1/cases/{case_id}/closure", headers=seizer,
                                          json={"method": "执行完毕"})  # fmt: skip
                refused_by(closure, *disputes)
                # The refusal names the dispute's subject and the case's number too.
                assert "同一房产" in closure.json()["detail"]
                assert "（2026）苏1283执" in closure.json()["detail"]

        # The deposit's freeze is released, the house's control renewed: both allowed.
        async with stack.client(stack.assets) as http:
            released = await http.post(f"{deposit_path}/release", headers=seizer,
                                       json={"reason": "被执行人提供担保"})  # fmt: skip
            assert released.status_code == 204, released.text
            renewed = await http.post(f"{house_path}/renewal", headers=seizer)
            assert renewed.status_code == 204, renewed.text
            read: Any = await http.get(house_path, headers=seizer)
            assert read.status_code == 200
        await acts_refused(first, second)

        # The common superior lifts the second dispute's stop: the first still holds.
        lift = f"/v1/disputes/{second}/stops/{COURT}/lift"
        assert (await act(stack, lift, "苏12", Role.COMMAND)).status_code == 200
        await stopped_by(stack, case_id, {first})
        await acts_refused(first)

        # Both lifted: each act goes through.
        lift = f"/v1/disputes/{first}/stops/{COURT}/lift"
        assert (await act(stack, lift, "苏12", Role.COMMAND)).status_code == 200
        await stopped_by(stack, case_id, set())
        async with stack.client(stack.assets) as http:
            sale = await http.post(f"{house_path}/sale", json={}, headers=approver)
            assert sale.status_code == 204, sale.text
            control = await http.post(f"{deposit_path}/control", headers=seizer,
                                      json={"amount_fen": deposit["value_fen"]})  # fmt: skip
            assert control.status_code == 200, control.text
        async with stack.client(stack.funds) as http:
            paid = await http.post(payout_path, json=payout, headers=finance)
            assert paid.status_code == 201, paid.text
        async with stack.client(stack.intake) as http:

            async def closed() -> bool:
                # Refused while intake has yet to read the payout (rule case.money-paid-out).
                closure = await http.post(f"/v1/cases/{case_id}/closure", headers=seizer,
                                          json={"method": "执行完毕"})  # fmt: skip
                assert closure.status_code in (204, 409), closure.text
                assert closure.status_code == 204 or "case.money-paid-out" in closure.text
                return closure.status_code == 204

            await eventually(closed)
