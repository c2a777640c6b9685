"""The funds service's handlers on the in-memory repository: one account per case, money
in once per bank reference, holds approved by a leader, the undisputed part paid first,
payouts by someone else than the officer (分段办理), never more out than in, and a ledger
that balances."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from google.protobuf.message import Message
from pydantic import ValidationError

from services.funds.domain import totals
from services.funds.handlers import Funds
from services.funds.http_api import AccountChangeIn, PayoutIn, ReceiptIn
from services.funds.money_in import asset_facts
from services.funds.reactions import AssetFacts
from services.funds.repository import FundsRecords
from tests.factories import ACTOR, START, stop_ordered_event
from tests.fakes import in_memory_context, person, project, staged, staged_types
from zhixing.auth import Identity, PrincipalKind, Role, ScopeError
from zhixing.case_accounts import case_account_number
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event, new_event
from zhixing.funds import HoldKind, HoldReason, Source
from zhixing.projection import Transaction
from zhixing.stops import StopInForce
from zhixing.v1 import agency_gateway_pb2 as gateway_pb
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import funds_events_pb2 as pb

COURT = "苏1283"
ACCOUNT = case_account_number(COURT, 2026, "执", 7)
RECEIVING = "6222 0212 3456 7890"
OFFICER = person(Role.OFFICER, COURT, "officer-1")  # handles the case
CONTROLLER = person(Role.OFFICER, COURT, "officer-2")  # controlled the frozen deposit
FINANCE = person(Role.FINANCE, COURT, "finance-1")
LEADER = person(Role.LEADER, COURT, "leader-1")


FILED_ON = dt.date(2026, 1, 5)


async def funds_with_case() -> Funds:
    ctx = in_memory_context("funds", SimulatedClock(START))
    funds = Funds(ctx, FundsRecords(ctx.redis, ctx.keys))
    opened = await funds.accounts.open_account(
        case_id="case-1", case_number="（2026）苏1283执7号", court_code=COURT,
        account_number=ACCOUNT, receiving_account=RECEIVING, claim_fen=1_000_000,
        filed_on=FILED_ON.isoformat(),
    )  # fmt: skip
    assert opened
    await funds.accounts.assign_officer("case-1", OFFICER.subject)
    return funds


async def receive(funds: Funds, amount: int, reference: str = "BANK-1") -> str:
    _, payment, new = await funds.money_in.record_receipt(
        identity=FINANCE, account_number=ACCOUNT, bank_reference=reference, amount=amount,
        payer="被执行人", arrived_on=None,
    )  # fmt: skip
    assert new
    payment_id: str = payment["payment_id"]
    return payment_id


async def ledger(funds: Funds) -> dict:  # type: ignore[type-arg]
    record = await funds.records.get("case-1")
    assert record is not None
    return record


async def test_a_case_has_one_account_opened_once_and_money_for_no_case_is_refused() -> None:
    funds = await funds_with_case()
    again = await funds.accounts.open_account(
        case_id="case-1", case_number="x", court_code=COURT, account_number=ACCOUNT,
        receiving_account=RECEIVING, claim_fen=1,
    )  # fmt: skip
    assert not again
    other = case_account_number(COURT, 2026, "执", 8)
    with pytest.raises(NotFound, match=r"funds.one-case-one-account"):
        await funds.money_in.record_receipt(
            identity=FINANCE, account_number=other, bank_reference="B", amount=1, payer="",
            arrived_on=None,
        )  # fmt: skip
    assert await staged_types(funds.money_in.ctx) == ["CaseAccountOpened"]


async def test_one_transfer_reported_twice_is_one_receipt() -> None:
    funds = await funds_with_case()
    payment_id = await receive(funds, 500_000)
    _, payment, new = await funds.money_in.record_receipt(
        identity=FINANCE, account_number=ACCOUNT, bank_reference="BANK-1", amount=500_000,
        payer="被执行人", arrived_on=None,
    )  # fmt: skip
    assert not new and payment["payment_id"] == payment_id
    with pytest.raises(Conflict, match="BANK-1"):  # the same reference, another amount
        await funds.money_in.record_receipt(
            identity=FINANCE, account_number=ACCOUNT, bank_reference="BANK-1", amount=1,
            payer="", arrived_on=None,
        )  # fmt: skip
    assert totals(await ledger(funds)).received == 500_000
    arrivals = [
        e for e in await staged(funds.money_in.ctx) if isinstance(e.payload, pb.FundsArrived)
    ]
    assert len(arrivals) == 1 and arrivals[0].envelope.aggregate_id == "case-1"


async def test_receipts_are_recorded_by_finance_and_never_dated_in_the_future() -> None:
    funds = await funds_with_case()
    with pytest.raises(ScopeError):
        await funds.money_in.record_receipt(
            identity=OFFICER, account_number=ACCOUNT, bank_reference="B", amount=1, payer="",
            arrived_on=None,
        )  # fmt: skip
    with pytest.raises(Invalid, match="future"):
        await funds.money_in.record_receipt(
            identity=FINANCE, account_number=ACCOUNT, bank_reference="B", amount=1, payer="",
            arrived_on=START.date() + dt.timedelta(days=2),
        )  # fmt: skip


async def test_the_disputed_part_is_held_and_the_undisputed_part_noticed_and_paid() -> None:
    funds = await funds_with_case()
    payment_id = await receive(funds, 800_000)
    out = funds.money_out
    hold = await out.request_hold(
        "case-1", identity=OFFICER, payment_id=payment_id, amount=300_000,
        kind=HoldKind.DEFER, reason=HoldReason.DISPUTED, note="案外人主张权利",
    )  # fmt: skip
    with pytest.raises(ScopeError):  # the officer who asked does not approve
        await out.decide_hold("case-1", hold["hold_id"], identity=OFFICER, approve=True, note="")
    held = await out.decide_hold("case-1", hold["hold_id"], identity=LEADER, approve=True, note="")
    assert held["status"] == "held"
    notice = await out.issue_notice("case-1", payment_id, identity=OFFICER)
    assert notice["amount_fen"] == 500_000  # the undisputed part, at once
    payout = await out.pay(
        "case-1", notice["notice_id"], identity=FINANCE, amount=500_000, to_account=RECEIVING,
        bank_reference="OUT-1",
    )  # fmt: skip
    assert payout["to_account"] == RECEIVING
    parts = totals(await ledger(funds))
    assert (parts.received, parts.paid, parts.held, parts.in_account) == (
        800_000,
        500_000,
        300_000,
        300_000,
    )
    released = await out.release_hold(
        "case-1", hold["hold_id"], identity=OFFICER, note="争议已解决"
    )
    assert released["status"] == "released"  # a payment of its own, with its own clock
    types = await staged_types(funds.money_in.ctx)
    assert types[-5:] == [
        "HoldRequested",
        "FundsHeld",
        "PaymentNoticeIssued",
        "FundsPaid",
        "FundsReleased",
    ]
    record = await ledger(funds)
    new_payment = record["payments"][released["released_as"]]
    assert new_payment["amount_fen"] == 300_000 and new_payment["source"] == Source.RELEASE


async def test_a_whole_deferral_pauses_and_its_end_resumes_the_same_payment() -> None:
    funds = await funds_with_case()
    payment_id = await receive(funds, 100_000)
    out = funds.money_out
    with pytest.raises(Invalid, match=r"funds.undisputed-first"):  # not a reason to defer
        await out.request_hold(
            "case-1", identity=OFFICER, payment_id=payment_id, amount=100_000,
            kind=HoldKind.DEFER, reason=HoldReason.APPLICANT_MISSING, note="",
        )  # fmt: skip
    hold = await out.request_hold(
        "case-1", identity=OFFICER, payment_id=payment_id, amount=100_000,
        kind=HoldKind.DEFER, reason=HoldReason.ENFORCEMENT_SUSPENDED, note="",
    )  # fmt: skip
    await out.decide_hold("case-1", hold["hold_id"], identity=LEADER, approve=True, note="")
    with pytest.raises(Conflict, match="deferred"):
        await out.issue_notice("case-1", payment_id, identity=OFFICER)
    await out.release_hold("case-1", hold["hold_id"], identity=OFFICER, note="恢复执行")
    notice = await out.issue_notice("case-1", payment_id, identity=OFFICER)
    assert notice["amount_fen"] == 100_000
    types = await staged_types(funds.money_in.ctx)
    assert types[-4:] == [
        "HoldRequested", "PaymentDeferralApproved", "PaymentDeferralEnded", "PaymentNoticeIssued",
    ]  # fmt: skip


async def test_lodging_the_whole_payment_ends_its_clock_and_a_refused_hold_is_payable() -> None:
    funds = await funds_with_case()
    out = funds.money_out
    first = await receive(funds, 50_000, "B-1")
    lodge = await out.request_hold(
        "case-1", identity=OFFICER, payment_id=first, amount=50_000, kind=HoldKind.LODGE,
        reason=HoldReason.APPLICANT_MISSING, note="",
    )  # fmt: skip
    await out.decide_hold("case-1", lodge["hold_id"], identity=LEADER, approve=True, note="")
    second = await receive(funds, 70_000, "B-2")
    refused = await out.request_hold(
        "case-1", identity=OFFICER, payment_id=second, amount=70_000, kind=HoldKind.DEFER,
        reason=HoldReason.DISTRIBUTION, note="",
    )  # fmt: skip
    await out.decide_hold(
        "case-1", refused["hold_id"], identity=LEADER, approve=False, note="无需分配"
    )
    notice = await out.issue_notice("case-1", second, identity=OFFICER)
    assert notice["amount_fen"] == 70_000
    parts = totals(await ledger(funds))
    assert (parts.lodged, parts.noticed_unpaid, parts.balances) == (50_000, 70_000, True)
    assert "PaymentLodged" in await staged_types(funds.money_in.ctx)


async def test_who_may_approve_a_payout_and_how_much() -> None:
    funds = await funds_with_case()
    await funds.records.keep_assets({"asset-1": asset_facts(
        case_id="case-1", asset_key="bank:1", kind="bank_deposit", measure="freeze",
        amount_fen=200_000, controlled_by=CONTROLLER.subject,
    )})  # fmt: skip
    await funds.money_in.record_proceeds("case-1", "asset-1", 200_000, "SALE-1", Source.SALE)
    record = await ledger(funds)
    (payment_id,) = record["payments"]
    notice = await funds.money_out.issue_notice("case-1", payment_id, identity=OFFICER)

    async def pay(identity: object, amount: int = 200_000, account: str = RECEIVING) -> object:
        return await funds.money_out.pay(
            "case-1", notice["notice_id"], identity=identity,  # type: ignore[arg-type]
            amount=amount, to_account=account, bank_reference="OUT-9",
        )  # fmt: skip

    with pytest.raises(ScopeError, match=r"funds.separation-of-duties"):  # an officer's role
        await pay(CONTROLLER)
    with pytest.raises(ScopeError, match="controlled the asset"):  # the same person in finance
        await pay(person(Role.FINANCE, COURT, CONTROLLER.subject))
    with pytest.raises(ScopeError, match="handles the case"):
        await pay(person(Role.LEADER, COURT, OFFICER.subject))
    with pytest.raises(Conflict, match=r"200000 fen.*funds\.balance"):
        await pay(FINANCE, amount=200_001)
    with pytest.raises(Conflict, match=r"funds.receiving-account"):
        await pay(FINANCE, account="6222 0000 0000 0001")
    await pay(FINANCE, account="6222-0212-3456-7890")  # the same account, as written
    with pytest.raises(Conflict, match="paid already"):
        await pay(FINANCE)


async def test_two_payouts_racing_for_one_notice_pay_once() -> None:
    funds = await funds_with_case()
    payment_id = await receive(funds, 90_000)
    notice = await funds.money_out.issue_notice("case-1", payment_id, identity=OFFICER)
    results = await asyncio.gather(
        *(
            funds.money_out.pay(
                "case-1",
                notice["notice_id"],
                identity=person(Role.FINANCE, COURT, f"f-{i}"),
                amount=90_000,
                to_account=RECEIVING,
                bank_reference=f"OUT-{i}",
            )
            for i in range(2)
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "dict"]
    assert totals(await ledger(funds)).paid == 90_000


async def test_a_changed_receiving_account_needs_a_leaders_approval() -> None:
    funds = await funds_with_case()
    payment_id = await receive(funds, 10_000)
    notice = await funds.money_out.issue_notice("case-1", payment_id, identity=OFFICER)
    new_account = "6217 0000 1111 2222"
    change = await funds.money_out.request_account_change(
        "case-1", identity=OFFICER, new_account=new_account, reason="原账户已注销"
    )
    with pytest.raises(Conflict, match=r"funds.receiving-account"):  # not approved yet
        await funds.money_out.pay("case-1", notice["notice_id"], identity=FINANCE, amount=10_000,
                                  to_account=new_account, bank_reference="OUT-1")  # fmt: skip
    # One change at a time: a second waits until the first is decided.
    with pytest.raises(Conflict, match=rf"{change['change_id']} awaits.*funds.receiving-account"):
        await funds.money_out.request_account_change(
            "case-1", identity=OFFICER, new_account="6217 0000 7777 6666", reason="x"
        )
    await funds.money_out.decide_account_change(
        "case-1", change["change_id"], identity=LEADER, approve=True, note=""
    )
    # Who chose where the money goes does not also send it there (分段办理).
    with pytest.raises(ScopeError, match=r"approved the change.*funds.separation-of-duties"):
        await funds.money_out.pay("case-1", notice["notice_id"], identity=LEADER,
                                  amount=10_000, to_account=new_account,
                                  bank_reference="OUT-1")  # fmt: skip
    payout = await funds.money_out.pay("case-1", notice["notice_id"], identity=FINANCE,
                                       amount=10_000, to_account=new_account,
                                       bank_reference="OUT-1")  # fmt: skip
    assert payout["to_account"] == new_account
    history = [entry["act"] for entry in (await ledger(funds))["history"]]
    assert "account_changed" in history


async def test_a_deduction_answered_twice_is_one_receipt_and_a_refusal_fails_it() -> None:
    funds = await funds_with_case()
    await funds.records.keep_assets({"asset-1": asset_facts(
        case_id="case-1", asset_key="bank:1", kind="bank_deposit", measure="freeze",
        amount_fen=60_000, controlled_by=CONTROLLER.subject,
    )})  # fmt: skip
    await funds.records.keep_assets({"asset-2": asset_facts(
        case_id="case-1", asset_key="house:1", kind="real_estate", measure="seize",
        amount_fen=9_000_000, controlled_by=CONTROLLER.subject,
    )})  # fmt: skip
    with pytest.raises(Conflict, match="not frozen money"):
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-2",
                                               amount=1)  # fmt: skip
    with pytest.raises(Conflict, match="60000 fen"):
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                               amount=60_001)  # fmt: skip
    deduction = await funds.money_in.request_deduction(
        "case-1", identity=OFFICER, asset_id="asset-1", amount=60_000
    )
    request = await funds.money_in.transfer_request("case-1", deduction["deduction_id"], 1000)
    assert request is not None and request.to_account == ACCOUNT
    answer = gateway_pb.Feedback(
        feedback_id="f1", request_id=deduction["deduction_id"], status="transferred",
        transferred_amount_fen=60_000, bank_reference="DED-1",
    )  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "arrived"
    answer.feedback_id = "f2"  # the same answer delivered again
    assert await funds.money_in.apply_transfer(answer, "case-1") == "duplicate"
    record = await ledger(funds)
    assert totals(record).received == 60_000
    assert record["deductions"][deduction["deduction_id"]]["status"] == "transferred"
    (payment,) = record["payments"].values()
    assert payment["controlled_by"] == [CONTROLLER.subject]
    with pytest.raises(Conflict, match="0 fen"):  # nothing left frozen to deduct
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                               amount=1)  # fmt: skip


async def test_a_moved_case_keeps_its_account_and_the_courts_reconcile() -> None:
    funds = await funds_with_case()
    await receive(funds, 30_000)
    assert await funds.accounts.follow_case("case-1", COURT, "苏1282")
    assert not await funds.accounts.follow_case("case-1", COURT, "苏1282")  # idempotent
    assert await funds.records.case_of_account(ACCOUNT) == "case-1"
    command = person(Role.COMMAND, "苏12", "command-1")
    results = {r.court_code: r for r in await funds.accounts.reconcile(command, None)}
    assert results["苏1282"].received_fen == 30_000 and results["苏1282"].balances
    assert results[COURT].received_fen == 0 and results[COURT].balances
    # A ledger tampered with outside the service is found, by case number.
    record = await ledger(funds)
    record["counters"]["received_fen"] += 1
    async with funds.records.redis.pipeline(transaction=True) as pipe:
        funds.records.put(pipe, "case-1", record)
        await pipe.execute()
    results = {r.court_code: r for r in await funds.accounts.reconcile(command, None)}
    assert results["苏1282"].unbalanced_case == "（2026）苏1283执7号"


async def test_an_unknown_id_in_a_path_reads_as_missing_and_in_a_body_names_its_field() -> None:
    funds = await funds_with_case()
    out = funds.money_out
    payment_id = await receive(funds, 10_000)
    with pytest.raises(NotFound, match="no hold h-9"):
        await out.decide_hold("case-1", "h-9", identity=LEADER, approve=True, note="")
    with pytest.raises(NotFound, match="no hold h-9"):
        await out.release_hold("case-1", "h-9", identity=OFFICER, note="")
    with pytest.raises(NotFound, match="no payment p-9"):
        await out.issue_notice("case-1", "p-9", identity=OFFICER)
    with pytest.raises(NotFound, match="no payment notice n-9"):
        await out.pay("case-1", "n-9", identity=FINANCE, amount=1, to_account=RECEIVING,
                      bank_reference="OUT-9")  # fmt: skip
    with pytest.raises(NotFound, match="no account change c-9"):
        await out.decide_account_change("case-1", "c-9", identity=LEADER, approve=True, note="")
    with pytest.raises(Invalid, match="no payment p-9") as unknown:  # named in the body
        await out.request_hold(
            "case-1", identity=OFFICER, payment_id="p-9", amount=1, kind=HoldKind.DEFER,
            reason=HoldReason.DISPUTED, note="",
        )  # fmt: skip
    assert unknown.value.loc == ("body", "payment_id")
    # A change decided already is a conflict of its state, not a missing one.
    change = await out.request_account_change(
        "case-1", identity=OFFICER, new_account="6217 0000 1111 2222", reason="账户销户"
    )
    await out.decide_account_change("case-1", change["change_id"], identity=LEADER,
                                    approve=False, note="")  # fmt: skip
    with pytest.raises(Conflict, match="refused"):
        await out.decide_account_change("case-1", change["change_id"], identity=LEADER,
                                        approve=True, note="")  # fmt: skip
    assert totals(await ledger(funds)).unnoticed == 10_000 and payment_id


async def test_money_for_another_courts_case_reads_as_no_case_and_names_none() -> None:
    funds = await funds_with_case()
    no_case = case_account_number(COURT, 2026, "执", 8)
    messages = []
    for account in (ACCOUNT, no_case):  # the account of a case of 苏1283, and of no case
        with pytest.raises(NotFound) as refused:
            await funds.money_in.record_receipt(
                identity=person(Role.FINANCE, "苏1282", "finance-9"), account_number=account,
                bank_reference="B-9", amount=1, payer="", arrived_on=None,
            )  # fmt: skip
        messages.append(str(refused.value).replace(account, "<account>"))
    assert messages[0] == messages[1] and "case-1" not in messages[0]
    # The court above reads the case: it is told why it may not record (403), not "missing".
    with pytest.raises(ScopeError, match="handled by 苏1283"):
        await funds.money_in.record_receipt(
            identity=person(Role.FINANCE, "苏12", "finance-12"), account_number=ACCOUNT,
            bank_reference="B-9", amount=1, payer="", arrived_on=None,
        )  # fmt: skip
    assert totals(await ledger(funds)).received == 0


async def test_a_court_code_outside_the_directory_is_refused_naming_the_field() -> None:
    funds = await funds_with_case()
    service = Identity("svc:matrix", PrincipalKind.SERVICE, "最高法", Role.SERVICE,
                       dt.datetime(2100, 1, 1, tzinfo=dt.UTC))  # fmt: skip
    for who in (service, person(Role.COMMAND, "苏12")):
        for read in (funds.accounts.cases_of, funds.accounts.reconcile):
            with pytest.raises(Invalid, match="苏9999") as refused:
                await read(who, "苏9999")
            assert refused.value.loc == ("query", "court")
    assert [r["case_id"] for r in (await funds.accounts.cases_of(service, COURT)).items] == [
        "case-1"
    ]


async def test_a_courts_ledgers_are_listed_a_page_at_a_time_reading_only_the_page() -> None:
    funds = await funds_with_case()
    for n in (2, 3):
        await funds.accounts.open_account(
            case_id=f"case-{n}", case_number=f"（2026）苏1283执{n}号", court_code="苏1282",
            account_number=f"{ACCOUNT}{n}", receiving_account=RECEIVING, claim_fen=1,
            filed_on=FILED_ON.isoformat(),
        )  # fmt: skip
    command = person(Role.COMMAND, "苏12")
    first = await funds.accounts.cases_of(command, None, limit=2)
    assert [r["case_id"] for r in first.items] == ["case-1", "case-2"]
    assert first.next_cursor is not None
    rest = await funds.accounts.cases_of(command, None, limit=2, after=first.next_cursor)
    assert ([r["case_id"] for r in rest.items], rest.next_cursor) == (["case-3"], None)
    own = await funds.accounts.cases_of(person(Role.FINANCE, "苏1282", "finance-2"), None)
    assert [r["case_id"] for r in own.items] == ["case-2", "case-3"]


def test_an_account_paid_into_has_digits() -> None:
    for account in ("-", " - ", "--  --"):
        with pytest.raises(ValidationError, match="new_account"):
            AccountChangeIn(new_account=account, reason="账户销户")
        with pytest.raises(ValidationError, match="to_account"):
            PayoutIn(amount_fen=1, to_account=account, bank_reference="OUT-1")
    assert AccountChangeIn(new_account="6217-0000 1111", reason="x").new_account == "6217-0000 1111"


async def test_a_freeze_released_or_lapsed_can_no_longer_be_deducted() -> None:

    from services.funds.reactions import AssetFacts
    from tests.factories import ACTOR
    from zhixing.events import new_event
    from zhixing.projection import Transaction
    from zhixing.v1 import asset_events_pb2 as assets

    funds = await funds_with_case()
    clock = SimulatedClock(START)
    facts = AssetFacts(funds)
    controlled = assets.AssetControlled(
        asset_id="asset-1", case_id="case-1", measure="freeze", amount_fen=5_000,
        controlled_by=CONTROLLER.subject, asset_key="bank:1",
    )  # fmt: skip
    found = assets.AssetFound(asset_id="asset-1", case_id="case-1", kind="bank_deposit",
                              asset_key="bank:1")  # fmt: skip
    released = assets.ControlReleased(asset_id="asset-1", case_id="case-1", reason="已履行")
    events: list[Event[Message]] = [
        new_event(p, aggregate_id="asset-1", court_code=COURT, actor=ACTOR, clock=clock)
        for p in (found, controlled, released)
    ]
    async with funds.records.redis.pipeline(transaction=True) as pipe:
        await facts(events[:2], Transaction(funds.records.redis, pipe, funds.records.keys))
        await pipe.execute()  # as the consumer does, with the batch's offsets
    deduction = await funds.money_in.request_deduction(
        "case-1", identity=OFFICER, asset_id="asset-1", amount=1_000
    )
    assert deduction["status"] == "requested"
    async with funds.records.redis.pipeline(transaction=True) as pipe:
        await facts(events[2:], Transaction(funds.records.redis, pipe, funds.records.keys))
        await pipe.execute()
    with pytest.raises(Conflict, match=r"no longer frozen \(its control was released or lapsed"):
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                               amount=1_000)  # fmt: skip


def asset_story() -> list[Event[Message]]:
    """An asset found, seized by CONTROLLER, sold (8,000 fen) and released."""
    clock = SimulatedClock(START)
    payloads = (
        assets.AssetFound(asset_id="asset-1", case_id="case-1", kind="real_estate",
                          asset_key="house:1"),
        assets.AssetControlled(asset_id="asset-1", case_id="case-1", measure="seize",
                               amount_fen=9_000, controlled_by=CONTROLLER.subject,
                               asset_key="house:1"),
        assets.SaleCompleted(asset_id="asset-1", case_id="case-1", proceeds_fen=8_000,
                             sale_reference="SALE-9"),
        assets.ControlReleased(asset_id="asset-1", case_id="case-1", reason="已拍卖"),
    )  # fmt: skip
    return [new_event(p, aggregate_id="asset-1", court_code=COURT, actor=ACTOR, clock=clock)
            for p in payloads]  # fmt: skip


@pytest.mark.parametrize("one_by_one", [False, True], ids=["one-batch", "isolated"])
async def test_a_sale_after_its_assets_control_knows_who_controlled_it(one_by_one: bool) -> None:
    """The facts kept before a sale are written before its proceeds are recorded, which
    read them: in one batch, and when the events are run one by one on transactions thrown
    away (how the consumer finds a batch's bad event), so the payment names the
    controller (who may not approve its payout)."""
    funds = await funds_with_case()
    facts = AssetFacts(funds)
    batches = [[event] for event in asset_story()] if one_by_one else [asset_story()]
    for batch in batches:
        async with funds.records.redis.pipeline(transaction=True) as pipe:
            await facts(batch, Transaction(funds.records.redis, pipe, funds.records.keys))
            if not one_by_one:
                await pipe.execute()  # else thrown away, as the isolation does
    (payment,) = (await ledger(funds))["payments"].values()
    assert payment["controlled_by"] == [CONTROLLER.subject]
    assert (await funds.records.asset("asset-1") or {}).get("measure") == "released"


async def test_assets_sold_under_one_reference_are_each_recorded_once() -> None:
    """A package sale: one auction's reference for several assets. Each asset's proceeds
    are the case's (the second was refused as the first's reference, and dead-lettered);
    each delivered again records nothing."""
    funds = await funds_with_case()
    for asset_id, proceeds in (("house-1", 300_000), ("garage-1", 50_000)):
        assert await funds.money_in.record_proceeds("case-1", asset_id, proceeds, "PKG-1",
                                                    Source.SALE)  # fmt: skip
    assert not await funds.money_in.record_proceeds("case-1", "house-1", 300_000, "PKG-1",
                                                    Source.SALE)  # fmt: skip
    payments = (await ledger(funds))["payments"].values()
    assert sorted((p["bank_reference"], p["amount_fen"]) for p in payments) == [
        ("sale:PKG-1:garage-1", 50_000), ("sale:PKG-1:house-1", 300_000)
    ]  # fmt: skip
    assert (await ledger(funds))["counters"]["received_fen"] == 350_000


async def test_a_sale_read_before_its_cases_filing_is_recorded_when_the_filing_comes() -> None:
    # The asset and case topics are read side by side: a sale (a rebuild, a lagging
    # partition) can come before the filing. Its proceeds wait for it, once however often.
    from services.funds.reactions import CaseFacts
    from zhixing.v1 import case_events_pb2 as cases

    ctx = in_memory_context("funds", SimulatedClock(START))
    funds = Funds(ctx, FundsRecords(ctx.redis, ctx.keys))
    story = asset_story()
    for _ in range(2):  # the sale delivered twice before the filing
        async with ctx.redis.pipeline(transaction=True) as pipe:
            await AssetFacts(funds)(story, Transaction(ctx.redis, pipe, ctx.keys))
            await pipe.execute()
    assert await funds.records.get("case-1") is None
    assert list(await funds.records.early_proceeds("case-1")) == ["sale:SALE-9:asset-1"]
    filed = cases.CaseFiled(case_id="case-1", court_code=COURT, case_type_code="执",
                            case_number="（2026）苏1283执7号", claim_amount_fen=1_000_000,
                            case_account=ACCOUNT)  # fmt: skip
    filing: Event[Message] = new_event(filed, aggregate_id="case-1", court_code=COURT,
                                       actor=ACTOR, clock=SimulatedClock(START))  # fmt: skip
    for _ in range(2):  # the filing delivered twice
        async with ctx.redis.pipeline(transaction=True) as pipe:
            await CaseFacts(funds)([filing], Transaction(ctx.redis, pipe, ctx.keys))
            await pipe.execute()
    (payment,) = (await ledger(funds))["payments"].values()
    assert (payment["amount_fen"], payment["bank_reference"]) == (8_000, "sale:SALE-9:asset-1")
    assert payment["controlled_by"] == [CONTROLLER.subject]
    assert (await ledger(funds))["counters"]["received_fen"] == 8_000
    assert await funds.records.early_proceeds("case-1") == {}


async def test_proceeds_kept_while_the_filing_was_kept_are_recorded_not_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sale finds no case, then the filing is kept and records what was kept (nothing
    # yet): the sale must not then be kept where no filing reads it again.
    funds = await funds_with_case()
    opened = funds.records.key("case-1")
    raw = await funds.records.redis.get(opened)
    assert raw is not None
    await funds.records.redis.delete(opened)
    arrive = funds.money_in._arrive
    tries = 0

    async def arrive_then_file(*args: Any, **kwargs: Any) -> Any:
        nonlocal tries
        tries += 1
        try:
            return await arrive(*args, **kwargs)
        finally:
            if tries == 1:  # no case yet: the filing is kept before the sale is
                await funds.records.redis.set(opened, raw)

    monkeypatch.setattr(funds.money_in, "_arrive", arrive_then_file)
    assert await funds.money_in.record_proceeds("case-1", "asset-1", 500, "SALE-2", Source.SALE)
    assert await funds.records.early_proceeds("case-1") == {}
    (payment,) = (await ledger(funds))["payments"].values()
    assert payment["amount_fen"] == 500


async def test_a_filing_recorded_before_accounts_were_stated_gets_its_account_from_its_number() -> (
    None
):

    from services.funds.reactions import CaseFacts
    from tests.factories import ACTOR
    from zhixing.events import new_event
    from zhixing.projection import Transaction
    from zhixing.v1 import case_events_pb2 as cases

    ctx = in_memory_context("funds", SimulatedClock(START))
    funds = Funds(ctx, FundsRecords(ctx.redis, ctx.keys))
    filed = cases.CaseFiled(case_id="old-1", court_code=COURT, case_type_code="执",
                            case_number="（2026）苏1283执7号", claim_amount_fen=100)  # fmt: skip
    events: list[Event[Message]] = [
        new_event(
            filed, aggregate_id="old-1", court_code=COURT, actor=ACTOR, clock=SimulatedClock(START)
        )
    ]
    async with ctx.redis.pipeline(transaction=True) as pipe:
        await CaseFacts(funds)(events, Transaction(ctx.redis, pipe, ctx.keys))
    assert await funds.records.case_of_account(ACCOUNT) == "old-1"


def test_a_value_date_of_year_one_is_refused_before_the_payout_clock_could_run_from_it() -> None:
    account = case_account_number("苏1283", 2026, "执", 1)
    with pytest.raises(ValidationError) as refused:
        ReceiptIn(account_number=account, bank_reference="IN-1", amount_fen=100,
                  arrived_on=dt.date(1, 1, 1))  # fmt: skip
    assert refused.value.errors()[0]["loc"] == ("arrived_on",)


async def test_a_reference_received_again_for_another_amount_is_refused_with_both() -> None:
    funds = await funds_with_case()
    await receive(funds, 500_000, reference="BANK-7")
    with pytest.raises(Conflict, match=r"BANK-7 was recorded already for 500000 fen \(5,000\.00"
                                       r"元\), not 500001 fen \(5,000\.01元\)"):  # fmt: skip
        await receive(funds, 500_001, reference="BANK-7")


async def test_a_freeze_taken_again_may_be_deducted_in_full() -> None:
    """Deductions count against the control they were asked under: a deposit frozen,
    deducted in part, released and frozen again holds what the new freeze froze (as the
    终本 gate counts it)."""
    from services.funds.reactions import AssetFacts
    from tests.factories import ACTOR
    from zhixing.events import new_event
    from zhixing.projection import Transaction
    from zhixing.v1 import asset_events_pb2 as assets

    funds = await funds_with_case()
    clock = funds.money_in.ctx.clock
    assert isinstance(clock, SimulatedClock)
    facts = AssetFacts(funds)

    async def told(*payloads: Message) -> None:
        events: list[Event[Message]] = [
            new_event(p, aggregate_id="asset-1", court_code=COURT, actor=ACTOR, clock=clock)
            for p in payloads
        ]
        async with funds.records.redis.pipeline(transaction=True) as pipe:
            await facts(events, Transaction(funds.records.redis, pipe, funds.records.keys))
            await pipe.execute()

    frozen = assets.AssetControlled(
        asset_id="asset-1", case_id="case-1", measure="freeze", amount_fen=1_000,
        controlled_by=CONTROLLER.subject, asset_key="bank:1",
    )  # fmt: skip
    await told(assets.AssetFound(asset_id="asset-1", case_id="case-1", kind="bank_deposit",
                                 asset_key="bank:1"), frozen)  # fmt: skip
    clock.advance(dt.timedelta(hours=1))
    await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                           amount=400)  # fmt: skip
    with pytest.raises(Conflict, match="600 fen"):  # what the freeze holds beside it
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                               amount=601)  # fmt: skip
    clock.advance(dt.timedelta(days=1))
    await told(assets.ControlReleased(asset_id="asset-1", case_id="case-1", reason="误冻"))
    clock.advance(dt.timedelta(days=1))
    await told(frozen)  # frozen again, for 1,000
    clock.advance(dt.timedelta(hours=1))
    again = await funds.money_in.request_deduction("case-1", identity=OFFICER,
                                                   asset_id="asset-1", amount=1_000)  # fmt: skip
    assert again["amount_fen"] == 1_000


async def test_proceeds_recorded_before_references_named_the_asset_are_not_recorded_again() -> None:
    funds = await funds_with_case()
    # As the version before recorded them: under the sale's reference alone.
    await funds.money_in._arrive("case-1", amount=300_000, source=Source.SALE,
                                 reference="sale:OLD-1", asset_id="house-1")  # fmt: skip
    assert not await funds.money_in.record_proceeds("case-1", "house-1", 300_000, "OLD-1",
                                                    Source.SALE)  # fmt: skip
    # Another asset of that package sale is its own.
    assert await funds.money_in.record_proceeds("case-1", "garage-1", 50_000, "OLD-1",
                                                Source.SALE)  # fmt: skip
    assert (await ledger(funds))["counters"]["received_fen"] == 350_000


async def funds_with_deposit() -> Funds:
    """``funds_with_case`` with a deposit of 60,000 fen frozen (asset-1)."""
    funds = await funds_with_case()
    await funds.records.keep_assets({"asset-1": asset_facts(
        case_id="case-1", asset_key="bank:1", kind="bank_deposit", measure="freeze",
        amount_fen=60_000, controlled_by="officer-2",
    )})  # fmt: skip
    return funds


async def test_a_closed_case_takes_no_deduction_and_still_records_and_pays_its_money() -> None:
    funds = await funds_with_deposit()
    assert await funds.accounts.close_case("case-1", "执行完毕", "2026-03-01")
    assert not await funds.accounts.close_case("case-1", "执行完毕", "2026-03-01")  # read again
    with pytest.raises(Conflict, match=r"closed as 执行完毕 on 2026-03-01.*\(rule case\.close\)"):
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                               amount=1_000)  # fmt: skip
    assert (await ledger(funds))["deductions"] == {}
    # Money arriving after the closure is the applicant's all the same.
    await receive(funds, 5_000)
    assert (await ledger(funds))["counters"]["received_fen"] == 5_000


async def test_money_dated_before_its_case_was_filed_is_refused_naming_the_day() -> None:
    funds = await funds_with_case()
    with pytest.raises(
        Invalid, match=r"arrived_on 2026-01-04 is before case .* filed \(2026-01-05\)"
    ) as early:
        await funds.money_in.record_receipt(
            identity=FINANCE, account_number=ACCOUNT, bank_reference="OLD-1", amount=100,
            payer="x", arrived_on=FILED_ON - dt.timedelta(days=1),
        )  # fmt: skip
    assert early.value.loc == ("body", "arrived_on")
    assert (await ledger(funds))["payments"] == {}
    await funds.money_in.record_receipt(
        identity=FINANCE, account_number=ACCOUNT, bank_reference="ON-1", amount=100, payer="x",
        arrived_on=FILED_ON,
    )  # fmt: skip


async def test_a_hold_refused_after_the_notice_gives_its_money_no_new_time() -> None:
    # Asked for, the hold kept its part out of the notice, which cleared the payment's
    # clock; refused weeks later, the part came back as a payment arrived that day, with
    # ten working days of its own (¶22: only an approved legal reason delays the money).
    funds = await funds_with_case()
    payment_id = await receive(funds, 800_000)
    arrived_on = (await ledger(funds))["payments"][payment_id]["arrived_on"]
    out = funds.money_out
    hold = await out.request_hold(
        "case-1", identity=OFFICER, payment_id=payment_id, amount=1_000,
        kind=HoldKind.DEFER, reason=HoldReason.DISPUTED, note="案外人主张权利",
    )  # fmt: skip
    await out.issue_notice("case-1", payment_id, identity=OFFICER)
    clock = funds.money_out.ctx.clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(dt.timedelta(days=20))
    refused = await out.decide_hold("case-1", hold["hold_id"], identity=LEADER, approve=False,
                                    note="理由不成立")  # fmt: skip
    back = (await ledger(funds))["payments"][refused["released_as"]]
    assert (back["amount_fen"], back["arrived_on"]) == (1_000, arrived_on)
    # Said refused, not read as an approved hold ended (its money released all the same).
    assert refused["refused"] is True
    assert [h["act"] for h in (await ledger(funds))["history"]][-1] == "hold_refused"
    (released,) = [e.payload for e in await staged(funds.money_in.ctx)
                   if isinstance(e.payload, pb.FundsReleased)]  # fmt: skip
    assert released.arrived_on == arrived_on  # the clock runs from the arrival


async def test_a_deduction_or_a_hold_sent_again_with_its_key_is_made_once() -> None:
    funds = await funds_with_deposit()
    asked: dict[str, Any] = {"identity": OFFICER, "asset_id": "asset-1", "amount": 1_000,
                             "idempotency_key": "k-1"}  # fmt: skip
    first, new = await funds.money_in.request_deduction_once("case-1", **asked)
    again, repeated = await funds.money_in.request_deduction_once("case-1", **asked)
    assert new and not repeated and again == first
    with pytest.raises(Conflict, match="'k-1' was used for another deduction"):
        await funds.money_in.request_deduction_once("case-1", identity=OFFICER,
                                                    asset_id="asset-1", amount=2_000,
                                                    idempotency_key="k-1")  # fmt: skip
    assert len((await ledger(funds))["deductions"]) == 1
    payment_id = await receive(funds, 800_000)
    hold: dict[str, Any] = {
        "identity": OFFICER,
        "payment_id": payment_id,
        "amount": 1_000,
        "kind": HoldKind.DEFER,
        "reason": HoldReason.DISPUTED,
        "note": "案外人主张权利",
    }
    made, new = await funds.money_out.request_hold_once("case-1", **hold, idempotency_key="h")
    again, repeated = await funds.money_out.request_hold_once("case-1", **hold, idempotency_key="h")
    assert new and not repeated and again == made
    assert len((await ledger(funds))["holds"]) == 1
    assert (await staged_types(funds.money_in.ctx)).count("HoldRequested") == 1


async def test_a_court_a_dispute_stops_deducts_nothing_of_the_case() -> None:
    # Asset control refused its control and entrustment its entrusted deduction, but the
    # stopped court could deduct the frozen money itself (执行规定 art 68).
    funds = await funds_with_deposit()
    await project(
        funds.money_in.ctx, funds.money_in.stops, stop_ordered_event("case-1", court=COURT)
    )
    with pytest.raises(StopInForce, match=r"a deduction from asset asset-1.*stop-enforcement"):
        await funds.money_in.request_deduction("case-1", identity=OFFICER, asset_id="asset-1",
                                               amount=1_000)  # fmt: skip
    assert (await ledger(funds))["deductions"] == {}


async def test_only_the_approval_that_set_the_account_paid_into_bars_its_approver() -> None:
    funds = await funds_with_case()
    out = funds.money_out
    notice = await out.issue_notice("case-1", await receive(funds, 10_000), identity=OFFICER)
    first, second = person(Role.LEADER, COURT, "leader-a"), person(Role.LEADER, COURT, "leader-b")
    for account, leader in (("6217 0000 1111 2222", first), ("6217 0000 3333 4444", second)):
        change = await out.request_account_change(
            "case-1", identity=OFFICER, new_account=account, reason="账户变更"
        )
        await out.decide_account_change("case-1", change["change_id"], identity=leader,
                                        approve=True, note="")  # fmt: skip
    with pytest.raises(ScopeError, match="approved the change"):
        await out.pay("case-1", notice["notice_id"], identity=second, amount=10_000,
                      to_account="6217 0000 3333 4444", bank_reference="OUT-1")  # fmt: skip
    # Who approved a change since superseded did not choose where this money goes.
    paid = await out.pay("case-1", notice["notice_id"], identity=first, amount=10_000,
                         to_account="6217 0000 3333 4444", bank_reference="OUT-1")  # fmt: skip
    assert paid["to_account"] == "6217 0000 3333 4444"
