"""Asset control's handlers on the in-memory repository: a filed case's query, its answers,
controls within the claim, the over-seizure and hand-control refusals, the waiting seizure
that takes effect when the first goes, separation of duties in disposal, and the sale's
completion."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.protobuf.message import Message
from redis.exceptions import WatchError

from services.asset_control import handlers
from services.asset_control.agency import AgencySettings
from services.asset_control.domain import OverSeizure, QueryRef, asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.reactions import CaseIntake, EntrustedControls
from tests.factories import START
from tests.fakes import in_memory_context, person, staged, staged_types
from tools.demo import credit_code
from zhixing.assets import CHANNELS, PriceMethod, SaleMode
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event, new_event
from zhixing.projection import Transaction, prepare
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import case_events_pb2, envelope_pb2
from zhixing.v1 import entrustment_events_pb2 as entrustment_pb

OFFICER = person(Role.OFFICER, subject="o-1")
HOUSE = agency_pb.AgencyAsset(
    asset_key="real_estate:h1", kind="real_estate", description="房屋", value_fen=5_000_000,
    online_control=False, location_division="321283",
)  # fmt: skip
DEPOSIT = agency_pb.AgencyAsset(
    asset_key="bank_deposit:d1", kind="bank_deposit", description="存款", value_fen=3_000,
    online_control=True, location_division="321283",
)  # fmt: skip


def asset_control() -> AssetControl:
    return AssetControl(in_memory_context("asset_control", SimulatedClock(START)), AgencySettings())


async def file(control: AssetControl, case_id: str, claim_fen: int, debtors: int = 1) -> None:
    """File ``case_id`` against ``debtors`` debtors (the first 某公司, credit code 7, then
    8, 9...)."""
    names = ["某公司", "另一公司", "第三公司"]
    filed = case_events_pb2.CaseFiled(
        case_id=case_id, court_code="苏1283", case_number=f"（2026）苏1283执{case_id}号",
        claim_amount_fen=claim_fen,
        debtors=[case_events_pb2.Party(name=names[n], id_number=credit_code(7 + n))
                 for n in range(debtors)],
    )  # fmt: skip
    async with control.records.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        control.query.on_case_filed(pipe, filed, f"event-{case_id}")
        await pipe.execute()


async def answer(control: AssetControl, case_id: str, found: dict[str, list[Any]]) -> list[str]:
    """Every channel of the case's one debtor answers: ``found`` by channel, else none."""
    feedback = []
    for unit, channel in enumerate(CHANNELS):
        assets = found.get(channel.value, [])
        feedback.append(agency_pb.Feedback(
            feedback_id=f"f-{case_id}-{unit}", request_id=QueryRef(case_id, 1, unit, 1).request_id,
            status="found" if assets else "none", assets=assets,
        ))  # fmt: skip
    return await control.apply_feedback_batch(feedback)


async def test_a_filed_case_is_queried_on_every_channel_and_completes_when_all_answer() -> None:
    control = asset_control()
    await file(control, "c1", 10_000)
    assert len(await control.query.due_work()) == len(CHANNELS)  # one unit per channel, now
    outcomes = await answer(control, "c1", {"bank": [DEPOSIT], "real_estate": [HOUSE]})
    assert outcomes == ["answered"] * len(CHANNELS)
    assert await answer(control, "c1", {}) == ["duplicate"] * len(CHANNELS)  # redelivered
    case = await control.records.case("c1")
    assert case is not None and case["query"]["status"] == "completed"
    deposit = await control.records.asset(asset_id_for("c1", DEPOSIT.asset_key))
    # Money found online is frozen at once, for its exact balance (within the need).
    assert deposit is not None and deposit["status"] == "control_pending"
    assert (deposit["amount_fen"], case["reserved_fen"]) == (3_000, 3_000)
    types = await staged_types(control.ctx)
    assert types[0] == "NetworkQueryStarted" and types[-1] == "NetworkQueryCompleted"
    assert types.count("AssetFound") == 2 and "ControlRequested" in types
    # The answers recorded together are one event, their assets one push to the parties.
    events = await staged(control.ctx)
    answered = [e.payload for e in events if isinstance(e.payload, asset_pb.QueryChannelsAnswered)]
    assert len(answered) == 1 and answered[0].round == 1
    assert [(a.channel, a.outcome) for a in answered[0].answers] == [
        (c.value, "found" if c.value in ("bank", "real_estate") else "none") for c in CHANNELS
    ]
    pushed = [e.payload for e in events if isinstance(e.payload, asset_pb.AssetsPushedToParties)]
    assert len(pushed) == 1 and sorted(pushed[0].asset_ids) == sorted(
        asset_id_for("c1", a.asset_key) for a in (DEPOSIT, HOUSE)
    )


