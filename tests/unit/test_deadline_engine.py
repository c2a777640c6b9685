"""The deadline engine on the in-memory repository: a filing opens its clocks, the
scheduler's passes fire each timer once on its date, a stop read before its start clears the
clock as it opens, the engine ignores its own clock events, and a non-litigation case's limit
pauses on overlapping acts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services.deadlines.domain import ClockRules
from services.deadlines.engine import CLAIM_HOLD, DeadlineEngine, FireReport, started_alike
from tests.factories import case_filed_event
from tests.fakes import in_memory_context, staged
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import Event, new_event
from zhixing.periods import PeriodCounter
from zhixing.projection import Transaction
from zhixing.rules import catalogue
from zhixing.v1 import (
    asset_events_pb2,
    case_events_pb2,
    credit_events_pb2,
    deadline_events_pb2,
    dispute_events_pb2,
    envelope_pb2,
    funds_events_pb2,
)
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

MONDAY_9AM = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
SERVICE = envelope_pb2.Actor(kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:test", role="service")


class Engine:
    """The engine with the service context it stages into."""

    def __init__(self, clock: SimulatedClock, calendar_dir: Path) -> None:
        self.ctx = in_memory_context("deadlines", clock)
        calendar = StatutoryCalendar.load(CalendarSettings(dir=calendar_dir))
        self.engine = DeadlineEngine(
            redis=self.ctx.redis, keys=self.ctx.keys, outbox=self.ctx.outbox, clock=clock,
            rules=ClockRules(catalogue(), PeriodCounter(calendar)),
        )  # fmt: skip

    async def consume(self, events: Sequence[Event[Any]]) -> None:
        """Apply a batch as the consumer does: prepare (WATCH and read), then write."""
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            prepared = await self.engine.prepare(events, pipe)
            pipe.multi()  # type: ignore[no-untyped-call]
            await self.engine(events, Transaction(self.ctx.redis, pipe, self.ctx.keys, prepared))
            await pipe.execute()


async def test_a_filing_opens_its_clocks_and_each_timer_fires_once(tmp_path: Path) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    deadlines = service.engine
    await service.consume([case_filed_event("case-1", clock=clock)])
    opened = {s.rule_id for s in await deadlines.clocks_of("case-1")}
    assert "asset.network-query" in opened and "case.close" in opened
    # The clocks the filing opened are one event, keyed by the case.
    events = await staged(service.ctx)
    assert [type(e.payload).__name__ for e in events] == ["ClocksOpened"]
    together = events[0]
    assert isinstance(together.payload, deadline_events_pb2.ClocksOpened)
    assert together.envelope.aggregate_id == "case-1"
    assert {c.clock.rule_id for c in together.payload.clocks} == opened
    causes = {c.started_by_event_id for c in together.payload.clocks}
    assert causes == {together.envelope.causation_id}

    clock.set(dt.datetime(2026, 3, 10, 9, 0, tzinfo=CHINA_TZ))  # the network query's day passed
    first = await deadlines.drain()
    again = await deadlines.drain()
    assert first.fired > 0 and again.fired == 0  # nothing fires twice
    query = await deadlines.get("asset.network-query:case-1")
    assert query is not None and query.breached and query.condition == "breached"


async def test_a_stop_read_before_its_start_clears_the_clock_as_it_opens(tmp_path: Path) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    deadlines = service.engine
    filed = case_filed_event("case-2", clock=clock)
    clock.advance(dt.timedelta(hours=1))
    completed = new_event(
        asset_events_pb2.NetworkQueryCompleted(case_id="case-2", round=1),
        aggregate_id="case-2", court_code="苏1283", actor=SERVICE, clock=clock,
    )  # fmt: skip
    await service.consume([completed])  # topics are not ordered with each other
    await service.consume([filed])
    query = await deadlines.get("asset.network-query:case-2")
    assert query is not None and query.condition == "cleared" and not query.breached
    # Opened with the filing's other clocks, in one event, and cleared after it.
    together, cleared = (e.payload for e in await staged(service.ctx))
    assert isinstance(together, deadline_events_pb2.ClocksOpened)
    assert isinstance(cleared, deadline_events_pb2.ClockCleared)
    assert "asset.network-query:case-2" in {c.clock.clock_id for c in together.clocks}
    assert len(together.clocks) > 1
    assert cleared.clock.clock_id == "asset.network-query:case-2"


async def test_the_engine_does_not_consume_its_own_clock_events(tmp_path: Path) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    await service.consume([case_filed_event("case-3", clock=clock)])
    own = await staged(service.ctx)
    assert own and all(e.envelope.aggregate_type == "deadline" for e in own)
    before = await service.engine.scheduled()
    await service.consume(own)  # its ClocksOpened back: nothing opens, nothing is staged
    assert await service.engine.scheduled() == before
    assert len(await staged(service.ctx)) == len(own)


def case_act(payload: Any, case_id: str, clock: SimulatedClock) -> Event[Any]:
    return new_event(payload, aggregate_id=case_id, court_code="苏1283", actor=SERVICE,
                     clock=clock)  # fmt: skip


async def test_a_closed_case_no_longer_waits_for_its_officer_or_its_notice(
    tmp_path: Path,
) -> None:
    # Closed before either act (paid at once): intake refuses both on a closed case, so
    # their clocks would breach and escalate with nothing anyone could do.
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    await service.consume([case_filed_event("case-9", clock=clock)])
    waiting = ("intake.assign-officer:case-9", "intake.execution-notice:case-9")
    for clock_id in waiting:
        assert await service.engine.get(clock_id) is not None, clock_id
    clock.advance(dt.timedelta(days=1))
    closed = case_events_pb2.CaseClosed(case_id="case-9", method="执行完毕", closed_on="2026-03-03")
    await service.consume([case_act(closed, "case-9", clock)])
    for clock_id in waiting:
        state = await service.engine.get(clock_id)
        assert state is not None and state.condition == "cleared", clock_id
    clock.set(dt.datetime(2026, 4, 1, 9, 0, tzinfo=CHINA_TZ))
    await service.engine.drain()
    for clock_id in waiting:
        state = await service.engine.get(clock_id)
        assert state is not None and not state.breached, clock_id


async def test_a_non_litigation_filing_opens_its_own_limit_and_pauses_overlap(
    tmp_path: Path,
) -> None:
    """Not case.close but case.close-non-litigation; a suspension (days 10-30) and a dispute's
    coordination (days 20-40) pause it 30 days, and the batch read again changes nothing."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    deadlines = service.engine
    filed = case_events_pb2.CaseFiled(case_id="case-4", court_code="苏1283",
                                      case_type_code="执", proceeding="non_litigation")  # fmt: skip
    await service.consume([case_act(filed, "case-4", clock)])
    opened = {s.rule_id for s in await deadlines.clocks_of("case-4")}
    assert "case.close-non-litigation" in opened and "case.close" not in opened
    acts = []
    for days, payload in (
        (10, case_events_pb2.CaseSuspended(case_id="case-4", pause_id="p1")),
        (20, dispute_events_pb2.DisputeCoordinationStarted(case_id="case-4", dispute_id="d1")),
        (30, case_events_pb2.CaseResumed(case_id="case-4", pause_id="p1")),
        (40, dispute_events_pb2.DisputeCoordinationEnded(case_id="case-4", dispute_id="d1")),
    ):
        clock.set(MONDAY_9AM + dt.timedelta(days=days))
        acts.append(case_act(payload, "case-4", clock))
    await service.consume(acts)
    state = await deadlines.get("case.close-non-litigation:case-4")
    assert state is not None and state.status == "running"
    assert state.paused_seconds == dt.timedelta(days=30).total_seconds()
    assert state.last_day == dt.date(2026, 7, 1)  # 3 CM from 04-01 (03-02 + 30 days)
    await service.consume(acts)  # read again: a redelivery
    assert await deadlines.get("case.close-non-litigation:case-4") == state


