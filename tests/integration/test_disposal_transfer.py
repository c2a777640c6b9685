"""Transfer of disposal to the priority creditor's court (法释〔2016〕6号 items 1–2) through
the real stack: a house first seized by one court and seized again (轮候) by the mortgagee's
court; a court without a seizure of its own asks and is told nothing; the mortgagee's court
asks for its disposal too early (refused by the gate), then in time (it reads its request,
not the house); the request opens the first court's answer
clock, which the requesting court observes; a refusal in time clears it; a second request
answered late breaches it, and the agreement moves the house's disposal and clocks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from services.asset_control.transfer_domain import ANSWER_CLOCK, REQUEST_GATE
from tests.conftest import Isolated
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import (
    case_with,
    debtor_with,
    file_case,
    money_and_online_house,
    until_query,
)
from tests.polling import eventually
from zhixing.assets import AssetKind
from zhixing.auth import Role
from zhixing.rules import catalogue

pytestmark = pytest.mark.integration

FIRST = "苏1283"
PRIORITY = "浙0102"  # the mortgagee's court, in another province
GATE_DAYS = catalogue().rule(REQUEST_GATE).period.limit
ANSWER_DAYS = catalogue().rule(ANSWER_CLOCK).period.limit
REQUEST = {"requesting_case_number": "（2026）浙0102执9号", "priority_claim": "抵押权"}


async def answer_clock(stack: Stack, asset_id: str) -> Any:
    clocks = {c.rule_id: c for c in await stack.engine.clocks_of(asset_id)}
    return clocks.get(ANSWER_CLOCK)


async def test_a_request_opens_the_first_courts_clock_and_an_agreement_moves_the_disposal(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_and_online_house)
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(debtor, 10**12, court=FIRST))
        view = await until_query(stack, case_id, "completed")
        house = next(a for a in view["assets"] if a["kind"] == AssetKind.REAL_ESTATE)
        asset_id = house["asset_id"]
        path = f"/v1/assets/{asset_id}/disposal-transfer-requests"

        # Tokens are issued on the simulated clock: a fresh one after each jump in time.
        def requester() -> dict[str, str]:
            return stack.headers(Role.OFFICER, PRIORITY, subject="p-1")

        def first_leader() -> dict[str, str]:
            return stack.headers(Role.LEADER, FIRST, subject="l-1")

        async with stack.client(stack.assets) as client:
            seized = await client.post(
                f"/v1/assets/{asset_id}/control", json={},
                headers=stack.headers(Role.OFFICER, FIRST, subject="o-1"),
            )  # fmt: skip
            assert seized.status_code == 200, seized.text

        async def controlled() -> bool:
            asset = await stack.control.records.asset(asset_id)
            return asset is not None and asset["status"] == "controlled"

        await eventually(controlled)

        # The mortgagee's court seizes the house too (轮候): its standing to ask.
        priority_case = await file_case(stack, case_with(debtor, 10**12, court=PRIORITY))

        found: list[str] = []

        async def priority_house() -> bool:
            case = await stack.control.records.case(priority_case)
            if case is None or case["query"]["status"] != "completed":
                return False
            assets = await stack.control.records.assets_of(case)
            found.extend(a["asset_id"] for a in assets if a["asset_key"] == house["asset_key"])
            return bool(found)

        await eventually(priority_house)
        waiting_id = found[0]
        async with stack.client(stack.assets) as client:
            waiting = await client.post(
                f"/v1/assets/{waiting_id}/control", json={},
                headers=stack.headers(Role.OFFICER, PRIORITY, subject="p-1"),
            )  # fmt: skip
            assert waiting.status_code == 200 and waiting.json()["status"] == "waiting", (
                waiting.text
            )
            # A court without a seizure of its own on the house is told nothing of it.
            stranger = stack.headers(Role.OFFICER, "京0105", subject="x-1")
            unknown = await client.post(path, json=REQUEST, headers=stranger)
            assert unknown.status_code == 404, unknown.text

        async with stack.client(stack.assets) as client:
            # A day short of the catalogue's period: refused, naming the gate.
            stack.clock.advance(dt.timedelta(days=GATE_DAYS - 1))
            early = await client.post(path, json=REQUEST, headers=requester())
            assert early.status_code == 409, early.text
            assert REQUEST_GATE in early.json()["detail"]
            # The other court cannot read the asset before it asks.
            unseen = await client.get(f"/v1/assets/{asset_id}", headers=requester())
            assert unseen.status_code == 404

            stack.clock.advance(dt.timedelta(days=2))
            asked = await client.post(path, json=REQUEST, headers=requester())
            assert asked.status_code == 201, asked.text
            assert asked.json()["status"] == "pending"
            # Asking reads the request, not the asset.
            seen = await client.get(path, headers=requester())
            assert seen.status_code == 200 and seen.json()["status"] == "pending", seen.text
            unseen = await client.get(f"/v1/assets/{asset_id}", headers=requester())
            assert unseen.status_code == 404

        async def clock_running() -> bool:
            clock = await answer_clock(stack, asset_id)
            return clock is not None and clock.status == "running"

        await eventually(clock_running)
        clock = await answer_clock(stack, asset_id)
        assert (clock.court_code, clock.observers) == (FIRST, [PRIORITY])

        # Refused in time: the clock clears, not late.
        async with stack.client(stack.assets) as client:
            refused = await client.post(
                f"{path}/answer", json={"agreed": False, "reason": "优先债权尚未确认"},
                headers=first_leader(),
            )  # fmt: skip
            assert refused.status_code == 200, refused.text
            told = await client.get(path, headers=requester())
            assert told.status_code == 200 and told.json()["reason"] == "优先债权尚未确认"

        async def clock_cleared() -> bool:
            clock = await answer_clock(stack, asset_id)
            return clock is not None and clock.status == "cleared"

        await eventually(clock_cleared)
        assert not (await answer_clock(stack, asset_id)).breached

        # Asked again, answered after the catalogue's days: the clock breaches.
        async with stack.client(stack.assets) as client:
            again = await client.post(path, json=REQUEST, headers=requester())
            assert again.status_code == 201, again.text
        await eventually(clock_running)
        stack.clock.advance(dt.timedelta(days=ANSWER_DAYS + 2))

        async def breached() -> bool:
            clock = await answer_clock(stack, asset_id)
            return clock is not None and clock.breached

        await eventually(breached)
        async with stack.client(stack.assets) as client:
            agreed = await client.post(
                f"{path}/answer", json={"agreed": True}, headers=first_leader()
            )
            assert agreed.status_code == 200, agreed.text
            assert agreed.json()["status"] == "agreed"
        await eventually(clock_cleared)

        # The disposal moved: the house is handled by the priority court, its control term
        # with it (继续查封 under the transfer letter); the case stays with the first court.
        async def term_moved() -> bool:
            clocks = {c.rule_id: c for c in await stack.engine.clocks_of(asset_id)}
            term = clocks.get("asset.control-term-real-estate")
            return term is not None and term.court_code == PRIORITY

        await eventually(term_moved)
        async with stack.client(stack.assets) as client:
            for headers in (requester(), first_leader()):
                read = await client.get(f"/v1/assets/{asset_id}", headers=headers)
                assert read.status_code == 200, read.text
                assert read.json()["court_code"] == PRIORITY
                assert read.json()["transfer"]["status"] == "agreed"
            case = await client.get(f"/v1/cases/{case_id}", headers=first_leader())
            assert case.json()["court_code"] == FIRST
