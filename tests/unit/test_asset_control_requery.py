"""Re-query after 终本 in asset control, on the in-memory repository: the re-query clock's
due day starts the next network query round of a ruled case (once per clock cycle), other
warnings and rules do not, the span's last re-query ends the duty, resumption stops it, and
a round answered on every channel tells the applicant, proposing resumption when it found
an asset the case did not have, which is recorded but not controlled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.message import Message

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import DUE_DAY, REQUERY_RULE, QueryRef, asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.reactions import CaseIntake, requery_due_days
from tests.factories import ACTOR, START
from tests.fakes import in_memory_context, person, staged
from tools.demo import credit_code
from zhixing.assets import CHANNELS
from zhixing.auth import Role
from zhixing.clock import SimulatedClock
from zhixing.events import Event, new_event
from zhixing.projection import BatchHandler, Transaction, prepare
from zhixing.rules import catalogue
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import case_events_pb2
from zhixing.v1 import deadline_events_pb2 as deadline_pb

COURT = "苏1283"
OFFICER = person(Role.OFFICER, COURT)
DEPOSIT = agency_pb.AgencyAsset(
    asset_key="bank_deposit:d9", kind="bank_deposit", description="存款", value_fen=3_000,
    online_control=True, location_division="321283",
)  # fmt: skip
SPAN = catalogue().rule("zhongben.requery-span").period
STEP = catalogue().rule(REQUERY_RULE).period
ALLOWED = SPAN.limit // STEP.limit


def asset_control() -> AssetControl:
    clock = SimulatedClock(START)
    return AssetControl(in_memory_context("asset_control", clock), AgencySettings())


async def deliver(control: AssetControl, handler: BatchHandler, *payloads: Message) -> None:
    """``payloads`` as events, through a consumer's handler (one batch)."""
    events: list[Event[Message]] = []
    for payload in payloads:
        aggregate = getattr(payload, "case_id", "") or payload.clock.clock_id  # type: ignore[attr-defined]
        events.append(new_event(
            payload, aggregate_id=aggregate, court_code=COURT, actor=ACTOR,
            clock=control.ctx.clock,
        ))  # fmt: skip
    redis = control.records.redis
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await prepare(handler, events, pipe)  # as the consumer does
        pipe.multi()  # type: ignore[no-untyped-call]
        await handler(events, Transaction(redis, pipe, control.ctx.keys, prepared))
        await pipe.execute()


async def ruled_case(control: AssetControl, case_id: str) -> None:
    """A filed case, its first round answered (nothing found), closed as 终本 (a closed case:
    what a re-query finds stays found, for the applicant to resume)."""
    filed = case_events_pb2.CaseFiled(
        case_id=case_id, court_code=COURT, case_number=f"（2026）苏1283执{case_id}号",
        claim_amount_fen=100_000,
        debtors=[case_events_pb2.Party(name="某公司", id_number=credit_code(7))],
    )  # fmt: skip
    intake = CaseIntake(control)
    await deliver(control, intake, filed)
    await answer(control, case_id, 1, [])
    ruled = case_events_pb2.ZhongbenRuled(
        case_id=case_id, ruling_number=f"（2026）苏1283执{case_id}号之一", ruled_on="2026-06-02"
    )
    # As intake stages them: the ruling, and the closure (终结本次执行) with it.
    closed = case_events_pb2.CaseClosed(
        case_id=case_id, method="终结本次执行", closed_on="2026-06-02"
    )
    await deliver(control, intake, ruled, closed)


def warning(case_id: str, cycle: int, *, rule: str = REQUERY_RULE, point: str = DUE_DAY) -> Any:
    clock = deadline_pb.ClockRef(
        clock_id=f"{rule}:{case_id}", rule_id=rule, subject_id=case_id, court_code=COURT,
        cycle=cycle,
    )  # fmt: skip
    return deadline_pb.ClockWarned(clock=clock, warning=point)


async def answer(
    control: AssetControl, case_id: str, round_: int, found: Sequence[agency_pb.AgencyAsset]
) -> list[str]:
    """Every channel of the case's one debtor answers round ``round_``; the bank finds
    ``found``."""
    feedback = [
        agency_pb.Feedback(
            feedback_id=f"f-{case_id}-{round_}-{unit}",
            request_id=QueryRef(case_id, round_, unit, 1).request_id,
            status="found" if found and channel.value == "bank" else "none",
            assets=found if channel.value == "bank" else [],
        )
        for unit, channel in enumerate(CHANNELS)
    ]
    return await control.apply_feedback_batch(feedback)