async def test_a_pause_read_before_its_clocks_start_pauses_the_clock_as_it_opens(
    tmp_path: Path,
) -> None:
    """A dispute's coordination (days 20-40) read before the filing (the topics are read
    side by side): the clock opens paused and ends as it does read in order."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)

    dispute_pb = dispute_events_pb2

    def story(case_id: str) -> list[Event[Any]]:
        """The filing, then the coordination's start (day 20) and end (day 40)."""
        acts = [
            new_event(payload, aggregate_id=case_id, court_code="苏1283", actor=SERVICE,
                      clock=clock, occurred_at=MONDAY_9AM + dt.timedelta(days=days))
            for days, payload in (
                (20, dispute_pb.DisputeCoordinationStarted(case_id=case_id, dispute_id="d")),
                (40, dispute_pb.DisputeCoordinationEnded(case_id=case_id, dispute_id="d")),
            )
        ]  # fmt: skip
        return [case_filed_event(case_id, clock=clock), *acts]

    for event in story("in-order"):
        await service.consume([event])
    in_order = await service.engine.get("case.close:in-order")
    assert in_order is not None and in_order.paused_seconds == 20 * 86400
    filed, started, ended = story("out-of-order")
    await service.consume([started])  # kept: no clock yet
    assert await service.engine.get("case.close:out-of-order") is None
    await service.consume([filed])
    opened = await service.engine.get("case.close:out-of-order")
    assert opened is not None and opened.status == "paused"
    await service.consume([ended])
    out_of_order = await service.engine.get("case.close:out-of-order")
    assert out_of_order is not None and out_of_order.paused_seconds == in_order.paused_seconds
    assert (out_of_order.status, out_of_order.due_at) == (in_order.status, in_order.due_at)
    # Both acts read first, in one batch with the filing (the end before the start): the same.
    filed, started, ended = story("both-first")
    await service.consume([ended, started, filed])
    both = await service.engine.get("case.close:both-first")
    assert both is not None and (both.status, both.due_at) == ("running", in_order.due_at)
    assert not await service.ctx.redis.keys("*early-acts*")  # used once


