"""Transfer of disposal to the priority creditor's court (法释〔2016〕6号 items 1–2) on the
in-memory repository: the gate counted from the catalogue (refused a day short, allowed a
day over), the other refusals, the answer by the first-seizing court only, and what moves
on agreement."""

from __future__ import annotations

import datetime as dt
import json
from typing import cast

import pytest
from google.protobuf.message import Message

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.reactions import ControlTerms, control_term_lapses
from services.asset_control.transfer_domain import (
    REQUEST_GATE,
    first_day_allowed,
    readers,
    transfer_readers,
)
from tests.factories import START
from tests.fakes import in_memory_context, person, staged, staged_types
from tests.unit.test_asset_control_handlers import HOUSE, answer, file
from zhixing.assets import PriceMethod, SaleMode
from zhixing.auth import Role, ScopeError
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event, new_event, timestamp
from zhixing.projection import Transaction
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import deadline_events_pb2 as deadline_pb
from zhixing.v1 import envelope_pb2

FIRST = "苏1283"  # the court of the first seizure
PRIORITY = "沪0115"  # the mortgagee's court, elsewhere in the country
OFFICER = person(Role.OFFICER, FIRST, subject="o-1")
LEADER = person(Role.LEADER, FIRST, subject="l-1")
REQUESTER = person(Role.OFFICER, PRIORITY, subject="p-1")
GATE_DAYS = catalogue().rule(REQUEST_GATE).period.limit


async def seized_house() -> tuple[AssetControl, SimulatedClock, str]:
    """A house first seized today by the first court's case c1, and seized again (轮候) by
    the priority court's case p1: its standing to ask for the disposal."""
    clock = SimulatedClock(START)
    control = AssetControl(in_memory_context("asset_control", clock), AgencySettings())
    await file(control, "c1", 10_000_000)
    await answer(control, "c1", {"real_estate": [HOUSE]})
    house = asset_id_for("c1", HOUSE.asset_key)
    await control.controls.control(house, identity=OFFICER, amount_fen=None, control_ref="r1")
    await file(control, "p1", 10_000_000)  # filed at the first court, then moved
    await answer(control, "p1", {"real_estate": [HOUSE]})
    waiting = asset_id_for("p1", HOUSE.asset_key)
    await control.controls.control(waiting, identity=OFFICER, amount_fen=None, control_ref="")
    assert await control.move_case("p1", FIRST, PRIORITY)
    return control, clock, house


async def ask(control: AssetControl, house: str, who: object = REQUESTER) -> dict[str, object]:
    return await control.transfers.request(
        house,
        "（2026）沪0115执9号",
        "抵押权（（2025）沪0115民初1号判决确认）",
        identity=who,  # type: ignore[arg-type]
    )


async def moves_of(control: AssetControl, asset_id: str) -> list[asset_pb.AssetCourtChanged]:
    return [
        e.payload for e in await staged(control.ctx)
        if isinstance(e.payload, asset_pb.AssetCourtChanged) and e.payload.subject_id == asset_id
    ]  # fmt: skip


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
        await ask(control, house, person(Role.LEADER, PRIORITY))
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
    # A waiting seizure (轮候) is not the first seizure: the first court asks nothing of it.
    waiting = asset_id_for("p1", HOUSE.asset_key)
    await file(control2, "c3", 10_000_000)
    await answer(control2, "c3", {"real_estate": [HOUSE]})
    third = asset_id_for("c3", HOUSE.asset_key)
    await control2.controls.control(third, identity=OFFICER, amount_fen=None, control_ref="")
    assert await control2.move_case("c3", FIRST, "京0105")
    with pytest.raises(Conflict, match="not under a first seizure"):
        await ask(control2, waiting, person(Role.OFFICER, "京0105"))


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
    assert not await moves_of(control, house)
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
    with pytest.raises(Conflict, match="itself"):  # the priority court holds it now
        await ask(control, house)
    # The first seizure's case moving to another court leaves the transferred asset alone.
    assert await control.move_case("c1", FIRST, "苏1202")
    moved_record = await control.records.asset(house)
    assert moved_record is not None and moved_record["court_code"] == PRIORITY


async def test_a_court_without_a_waiting_seizure_on_the_asset_learns_nothing_of_it() -> None:
    control, clock, house = await seized_house()
    stranger = person(Role.OFFICER, "京0105", subject="x-1")
    with pytest.raises(NotFound) as unknown:
        await ask(control, "no-such-asset", stranger)
    # Before the gate, after it, with a sale begun: the same 404 as for an unknown asset,
    # so the answer tells nothing of the asset's state, its seizure or who else asked.
    for days in (1, GATE_DAYS + 1):
        clock.advance(dt.timedelta(days=days))
        with pytest.raises(NotFound) as refused:
            await ask(control, house, stranger)
        assert str(refused.value) == str(unknown.value).replace("no-such-asset", house)
    await ask(control, house)  # the priority court (its 轮候 on the house) has standing
    with pytest.raises(NotFound):
        await ask(control, house, stranger)
    assert [t for t in await staged_types(control.ctx) if t == "DisposalTransferRequested"] == [
        "DisposalTransferRequested"
    ]