async def test_each_answer_names_the_debtor_it_answered_for() -> None:
    control = asset_control()
    await file(control, "c2", 10_000, debtors=2)
    # The second debtor's bank answer, then the first debtor's: told apart by debtor.
    feedback = [
        agency_pb.Feedback(feedback_id=f"f-{unit}", status="none",
                           request_id=QueryRef("c2", 1, unit, 1).request_id)
        for unit in (len(CHANNELS), 0)
    ]  # fmt: skip
    assert await control.apply_feedback_batch(feedback) == ["answered", "answered"]
    events = await staged(control.ctx)
    (answered,) = [e.payload for e in events
                   if isinstance(e.payload, asset_pb.QueryChannelsAnswered)]  # fmt: skip
    assert [(a.channel, a.debtor) for a in answered.answers] == [("bank", 1), ("bank", 0)]


async def test_answers_recorded_apart_are_an_event_each_and_the_last_completes_the_query() -> None:
    control = asset_control()
    await file(control, "c1", 10_000)
    first = [
        agency_pb.Feedback(
            feedback_id="f-0", request_id=QueryRef("c1", 1, 0, 1).request_id, status="none"
        )
    ]
    assert await control.apply_feedback_batch(first) == ["answered"]
    assert "NetworkQueryCompleted" not in await staged_types(control.ctx)
    await answer(control, "c1", {"bank": [DEPOSIT]})  # the first is a duplicate now
    events = await staged(control.ctx)
    answered = [e.payload for e in events if isinstance(e.payload, asset_pb.QueryChannelsAnswered)]
    assert [len(a.answers) for a in answered] == [1, len(CHANNELS) - 1]
    types = [type(e.payload).__name__ for e in events]
    assert types.count("NetworkQueryCompleted") == 1
    assert types.index("NetworkQueryCompleted") > max(
        i for i, t in enumerate(types) if t in ("QueryChannelsAnswered", "AssetsPushedToParties")
    )


async def test_a_control_by_hand_names_its_ruling_and_stays_within_the_claim() -> None:
    control = asset_control()
    await file(control, "c2", 10_000)
    await answer(control, "c2", {"real_estate": [HOUSE]})
    house = asset_id_for("c2", HOUSE.asset_key)
    with pytest.raises(Invalid, match="control_ref"):
        await control.controls.control(house, identity=OFFICER, amount_fen=None, control_ref="")
    with pytest.raises(OverSeizure, match="¶15"):
        await control.controls.control(house, identity=OFFICER, amount_fen=None,
                                       control_ref="（2026）苏1283执1号之一")  # fmt: skip
    with pytest.raises(ScopeError):  # only a leader approves the exception
        await control.controls.approve_exception(house, "不可分物", identity=OFFICER)
    await control.controls.approve_exception(house, "不可分物", identity=person(Role.LEADER))
    done = await control.controls.control(house, identity=OFFICER, amount_fen=None,
                                          control_ref="（2026）苏1283执1号之一")  # fmt: skip
    assert done == {"asset_id": house, "status": "controlled", "amount_fen": 5_000_000}


async def test_a_waiting_seizure_takes_effect_when_the_first_is_released() -> None:
    control = asset_control()
    for case_id in ("c3", "c4"):
        await file(control, case_id, 10_000_000)
        await answer(control, case_id, {"real_estate": [HOUSE]})
    first, second = asset_id_for("c3", HOUSE.asset_key), asset_id_for("c4", HOUSE.asset_key)
    await control.controls.control(first, identity=OFFICER, amount_fen=None, control_ref="r1")
    waiting = await control.controls.control(second, identity=OFFICER, amount_fen=None,
                                             control_ref="")  # fmt: skip
    assert waiting["status"] == "waiting"  # 轮候: behind the first, no ruling of its own yet
    await control.controls.release(first, "已履行", identity=OFFICER)
    promoted = await control.records.asset(second)
    assert promoted is not None and promoted["status"] == "controlled"
    assert promoted["rank"] == "from_waiting"


