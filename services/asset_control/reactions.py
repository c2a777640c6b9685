"""What asset control does on other services' events: a filed case starts its network
query (and its leads); an entrusted court's control becomes an asset of the case; a
breached control term lapses the control; a 终本 ruling puts the case in re-query, whose
clock's due days start each re-query, until enforcement resumes."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.asset_control.control import KeptControls, TermNote
from services.asset_control.domain import DUE_DAY, REQUERY_RULE
from services.asset_control.handlers import AssetControl
from zhixing.breaches import OnBreach, OnWarning
from zhixing.clock_events import each_payload
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import case_events_pb2, deadline_events_pb2, entrustment_events_pb2

CONTROL_TERM_RULES = frozenset(
    {
        "asset.control-term-deposits",
        "asset.control-term-movables",
        "asset.control-term-real-estate",
    }
)


class CaseIntake:
    """Consumer of case events: every filed case gets its network query; a case moved to
    another court takes its assets and leads along; a case closed as 终本 is re-queried
    until enforcement resumes; a closed case takes no new control (``close_case``)."""

    handles: tuple[type[Message], ...] = (
        case_events_pb2.CaseFiled,
        case_events_pb2.CaseHandlingCourtChanged,
        case_events_pb2.ZhongbenRuled,
        case_events_pb2.ExecutionResumed,
        case_events_pb2.CaseClosed,
    )

    def __init__(self, control: AssetControl) -> None:
        self.control = control

    async def prepare(self, events: Sequence[Event[Message]], pipe: Pipeline) -> KeptControls:
        """Controls entrusted courts made for the cases filed in the batch, read before
        their filings (``Controls.record_entrusted_control``): recorded with them."""
        filed = [e.payload.case_id for e in events
                 if isinstance(e.payload, case_events_pb2.CaseFiled)]  # fmt: skip
        return await self.control.controls.kept_controls(pipe, filed)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        kept: KeptControls = tx.prepared
        for event in events:
            if isinstance(filed := event.payload, case_events_pb2.CaseFiled):
                case = self.control.query.on_case_filed(tx.pipe, filed, event.event_id)
                self.control.controls.record_kept_controls(tx.pipe, case, kept)
            elif isinstance(moved := event.payload, case_events_pb2.CaseHandlingCourtChanged):
                # Its own idempotent transaction (it reads every asset of the case).
                await self.control.move_case(moved.case_id, moved.from_court, moved.to_court)
            elif isinstance(ruled := event.payload, case_events_pb2.ZhongbenRuled):
                await self.control.requery.on_ruled(ruled)  # its own idempotent transaction
            elif isinstance(resumed := event.payload, case_events_pb2.ExecutionResumed):
                await self.control.requery.on_resumed(resumed)  # idem
            elif isinstance(closed := event.payload, case_events_pb2.CaseClosed):
                await self.control.close_case(closed)  # idem


class EntrustedControls:
    """Consumer of entrustment events: an asset another court controlled for one of our
    cases becomes an asset of the case."""

    handles: tuple[type[Message], ...] = (entrustment_events_pb2.EntrustmentCompleted,)

    def __init__(self, control: AssetControl) -> None:
        self.control = control

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if not isinstance(
                completed := event.payload, entrustment_events_pb2.EntrustmentCompleted
            ):
                continue
            if completed.HasField("control"):
                # Its own idempotent transaction, like a lapse.
                await self.control.controls.record_entrusted_control(completed, event)


class ControlTerms:
    """Consumer of the control-term clocks (the control-term rules): the due time of each
    term is kept on the asset (a renewal after it is refused), and a breached term lapses
    the control (``control_term_lapses``). Idempotent transactions, in order: each lapse
    its own, the due times noted between two lapses one."""

    handles: tuple[type[Message], ...] = (
        deadline_events_pb2.ClockBreached,
        deadline_events_pb2.ClocksOpened,
        deadline_events_pb2.ClockOpened,
        deadline_events_pb2.ClockRecomputed,
        deadline_events_pb2.ClockExtended,
        deadline_events_pb2.ClockResumed,
    )

    def __init__(self, control: AssetControl) -> None:
        self.control = control
        self.lapses = control_term_lapses(control)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        # The due times noted between two breaches are noted together, before the breach
        # that follows them (the order they were made in).
        notes: list[TermNote] = []
        for event, payload in each_payload(events):
            if isinstance(payload, deadline_events_pb2.ClockBreached):
                await self.control.controls.note_terms(notes)
                notes.clear()
                await self.lapses([event], tx)
            elif isinstance(
                payload,
                deadline_events_pb2.ClockOpened | deadline_events_pb2.ClockRecomputed
                | deadline_events_pb2.ClockExtended | deadline_events_pb2.ClockResumed,
            ):  # fmt: skip
                clock = payload.clock
                if clock.rule_id not in CONTROL_TERM_RULES or not payload.HasField("due_at"):
                    continue
                started = None
                if isinstance(payload, deadline_events_pb2.ClockOpened):
                    started = payload.started_at.ToMilliseconds()
                notes.append(TermNote(
                    clock.subject_id, clock.rule_id, clock.cycle,
                    payload.due_at.ToMilliseconds(), started,
                ))  # fmt: skip
        await self.control.controls.note_terms(notes)


def control_term_lapses(control: AssetControl) -> OnBreach:
    """A control whose term (the control-term rules) breached lapses."""
    return OnBreach(
        {
            rule: lambda breached, event: control.controls.lapse(
                breached.clock.subject_id,
                breached.clock.clock_id,
                breached.effect,
                event.event_id,
                cycle=breached.clock.cycle,
                due_at_ms=breached.due_at.ToMilliseconds() if breached.HasField("due_at") else None,
            )
            for rule in CONTROL_TERM_RULES
        }
    )


def requery_due_days(control: AssetControl) -> OnWarning:
    """The re-query clock's due day (zhongben.requery) starts the case's next re-query."""
    return OnWarning({REQUERY_RULE: control.requery.on_due_day}, DUE_DAY)