async def requery_events(control: AssetControl) -> list[Message]:
    kinds = (asset_pb.ZhongbenRequeryStarted, asset_pb.ZhongbenRequeryCompleted,
             asset_pb.ZhongbenRequeryPeriodEnded, asset_pb.NetworkQueryStarted)  # fmt: skip
    return [e.payload for e in await staged(control.ctx) if isinstance(e.payload, kinds)]


async def test_the_due_day_of_the_requery_clock_starts_one_new_round_on_every_channel() -> None:
    control = asset_control()
    await ruled_case(control, "r1")
    before = await requery_events(control)
    due_days = requery_due_days(control)
    await deliver(control, due_days, warning("r1", 1))
    await deliver(control, due_days, warning("r1", 1))  # redelivered: nothing more

    new = (await requery_events(control))[len(before) :]
    assert [type(e).__name__ for e in new] == ["NetworkQueryStarted", "ZhongbenRequeryStarted"]
    started = new[1]
    assert isinstance(started, asset_pb.ZhongbenRequeryStarted)
    assert (started.round, started.requery_number) == (2, 1)
    # Every channel of the debtor is queued again, in the new round.
    due = await control.query.due_work()
    assert sorted(due) == sorted(QueryRef("r1", 2, u, 1).member for u in range(len(CHANNELS)))
    case = await control.records.case("r1")
    assert case is not None and case["query"]["round"] == 2
    assert [r["number"] for r in case["zhongben"]["requeries"]] == [1]


async def test_other_warnings_and_other_rules_start_nothing() -> None:
    control = asset_control()
    await ruled_case(control, "r2")
    before = await requery_events(control)
    due_days = requery_due_days(control)
    await deliver(control, due_days, warning("r2", 1, point="days_before=30"))
    await deliver(control, due_days, warning("r2", 1, rule="asset.control-term-deposits"))
    breached = deadline_pb.ClockBreached(clock=warning("r2", 1).clock, on_expiry="supervision")
    await deliver(control, due_days, breached)
    assert await requery_events(control) == before
    case = await control.records.case("r2")
    assert case is not None and case["query"]["round"] == 1


async def test_the_spans_last_requery_ends_the_duty_and_no_more_start() -> None:
    control = asset_control()
    await ruled_case(control, "r3")
    due_days = requery_due_days(control)
    for cycle in range(1, ALLOWED + 2):  # one due day more than the span holds
        await deliver(control, due_days, warning("r3", cycle))

    events = await requery_events(control)
    started = [e for e in events if isinstance(e, asset_pb.ZhongbenRequeryStarted)]
    assert [e.requery_number for e in started] == list(range(1, ALLOWED + 1))
    assert [e.round for e in started] == list(range(2, ALLOWED + 2))
    ended = [e for e in events if isinstance(e, asset_pb.ZhongbenRequeryPeriodEnded)]
    assert [e.requeries for e in ended] == [ALLOWED]
    assert events[-1] == ended[0]  # after the last start, in its transaction
    case = await control.records.case("r3")
    assert case is not None and case["zhongben"]["status"] == "period_ended"


async def test_a_resumed_case_is_not_requeried() -> None:
    control = asset_control()
    await ruled_case(control, "r4")
    resumed = case_events_pb2.ExecutionResumed(
        case_id="r4", new_case_id="r4-new", new_case_number="（2026）苏1283执恢1号",
        cause="applicant_request", resumed_on="2026-07-01",
    )  # fmt: skip
    await deliver(control, CaseIntake(control), resumed)
    before = await requery_events(control)
    await deliver(control, requery_due_days(control), warning("r4", 1))
    assert await requery_events(control) == before
    case = await control.records.case("r4")
    assert case is not None and case["zhongben"]["status"] == "resumed"


