"""Transfer of disposal to the priority creditor's court (法释〔2016〕6号 items 1–2) on the
in-memory repository: the gate counted from the catalogue (refused a day short, allowed a
day over), the other refusals, the answer by the first-seizing court only, and what moves
on agreement."""

from __future__ import annotations

import datetime as dt

import pytest

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.transfer_domain import REQUEST_GATE, first_day_allowed
from tests.factories import START
from tests.fakes import in_memory_context, person, staged, staged_types
from tests.unit.test_asset_control_handlers import HOUSE, answer, file
from zhixing.assets import PriceMethod, SaleMode
from zhixing.auth import Role, ScopeError
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2 as asset_pb

FIRST = "苏1283"  # the court of the first seizure
PRIORITY = "沪0115"  # the mortgagee's court, elsewhere in the country
OFFICER = person(Role.OFFICER, FIRST, subject="o-1")
LEADER = person(Role.LEADER, FIRST, subject="l-1")
REQUESTER = person(Role.OFFICER, PRIORITY, subject="p-1")
GATE_DAYS = catalogue().rule(REQUEST_GATE).period.limit


async def seized_house() -> tuple[AssetControl, SimulatedClock, str]:
    """A house first seized today by the first court's case c1."""
    clock = SimulatedClock(START)
    control = AssetControl(in_memory_context("asset_control", clock), AgencySettings())
    await file(control, "c1", 10_000_000)
    await answer(control, "c1", {"real_estate": [HOUSE]})
    house = asset_id_for("c1", HOUSE.asset_key)
    await control.controls.control(house, identity=OFFICER, amount_fen=None, control_ref="r1")
    return control, clock, house


async def ask(control: AssetControl, house: str, who: object = REQUESTER) -> dict[str, object]:
    return await control.transfers.request(
        house,
        "（2026）沪0115执9号",
        "抵押权（（2025）沪0115民初1号判决确认）",
        identity=who,  # type: ignore[arg-type]
    )


def test_the_first_day_allowed_is_the_day_after_the_catalogues_period() -> None:
    period = catalogue().rule(REQUEST_GATE).period
    seized = dt.date(2026, 3, 2)
    assert first_day_allowed(seized, period) == seized + dt.timedelta(days=GATE_DAYS + 1)


@pytest.mark.parametrize(("days", "allowed"), [(GATE_DAYS - 1, False), (GATE_DAYS + 1, True)])
async def test_the_gate_counts_the_catalogues_days_from_the_first_seizure(
    days: int, allowed: bool
) -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=days))
    if not allowed:
        with pytest.raises(Conflict, match=REQUEST_GATE):
            await ask(control, house)
        assert "DisposalTransferRequested" not in await staged_types(control.ctx)
        return
    transfer = await ask(control, house)
    assert transfer["status"] == "pending" and transfer["first_court"] == FIRST
    seized_on = START.astimezone(CHINA_TZ).date().isoformat()
    requested = (await staged(control.ctx))[-1]
    assert isinstance(requested.payload, asset_pb.DisposalTransferRequested)
    # The first-seizing court must answer: the clock is its; the requester observes it.
    assert requested.envelope.court_code == FIRST
    assert list(requested.payload.observer_courts) == [PRIORITY]
    assert requested.payload.first_seized_on == seized_on
    assert requested.payload.case_id == "c1"