async def test_whoever_controlled_an_asset_does_not_approve_its_sale() -> None:
    control = asset_control()
    await file(control, "c5", 10_000_000)
    await answer(control, "c5", {"real_estate": [HOUSE]})
    house = asset_id_for("c5", HOUSE.asset_key)
    await control.controls.control(house, identity=OFFICER, amount_fen=None, control_ref="r1")
    other = person(Role.OFFICER, subject="o-2")
    with pytest.raises(Conflict, match="reference price"):
        await control.disposal.start_sale(house, SaleMode.ONLINE_AUCTION, "", identity=other)
    await control.disposal.start_reference_price(house, PriceMethod.APPRAISAL, identity=OFFICER)
    await control.disposal.fix_reference_price(house, 4_800_000, identity=OFFICER)
    with pytest.raises(ScopeError, match="分段办理"):
        await control.disposal.start_sale(house, SaleMode.ONLINE_AUCTION, "", identity=OFFICER)
    await control.disposal.start_sale(house, SaleMode.ONLINE_AUCTION, "", identity=other)
    assert (await staged_types(control.ctx))[-1] == "SaleStarted"


async def test_a_sale_is_completed_once_after_it_started_by_the_handling_court() -> None:
    control = asset_control()
    await file(control, "c7", 10_000_000)
    await answer(control, "c7", {"real_estate": [HOUSE]})
    house = asset_id_for("c7", HOUSE.asset_key)
    await control.controls.control(house, identity=OFFICER, amount_fen=None, control_ref="r1")
    with pytest.raises(Conflict, match="has not started"):
        await control.disposal.complete_sale(house, 4_900_000, "JD-1", identity=OFFICER)
    other = person(Role.OFFICER, subject="o-2")
    await control.disposal.start_reference_price(house, PriceMethod.APPRAISAL, identity=OFFICER)
    await control.disposal.fix_reference_price(house, 4_800_000, identity=OFFICER)
    await control.disposal.start_sale(house, SaleMode.ONLINE_AUCTION, "", identity=other)
    with pytest.raises(ScopeError, match="role"):
        await control.disposal.complete_sale(house, 4_900_000, "JD-1", identity=person(Role.CLERK))
    elsewhere, above = person(Role.OFFICER, court="苏0281"), person(Role.OFFICER, court="苏12")
    with pytest.raises(NotFound):  # another court's asset does not exist for it
        await control.disposal.complete_sale(house, 4_900_000, "JD-1", identity=elsewhere)
    with pytest.raises(ScopeError, match="handled by"):  # the court above commands, not acts
        await control.disposal.complete_sale(house, 4_900_000, "JD-1", identity=above)

    # Recording a fact approves nothing: the officer who controlled the asset may.
    await control.disposal.complete_sale(house, 4_900_000, "JD-1", identity=OFFICER)
    record = await control.records.asset(house)
    assert record is not None
    assert (record["sale_proceeds_fen"], record["sale_reference"], record["sale_completed_by"]) \
        == (4_900_000, "JD-1", "o-1")  # fmt: skip
    completed = (await staged(control.ctx))[-1].payload
    assert isinstance(completed, asset_pb.SaleCompleted)
    assert (completed.asset_id, completed.case_id, completed.proceeds_fen,
            completed.sale_reference, completed.recorded_by) \
        == (house, "c7", 4_900_000, "JD-1", "o-1")  # fmt: skip

    count = len(await staged(control.ctx))
    await control.disposal.complete_sale(house, 4_900_000, "JD-1", identity=other)  # a retry
    assert len(await staged(control.ctx)) == count  # nothing new
    for proceeds, reference in ((4_900_000, "JD-2"), (5_000_000, "JD-1")):
        with pytest.raises(Conflict, match="completed already: reference JD-1"):
            await control.disposal.complete_sale(house, proceeds, reference, identity=OFFICER)
    assert (await staged_types(control.ctx)).count("SaleCompleted") == 1


async def send_due(control: AssetControl, case_id: str) -> int:
    """One round of the agency worker for the case, every submission accepted."""
    members = [m for m in await control.query.due_work() if m.startswith(f"q|{case_id}|")]
    requests = (await control.query.query_requests({case_id: members})).get(case_id, [])
    await control.query.queries_submitted(
        {case_id: [(member, request.request_id, None) for member, request in requests]}
    )
    return len(requests)