async def test_after_a_refusal_the_requesting_court_reads_the_answer_not_the_asset() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    await ask(control, house)
    pending = await control.records.asset(house)
    assert pending is not None
    assert PRIORITY not in readers(pending)  # asking gives no read of the asset
    assert PRIORITY in transfer_readers(pending)
    await control.transfers.answer(
        house, False, "优先受偿权尚未经生效法律文书确认", identity=LEADER
    )
    refused = await control.records.asset(house)
    assert refused is not None
    assert readers(refused) == [FIRST]
    assert PRIORITY in transfer_readers(refused)  # it reads why it was refused


@pytest.mark.parametrize("ending", ["release", "lapse"])
async def test_a_pending_request_is_closed_when_the_first_seizure_ends(ending: str) -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    await ask(control, house)
    if ending == "release":
        await control.controls.release(house, "债务已清偿", identity=OFFICER)
    else:
        assert await control.controls.lapse(house, "clock-1", "lapse", "cause-1")
    closed = [
        e for e in await staged(control.ctx)
        if isinstance(e.payload, asset_pb.DisposalTransferAnswered)
    ]  # fmt: skip
    assert len(closed) == 1  # it stops the first court's answer clock
    assert closed[0].envelope.court_code == FIRST
    assert closed[0].envelope.actor.id == "svc:asset_control"
    answered = closed[0].payload
    assert isinstance(answered, asset_pb.DisposalTransferAnswered)
    assert not answered.agreed and "首先查封" in answered.reason
    record = await control.records.asset(house)
    assert record is not None and record["transfer"]["status"] == "closed"
    with pytest.raises(Conflict, match="awaits an answer"):  # nothing left to agree to
        await control.transfers.answer(house, True, "", identity=LEADER)
    assert not await moves_of(control, house)


async def test_agreeing_after_the_sale_began_is_refused_by_the_gate() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    await ask(control, house)
    disposer = person(Role.OFFICER, FIRST, subject="o-2")
    await control.disposal.start_reference_price(house, PriceMethod.NEGOTIATION, identity=disposer)
    await control.disposal.fix_reference_price(house, 6_000_000, identity=disposer)
    await control.disposal.start_sale(house, SaleMode.ONLINE_AUCTION, "", identity=disposer)
    with pytest.raises(Conflict, match=f"sale.*{REQUEST_GATE}"):
        await control.transfers.answer(house, True, "", identity=LEADER)
    record = await control.records.asset(house)
    assert record is not None and record["court_code"] == FIRST
    assert record["transfer"]["status"] == "pending"  # still to be answered (a refusal)
    assert not await moves_of(control, house)


async def test_after_a_transfer_the_disposing_courts_new_control_runs_at_that_court() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    await ask(control, house)
    await control.transfers.answer(house, True, "", identity=LEADER)
    disposer = person(Role.OFFICER, PRIORITY, subject="p-2")
    await control.controls.release(house, "更正查封", identity=disposer)
    await control.controls.control(house, identity=disposer, amount_fen=None, control_ref="r2")
    seized_again = (await staged(control.ctx))[-1]
    assert isinstance(seized_again.payload, asset_pb.WaitingSeizureRegistered)
    # The case stays at the first court; the asset's control (and its clocks) do not.
    assert seized_again.payload.case_id == "c1"
    assert seized_again.envelope.court_code == PRIORITY


async def test_a_seizure_without_its_day_recorded_says_how_to_ask() -> None:
    control, clock, house = await seized_house()
    clock.advance(dt.timedelta(days=GATE_DAYS + 1))
    record = await control.records.asset(house)
    assert record is not None
    del record["controlled_on"]  # seized before the day was kept
    await control.records.redis.set(
        control.records.asset_key(house), json.dumps(record, ensure_ascii=False)
    )
    with pytest.raises(Conflict, match=f"not recorded.*by letter.*{REQUEST_GATE}"):
        await ask(control, house)