async def test_a_pause_kept_for_another_payment_waits_for_that_payments_clock(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)

    def arrived(payment_id: str) -> Event[Any]:
        return case_act(funds_events_pb2.FundsArrived(
            case_id="c", payment_id=payment_id, amount_fen=100, arrived_on="2026-03-02",
        ), "c", clock)  # fmt: skip

    clock.advance(dt.timedelta(hours=2))
    deferred = [case_act(funds_events_pb2.PaymentDeferralApproved(
        case_id="c", hold_id=f"h-{p}", payment_id=p, amount_fen=100), "c", clock)
        for p in ("p1", "p2")]  # fmt: skip
    await service.consume(deferred)  # neither payment's clock started yet
    await service.consume([arrived("p1")])
    first = await service.engine.get("funds.notify-finance:c:p1")
    assert first is not None and first.status == "paused"
    await service.consume([arrived("p2")])  # p2's deferral was kept, not dropped with p1's
    second = await service.engine.get("funds.notify-finance:c:p2")
    assert second is not None and second.status == "paused"


async def test_a_start_lacking_its_per_field_opens_no_clock_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    """An arrival without a payment id names no clock of funds.notify-finance: it is
    logged and passed over (it raised inside the log call once), and the rest of the batch
    is applied."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    nameless = case_act(funds_events_pb2.FundsArrived(
        case_id="c", amount_fen=100, arrived_on="2026-03-02"), "c", clock)  # fmt: skip
    await service.consume([nameless, case_filed_event("c", clock=clock)])
    opened = {s.rule_id for s in await service.engine.clocks_of("c")}
    assert "case.close" in opened and "funds.notify-finance" not in opened


async def test_a_start_that_opens_another_rules_clock_leaves_what_was_kept_for_other_debtors(
    tmp_path: Path,
) -> None:
    """d2's lift read before its lift was due; d1's lift falls due, not urgent: the urgent
    rule's clock does not open for d1, and d2's kept stop stays kept for d2's own."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)

    def due(debtor: str, urgent: str) -> Event[Any]:
        return case_act(credit_events_pb2.RestrictionLiftDue(
            case_id="c", restriction_id=f"r-{debtor}", debtor_key=debtor, urgent=urgent,
        ), "c", clock)  # fmt: skip

    first_due, second_due = due("d1", "no"), due("d2", "yes")
    clock.advance(dt.timedelta(hours=1))
    lifted = case_act(credit_events_pb2.RestrictionLifted(
        case_id="c", restriction_id="r-d2", debtor_key="d2"), "c", clock)  # fmt: skip
    await service.consume([lifted])  # read before d2's lift was due: kept
    await service.consume([first_due])
    await service.consume([second_due])
    first = await service.engine.get("credit.lift-restriction:c:d1")
    second = await service.engine.get("credit.lift-restriction-urgent:c:d2")
    assert first is not None and first.status == "running"
    assert second is not None and second.status == "cleared"  # by d2's kept lift


