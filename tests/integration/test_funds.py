"""Case funds through the real stack: intake files a case on Kafka and the funds service
opens its account; money arrives by receipt and by deduction through the agency gateway
(whose answers come twice), is held in part, noticed and paid under the rules; a missed
notice breaches and escalates; a crash between recording and publishing loses and doubles
nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.funds.bootstrap import bootstrap as funds_bootstrap
from services.funds.handlers import Funds
from tests.conftest import Isolated, read_topic
from tests.factories import ACTOR, filing
from tests.integration.platform_stack import MONDAY_9AM, Stack, platform_stack
from tests.integration.test_asset_control import (
    case_with,
    debtor_with,
    everything_found,
    file_case,
    money_and_online_house,
    until_query,
)
from tests.polling import eventually
from zhixing.assets import LIQUID_KINDS, AssetKind
from zhixing.auth import Role
from zhixing.builder import Infrastructure
from zhixing.case_accounts import case_account_number
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import decode_event, new_event
from zhixing.publisher import EventPublisher
from zhixing.settings import ServiceSettings
from zhixing.topics import DEADLINE_EVENTS, FUNDS_EVENTS
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import case_events_pb2
from zhixing.v1 import deadline_events_pb2 as deadline_pb

pytestmark = pytest.mark.integration

COURT = "苏1283"
RECEIVING = "6222 0212 0000 0001"  # tests.factories.filing's receiving account
HANDLER = "officer-9"  # the officer assigned to the case


def some_money_online(assets: list[agency_pb.AgencyAsset]) -> bool:
    return any(AssetKind(a.kind) in LIQUID_KINDS and a.online_control for a in assets)


async def funds_events(isolated: Isolated) -> list[Any]:
    return [decode_event(r.value).payload for r in await read_topic(isolated, FUNDS_EVENTS.name)]


async def ledger(stack: Stack, case_id: str, role: Role = Role.COMMAND) -> dict[str, Any]:
    assert stack.funds is not None
    court = "苏12" if role is Role.COMMAND else COURT
    async with stack.client(stack.funds) as http:
        response = await http.get(f"/v1/cases/{case_id}/funds", headers=stack.headers(role, court))
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def opened(stack: Stack, case_id: str) -> dict[str, Any]:
    assert stack.funds is not None
    seen: dict[str, Any] = {}

    async def account_open() -> bool:
        async with stack.client(stack.funds) as http:  # type: ignore[arg-type]
            response = await http.get(
                f"/v1/cases/{case_id}/funds", headers=stack.headers(Role.COMMAND, "苏12")
            )
        if response.status_code == 200:
            seen.update(response.json())
            return bool(seen["officer_id"])
        return False

    await eventually(account_open)
    return seen


async def assign(stack: Stack, case_id: str) -> None:
    async with stack.client(stack.intake) as http:
        response = await http.post(
            f"/v1/cases/{case_id}/assignment",
            json={"officer_id": HANDLER, "team": "法官团队"},
            headers=stack.headers(Role.LEADER, COURT, "leader-1"),
        )
    assert response.status_code in (200, 204), response.text


async def test_money_in_once_held_in_part_and_paid_out_under_the_rules(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(some_money_online)
    money = [a for a in everything_found(debtor) if AssetKind(a.kind) in LIQUID_KINDS]
    claim = sum(a.value_fen for a in money) + 1_000_000
    body = filing(COURT, debtors=[{"kind": "organisation", "name": "某某有限公司",
                                   "id_number": debtor}], claim_amount_fen=claim)  # fmt: skip
    async with platform_stack(
        isolated, tmp_path, with_funds=True, gateway={"duplicate_rate": 1.0}
    ) as stack:
        assert stack.funds is not None
        case_id = await file_case(stack, body)
        await assign(stack, case_id)
        view = await until_query(stack, case_id, "completed")
        account = (await opened(stack, case_id))["account_number"]
        async with stack.client(stack.intake) as http:
            case = (await http.get(f"/v1/cases/{case_id}",
                                   headers=stack.headers(Role.OFFICER, COURT))).json()  # fmt: skip
        assert case["case_account"] == account  # the number the execution notice states

        finance = stack.headers(Role.FINANCE, COURT, "finance-1")
        officer = stack.headers(Role.OFFICER, COURT, HANDLER)
        leader = stack.headers(Role.LEADER, COURT, "leader-1")
        async with stack.client(stack.funds) as http:
            # The debtor pays 500,000 fen into the case's account: once, however often the
            # bank statement is imported.
            receipt = {"account_number": account, "bank_reference": "ICBC-0001",
                       "amount_fen": 500_000, "payer": "某某有限公司"}  # fmt: skip
            first = await http.post("/v1/receipts", json=receipt, headers=finance)
            assert first.status_code == 201, first.text
            again = await http.post("/v1/receipts", json=receipt, headers=finance)
            assert again.status_code == 200 and again.json()["duplicate"] is True
            payment_id = first.json()["payment"]["payment_id"]
            # Money for no case is refused at the door, never parked.
            nobody = case_account_number(COURT, 2026, "执", 9_999_999)
            unknown = await http.post("/v1/receipts", headers=finance,
                                      json={**receipt, "account_number": nobody})  # fmt: skip
            assert unknown.status_code == 404
            assert "funds.one-case-one-account" in unknown.json()["detail"]
            wrong_digit = account[:-1] + ("1" if account[-1] == "0" else "0")
            mistyped = await http.post(
                "/v1/receipts", headers=finance, json={**receipt, "account_number": wrong_digit}
            )
            assert mistyped.status_code == 422

            # A frozen deposit is deducted (扣划); the gateway answers twice.
            frozen = next(a for a in view["assets"] if a["status"] == "controlled"
                          and AssetKind(a["kind"]) in LIQUID_KINDS)  # fmt: skip
            deduction = await http.post(
                f"/v1/cases/{case_id}/deductions", headers=officer,
                json={"asset_id": frozen["asset_id"], "amount_fen": frozen["amount_fen"]},
            )  # fmt: skip
            assert deduction.status_code == 202, deduction.text

            async def deducted() -> bool:
                seen = await ledger(stack, case_id)
                return any(d["status"] == "transferred" for d in seen["deductions"])

            await eventually(deducted)
            seen = await ledger(stack, case_id)
            sources = Counter(p["source"] for p in seen["payments"])
            assert sources == {"payment": 1, "deduction": 1}
            assert seen["totals"]["received_fen"] == 500_000 + frozen["amount_fen"]

            # 200,000 fen are disputed: held with a leader's approval; the rest is noticed.
            hold = await http.post(f"/v1/cases/{case_id}/holds", headers=officer, json={
                "payment_id": payment_id, "amount_fen": 200_000, "kind": "defer",
                "reason": "disputed", "note": "案外人对部分款项主张权利"})  # fmt: skip
            assert hold.status_code == 201, hold.text
            decision = f"/v1/cases/{case_id}/holds/{hold.json()['hold_id']}/decision"
            self_approval = await http.post(decision, headers=officer, json={"approve": True})
            assert self_approval.status_code == 403
            approved = await http.post(decision, headers=leader, json={"approve": True})
            assert approved.status_code == 200 and approved.json()["status"] == "held"
            notice = await http.post(f"/v1/cases/{case_id}/payments/{payment_id}/notice",
                                     headers=officer)  # fmt: skip
            assert notice.status_code == 201 and notice.json()["amount_fen"] == 300_000
            payout = f"/v1/cases/{case_id}/notices/{notice.json()['notice_id']}/payout"
            pay = {"amount_fen": 300_000, "to_account": RECEIVING, "bank_reference": "OUT-1"}

            by_officer = await http.post(payout, headers=officer, json=pay)
            assert by_officer.status_code == 403
            assert "funds.separation-of-duties" in by_officer.json()["detail"]
            by_handler = await http.post(
                payout, headers=stack.headers(Role.FINANCE, COURT, HANDLER), json=pay
            )
            assert by_handler.status_code == 403 and "handles the case" in by_handler.text
            too_much = await http.post(payout, headers=finance,
                                       json={**pay, "amount_fen": 300_001})  # fmt: skip
            assert too_much.status_code == 409
            assert "300001" in too_much.text and "300000" in too_much.text
            other_account = {**pay, "to_account": "6217 9999 0000 0001"}
            elsewhere = await http.post(payout, headers=finance, json=other_account)
            assert elsewhere.status_code == 409 and "funds.receiving-account" in elsewhere.text
            paid = await http.post(payout, headers=finance, json=pay)
            assert paid.status_code == 201, paid.text

            seen = await ledger(stack, case_id)
            totals = seen["totals"]
            assert (totals["paid_fen"], totals["held_fen"]) == (300_000, 200_000)
            assert totals["received_fen"] == totals["paid_fen"] + totals["in_account_fen"]

            reconciled = await http.get("/v1/funds/reconciliation",
                                        headers=stack.headers(Role.COMMAND, "苏12"))  # fmt: skip
            assert reconciled.status_code == 200
            assert all(r["balances"] for r in reconciled.json())
            mine = next(r for r in reconciled.json() if r["court_code"] == COURT)
            assert mine["received_fen"] == totals["received_fen"]

        # The receipt's notify clock cleared at its notice, the notice's pay clock at the
        # payout; the deduction, not yet noticed, still runs on its own clock.
        deducted_id = next(p["payment_id"] for p in seen["payments"] if p["source"] == "deduction")
        notice_id = notice.json()["notice_id"]
        wanted = {
            ("funds.notify-finance", payment_id): "cleared",
            ("funds.pay", notice_id): "cleared",
            ("funds.notify-finance", deducted_id): "running",
        }

        async def clocks_settled() -> bool:
            clocks = await stack.engine.clocks_of(case_id)
            funds_clocks = {(c.rule_id, c.per_values[0]): c.status.value for c in clocks
                            if c.rule_id.startswith("funds.")}  # fmt: skip
            return funds_clocks == wanted

        await eventually(clocks_settled)
        events = Counter(type(p).__name__ for p in await funds_events(isolated))
        assert events["FundsArrived"] == 2 and events["FundsPaid"] == 1


async def test_a_house_sold_brings_its_proceeds_and_its_seizer_cannot_approve_their_payout(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_and_online_house)
    money = sum(a.value_fen for a in everything_found(debtor) if AssetKind(a.kind) in LIQUID_KINDS)
    async with platform_stack(isolated, tmp_path, with_funds=True) as stack:
        assert stack.funds is not None
        case_id = await file_case(stack, case_with(debtor, money + 50_000))
        await assign(stack, case_id)
        view = await until_query(stack, case_id, "completed")
        house = next(a for a in view["assets"] if a["kind"] == AssetKind.REAL_ESTATE)
        seizer = stack.headers(Role.OFFICER, COURT, "officer-a")
        other = stack.headers(Role.OFFICER, COURT, "officer-b")
        path = f"/v1/assets/{house['asset_id']}"
        async with stack.client(stack.assets) as http:
            steps = [
                (f"{path}/over-seizure-exception", {"reason": "房屋不可分割"},
                 stack.headers(Role.LEADER, COURT, "leader-1")),
                (f"{path}/control", {}, seizer),
            ]  # fmt: skip
            for url, body, headers in steps:
                response = await http.post(url, json=body, headers=headers)
                assert response.status_code in (200, 204), response.text

        async def house_controlled() -> bool:
            asset = await stack.control.records.asset(house["asset_id"])
            return asset is not None and asset["status"] == "controlled"

        await eventually(house_controlled)
        async with stack.client(stack.assets) as http:
            steps = [
                (f"{path}/reference-price", {"method": "网络询价"}, seizer),
                (f"{path}/reference-price/fixed", {"price_fen": house["value_fen"]}, seizer),
                (f"{path}/sale", {}, other),
                (f"{path}/sale/completion",
                 {"proceeds_fen": house["value_fen"], "sale_reference": "JD-2026-0001"}, other),
            ]  # fmt: skip
            for url, body, headers in steps:
                response = await http.post(url, json=body, headers=headers)
                assert response.status_code == 204, (url, response.text)

        async def proceeds_arrived() -> bool:
            return any(p["source"] == "sale" for p in (await ledger(stack, case_id))["payments"])

        await eventually(proceeds_arrived)
        sale = next(p for p in (await ledger(stack, case_id))["payments"] if p["source"] == "sale")
        assert sale["amount_fen"] == house["value_fen"]
        assert sale["controlled_by"] == ["officer-a"]
        async with stack.client(stack.funds) as http:
            notice = await http.post(
                f"/v1/cases/{case_id}/payments/{sale['payment_id']}/notice",
                headers=stack.headers(Role.OFFICER, COURT, HANDLER),
            )
            assert notice.status_code == 201, notice.text
            payout = f"/v1/cases/{case_id}/notices/{notice.json()['notice_id']}/payout"
            pay = {"amount_fen": sale["amount_fen"], "to_account": RECEIVING,
                   "bank_reference": "OUT-HOUSE"}  # fmt: skip
            # The officer who seized the house, even holding the finance role, may not.
            by_seizer = await http.post(
                payout, json=pay, headers=stack.headers(Role.FINANCE, COURT, "officer-a")
            )
            assert by_seizer.status_code == 403
            assert "controlled the asset" in by_seizer.json()["detail"]
            paid = await http.post(
                payout, json=pay, headers=stack.headers(Role.FINANCE, COURT, "finance-1")
            )
            assert paid.status_code == 201, paid.text


async def test_a_notice_not_sent_in_time_breaches_and_escalates(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_funds=True) as stack:
        assert stack.funds is not None
        case_id = await file_case(stack, filing(COURT))
        await assign(stack, case_id)
        account = (await opened(stack, case_id))["account_number"]
        async with stack.client(stack.funds) as http:
            receipt = {"account_number": account, "bank_reference": "BOC-7", "amount_fen": 1000}
            response = await http.post(
                "/v1/receipts", json=receipt, headers=stack.headers(Role.FINANCE, COURT)
            )
            assert response.status_code == 201, response.text

        async def notify_clock() -> Any:
            clocks = await stack.engine.clocks_of(case_id)
            return next((c for c in clocks if c.rule_id == "funds.notify-finance"), None)

        async def running() -> bool:
            return await notify_clock() is not None

        await eventually(running)
        # 10 working days from Monday 2 March run 3 March to 16 March; on the 17th it is late.
        stack.clock.set(dt.datetime(2026, 3, 17, 9, 0, tzinfo=CHINA_TZ))

        async def escalated() -> bool:
            records = await read_topic(isolated, DEADLINE_EVENTS.name)
            return any(
                isinstance(p := decode_event(r.value).payload, deadline_pb.ClockEscalated)
                and p.clock.rule_id == "funds.notify-finance"
                for r in records
            )

        await eventually(escalated)
        clock = await notify_clock()
        assert clock is not None and clock.breached


async def test_a_crash_between_recording_a_receipt_and_publishing_it_loses_and_doubles_nothing(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    infra = Infrastructure(
        clock=clock, kafka=isolated.kafka, redis=isolated.redis_settings, auth=isolated.auth,
        ports=ServiceSettings(http_port=0, grpc_port=0),
    )  # fmt: skip
    account = case_account_number(COURT, 2026, "执", 41)
    filed = case_events_pb2.CaseFiled(
        case_id="case-41", court_code=COURT, case_type_code="执", claim_amount_fen=10_000,
        case_number="（2026）苏1283执41号", case_account=account, receiving_account=RECEIVING,
    )  # fmt: skip
    first = funds_bootstrap(infra)
    await first.start()
    await publisher.publish(new_event(filed, aggregate_id="case-41", court_code=COURT,
                                      actor=ACTOR, clock=clock))  # fmt: skip
    funds: Funds = first.http.state.funds

    async def account_opened() -> bool:
        return await funds.records.get("case-41") is not None

    await eventually(account_opened)
    await first.stop()

    # The receipt is recorded, and the process dies before its relay publishes anything.
    dying = funds_bootstrap(infra)
    finance = dying.ctx.tokens.verify(
        first.ctx.tokens.issue(subject="finance-1", court_code=COURT, role=Role.FINANCE)
    )
    recorder: Funds = dying.http.state.funds
    await recorder.money_in.record_receipt(
        identity=finance, account_number=account, bank_reference="CCB-41", amount=4_100,
        payer="", arrived_on=None,
    )  # fmt: skip
    await dying.ctx.redis.aclose()

    restarted = funds_bootstrap(infra)
    await restarted.start()
    try:
        headers = {"Authorization": "Bearer " + restarted.ctx.tokens.issue(
            subject="finance-1", court_code=COURT, role=Role.FINANCE)}  # fmt: skip
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{restarted.http_port}") as http:
            same = {"account_number": account, "bank_reference": "CCB-41", "amount_fen": 4_100}
            retried = await http.post("/v1/receipts", headers=headers, json=same)
            assert retried.status_code == 200 and retried.json()["duplicate"] is True

        async def published() -> bool:
            outbox = await restarted.ctx.redis.xlen(restarted.ctx.outbox.stream)
            names = [type(p).__name__ for p in await funds_events(isolated)]
            return outbox == 0 and "FundsArrived" in names

        await eventually(published)
        names = Counter(type(p).__name__ for p in await funds_events(isolated))
        assert names == {"CaseAccountOpened": 1, "FundsArrived": 1}
    finally:
        await restarted.stop()


async def test_reconcile_proves_every_court_balances_and_names_the_first_case_that_does_not(
    isolated: Isolated,
) -> None:
    from typer.testing import CliRunner

    from services.funds.repository import FundsRecords
    from tests.fakes import person
    from tools.cli import app
    from zhixing.state import KeySpace

    records = FundsRecords(isolated.redis, KeySpace(isolated.prefix, "funds"))
    ctx_clock = SimulatedClock(MONDAY_9AM)
    host = funds_bootstrap(Infrastructure(
        clock=ctx_clock, kafka=isolated.kafka, redis=isolated.redis_settings, auth=isolated.auth,
        ports=ServiceSettings(http_port=0, grpc_port=0),
    ))  # fmt: skip
    funds: Funds = host.http.state.funds
    for n, court in ((1, "苏1283"), (2, "苏1282")):
        account = case_account_number(court, 2026, "执", n)
        await funds.accounts.open_account(
            case_id=f"case-{n}", case_number=f"（2026）{court}执{n}号", court_code=court,
            account_number=account, receiving_account=RECEIVING, claim_fen=10_000,
        )  # fmt: skip
        await funds.money_in.record_receipt(
            identity=person(Role.FINANCE, court), account_number=account,
            bank_reference=f"R-{n}", amount=1_000 * n, payer="", arrived_on=None,
        )  # fmt: skip
    await host.ctx.redis.aclose()
    env = {"ZHIXING_REDIS_URL": isolated.redis_settings.url,
           "ZHIXING_REDIS_KEY_PREFIX": isolated.prefix}  # fmt: skip
    runner = CliRunner()

    def reconcile(*args: str) -> Any:
        return runner.invoke(app, ["funds", "reconcile", *args], env=env)

    balanced = await asyncio.to_thread(reconcile, "--court", "苏12")
    assert balanced.exit_code == 0, balanced.output
    assert "2 cases" in balanced.stdout and "finance's review" not in balanced.stdout
    # A deduction whose answer could not be recorded: the money balances, and the command
    # says what its figures may not hold yet.
    record = await records.get("case-1")
    assert record is not None
    record["deductions"]["d-1"] = {"deduction_id": "d-1", "status": "unrecorded",
                                   "amount_fen": 700}  # fmt: skip
    async with isolated.redis.pipeline(transaction=True) as pipe:
        records.put(pipe, "case-1", record)
        await pipe.execute()
    to_review = await asyncio.to_thread(reconcile, "--court", "苏12")
    assert to_review.exit_code == 0, to_review.output
    assert "1 deduction awaits finance's review (700 fen asked)" in to_review.stdout
    # A payout written past the service (its entry, not its counters): found, by case number.
    record = await records.get("case-2")
    assert record is not None
    record["payouts"]["forged"] = {"payout_id": "forged", "amount_fen": 500}
    async with isolated.redis.pipeline(transaction=True) as pipe:
        records.put(pipe, "case-2", record)
        await pipe.execute()
    unbalanced = await asyncio.to_thread(reconcile, "--court", "苏12")
    assert unbalanced.exit_code == 1
    assert "（2026）苏1282执2号" in unbalanced.stderr
    only_mine = await asyncio.to_thread(reconcile, "--court", "苏1283")
    assert only_mine.exit_code == 0, only_mine.output
    unknown = await asyncio.to_thread(reconcile, "--court", "苏9999")
    assert unknown.exit_code == 2


async def test_the_demo_pays_money_into_some_cases_once_however_often_it_is_loaded(
    isolated: Isolated, tmp_path: Path
) -> None:
    from tools.demo import DEMO_BASIC_COURTS, load_demo, load_demo_funds

    async with platform_stack(isolated, tmp_path, with_funds=True) as stack:
        assert stack.funds is not None
        intake_url = f"http://127.0.0.1:{stack.intake.http_port}"
        funds_url = f"http://127.0.0.1:{stack.funds.http_port}"
        # The demo's judgments are of June 2026: load it when they are in the past.
        stack.clock.set(dt.datetime(2026, 7, 1, 9, 0, tzinfo=CHINA_TZ))
        for _ in range(2):
            case_ids = await asyncio.to_thread(load_demo, intake_url, stack.tokens)
            recorded = await asyncio.to_thread(load_demo_funds, funds_url, stack.tokens, case_ids)
            assert recorded == 2 * len(DEMO_BASIC_COURTS)
        events = Counter(type(p).__name__ for p in await funds_events(isolated))
        assert events["FundsArrived"] == 2 * len(DEMO_BASIC_COURTS)
        assert events["FundsPaid"] == len(DEMO_BASIC_COURTS)
