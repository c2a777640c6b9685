"""The outside systems' answers are bounded like any input (``zhixing.outside_answers``): an
answer to a query out of bounds, or a refusal, is applied as a failed one that says why; an
answer that says the outside system acted (a control took effect, money was transferred)
is never made a failure: a control is held for what was asked, a deduction is kept as
taken, unrecorded, for review. None stops the answers after it. A case records at most
``MAX_ASSETS_PER_CASE`` assets; a request id this service did not write is unknown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.asset_control import leads as leads_module
from services.asset_control import query as query_module
from services.asset_control.agency import AgencySettings
from services.asset_control.domain import QueryRef, asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.http_api import AssetView
from services.asset_control.worker import AgencyWorker
from services.command.funds_text import FundsStory
from services.funds.handlers import Funds
from services.funds.http_api import DeductionReviewIn, router
from services.funds.money_in import asset_facts
from tests.factories import START
from tests.fakes import in_memory_context, person, staged, staged_types
from tests.unit.test_asset_control_handlers import DEPOSIT, HOUSE, OFFICER, asset_control, file
from tests.unit.test_asset_control_worker import Outside, controlled, with_two_deposits_frozen
from tests.unit.test_funds_handlers import FINANCE as FUNDS_FINANCE
from tests.unit.test_funds_handlers import OFFICER as FUNDS_OFFICER
from tests.unit.test_funds_handlers import funds_with_case, ledger, receive
from tests.unit.test_gateway_transfers import served
from tools.demo import credit_code
from zhixing.assets import CHANNELS
from zhixing.auth import Role, ScopeError
from zhixing.bounds import INT64_MAX, MAX_AMOUNT_FEN
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.funds import Source
from zhixing.gateway_client import GatewayClient
from zhixing.outside_answers import (
    MAX_ASSETS_PER_ANSWER,
    QUERY_STATUSES,
    bounded,
    fault_of,
)
from zhixing.service import create_http_app
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import funds_events_pb2 as funds_pb


def deposit(key: str, value_fen: int) -> agency_pb.AgencyAsset:
    return agency_pb.AgencyAsset(asset_key=f"bank_deposit:{key}", kind="bank_deposit",
                                 description="存款", value_fen=value_fen, online_control=True,
                                 location_division="321283")  # fmt: skip


def query_answer(case_id: str, unit: int, *assets: agency_pb.AgencyAsset,
                 attempt: int = 1, round_: int = 1) -> agency_pb.Feedback:  # fmt: skip
    return agency_pb.Feedback(
        feedback_id=f"f-{case_id}-{unit}-{attempt}",
        request_id=QueryRef(case_id, round_, unit, attempt).request_id,
        status="found" if assets else "none", assets=assets,
    )  # fmt: skip


# --- the bounds themselves ------------------------------------------------------------------


def test_an_answer_within_bounds_is_applied_as_given() -> None:
    answer = query_answer("c1", 0, DEPOSIT, HOUSE)
    assert fault_of(answer, QUERY_STATUSES) is None
    assert bounded(answer, QUERY_STATUSES) is answer


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (agency_pb.Feedback(status="refused"), "the status 'refused' is none of failed, found"),
        (agency_pb.Feedback(status="transferred"), "the status 'transferred' is none of"),
        (agency_pb.Feedback(status="failed", error="x" * 2001), "error text has 2001 characters"),
        (agency_pb.Feedback(status="none", controlled_amount_fen=-1),
         "controlled_amount_fen -1 is not within"),
        (agency_pb.Feedback(status="none", transferred_amount_fen=MAX_AMOUNT_FEN + 1),
         f"transferred_amount_fen {MAX_AMOUNT_FEN + 1} is not within"),
        (agency_pb.Feedback(status="none", bank_reference="B" * 101),
         "bank_reference has more than 100"),
        (agency_pb.Feedback(status="found", assets=[DEPOSIT] * (MAX_ASSETS_PER_ANSWER + 1)),
         f"{MAX_ASSETS_PER_ANSWER + 1} assets, more than"),
        (agency_pb.Feedback(status="none", assets=[DEPOSIT]), "it says none yet reports 1 assets"),
        (agency_pb.Feedback(status="found", assets=[deposit("big", INT64_MAX)]),
         f"asset 0 ('bank_deposit:big'): its value_fen {INT64_MAX} is not within"),
        (agency_pb.Feedback(status="found", assets=[HOUSE, deposit("owed", -5)]),
         "asset 1 ('bank_deposit:owed'): its value_fen -5"),
        (agency_pb.Feedback(status="found", assets=[agency_pb.AgencyAsset(
            asset_key="k", kind="yacht", value_fen=1)]), "the kind 'yacht' is not an asset kind"),
        (agency_pb.Feedback(status="found", assets=[agency_pb.AgencyAsset(
            kind="vehicle", value_fen=1)]), "asset_key has 0 characters"),
        (agency_pb.Feedback(status="found", assets=[agency_pb.AgencyAsset(
            asset_key="k", kind="vehicle", description="车" * 2001)]), "description has more"),
    ],
)  # fmt: skip
def test_an_answer_out_of_bounds_becomes_a_failed_answer_that_says_why(
    answer: agency_pb.Feedback, named: str
) -> None:
    answer.feedback_id, answer.request_id, answer.error = "f-9", "q.c1.1.0.1", answer.error or "忙"
    failed = bounded(answer, QUERY_STATUSES)
    assert (failed.feedback_id, failed.request_id, failed.status) == ("f-9", "q.c1.1.0.1", "failed")
    assert named in failed.error and failed.error.startswith("the outside system's answer is out")
    assert not failed.assets and failed.controlled_amount_fen == failed.transferred_amount_fen == 0
    # The outside system's own error is kept, cut short (2,001 characters are not).
    said = "'忙'" if answer.error == "忙" else "'" + "x" * 200 + "…'"
    assert failed.error.endswith(f"(its error: {said})")


# --- asset control --------------------------------------------------------------------------


async def test_an_answer_with_a_value_past_the_bounds_fails_its_unit_the_others_applied() -> None:
    # A value past 10^15 fen is beyond what a case's sums are sized for: the answer is
    # refused, and the other channels' answers in the same batch are applied.
    control = asset_control()
    await file(control, "c1", 10_000)
    huge = query_answer("c1", 0, deposit("a", 2**62), deposit("b", 2**62))
    others = [query_answer("c1", unit) for unit in range(1, len(CHANNELS))]
    assert await control.apply_feedback_batch([huge, *others]) == ["failed"] + ["answered"] * (
        len(CHANNELS) - 1
    )
    case = await control.records.case("c1")
    assert case is not None and case["assets"] == [] and case["query"]["status"] == "running"
    unit = case["query"]["units"][0]
    assert unit["status"] == "pending" and "value_fen 4611686018427387904" in unit["error"]
    assert "AssetFound" not in await staged_types(control.ctx)
    # Asked again (a new request), the answer within bounds is applied and completes it.
    good = query_answer("c1", 0, deposit("a", 9_000), attempt=2)
    assert await control.apply_feedback_batch([good]) == ["answered"]
    case = await control.records.case("c1")
    assert case is not None and case["query"]["status"] == "completed"


class AnsweringOutOfBounds(Outside):
    """Outside systems that answer every query they are sent, out of bounds."""

    def __init__(self) -> None:
        super().__init__()
        self.ready: list[agency_pb.Feedback] = []
        self.acknowledged: list[str] = []

    async def submit_queries(self, requests: Sequence[agency_pb.SubmitQueryRequest]) -> None:
        await super().submit_queries(requests)
        for query in requests:
            self.ready.append(agency_pb.Feedback(
                feedback_id=f"f-{len(self.ready)}", request_id=query.request_id,
                status="found", assets=[agency_pb.AgencyAsset(asset_key="k", kind="yacht")],
            ))  # fmt: skip

    async def fetch_feedback(self, max_items: int) -> Sequence[agency_pb.Feedback]:
        batch, self.ready = self.ready[:max_items], self.ready[max_items:]
        return batch

    async def ack_feedback(self, feedback_ids: Sequence[str]) -> None:
        self.acknowledged += feedback_ids


async def test_a_channel_answering_out_of_bounds_is_asked_again_then_reported_failing() -> None:
    # An unknown asset kind used to raise inside the worker's transaction: the answer was
    # never acknowledged and every round fetched and failed on it again. Now each answer is
    # acknowledged, and the channel reported failing after its tries.
    settings = AgencySettings()
    clock = SimulatedClock(START)
    control = AssetControl(in_memory_context("asset_control", clock), settings)
    await file(control, "c1", 10_000)
    outside = AnsweringOutOfBounds()
    worker = AgencyWorker(control, outside, settings)
    for _ in range(settings.max_attempts):
        await worker.step()  # sends what is due, applies (and acknowledges) its answers
        clock.advance(dt.timedelta(seconds=settings.backoff_max_s))
    assert len(outside.acknowledged) == settings.max_attempts * len(CHANNELS)
    assert not outside.ready
    failures = [e.payload for e in await staged(control.ctx)
                if isinstance(e.payload, asset_pb.ChannelQueryFailed)]  # fmt: skip
    assert sorted(f.channel for f in failures) == sorted(c.value for c in CHANNELS)
    assert {f.attempts for f in failures} == {settings.max_attempts}
    assert all("the kind 'yacht' is not an asset kind" in f.last_error for f in failures)


async def test_a_case_records_its_most_assets_and_an_answer_past_them_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(query_module, "MAX_ASSETS_PER_CASE", 3)
    control = asset_control()
    await file(control, "c1", 10_000)
    first = query_answer("c1", 0, deposit("a", 1), deposit("b", 1))
    # Known assets reported again count nothing; two new ones would make four.
    past = query_answer("c1", 1, deposit("a", 1), deposit("c", 1), deposit("d", 1))
    assert await control.apply_feedback_batch([first, past]) == ["answered", "failed"]
    case = await control.records.case("c1")
    assert case is not None and len(case["assets"]) == 2
    assert "2 new assets and the case holds 2" in case["query"]["units"][1]["error"]
    assert await control.apply_feedback_batch(
        [query_answer("c1", 1, deposit("a", 1), deposit("c", 1), attempt=2)]
    ) == ["answered"]
    case = await control.records.case("c1")
    assert case is not None and len(case["assets"]) == 3


async def test_a_lead_is_not_verified_into_a_case_holding_its_most_assets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leads_module, "MAX_ASSETS_PER_CASE", 1)
    control = asset_control()
    await file(control, "c1", 10_000)
    await control.apply_feedback_batch([query_answer("c1", 0, DEPOSIT)])
    lead_id = await control.leads.add_lead("c1", "房产一处", "real_estate", False, identity=OFFICER)
    with pytest.raises(Conflict, match=r"holds 1 assets, the most one case may record \(1\)"):
        await control.leads.verify_lead(lead_id, HOUSE, identity=OFFICER)
    case = await control.records.case("c1")
    assert case is not None and case["assets"] == [asset_id_for("c1", DEPOSIT.asset_key)]


@pytest.mark.parametrize(
    "request_id",
    ["q.c1.1.-1.1", "q.c1.1.99.1", "q.c1.x.0.1", "q.c1.1.0." + "9" * 5000, "c.{asset}.x",
     "c.{asset}.-1"],
)  # fmt: skip
async def test_a_request_id_this_service_did_not_write_is_unknown(request_id: str) -> None:
    # Each used to raise (a non-numeric or huge part) or to answer the wrong unit (a
    # negative one indexes from the end).
    control, (first, _) = await with_two_deposits_frozen(AgencySettings())
    await file(control, "c2", 10_000)
    request_id = request_id.replace("q.c1.", "q.c2.").replace("{asset}", first)
    answer = agency_pb.Feedback(feedback_id="f", request_id=request_id, status="controlled",
                                controlled_amount_fen=1)  # fmt: skip
    assert await control.apply_feedback_batch([answer]) == ["unknown"]
    case = await control.records.case("c2")
    assert case is not None and {u["status"] for u in case["query"]["units"]} == {"pending"}
    record = await control.records.asset(first)
    assert record is not None and record["status"] == "control_pending"


async def test_a_freeze_reported_larger_than_asked_holds_what_was_asked() -> None:
    control, (first, _) = await with_two_deposits_frozen(AgencySettings())
    record = await control.records.asset(first)
    case = await control.records.case("c1")
    assert record is not None and case is not None
    asked, reserved = record["amount_fen"], case["reserved_fen"]
    for reported in (asked + 1, -1):  # the second a duplicate: applied once
        answer = controlled(record["control_request"], reported, n=reported)
        assert await control.apply_feedback_batch([answer]) == (
            ["controlled"] if reported > 0 else ["duplicate"]
        )
    held = await control.records.asset(first)
    case = await control.records.case("c1")
    assert held is not None and case is not None
    # Held, never failed (the asset is not controlled a second time), for what was asked.
    assert (held["status"], held["amount_fen"]) == ("controlled", asked)
    assert (held["reported_amount_fen"], case["reserved_fen"]) == (asked + 1, reserved)
    view = AssetView.model_validate(held)  # what GET /v1/assets/{id} answers
    assert (view.amount_fen, view.reported_amount_fen) == (asked, asked + 1)
    (took,) = [e.payload for e in await staged(control.ctx)
               if isinstance(e.payload, asset_pb.AssetControlled)]  # fmt: skip
    assert took.amount_fen == asked
    assert "ControlFailed" not in await staged_types(control.ctx)


@pytest.mark.parametrize("reported", [100_000, 150_000, 40_000, 0, INT64_MAX, -1])
async def test_property_is_held_at_what_it_was_controlled_for_whatever_is_reported(
    reported: int,
) -> None:
    # An unset value reads 0; one far above would stall every later freeze as over-seizure.
    car = agency_pb.AgencyAsset(asset_key="vehicle:v1", kind="vehicle", description="机动车",
                                value_fen=100_000, online_control=True)  # fmt: skip
    control = asset_control()
    await file(control, "c1", 10_000_000)
    await control.apply_feedback_batch([query_answer("c1", 4, car)])
    asset_id = asset_id_for("c1", car.asset_key)
    await control.controls.control(asset_id, identity=OFFICER, amount_fen=None, control_ref="")
    record = await control.records.asset(asset_id)
    assert record is not None and record["status"] == "control_pending"
    answer = controlled(record["control_request"], reported)
    assert await control.apply_feedback_batch([answer]) == ["controlled"]
    record = await control.records.asset(asset_id)
    case = await control.records.case("c1")
    assert record is not None and case is not None
    assert (record["amount_fen"], case["reserved_fen"]) == (100_000, 100_000)
    assert record.get("reported_amount_fen") == (None if reported == 100_000 else reported)
    await control.controls.release(asset_id, "已履行", identity=OFFICER)
    case = await control.records.case("c1")
    assert case is not None and case["reserved_fen"] == 0  # what it held, taken off
    # Controlled again, and reported as asked: the earlier report is not shown with it.
    await control.controls.control(asset_id, identity=OFFICER, amount_fen=None, control_ref="")
    record = await control.records.asset(asset_id)
    assert record is not None
    answer = controlled(record["control_request"], 100_000, n=2)
    assert await control.apply_feedback_batch([answer]) == ["controlled"]
    record = await control.records.asset(asset_id)
    assert record is not None and "reported_amount_fen" not in record


@pytest.mark.parametrize(("reported", "held"), [(-1, 3_000), (2_000, 2_000)])
async def test_a_freeze_is_held_for_what_the_balance_allowed_or_else_what_was_asked(
    reported: int, held: int
) -> None:
    control, (first, _) = await with_two_deposits_frozen(AgencySettings())
    record = await control.records.asset(first)
    case = await control.records.case("c1")
    assert record is not None and case is not None and record["amount_fen"] == 3_000
    reserved = case["reserved_fen"]
    long_ref = "R" * 5000
    answer = agency_pb.Feedback(feedback_id="f", request_id=record["control_request"],
                                status="controlled", controlled_amount_fen=reported,
                                control_ref=long_ref, error="x" * 5000,
                                assets=[DEPOSIT] * 2)  # fmt: skip
    assert await control.apply_feedback_batch([answer]) == ["controlled"]
    record = await control.records.asset(first)
    case = await control.records.case("c1")
    assert record is not None and case is not None
    assert (record["amount_fen"], case["reserved_fen"]) == (held, reserved - 3_000 + held)
    assert record["control_ref"] == long_ref[:100]  # what it does not use is not looked at


@pytest.mark.parametrize(
    ("status", "error", "named"),
    [("refused", "账户已销户", "the status 'refused' is none of controlled, failed, rejected"),
     ("rejected", "拒" * 2001, "its error text has 2001 characters")],
)  # fmt: skip
async def test_a_refusal_of_a_control_out_of_bounds_fails_it_saying_why(
    status: str, error: str, named: str
) -> None:
    control, (first, _) = await with_two_deposits_frozen(AgencySettings())
    record = await control.records.asset(first)
    assert record is not None
    answer = agency_pb.Feedback(feedback_id="f", request_id=record["control_request"],
                                status=status, error=error)  # fmt: skip
    assert await control.apply_feedback_batch([answer]) == ["failed"]
    (failed,) = [e.payload for e in await staged(control.ctx)
                 if isinstance(e.payload, asset_pb.ControlFailed)]  # fmt: skip
    assert failed.reason.startswith("the outside system's answer is out of bounds: " + named)
    assert len(failed.reason) < 400


# --- the funds service ----------------------------------------------------------------------


async def deduction_of(amount_fen: int) -> tuple[Funds, str]:
    funds = await funds_with_case()
    await funds.records.keep_assets({"asset-1": asset_facts(
        case_id="case-1", asset_key="bank:1", kind="bank_deposit", measure="freeze",
        amount_fen=amount_fen, controlled_by="officer-2",
    )})  # fmt: skip
    deduction = await funds.money_in.request_deduction(
        "case-1", identity=FUNDS_OFFICER, asset_id="asset-1", amount=amount_fen
    )
    return funds, deduction["deduction_id"]


@pytest.mark.parametrize(
    ("amount", "reference", "named"),
    [
        (60_001, "DED-1", "transferred 60001 fen, more than the 60000 asked"),
        (INT64_MAX, "DED-1", f"transferred {INT64_MAX} fen (at most {MAX_AMOUNT_FEN})"),
        (-1, "DED-1", "transferred -1 fen (at most"),
        (60_000, "", "names no bank reference"),
        (60_000, "B" * 101, "a bank reference of 101 characters (at most 100)"),
        # The platform's own: it would take a sale's proceeds' reference first.
        (60_000, "sale:AUC-1:asset-1", "bank reference sale:AUC-1:asset-1, beginning sale:"),
        (60_000, "Payout:P-1", "beginning Payout:"),
    ],
)
async def test_a_transfer_answered_as_done_that_cannot_be_recorded_is_kept_as_taken(
    amount: int, reference: str, named: str
) -> None:
    funds, deduction_id = await deduction_of(60_000)
    answer = agency_pb.Feedback(
        feedback_id="f1", request_id=deduction_id, status="transferred",
        transferred_amount_fen=amount, bank_reference=reference,
    )  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "unrecorded"
    assert await funds.money_in.apply_transfer(answer, "case-1") == "stale"  # delivered again
    record = await ledger(funds)
    deduction = record["deductions"][deduction_id]
    assert deduction["status"] == "unrecorded" and named in deduction["error"]
    assert record["payments"] == {}
    # The money may have moved: it is not deducted a second time.
    with pytest.raises(Conflict, match="0 fen"):
        await funds.money_in.request_deduction("case-1", identity=FUNDS_OFFICER,
                                               asset_id="asset-1", amount=1)  # fmt: skip
    (kept,) = [e.payload for e in await staged(funds.money_in.ctx)
               if isinstance(e.payload, funds_pb.DeductionAnswerUnrecorded)]  # fmt: skip
    assert named in kept.reason and "DeductionFailed" not in await staged_types(funds.money_in.ctx)
    within = amount in (60_001, 60_000) and len(reference) <= 100
    assert (kept.reported_amount_fen, kept.bank_reference) == (
        (amount, reference) if within else (0, "")
    )


async def test_a_bank_reference_of_another_receipt_keeps_the_deduction_unrecorded() -> None:
    funds, deduction_id = await deduction_of(60_000)
    await receive(funds, 10_000, reference="BANK-7")
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status="transferred",
                                transferred_amount_fen=60_000, bank_reference="BANK-7")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "unrecorded"
    record = await ledger(funds)
    deduction = record["deductions"][deduction_id]
    assert deduction["status"] == "unrecorded"
    assert "bank reference BANK-7 was recorded already" in deduction["error"]
    assert len(record["payments"]) == 1  # the receipt BANK-7 was, alone
    # A later answer that can be recorded records it, and the deduction is transferred.
    answer.feedback_id, answer.bank_reference = "f2", "DED-9"
    assert await funds.money_in.apply_transfer(answer, "case-1") == "arrived"
    record = await ledger(funds)
    assert record["deductions"][deduction_id]["status"] == "transferred"
    assert len(record["payments"]) == 2


async def test_a_transfer_answered_after_its_deduction_failed_is_kept_as_taken() -> None:
    # Failed for want of an answer after its sends, and the bank had moved the money.
    funds, deduction_id = await deduction_of(60_000)
    assert await funds.money_in.deduction_failed("case-1", deduction_id, "no answer after 5")
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status="transferred",
                                transferred_amount_fen=60_000, bank_reference="DED-1")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "unrecorded"
    record = await ledger(funds)
    deduction = record["deductions"][deduction_id]
    assert deduction["status"] == "unrecorded" and "after it was failed" in deduction["error"]
    with pytest.raises(Conflict, match="0 fen"):
        await funds.money_in.request_deduction("case-1", identity=FUNDS_OFFICER,
                                               asset_id="asset-1", amount=1)  # fmt: skip


async def test_a_transferred_deduction_answered_again_is_one_receipt_whatever_its_reference(
) -> None:  # fmt: skip
    funds, deduction_id = await deduction_of(60_000)
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status="transferred",
                                transferred_amount_fen=60_000, bank_reference="DED-1")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "arrived"
    assert await funds.money_in.apply_transfer(answer, "case-1") == "duplicate"
    # The same deduction answered under another reference is not a second receipt: a second
    # transfer, if the bank made one, is on its statement, for finance to record.
    answer.feedback_id, answer.bank_reference = "f2", "DED-2"
    assert await funds.money_in.apply_transfer(answer, "case-1") == "stale"
    record = await ledger(funds)
    (payment,) = record["payments"].values()
    assert payment["bank_reference"] == "DED-1"
    assert record["counters"]["received_fen"] == 60_000
    assert record["deductions"][deduction_id]["payment_id"] == payment["payment_id"]
    assert (await staged_types(funds.money_in.ctx)).count("FundsArrived") == 1


async def test_what_a_transfer_answer_does_not_use_does_not_keep_it_from_its_receipt() -> None:
    funds, deduction_id = await deduction_of(60_000)
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status="transferred",
                                transferred_amount_fen=60_000, bank_reference="DED-1",
                                error="x" * 5000, assets=[DEPOSIT])  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "arrived"


@pytest.mark.parametrize(
    ("status", "amount", "named"),
    [
        ("transferred", 0, "answered transferred, of 0 fen"),
        ("refused", 0, "the status 'refused' is none of failed, rejected, transferred"),
        ("rejected", 0, "余额不足"),
    ],
)
async def test_a_deduction_nothing_moved_for_fails_and_may_be_asked_again(
    status: str, amount: int, named: str
) -> None:
    funds, deduction_id = await deduction_of(60_000)
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status=status,
                                transferred_amount_fen=amount, error="余额不足")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "failed"
    record = await ledger(funds)
    deduction = record["deductions"][deduction_id]
    assert deduction["status"] == "failed" and named in deduction["error"]
    again = await funds.money_in.request_deduction(
        "case-1", identity=FUNDS_OFFICER, asset_id="asset-1", amount=60_000
    )
    assert again["status"] == "requested"


# --- finance reviews an unrecorded deduction ------------------------------------------------


async def unrecorded_of(asked: int = 60_000) -> tuple[Funds, str]:
    """A deduction the bank answered as 1 fen more than asked: unrecorded."""
    funds, deduction_id = await deduction_of(asked)
    answer = agency_pb.Feedback(
        feedback_id="f1", request_id=deduction_id, status="transferred",
        transferred_amount_fen=asked + 1, bank_reference="DED-1",
    )  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "unrecorded"
    return funds, deduction_id


async def reviewed(funds: Funds, deduction_id: str) -> funds_pb.DeductionReviewed:
    (review,) = [e.payload for e in await staged(funds.money_in.ctx)
                 if isinstance(e.payload, funds_pb.DeductionReviewed)]  # fmt: skip
    assert review.deduction_id == deduction_id and review.reviewed_by == FUNDS_FINANCE.subject
    return review


async def test_money_finance_finds_on_the_statement_is_recorded_once_as_the_deduction() -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    deduction = await funds.money_in.review_deduction(
        "case-1", deduction_id, identity=FUNDS_FINANCE, moved=True, bank_reference="BANK-DED-1",
        amount=40_000, note="对账单显示到账4万元",
    )  # fmt: skip
    record = await ledger(funds)
    (payment,) = record["payments"].values()
    assert (payment["amount_fen"], payment["source"], payment["asset_id"]) == (
        40_000,
        "deduction",
        "asset-1",
    )
    assert deduction["status"] == "transferred"
    assert (deduction["payment_id"], deduction["transferred_fen"]) == (
        payment["payment_id"],
        40_000,
    )
    assert record["counters"]["received_fen"] == 40_000
    review = await reviewed(funds, deduction_id)
    assert (review.moved, review.payment_id, review.amount_fen) == (True, payment["payment_id"],
                                                                    40_000)  # fmt: skip
    # What the deduction did not take of the deposit may be deducted; no more.
    with pytest.raises(Conflict, match="20000 fen"):
        await funds.money_in.request_deduction("case-1", identity=FUNDS_OFFICER,
                                               asset_id="asset-1", amount=20_001)  # fmt: skip
    # The bank's own answer, coming after all under its own reference, is the same transfer:
    # the statement is the record now.
    late = agency_pb.Feedback(feedback_id="f2", request_id=deduction_id, status="transferred",
                              transferred_amount_fen=40_000, bank_reference="DED-2")  # fmt: skip
    assert await funds.money_in.apply_transfer(late, "case-1") == "stale"
    assert (await ledger(funds))["counters"]["received_fen"] == 40_000
    # Reviewed once: a second review is refused, and records nothing twice.
    with pytest.raises(Conflict, match="only a deduction whose answer could not be recorded"):
        await funds.money_in.review_deduction("case-1", deduction_id, identity=FUNDS_FINANCE,
                                              moved=False)  # fmt: skip
    assert len((await ledger(funds))["payments"]) == 1


async def test_a_deduction_finance_recorded_from_the_statement_first_is_that_receipt() -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    payment_id = await receive(funds, 60_000, reference="BANK-DED-1")
    with pytest.raises(Invalid, match="recorded as arrived on 2026") as misdated:
        await funds.money_in.review_deduction(
            "case-1", deduction_id, identity=FUNDS_FINANCE, moved=True,
            bank_reference="BANK-DED-1", amount=60_000, arrived_on=dt.date(2026, 1, 2),
        )  # fmt: skip
    assert misdated.value.loc == ("body", "arrived_on")
    deduction = await funds.money_in.review_deduction(
        "case-1", deduction_id, identity=FUNDS_FINANCE, moved=True, bank_reference="BANK-DED-1",
        amount=60_000,
    )  # fmt: skip
    record = await ledger(funds)
    assert list(record["payments"]) == [payment_id]  # not counted twice
    payment = record["payments"][payment_id]
    # The receipt is the deduction's now: its controller does not approve its payout.
    assert (payment["asset_id"], payment["controlled_by"]) == ("asset-1", ["officer-2"])
    assert record["counters"]["received_fen"] == 60_000
    assert (deduction["status"], deduction["payment_id"]) == ("transferred", payment_id)
    assert (await reviewed(funds, deduction_id)).payment_id == payment_id


def first_read_gives(funds: Funds, earlier: Any) -> list[Any]:
    """The next read of the case's ledger (as an answer is first looked at, outside a
    transaction) gives it as it was ``earlier``; the list returned is emptied by that read."""
    get = funds.records.get
    reads = [earlier]

    async def first_read_as_earlier(case_id: str, *args: Any) -> Any:
        return reads.pop() if reads else await get(case_id, *args)

    funds.records.get = first_read_as_earlier  # type: ignore[method-assign,assignment]
    return reads


async def test_an_answer_read_before_finance_s_review_committed_is_not_counted_again() -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    before = await funds.records.get("case-1")
    await funds.money_in.review_deduction(
        "case-1", deduction_id, identity=FUNDS_FINANCE, moved=True, bank_reference="BANK-DED-1",
        amount=60_000,
    )  # fmt: skip
    reads = first_read_gives(funds, before)
    late = agency_pb.Feedback(feedback_id="f2", request_id=deduction_id, status="transferred",
                              transferred_amount_fen=60_000, bank_reference="DED-2")  # fmt: skip
    assert await funds.money_in.apply_transfer(late, "case-1") == "stale"
    assert reads == []  # the answer was looked at as before the review
    record = await ledger(funds)
    assert len(record["payments"]) == 1 and record["counters"]["received_fen"] == 60_000


async def test_an_answer_read_before_its_deduction_failed_is_kept_for_review() -> None:
    funds, deduction_id = await deduction_of(60_000)
    before = await funds.records.get("case-1")
    assert await funds.money_in.deduction_failed("case-1", deduction_id, "no answer after 5")
    reads = first_read_gives(funds, before)
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status="transferred",
                                transferred_amount_fen=60_000, bank_reference="DED-1")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "unrecorded"
    assert reads == []
    record = await ledger(funds)
    assert record["payments"] == {} and record["deductions"][deduction_id]["status"] == (
        "unrecorded"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "reference"),
    [
        (50_000, "BANK-DED-1"),  # the receipt under that reference is of another amount
        (60_000, "DED-OTHER"),  # that receipt is another deduction's
        (60_000, "sale:S-1:house-1"),  # that receipt is a sale's proceeds
    ],
)
async def test_one_transfer_is_one_receipt_when_finance_reviews_a_deduction(
    amount: int, reference: str
) -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    await receive(funds, 60_000, reference="BANK-DED-1")
    await funds.records.keep_assets({"asset-2": asset_facts(
        case_id="case-1", asset_key="bank:2", kind="bank_deposit", measure="freeze",
        amount_fen=60_000,
    )})  # fmt: skip
    other = await funds.money_in.request_deduction("case-1", identity=FUNDS_OFFICER,
                                                   asset_id="asset-2", amount=60_000)  # fmt: skip
    answer = agency_pb.Feedback(feedback_id="f2", request_id=other["deduction_id"],
                                status="transferred", transferred_amount_fen=60_000,
                                bank_reference="DED-OTHER")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "arrived"
    assert await funds.money_in.record_proceeds("case-1", "house-1", 60_000, "S-1", Source.SALE)
    with pytest.raises(Conflict, match=f"bank reference {reference} was recorded already"):
        await funds.money_in.review_deduction(
            "case-1", deduction_id, identity=FUNDS_FINANCE, moved=True,
            bank_reference=reference, amount=amount,
        )  # fmt: skip
    assert (await ledger(funds))["deductions"][deduction_id]["status"] == "unrecorded"


async def test_a_deduction_finance_finds_nothing_moved_for_fails_and_frees_the_deposit() -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    deduction = await funds.money_in.review_deduction(
        "case-1", deduction_id, identity=FUNDS_FINANCE, moved=False, note="对账单无此笔"
    )
    assert deduction["status"] == "failed" and "nothing moved" in deduction["error"]
    review = await reviewed(funds, deduction_id)
    assert (review.moved, review.payment_id, review.amount_fen, review.note) == (
        False,
        "",
        0,
        "对账单无此笔",
    )
    assert (await ledger(funds))["payments"] == {}
    again = await funds.money_in.request_deduction("case-1", identity=FUNDS_OFFICER,
                                                   asset_id="asset-1", amount=60_000)  # fmt: skip
    assert again["status"] == "requested"
    # The bank answering it as transferred after all leaves it unrecorded again, for review.
    late = agency_pb.Feedback(feedback_id="f9", request_id=deduction_id, status="transferred",
                              transferred_amount_fen=60_000, bank_reference="DED-LATE")  # fmt: skip
    assert await funds.money_in.apply_transfer(late, "case-1") == "unrecorded"


async def test_only_finance_of_the_handling_court_reviews_an_unrecorded_deduction() -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    with pytest.raises(ScopeError):
        await funds.money_in.review_deduction("case-1", deduction_id, moved=False,
                                              identity=FUNDS_OFFICER)  # fmt: skip
    above, sibling = person(Role.FINANCE, "苏12", "f-12"), person(Role.FINANCE, "苏1282", "f-9")
    with pytest.raises(ScopeError, match="handled by 苏1283"):
        await funds.money_in.review_deduction("case-1", deduction_id, moved=False, identity=above)
    with pytest.raises(NotFound):  # a court that does not see the case is not told of it
        await funds.money_in.review_deduction("case-1", deduction_id, moved=False,
                                              identity=sibling)  # fmt: skip
    review = funds.money_in.review_deduction
    with pytest.raises(NotFound, match="no deduction no-such"):
        await review("case-1", "no-such", identity=FUNDS_FINANCE, moved=True,
                     bank_reference="B-1", amount=1)  # fmt: skip
    with pytest.raises(Invalid, match="more than that") as refused:
        await review("case-1", deduction_id, identity=FUNDS_FINANCE, moved=True,
                     bank_reference="B-1", amount=60_001)  # fmt: skip
    assert refused.value.loc == ("body", "amount_fen")
    tomorrow = START.date() + dt.timedelta(days=2)
    with pytest.raises(Invalid, match="future"):
        await funds.money_in.review_deduction("case-1", deduction_id, identity=FUNDS_FINANCE,
                                              moved=True, bank_reference="B-1", amount=1,
                                              arrived_on=tomorrow)  # fmt: skip
    assert (await ledger(funds))["deductions"][deduction_id]["status"] == "unrecorded"


async def test_finance_finds_the_deductions_to_review_in_its_list_and_reviews_one() -> None:
    funds, deduction_id = await unrecorded_of(60_000)
    app = create_http_app(funds.money_in.ctx, title="funds", description="")
    app.include_router(router)
    app.state.funds = funds
    tokens = funds.money_in.ctx.tokens
    token = tokens.issue(subject="finance-1", court_code="苏1283", role=Role.FINANCE)
    auth = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as http:
        (case,) = (await http.get("/v1/funds", headers=auth)).json()
        assert case["deductions_to_review"] == 1
        # The court's money balances, and its reconciliation says what the figures may not
        # hold yet.
        (court,) = (await http.get("/v1/funds/reconciliation", headers=auth)).json()
        assert court["balances"] and court["received_fen"] == 0
        assert (court["deductions_to_review"], court["to_review_fen"]) == (1, 60_000)
        review = f"/v1/cases/case-1/deductions/{deduction_id}/review"
        vague = await http.post(review, headers=auth, json={"moved": True, "amount_fen": 1})
        assert vague.status_code == 422 and "bank_reference" in vague.text
        # A reference of the platform's own (a sale's proceeds, a payout) is no bank's.
        for taken in ("sale:S-1", "SALE:S-1", "payout:P-1", "self_disposal:a"):
            reserved = await http.post(review, headers=auth, json={
                "moved": True, "amount_fen": 1, "bank_reference": taken})  # fmt: skip
            assert reserved.status_code == 422, taken
            assert "may not begin with" in reserved.text and "bank_reference" in reserved.text
        answer = await http.post(review, headers=auth, json={"moved": False})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "failed"
        (case,) = (await http.get("/v1/funds", headers=auth)).json()
        assert case["deductions_to_review"] == 0
        (court,) = (await http.get("/v1/funds/reconciliation", headers=auth)).json()
        assert (court["deductions_to_review"], court["to_review_fen"]) == (0, 0)
        again = await http.post(review, headers=auth, json={"moved": False})
        assert again.status_code == 409 and "unrecorded" in again.json()["detail"]


def test_a_review_gives_its_figures_when_the_money_moved_and_none_when_not() -> None:
    assert DeductionReviewIn(moved=True, bank_reference="B-1", amount_fen=1).amount_fen == 1
    assert DeductionReviewIn(moved=False, note="无").bank_reference is None
    with pytest.raises(ValidationError, match="money that moved needs amount_fen"):
        DeductionReviewIn(moved=True, bank_reference="B-1")
    with pytest.raises(ValidationError, match="nothing moved: bank_reference must not be given"):
        DeductionReviewIn(moved=False, bank_reference="B-1")


# --- fetching large answers -----------------------------------------------------------------


async def test_answers_too_large_to_fetch_together_are_fetched_in_halves() -> None:
    # Four answers of the largest size the bounds allow (about 6.3 MB each) pass gRPC's
    # 4 MiB default and this client's 16 MiB in one reply: the fetch halves until they fit,
    # and never stops on them.
    clock = SimulatedClock(START)
    # The gateway's own answers come a minute later (the clock stands still): only the
    # large ones below are ready.
    async with served(clock, latency_ms=60_000) as (server, client):
        queries = [agency_pb.SubmitQueryRequest(request_id=f"q.c1.1.{n}.1", channel="bank",
                                                debtor_id_number=credit_code(3))
                   for n in range(4)]  # fmt: skip
        await client.submit_queries(queries)
        largest = [
            agency_pb.AgencyAsset(asset_key=f"{n:0200d}", kind="real_estate",
                                  description="房" * 2000, value_fen=MAX_AMOUNT_FEN)
            for n in range(MAX_ASSETS_PER_ANSWER)
        ]  # fmt: skip
        for n in range(4):
            answer = agency_pb.Feedback(feedback_id=f"f{n}", request_id=f"q.c1.1.{n}.1",
                                        status="found", assets=largest)  # fmt: skip
            assert fault_of(answer, QUERY_STATUSES) is None and answer.ByteSize() > 6_000_000
            server.gateway._keep_feedback(answer, clock.now())
        fetches = counting_fetches(client)
        fetched = await client.fetch_feedback(4)  # then 2, which fit
        assert [f.feedback_id for f in fetched] == ["f0", "f1"]
        assert all(len(f.assets) == MAX_ASSETS_PER_ANSWER for f in fetched)
        assert fetches == [4, 2]
        # Remembered: the next round asks for twice what fitted, not from 200 down.
        assert [f.feedback_id for f in await client.fetch_feedback(200)] == ["f0", "f1"]
        assert fetches == [4, 2, 4, 2]
        # Once the large answers are gone (acknowledged), it grows back to what is asked.
        await client.ack_feedback([f"f{n}" for n in range(4)])
        for _ in range(8):
            await client.fetch_feedback(200)
        assert fetches[4:] == [4, 8, 16, 32, 64, 128, 200, 200]


def counting_fetches(client: GatewayClient) -> list[int]:
    """How many answers each of ``client``'s fetches asks for, in order."""
    asked: list[int] = []
    unary = client._unary

    async def counted(call: Any, request: Any, **kwargs: Any) -> Any:
        if isinstance(request, agency_pb.FetchFeedbackRequest):
            asked.append(request.max)
        return await unary(call, request, **kwargs)

    client._unary = counted  # type: ignore[method-assign]
    return asked