def test_rules_started_alike_are_those_the_very_same_acts_start() -> None:
    alike = {rule_id: {other.id for other in others}
             for rule_id, others in started_alike(catalogue().by_event()).items()}  # fmt: skip
    assert "case.close-non-litigation" in alike["case.close"]
    terms = {"asset.control-term-deposits", "asset.control-term-movables",
             "asset.control-term-real-estate"}  # fmt: skip
    assert alike["asset.control-term-deposits"] == terms - {"asset.control-term-deposits"}
    assert "asset.control-term-deposits" not in alike["disposal.reference-price"]


async def test_a_start_made_before_its_cases_move_and_read_after_it_opens_at_the_new_court(
    tmp_path: Path,
) -> None:
    """Money arrived before the case was designated to 苏1282, read after the move (the funds
    and case topics are read side by side): its clock opens where the move would have put
    it, read in a later batch or in the same one. An act the old court makes after the move
    stays with the old court."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    await service.consume([case_filed_event(c, clock=clock) for c in ("c", "d")])

    def arrived(case_id: str, payment_id: str) -> Event[Any]:
        return new_event(funds_events_pb2.FundsArrived(
            case_id=case_id, payment_id=payment_id, amount_fen=100, arrived_on="2026-03-02",
        ), aggregate_id=case_id, court_code="苏1283", actor=SERVICE, clock=clock)  # fmt: skip

    def moved(case_id: str) -> Event[Any]:
        return case_act(case_events_pb2.CaseHandlingCourtChanged(
            case_id=case_id, from_court="苏1283", to_court="苏1282", kind="designate",
        ), case_id, clock)  # fmt: skip

    before_c, before_d = arrived("c", "p1"), arrived("d", "p1")
    clock.advance(dt.timedelta(hours=1))
    moves = [moved("c"), moved("d")]
    clock.advance(dt.timedelta(hours=1))
    after_c = arrived("c", "p2")
    await service.consume([moves[0]])
    await service.consume([before_c])  # a later batch
    await service.consume([moves[1], before_d])  # the same batch
    await service.consume([after_c])
    courts = {s.clock_id: s.court_code for c in ("c", "d")
              for s in await service.engine.clocks_of(c)}  # fmt: skip
    assert courts["funds.notify-finance:c:p1"] == courts["funds.notify-finance:d:p1"] == "苏1282"
    assert courts["funds.notify-finance:c:p2"] == "苏1283"
    assert courts["case.close:c"] == courts["case.close:d"] == "苏1282"  # moved, as before
    # Opened, then moved, as read in order: the board counts it where it is.
    moved_late = [e.payload for e in await staged(service.ctx)
                  if isinstance(e.payload, deadline_events_pb2.ClockMoved)
                  and e.payload.clock.clock_id == "funds.notify-finance:c:p1"]  # fmt: skip
    assert [(m.from_court, m.to_court) for m in moved_late] == [("苏1283", "苏1282")]
    # An act the old court made after a move, read before the move: the move, read then,
    # leaves that act's clock where it was opened.
    await service.consume([case_filed_event("e", clock=clock)])
    move_e = moved("e")
    clock.advance(dt.timedelta(hours=1))
    await service.consume([arrived("e", "p1")])
    await service.consume([move_e])
    courts = {s.clock_id: s.court_code for s in await service.engine.clocks_of("e")}
    assert courts["funds.notify-finance:e:p1"] == "苏1283"
    assert courts["case.close:e"] == "苏1282"


async def test_a_requery_round_read_after_the_resumption_does_not_reopen_its_clock(
    tmp_path: Path,
) -> None:
    """The re-query's due day warned, asset control started a round, and the case resumed;
    the engine read the resumption first: the round continues no cycle and opens none
    (zhongben.requery's restart_only_on), read alone or after the stop in one batch."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)

    def act(payload: Any, case_id: str) -> Event[Any]:
        return case_act(payload, case_id, clock)

    for case_id, together in (("case-alone", False), ("case-batch", True)):
        ruled = case_events_pb2.ZhongbenRuled(
            case_id=case_id, ruling_number="(2026)苏1283执1号之一", ruled_on="2026-03-02"
        )
        await service.consume([act(ruled, case_id)])
        clock_id = f"zhongben.requery:{case_id}"
        first_round = asset_events_pb2.ZhongbenRequeryStarted(
            case_id=case_id, round=2, requery_number=1, period_from="2026-09-02"
        )
        await service.consume([act(first_round, case_id)])  # read in order: the next cycle
        running = await service.engine.get(clock_id)
        assert running is not None and (running.status, running.cycle) == ("running", 2)
        resumed = act(case_events_pb2.ExecutionResumed(case_id=case_id, cause="assets_found"),
                      case_id)  # fmt: skip
        late_round = act(asset_events_pb2.ZhongbenRequeryStarted(
            case_id=case_id, round=3, requery_number=2, period_from="2027-03-02",
        ), case_id)  # fmt: skip
        before = len(await staged(service.ctx))
        if together:
            await service.consume([resumed, late_round])
        else:
            await service.consume([resumed])
            await service.consume([late_round])
        stopped = await service.engine.get(clock_id)
        assert stopped is not None and (stopped.status, stopped.cycle) == ("cleared", 2)
        after = [type(e.payload).__name__ for e in (await staged(service.ctx))[before:]]
        assert after == ["ClockCleared"]


async def test_two_schedulers_racing_fire_each_timer_once(tmp_path: Path) -> None:
    """Two engines drain the same due clocks: the second finds none while the first holds
    its claim; once the claim has run out (the first is slow, or dead), the second claims
    and fires them, and the first, recording last, finds the clocks changed under its
    WATCH, reads them again and fires nothing more."""
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    first = service.engine
    second = DeadlineEngine(
        redis=service.ctx.redis, keys=service.ctx.keys, outbox=service.ctx.outbox, clock=clock,
        rules=first.rules,
    )  # fmt: skip
    await service.consume([case_filed_event(f"case-r{n}", clock=clock) for n in range(6)])
    opened = len(await staged(service.ctx))
    clock.set(dt.datetime(2026, 3, 10, 9, 0, tzinfo=CHINA_TZ))  # network queries breached
    record = first.store.execute
    raced: list[FireReport] = []

    async def record_after_the_other(pipe: Any) -> None:
        if not raced:  # the first attempt: the other scheduler records meanwhile
            assert (await second.fire_due()).clocks == 0  # all claimed by the first
            clock.advance(CLAIM_HOLD + dt.timedelta(seconds=1))
            raced.append(await second.fire_due())
        await record(pipe)

    first.store.execute = record_after_the_other  # type: ignore[method-assign]
    mine = await first.fire_due()
    assert raced and raced[0].fired > 0 and mine.fired == 0
    fired = [
        (e.envelope.aggregate_id, type(e.payload).__name__, bytes(e.payload.SerializeToString()))
        for e in (await staged(service.ctx))[opened:]
    ]
    assert len(fired) == raced[0].fired == len(set(fired))  # each timer once
    assert (await second.drain()).fired == 0 and (await first.drain()).fired == 0


async def test_a_chunk_that_failed_gives_its_claim_back_and_the_next_pass_fires_it(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    service = Engine(clock, tmp_path)
    await service.consume([case_filed_event(f"case-f{n}", clock=clock) for n in range(3)])
    clock.set(dt.datetime(2026, 3, 10, 9, 0, tzinfo=CHINA_TZ))
    record = service.engine.store.execute

    async def fail_once(pipe: Any) -> None:
        service.engine.store.execute = record  # type: ignore[method-assign]
        raise ConnectionError("Redis went away")

    service.engine.store.execute = fail_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await service.engine.fire_due()
    again = await service.engine.fire_due()  # at the same instant: not held for CLAIM_HOLD
    assert again.clocks > 0 and again.fired > 0


async def test_a_drain_in_small_concurrent_chunks_fires_what_one_chunk_fires(
    tmp_path: Path,
) -> None:
    fired = []
    for chunk, concurrent in ((1000, 1), (2, 3)):  # one chunk; several passes of 3 chunks
        clock = SimulatedClock(MONDAY_9AM)
        service = Engine(clock, tmp_path)
        await service.consume([case_filed_event(f"case-d{n}", clock=clock) for n in range(5)])
        opened = len(await staged(service.ctx))
        clock.set(dt.datetime(2026, 3, 10, 9, 0, tzinfo=CHINA_TZ))
        report = await service.engine.drain(chunk=chunk, concurrent=concurrent)
        events = (await staged(service.ctx))[opened:]
        assert report.fired == len(events) == len(report.lateness_s) > 0
        assert (await service.engine.drain()).fired == 0
        fired.append(sorted((e.envelope.aggregate_id, e.payload.SerializeToString())
                            for e in events))  # fmt: skip
    assert fired[0] == fired[1] and len(set(fired[1])) == len(fired[1])  # each once