async def test_a_query_never_answered_is_reported_after_its_timeouts_not_its_restarts() -> None:
    settings = AgencySettings(max_attempts=3, feedback_timeout_s=60.0)
    clock = SimulatedClock(START)
    control = AssetControl(in_memory_context("asset_control", clock), settings)
    await file(control, "c6", 10_000)
    assert await send_due(control, "c6") == len(CHANNELS)
    for _ in range(5):  # restarts ask again at once: no feedback timeout has passed
        assert await control.query.ask_again_for_outstanding() == len(CHANNELS)
        assert await send_due(control, "c6") == len(CHANNELS)
    case = await control.records.case("c6")
    assert case is not None and {u["status"] for u in case["query"]["units"]} == {"submitted"}

    sent = []
    for _ in range(3):  # three feedback timeouts: sent again twice, then reported
        clock.advance(dt.timedelta(seconds=61))
        sent.append(await send_due(control, "c6"))
    assert sent == [len(CHANNELS), len(CHANNELS), 0]
    case = await control.records.case("c6")
    assert case is not None and {u["status"] for u in case["query"]["units"]} == {"failed"}
    assert (await staged_types(control.ctx)).count("ChannelQueryFailed") == len(CHANNELS)


@pytest.mark.parametrize("cases_per_transaction", [20, 1])
async def test_a_batch_of_many_cases_queues_an_asset_they_share_in_order(
    cases_per_transaction: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feedback batch holds answers for many cases, applied several to a transaction:
    an account two of them find is queued once per case, the first answered first (首封),
    and a case that is gone is reported stale without holding up the others."""
    # With one case to a transaction, the two finding the account are applied apart.
    monkeypatch.setattr(handlers, "CASES_PER_TRANSACTION", cases_per_transaction)
    control = asset_control()
    for case_id in ("c5", "c6"):
        await file(control, case_id, 10_000)
    feedback = []
    for case_id in ("c5", "gone", "c6"):
        for unit, channel in enumerate(CHANNELS):
            feedback.append(agency_pb.Feedback(
                feedback_id=f"f-{case_id}-{unit}",
                request_id=QueryRef(case_id, 1, unit, 1).request_id,
                status="found" if channel.value == "bank" else "none",
                assets=[DEPOSIT] if channel.value == "bank" else [],
            ))  # fmt: skip
    outcomes = await control.apply_feedback_batch(feedback)
    assert outcomes == ["answered"] * len(CHANNELS) + ["stale"] * len(CHANNELS) + [
        "answered"
    ] * len(CHANNELS)
    first, second = asset_id_for("c5", DEPOSIT.asset_key), asset_id_for("c6", DEPOSIT.asset_key)
    queue = await control.records.load_queue(
        control.records.redis, control.records.queue_key(DEPOSIT.asset_key)
    )
    assert queue == [first, second]
    for case_id in ("c5", "c6"):
        case = await control.records.case(case_id)
        assert case is not None and case["query"]["status"] == "completed"
    types = await staged_types(control.ctx)
    assert types.count("QueryChannelsAnswered") == 2 and types.count("NetworkQueryCompleted") == 2


def entrusted_control(case_id: str, asset_key: str = "real_estate:h9") -> Event[Message]:
    """An entrusted court (浙0102) seized a house for ``case_id`` and completed the matter."""
    completed = entrustment_pb.EntrustmentCompleted(
        entrustment_id=f"e-{case_id}", case_id=case_id, entrusting_court="苏1283",
        result="已查封", control=entrustment_pb.EntrustedControl(
            kind="real_estate", asset_key=asset_key, description="受托查封的房屋",
            value_fen=800_000, amount_fen=600_000, measure="seize",
            control_ref="（2026）浙0102执协1号", location_division="330102",
        ),
    )  # fmt: skip
    actor = envelope_pb2.Actor(id="o-zj", court_code="浙0102", role="officer")
    return new_event(completed, aggregate_id=f"e-{case_id}", court_code="浙0102", actor=actor,
                     clock=SimulatedClock(START))  # fmt: skip


async def apply(handler: Any, events: list[Event[Message]], control: AssetControl) -> None:
    """Apply ``events`` as the consumer does: prepare, MULTI, the handler, EXEC."""
    redis, keys = control.records.redis, control.records.keys
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await prepare(handler, events, pipe)
        pipe.multi()  # type: ignore[no-untyped-call]
        await handler(events, Transaction(redis, pipe, keys, prepared))
        await pipe.execute()


def filing(case_id: str) -> Event[Message]:
    filed = case_events_pb2.CaseFiled(
        case_id=case_id, court_code="苏1283", case_number=f"（2026）苏1283执{case_id}号",
        claim_amount_fen=1_000_000,
        debtors=[case_events_pb2.Party(name="某公司", id_number=credit_code(7))],
    )  # fmt: skip
    return new_event(filed, aggregate_id=case_id, court_code="苏1283",
                     actor=envelope_pb2.Actor(id="clerk", court_code="苏1283", role="clerk"),
                     clock=SimulatedClock(START))  # fmt: skip


async def test_a_control_entrusted_before_its_cases_filing_is_recorded_with_the_filing() -> None:
    # The entrustment and case topics are read side by side: a rebuild or a lagging
    # partition can bring the entrusted court's seizure first. It waits for the filing.
    control = asset_control()
    early = entrusted_control("c-early")
    for _ in range(2):  # delivered twice before the filing
        await apply(EntrustedControls(control), [early], control)
    assert (
        await control.records.load(control.records.redis, control.records.case_key("c-early"))
        is None
    )
    assert await staged_types(control.ctx) == []
    # Two cases filed in one batch, one of them with the kept control.
    await apply(CaseIntake(control), [filing("c-other"), filing("c-early")], control)
    asset_id = asset_id_for("c-early", "real_estate:h9")
    asset = await control.records.load(control.records.redis, control.records.asset_key(asset_id))
    assert asset is not None
    assert (asset["source"], asset["measure"], asset["amount_fen"]) == (
        "entrustment",
        "seize",
        600_000,
    )
    case = await control.records.load(control.records.redis, control.records.case_key("c-early"))
    assert case is not None and case["assets"] == [asset_id] and case["reserved_fen"] == 600_000
    assert "query" in case  # the filing itself was recorded as well
    assert not await control.records.redis.exists(control.records.early_controls_key("c-early"))
    # Delivered again after the filing: nothing twice.
    await apply(EntrustedControls(control), [early], control)
    assert (await staged_types(control.ctx)).count("AssetFound") == 1


async def test_a_control_kept_while_a_filing_is_written_makes_the_filing_look_again() -> None:
    control = asset_control()
    redis, keys = control.records.redis, control.records.keys
    intake, filed = CaseIntake(control), [filing("c-race")]
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await prepare(intake, filed, pipe)  # nothing kept yet
        # Meanwhile the entrusted control is read: no case yet, so it is kept.
        late = entrusted_control("c-race")
        completed = late.payload
        assert isinstance(completed, entrustment_pb.EntrustmentCompleted)
        assert not await control.controls.record_entrusted_control(completed, late)
        pipe.multi()  # type: ignore[no-untyped-call]
        await intake(filed, Transaction(redis, pipe, keys, prepared))
        with pytest.raises(WatchError):
            await pipe.execute()  # the consumer retries the batch
    await apply(intake, filed, control)
    case = await control.records.load(redis, control.records.case_key("c-race"))
    assert case is not None and case["assets"] == [asset_id_for("c-race", "real_estate:h9")]


async def test_a_kept_control_that_cannot_be_recorded_stays_kept_and_costs_the_filing_nothing() -> (
    None
):
    control = asset_control()
    await apply(EntrustedControls(control), [entrusted_control("c-bad")], control)
    early = control.records.early_controls_key("c-bad")
    await control.records.redis.hset(early, "garbled", b"\xff not an event")
    await apply(CaseIntake(control), [filing("c-bad")], control)
    case = await control.records.load(control.records.redis, control.records.case_key("c-bad"))
    assert case is not None and case["assets"] == [asset_id_for("c-bad", "real_estate:h9")]
    assert await control.records.redis.hkeys(early) == [b"garbled"]  # left for the court
    # A control this service could not record is refused as it is read, not kept.
    odd = entrusted_control("c-odd")
    completed = odd.payload
    assert isinstance(completed, entrustment_pb.EntrustmentCompleted)
    completed.control.measure = "confiscate"
    with pytest.raises(Invalid, match="confiscate"):
        await control.controls.record_entrusted_control(completed, odd)
    assert not await control.records.redis.exists(control.records.early_controls_key("c-odd"))