def test_the_case_timeline_tells_finance_what_the_bank_answered() -> None:
    story = FundsStory()
    reason = "transferred 60001 fen, more than the 60000 asked"
    line = story.line("DeductionAnswerUnrecorded", {
        "reported_amount_fen": "60001", "bank_reference": "DED-1", "reason": reason,
    })  # fmt: skip
    assert (
        line
        == f"扣划答复无法入账，待财务核查，答复称已扣划 600.01元，银行流水号 DED-1，原因：{reason}"
    )
    assert (
        story.line("DeductionAnswerUnrecorded", {"reason": "x"})
        == "扣划答复无法入账，待财务核查，原因：x"
    )
    moved = {"moved": True, "amount_fen": "60000", "bank_reference": "BANK-DED-1"}
    assert story.line("DeductionReviewed", moved) == (
        "财务核查扣划答复：已到账 600.00元，银行流水号 BANK-DED-1"
    )
    assert story.line("DeductionReviewed", {"note": "对账单无此笔"}) == (
        "财务核查扣划答复：款项未到账，扣划未成功，说明：对账单无此笔"
    )


async def test_an_answer_finance_recorded_first_from_the_statement_waits_for_its_review() -> None:
    """Finance recorded the transfer from the bank statement before the outside system
    answered the deduction under that reference: the deduction is unrecorded (not left
    requested, sent again, failed and its deposit deducted twice), and finance's review
    makes the receipt the deduction's, counted once."""
    funds, deduction_id = await deduction_of(60_000)
    await receive(funds, 60_000, reference="BANK-R")
    answer = agency_pb.Feedback(feedback_id="f1", request_id=deduction_id, status="transferred",
                                transferred_amount_fen=60_000, bank_reference="BANK-R")  # fmt: skip
    assert await funds.money_in.apply_transfer(answer, "case-1") == "unrecorded"
    deduction = (await ledger(funds))["deductions"][deduction_id]
    assert deduction["status"] == "unrecorded" and "from the bank statement" in deduction["error"]
    assert await funds.money_in.transfer_request("case-1", deduction_id, 1_000) is None  # not sent
    assert await funds.money_in.apply_transfer(answer, "case-1") == "stale"  # delivered again
    # The same transfer named again under another reference is not a second receipt.
    renamed = agency_pb.Feedback(feedback_id="f2", request_id=deduction_id, status="transferred",
                                 transferred_amount_fen=60_000, bank_reference="DED-9")  # fmt: skip
    assert await funds.money_in.apply_transfer(renamed, "case-1") == "stale"
    assert (await ledger(funds))["counters"]["received_fen"] == 60_000
    reviewed_deduction = await funds.money_in.review_deduction(
        "case-1", deduction_id, identity=FUNDS_FINANCE, moved=True, bank_reference="BANK-R",
        amount=60_000,
    )  # fmt: skip
    assert reviewed_deduction["status"] == "transferred"
    record = await ledger(funds)
    (payment,) = record["payments"].values()
    assert payment["asset_id"] == "asset-1" and record["counters"]["received_fen"] == 60_000


async def test_an_answer_naming_another_deduction_s_receipt_is_unrecorded_saying_so() -> None:
    funds, first = await deduction_of(30_000)
    await funds.records.keep_assets({"asset-2": asset_facts(
        case_id="case-1", asset_key="bank:2", kind="bank_deposit", measure="freeze",
        amount_fen=30_000,
    )})  # fmt: skip
    second = await funds.money_in.request_deduction(
        "case-1", identity=FUNDS_OFFICER, asset_id="asset-2", amount=30_000
    )
    for n, deduction_id in enumerate((first, second["deduction_id"])):
        answer = agency_pb.Feedback(feedback_id=f"f{n}", request_id=deduction_id,
                                    status="transferred", transferred_amount_fen=30_000,
                                    bank_reference="DED-1")  # fmt: skip
        outcome = await funds.money_in.apply_transfer(answer, "case-1")
        assert outcome == ("arrived" if n == 0 else "unrecorded")
    error = (await ledger(funds))["deductions"][second["deduction_id"]]["error"]
    assert "as another deduction's receipt" in error and "review" not in error