async def test_an_asset_new_in_a_requery_is_recorded_uncontrolled_and_proposes_resumption() -> None:
    control = asset_control()
    await ruled_case(control, "r5")
    due_days = requery_due_days(control)
    await deliver(control, due_days, warning("r5", 1))
    assert await answer(control, "r5", 1, [DEPOSIT]) == ["stale"] * len(CHANNELS)  # old round
    assert await answer(control, "r5", 2, [DEPOSIT]) == ["answered"] * len(CHANNELS)

    completed = [e for e in await requery_events(control)
                 if isinstance(e, asset_pb.ZhongbenRequeryCompleted)]  # fmt: skip
    assert len(completed) == 1
    done = completed[0]
    assert (done.round, done.requery_number, done.new_assets) == (2, 1, 1)
    assert done.resumption_proposed == "yes"
    assert "第1次" in done.applicant_notice and "1项可供执行的财产" in done.applicant_notice
    # Recorded as an asset of the case, and left for the officer: nothing frozen by itself.
    deposit = await control.records.asset(asset_id_for("r5", DEPOSIT.asset_key))
    assert deposit is not None and deposit["status"] == "found"
    case = await control.records.case("r5")
    assert case is not None and case["reserved_fen"] == 0
    types = [type(e.payload).__name__ for e in await staged(control.ctx)]
    assert "AssetFound" in types and "ControlRequested" not in types

    # The next re-query finds the same deposit still left alone: the applicant is told
    # again, truthfully, that property is there.
    await deliver(control, due_days, warning("r5", 2))
    await answer(control, "r5", 3, [DEPOSIT])
    second = [e for e in await requery_events(control)
              if isinstance(e, asset_pb.ZhongbenRequeryCompleted)][-1]  # fmt: skip
    assert (second.requery_number, second.new_assets) == (2, 1)
    assert second.resumption_proposed == "yes"
    # Declined as not worth controlling, it is news again only when its value grew.
    await control.controls.decline(asset_id_for("r5", DEPOSIT.asset_key), "无处置价值",
                                   identity=OFFICER)  # fmt: skip
    await deliver(control, due_days, warning("r5", 3))
    await answer(control, "r5", 4, [DEPOSIT])
    third = [e for e in await requery_events(control)
             if isinstance(e, asset_pb.ZhongbenRequeryCompleted)][-1]  # fmt: skip
    assert (third.requery_number, third.new_assets, third.resumption_proposed) == (3, 0, "no")
    assert "未发现可供执行的财产" in third.applicant_notice
    richer = agency_pb.AgencyAsset()
    richer.CopyFrom(DEPOSIT)
    richer.value_fen = DEPOSIT.value_fen * 10
    await deliver(control, due_days, warning("r5", 4))
    await answer(control, "r5", 5, [richer])
    fourth = [e for e in await requery_events(control)
              if isinstance(e, asset_pb.ZhongbenRequeryCompleted)][-1]  # fmt: skip
    assert (fourth.requery_number, fourth.new_assets) == (4, 1)
    case = await control.records.case("r5")
    assert case is not None
    assert [r["status"] for r in case["zhongben"]["requeries"]] == ["completed"] * 4


async def test_a_due_day_read_before_the_ruling_keeps_its_requery() -> None:
    control = asset_control()
    filed = case_events_pb2.CaseFiled(
        case_id="r6", court_code=COURT, case_number="（2026）苏1283执r6号",
        debtors=[case_events_pb2.Party(name="某公司", id_number=credit_code(7))],
    )  # fmt: skip
    intake = CaseIntake(control)
    await deliver(control, intake, filed)
    await deliver(control, requery_due_days(control), warning("r6", 1))
    ruled = case_events_pb2.ZhongbenRuled(case_id="r6", ruling_number="之一", ruled_on="2026-06-02")
    await deliver(control, intake, ruled)
    await deliver(control, intake, ruled)  # read again: changes nothing
    case = await control.records.case("r6")
    assert case is not None
    state = case["zhongben"]
    assert (state["ruling_number"], len(state["requeries"])) == ("之一", 1)


async def test_an_asset_new_in_a_requery_reported_twice_in_the_round_counts_once() -> None:
    control = asset_control()
    await ruled_case(control, "r6")
    await deliver(control, requery_due_days(control), warning("r6", 1))
    # Two channels report the same outside asset (e.g. a joint account): one new asset.
    feedback = [
        agency_pb.Feedback(
            feedback_id=f"f-r6-2-{unit}",
            request_id=QueryRef("r6", 2, unit, 1).request_id,
            status="found" if unit < 2 else "none",
            assets=[DEPOSIT] if unit < 2 else [],
        )
        for unit in range(len(CHANNELS))
    ]
    assert await control.apply_feedback_batch(feedback) == ["answered"] * len(CHANNELS)
    done = [e for e in await requery_events(control)
            if isinstance(e, asset_pb.ZhongbenRequeryCompleted)][-1]  # fmt: skip
    assert done.new_assets == 1
    pushed = [e.payload for e in await staged(control.ctx)
              if isinstance(e.payload, asset_pb.AssetsPushedToParties)]  # fmt: skip
    assert pushed[-1].asset_ids == [asset_id_for("r6", DEPOSIT.asset_key)]