async def test_a_term_renewed_before_it_was_due_does_not_lapse_on_its_late_breach() -> None:
    # The engine fires a term's expiry on its own timer; a renewal made in the term's last
    # moments may reach it after: that breach must not lapse the renewed control.
    control, clock, house = await seized_house()
    due = clock.now() + dt.timedelta(days=3)
    due_ms = int(due.timestamp() * 1000)
    await control.controls.renew(house, identity=OFFICER)  # before the first term was due
    # The first term's breach, as the engine publishes it, through the service's reaction.
    breached = deadline_pb.ClockBreached(
        clock=deadline_pb.ClockRef(clock_id="clock-1", rule_id="asset.control-term-real-estate",
                                   subject_id=house, cycle=1),
        due_at=timestamp(due), on_expiry="legal_effect", effect="查封失效",
    )  # fmt: skip
    event: Event[Message] = new_event(breached, aggregate_id=house, court_code="苏1283",
                                      actor=service_actor(), clock=clock)  # fmt: skip
    await control_term_lapses(control)([event], cast(Transaction, None))
    kept = await control.records.asset(house)
    assert kept is not None and kept["status"] == "controlled"
    # The renewed term's own breach (the second cycle) lapses it.
    assert await control.controls.lapse(house, "clock-1", "lapse", "cause-2",
                                        cycle=2, due_at_ms=due_ms + 10**9)  # fmt: skip


def term_opened(
    house: str, cycle: int, started: dt.datetime, due: dt.datetime, clock: SimulatedClock
) -> Event[Message]:
    """The engine opened cycle ``cycle`` of the house's control term at ``started``, due at
    ``due``."""
    rule = "asset.control-term-real-estate"
    opened = deadline_pb.ClocksOpened(subject_id=house, clocks=[deadline_pb.ClockOpened(
        clock=deadline_pb.ClockRef(clock_id=f"{rule}:{house}", rule_id=rule, subject_id=house,
                                   cycle=cycle),
        started_at=timestamp(started), due_at=timestamp(due),
    )])  # fmt: skip
    return new_event(opened, aggregate_id=house, court_code="苏1283", actor=service_actor(),
                     clock=clock)  # fmt: skip


async def test_once_its_term_is_due_a_control_is_not_renewed_and_the_refusal_names_the_rule() -> (
    None
):
    control, clock, house = await seized_house()
    terms, tx = ControlTerms(control), cast(Transaction, None)
    first = term_opened(house, 1, clock.now(), clock.now() + dt.timedelta(days=3), clock)
    await terms([first, first], tx)  # read twice: kept once
    clock.advance(dt.timedelta(days=2))
    await control.controls.renew(house, identity=OFFICER)  # in time
    renewed_at, second_due = clock.now(), clock.now() + dt.timedelta(days=365)
    clock.advance(dt.timedelta(days=2))
    # The first term's due time has passed, but the renewal's own term is not known yet:
    # the first one no longer decides.
    await control.controls.renew(house, identity=OFFICER)
    second = term_opened(house, 3, clock.now(), clock.now() + dt.timedelta(days=365), clock)
    await terms([term_opened(house, 2, renewed_at, second_due, clock), second, first], tx)
    record = await control.records.asset(house)
    assert record is not None and (record["term"]["cycle"], record["renewals"]) == (3, 2)
    clock.advance(dt.timedelta(days=366))
    with pytest.raises(Conflict, match=r"term ended.*asset\.control-term-real-estate.*lapses"):
        await control.controls.renew(house, identity=OFFICER)
    kept = await control.records.asset(house)
    assert kept is not None and kept.get("renewals") == 2  # nothing recorded


async def test_the_terms_of_a_batch_are_noted_on_each_of_their_assets_at_once() -> None:
    control, clock, house = await seized_house()
    waiting = asset_id_for("p1", HOUSE.asset_key)
    due = clock.now() + dt.timedelta(days=30)
    batch = [term_opened(asset, 1, clock.now(), due, clock)
             for asset in (house, "asset-nobody-knows", waiting)]  # fmt: skip
    await ControlTerms(control)(batch, cast(Transaction, None))
    due_ms = int(due.timestamp() * 1000)
    for asset in (house, waiting):
        record = await control.records.asset(asset)
        assert record is not None and record["term"]["due_at_ms"] == due_ms
    assert await control.records.asset("asset-nobody-knows") is None


async def test_a_renewal_made_after_the_term_was_due_does_not_save_it() -> None:
    control, clock, house = await seized_house()
    due_ms = int(clock.now().timestamp() * 1000)
    clock.advance(dt.timedelta(hours=1))
    await control.controls.renew(house, identity=OFFICER)  # an hour late: the term ran out
    assert await control.controls.lapse(house, "clock-1", "lapse", "cause-1",
                                        cycle=1, due_at_ms=due_ms)  # fmt: skip


def service_actor() -> envelope_pb2.Actor:
    return envelope_pb2.Actor(kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:deadlines",
                              role="service")  # fmt: skip