async def test_a_sale_started_a_pending_request_or_no_first_seizure_refuse_the_request() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    with pytest.raises(Conflict, match="itself"):  # the first court has nothing to ask for
        await ask(control, house, OFFICER)
    with pytest.raises(ScopeError):  # a clerk does not ask
        await ask(control, house, person(Role.CLERK, PRIORITY))
    with pytest.raises(NotFound):
        await ask(control, "no-such-asset")
    await ask(control, house)
    with pytest.raises(Conflict, match="awaits its answer"):
        await ask(control, house, person(Role.LEADER, "京0105"))
    # An auction notice is out: nothing is left to transfer.
    control2, clock2, house2 = await seized_house()
    disposer = person(Role.OFFICER, FIRST, subject="o-2")  # not who controlled it (分段办理)
    await control2.disposal.start_reference_price(
        house2, PriceMethod.NEGOTIATION, identity=disposer
    )
    await control2.disposal.fix_reference_price(house2, 6_000_000, identity=disposer)
    await control2.disposal.start_sale(house2, SaleMode.ONLINE_AUCTION, "", identity=disposer)
    clock2.advance(dt.timedelta(days=GATE_DAYS + 1))
    with pytest.raises(Conflict, match=f"sale.*{REQUEST_GATE}"):
        await ask(control2, house2)
    # A waiting seizure (轮候) is not the first seizure.
    await file(control2, "c2", 10_000_000)
    await answer(control2, "c2", {"real_estate": [HOUSE]})
    waiting = asset_id_for("c2", HOUSE.asset_key)
    await control2.controls.control(waiting, identity=OFFICER, amount_fen=None, control_ref="")
    with pytest.raises(Conflict, match="not under a first seizure"):
        await ask(control2, waiting)


async def test_only_the_first_seizing_court_answers_and_a_refusal_states_its_reason() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    with pytest.raises(Conflict, match="awaits an answer"):
        await control.transfers.answer(house, True, "", identity=LEADER)
    await ask(control, house)
    with pytest.raises(NotFound):  # the requesting court does not answer its own request
        await control.transfers.answer(house, True, "", identity=REQUESTER)
    with pytest.raises(Invalid, match="reason"):
        await control.transfers.answer(house, False, "", identity=LEADER)
    refused = await control.transfers.answer(house, False, "已发布拍卖公告准备中", identity=LEADER)
    assert (refused["status"], refused["agreed"]) == ("refused", False)
    record = await control.records.asset(house)
    assert record is not None and record["court_code"] == FIRST  # nothing moved
    assert "AssetCourtChanged" not in await staged_types(control.ctx)
    # A refusal is not the end: the priority court may ask again.
    assert (await ask(control, house))["status"] == "pending"


async def test_an_agreement_moves_the_disposal_and_leaves_the_case_with_its_court() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    await ask(control, house)
    agreed = await control.transfers.answer(house, True, "", identity=OFFICER)
    assert (agreed["status"], agreed["agreed"]) == ("agreed", True)
    events = await staged(control.ctx)
    answered, moved = events[-2], events[-1]
    assert isinstance(answered.payload, asset_pb.DisposalTransferAnswered)
    assert answered.envelope.court_code == FIRST  # stops the first court's clock
    assert isinstance(moved.payload, asset_pb.AssetCourtChanged)
    assert (moved.payload.from_court, moved.payload.to_court) == (FIRST, PRIORITY)
    record = await control.records.asset(house)
    case = await control.records.case("c1")
    assert record is not None and case is not None
    assert (record["court_code"], record["case_id"], case["court_code"]) == (PRIORITY, "c1", FIRST)
    # The priority court disposes now; the first court no longer does.
    disposer = person(Role.OFFICER, PRIORITY, subject="p-2")
    with pytest.raises(NotFound):
        await control.disposal.start_reference_price(
            house, PriceMethod.NEGOTIATION, identity=OFFICER
        )
    await control.disposal.start_reference_price(house, PriceMethod.NEGOTIATION, identity=disposer)
    started = (await staged(control.ctx))[-1]
    assert started.envelope.court_code == PRIORITY  # its clocks run at the disposing court
    with pytest.raises(Conflict, match="transferred already"):
        await ask(control, house, person(Role.OFFICER, "京0105"))
    # The first seizure's case moving to another court leaves the transferred asset alone.
    assert await control.move_case("c1", FIRST, "苏1202")
    moved_record = await control.records.asset(house)
    assert moved_record is not None and moved_record["court_code"] == PRIORITY
