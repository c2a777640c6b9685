"""The deadline engine: clocks opened and cleared by events, fired on time.

The clocks live in Redis behind ``ClockStore`` (``repository``). Every change of a clock and
the events it causes are written in one MULTI/EXEC that WATCHes the clock's key (state +
outbox): an event is staged exactly when its change is recorded, so a crash at any point
neither loses a warning nor fires it twice. The outbox relay publishes the events to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
import structlog
from google.protobuf.message import Message
from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio.client import Pipeline

from services.deadlines import extensions
from services.deadlines.domain import (
    ClockRules,
    ClockState,
    Signal,
    Status,
    clock_id_for,
    matches,
)
from services.deadlines.escalation import ANSWER_EVENTS, stop_escalation
from services.deadlines.repository import ClockStore, Kept
from zhixing.clock import Clock
from zhixing.events import Event, new_event, registered_event_types
from zhixing.outbox import Outbox
from zhixing.projection import Transaction
from zhixing.rules import Rule
from zhixing.state import KeySpace
from zhixing.v1 import deadline_events_pb2 as pb
from zhixing.v1 import envelope_pb2

log = structlog.get_logger(__name__)

R = TypeVar("R")

FIRE_LATENESS = Histogram(
    "zhixing_deadline_fire_lateness_seconds",
    "How long after its due instant a timer fired (on the engine's clock)",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, float("inf")),
)
TIMERS_FIRED = Counter("zhixing_deadline_timers_fired_total", "Timers fired", ["kind"])
CLOCKS_SCHEDULED = Gauge("zhixing_deadline_clocks_scheduled", "Clocks with a pending timer")

CHUNK = 250
"""Clocks fired in one transaction. Its WATCH costs Redis time growing with the square of
its keys (Redis 7.0 checks each key against those already watched, valkey-io/valkey#3360:
1,000 keys took 5.7 ms of Redis's one thread, 250 took 0.36), so a burst fires smaller
transactions, four at a time (``drain``): 100,000 clocks drained in 4.8 s where chunks of
1,000, two at a time, took 6.5 to 6.9 (Redis 13.6 µs a clock against 18 to 21; one
drainer, alternating runs)."""
EVENTS_PER_TRANSACTION = 100
"""Events the clocks' projection is given in one transaction (its
``Projection.max_events_per_transaction``): ``prepare`` WATCHes what each event may touch,
14 keys for a filing (its six clocks, what was kept for each before it and the case's
moves), so a consumer's batch of 2,000 records watched thousands at once, and Redis 7.0
spends the square of that (as ``CHUNK`` says) serving no one else. A national day of 8,000
cases: Redis spent 4.9 to 6.0 s in WATCH unbounded, its longest 34 to 48 ms; 2.1 s and 19 ms with
100 events; 1.3 to 1.4 s and 13 to 14 ms with 32, which cost the deadlines service 0.6 ms of
CPU a case more in transactions (100: within the runs' spread)."""
CLAIM_HOLD = dt.timedelta(seconds=30)
"""How far ahead a drainer moves the timers it claims (``ClockStore.claim_due``): far past
the time a chunk takes to fire, so no other drainer takes them meanwhile; if the drainer
dies, its claims are due again this much later."""

ENGINE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:deadlines", role="service"
)


# A subject's handling court changed (提级执行, 指令执行): its clocks follow it, and keep
# running (nothing restarts to the applicant's harm, ¶28).
MOVE_EVENTS = frozenset(
    {"CaseHandlingCourtChanged", "AssetCourtChanged", "EntrustmentCourtChanged"}
)


def signalled_types(by_event: Mapping[str, object]) -> tuple[type[Message], ...]:
    """The payloads of the events the engine acts on: those a clock rule names to start,
    stop, pause or resume it (the rules' ``by_event``), a subject's move to another court
    and an escalation's answer. The consumer gives the engine these alone: the rest of its
    topics' events (most of them) are passed over by their type header, neither decoded nor
    remembered as applied. The engine's own events (aggregate ``deadline``) are not
    signals."""
    names = set(by_event) | MOVE_EVENTS | ANSWER_EVENTS
    return tuple(
        event_type.payload_class for event_type in registered_event_types()
        if event_type.aggregate_type != "deadline"
        and event_type.name.rsplit(".", 1)[-1] in names
    )  # fmt: skip


def started_alike(by_event: Mapping[str, Sequence[tuple[str, Rule]]]) -> dict[str, list[Rule]]:
    """For each clock rule, the other rules started by exactly the same acts (e.g. the two
    closing limits, one of which a filing opens; the three control terms, one for each
    class of asset): where one of them runs for a subject, the acts were read."""
    rules = {rule.id: rule for pairs in by_event.values() for role, rule in pairs
             if role == "start"}  # fmt: skip
    return {
        rule.id: [other for other in rules.values()
                  if other.id != rule.id and set(other.starts_on) == set(rule.starts_on)]
        for rule in rules.values()
    }  # fmt: skip


def move(state: ClockState, signal: Signal) -> bool:
    """Point ``state`` at the new court wherever it named the old one; True if it changed."""
    old, new = signal.attributes.get("from_court", ""), signal.attributes.get("to_court", "")
    return move_courts(state, old, new)


def move_courts(state: ClockState, old: str, new: str) -> bool:
    """``move``, from court ``old`` to ``new``."""
    if not old or not new:
        return False
    changed = False
    if state.court_code == old:
        state.court_code = new
        changed = True
    if old in state.observers:
        state.observers = [new if court == old else court for court in state.observers]
        changed = True
    return changed


def concerns(signal: Signal, rule: Rule, state: ClockState) -> bool:
    """Whether ``signal`` concerns ``state``, a clock of ``rule``: each ``per`` field of the
    rule the signal names holds the clock's value (a field it does not name matches any)."""
    return all(
        signal.attributes.get(name) in (None, value)
        for name, value in zip(rule.per, state.per_values, strict=True)
    )


def moves_after(start: Signal, moves: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """The (from, to) courts of the subject's moves made after ``start`` (strictly), in the
    order applied: a clock it opens, read after them, is moved by them as it would have
    been read in order. An act made at or after a move is where its court put it (e.g. the
    designation the old court signs)."""
    return [
        (moved["from"], moved["to"]) for moved in moves
        if dt.datetime.fromisoformat(moved["at"]) > start.occurred_at
    ]  # fmt: skip


def signal_of(event: Event[Message]) -> Signal:
    """The engine's view of a domain event: its name, subject and flat payload fields."""
    envelope = event.envelope
    attributes = {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in event.payload_fields().items()
    }
    return Signal(
        event_id=envelope.event_id,
        event_name=envelope.event_type.rsplit(".", 1)[-1],
        subject_id=envelope.aggregate_id,
        court_code=envelope.court_code,
        occurred_at=envelope.occurred_at.ToDatetime(tzinfo=dt.UTC),
        attributes=attributes,
    )


def _known(states: dict[str, ClockState], clock_id: str) -> ClockState:
    state = states.get(clock_id)
    if state is None:
        raise KeyError(clock_id)
    return state


def _kept(signal: Signal) -> dict[str, Any]:
    """A signal as kept for a clock's start (``_signal_of_kept`` reads it back)."""
    return {"event_id": signal.event_id, "event_name": signal.event_name,
            "court_code": signal.court_code, "occurred_at": signal.occurred_at.isoformat(),
            "attributes": dict(signal.attributes)}  # fmt: skip


def _signal_of_kept(kept: Mapping[str, Any], subject_id: str) -> Signal:
    return Signal(
        event_id=kept["event_id"], event_name=kept["event_name"], subject_id=subject_id,
        court_code=kept["court_code"], occurred_at=dt.datetime.fromisoformat(kept["occurred_at"]),
        attributes=kept["attributes"],
    )  # fmt: skip


@dataclass(frozen=True)
class FireReport:
    fired: int
    clocks: int
    lateness_s: tuple[float, ...] = ()  # per fired timer: engine clock time past its instant


class DeadlineEngine:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: KeySpace,
        outbox: Outbox,
        clock: Clock,
        rules: ClockRules,
    ) -> None:
        self.store = ClockStore(redis, keys)
        self.redis = redis
        self._outbox = outbox
        self._clock = clock
        self.rules = rules
        self.handles = signalled_types(rules.by_event)  # what the consumer gives ``__call__``
        self._started_alike = started_alike(rules.by_event)
        # Set when timers change, to wake the scheduler. Another replica's changes (its
        # consumer has other partitions) arrive on this Redis channel (``DeadlineScheduler``).
        self.schedule_changed = asyncio.Event()
        self.changed_channel = keys.key("schedule-changed")
        # Set when a new calendar was loaded here: the scheduler recomputes provisional clocks.
        self.calendar_reloaded = asyncio.Event()

    # --- reading ------------------------------------------------------------------------

    async def get(self, clock_id: str) -> ClockState | None:
        return await self.store.get(clock_id)

    async def clocks_of(self, subject_id: str) -> list[ClockState]:
        return await self.store.clocks_of(subject_id)

    # --- writing ------------------------------------------------------------------------

    def _event(self, state: ClockState, message: Message, *, causation_id: str = "",
               occurred_at: dt.datetime | None = None) -> Event[Message]:  # fmt: skip
        # Keyed by the subject: its clocks, and the event opening several, in one order.
        # The calendar's alert is the platform's, not the subject's: keyed by its year.
        aggregate_id = state.subject_id
        if isinstance(message, pb.CalendarHorizonReached):
            aggregate_id = f"calendar:{message.year}"
        return new_event(
            message, aggregate_id=aggregate_id, court_code=state.court_code,
            actor=ENGINE_ACTOR, clock=self._clock, occurred_at=occurred_at,
            causation_id=causation_id,
        )  # fmt: skip

    def _stage(self, pipe: Pipeline, state: ClockState, messages: Sequence[Message], *,
               causation_id: str = "", occurred_at: dt.datetime | None = None) -> None:  # fmt: skip
        for message in messages:
            event = self._event(state, message, causation_id=causation_id,
                                occurred_at=occurred_at)  # fmt: skip
            self._outbox.stage(pipe, event)

    def _save(self, pipe: Pipeline, state: ClockState, *, was_provisional: bool = False) -> None:
        self.store.save(pipe, state, self.rules.next_timer(state), was_provisional=was_provisional)

    # --- the consumer side: domain events open, stop, pause and resume clocks ------------

    def _concerned(self, signals: Sequence[Signal]) -> tuple[set[str], set[str]]:
        """Clock ids a batch may touch, and the subjects whose index must be read because a
        stop, pause or resume lacks a ``per`` field to compute the id from, or because the
        subject moved to another court."""
        ids: set[str] = set()
        subjects: set[str] = set()
        for signal in signals:
            if signal.event_name in ANSWER_EVENTS:
                if answered_clock := signal.attributes.get("clock_id", ""):
                    ids.add(answered_clock)
                continue
            if signal.event_name in MOVE_EVENTS:
                subjects.add(signal.subject_id)
                continue
            for role, rule in self.rules.by_event.get(signal.event_name, []):
                clock_id = clock_id_for(rule, signal)
                if clock_id is not None:
                    ids.add(clock_id)
                elif role != "start":
                    subjects.add(signal.subject_id)
        return ids, subjects

    async def prepare(self, events: Sequence[Event[Message]], pipe: Pipeline) -> Any:
        signals = [signal_of(e) for e in events if e.envelope.aggregate_type != "deadline"]
        signals = [
            s for s in signals if s.event_name in self.rules.by_event or s.event_name in MOVE_EVENTS
            or s.event_name in ANSWER_EVENTS
        ]  # fmt: skip
        if not signals:
            return (signals, {}, set(), {}, {}, {})
        ids, subjects = self._concerned(signals)
        starts = sorted({
            (rule.id, signal.subject_id) for signal in signals
            for role, rule in self.rules.by_event.get(signal.event_name, []) if role == "start"
        })  # fmt: skip
        pausable = [(rule_id, subject) for rule_id, subject in starts
                    if self.rules.rule(rule_id).pauses_on]  # fmt: skip
        # Each read is watched as it is made (two round trips): a change to any key read
        # here before EXEC makes the batch retry.
        index = await self.store.watch_and_read_batch(pipe, sorted(subjects), starts, pausable)
        states = await self.store.watch_and_load(pipe, sorted(ids | index.ids))
        return (signals, states, index.alerted, index.early, index.acts, index.moves)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        """Batch handler on every topic: apply each signal in order, then write."""
        if tx.prepared is None:  # called without prepare: nothing to do
            return
        signals, states, alerted, early, early_acts, moves = tx.prepared
        by_rule_subject: dict[tuple[str, str], list[ClockState]] = {}
        for loaded in states.values():
            by_rule_subject.setdefault((loaded.rule_id, loaded.subject_id), []).append(loaded)
        touched: dict[str, list[tuple[Message, str]]] = {}
        for signal in signals:
            if signal.event_name in ANSWER_EVENTS:  # its task was answered: no further step
                answered = states.get(signal.attributes.get("clock_id", ""))
                version = signal.attributes.get("due_version", "")
                if answered is not None and stop_escalation(
                    self.rules, answered, int(version) if version.isdigit() else 1
                ):
                    touched.setdefault(answered.clock_id, [])
                continue
            if signal.event_name in MOVE_EVENTS:
                if recorded := self.store.record_move(tx.pipe, signal):
                    moves.setdefault(signal.subject_id, []).append(recorded)
                for state in states.values():
                    if state.subject_id != signal.subject_id:
                        continue
                    if state.started_at > signal.occurred_at:
                        continue  # begun after the move (read before it): where its act put it
                    responsible = state.court_code
                    if move(state, signal):
                        moved = touched.setdefault(state.clock_id, [])
                        # Only a running or paused clock changes hands (not when only an
                        # observer changed, nor for a cleared one's history).
                        if state.court_code != responsible and state.status is not Status.CLEARED:
                            moved.append((pb.ClockMoved(
                                clock=state.ref(), from_court=responsible,
                                to_court=state.court_code, moved_by_event_id=signal.event_id,
                            ), signal.event_id))  # fmt: skip
                continue
            for role, rule in self.rules.by_event[signal.event_name]:
                if role == "start":
                    if not matches(rule, signal):
                        # Not this rule's clock (its when or unless): what was kept for it,
                        # read before the act, is for no clock.
                        self._drop_kept(tx, early, early_acts, rule, signal)
                        continue
                    clock_id = clock_id_for(rule, signal)
                    if clock_id is None:
                        log.warning(
                            "start event lacks a per field", rule=rule.id, event_id=signal.event_id
                        )
                        continue
                    previous = states.get(clock_id)
                    if signal.event_name in rule.restart_only_on and (
                        previous is None or previous.status is Status.CLEARED
                    ):
                        # Made on the due day of a clock stopped since (read after the stop):
                        # it continues a cycle that has ended, and opens none.
                        log.info(
                            "restart of a stopped clock ignored", rule=rule.id,
                            clock_id=clock_id, event_id=signal.event_id,
                        )  # fmt: skip
                        continue
                    state, messages = self.rules.open(rule, signal, clock_id, previous)
                    for old, new in moves_after(signal, moves.get(signal.subject_id, ())):
                        responsible = state.court_code
                        if move_courts(state, old, new) and state.court_code != responsible:
                            messages.append(pb.ClockMoved(
                                clock=state.ref(), from_court=responsible,
                                to_court=state.court_code, moved_by_event_id=signal.event_id,
                            ))  # fmt: skip
                    if previous is not None and previous.status is not Status.CLEARED:
                        messages = self.rules.clear(previous, signal) + messages
                    messages += self._apply_early_acts(tx, early_acts, early, rule, signal, state)
                    messages += self._apply_early_stop(tx, early, rule, signal, state)
                    states[clock_id] = state
                    same = by_rule_subject.setdefault((rule.id, state.subject_id), [])
                    same[:] = [s for s in same if s.clock_id != clock_id] + [state]
                    for year in state.unknown_years:
                        if year not in alerted:
                            alerted.add(year)
                            messages.append(
                                pb.CalendarHorizonReached(year=year, first_clock_id=clock_id)
                            )
                            self.store.alert_year(tx.pipe, year)
                    targets = [state]
                else:
                    targets = [
                        s for s in by_rule_subject.get((rule.id, signal.subject_id), [])
                        if concerns(signal, rule, s)
                    ]  # fmt: skip
                    messages = []
                    if not targets and not self._start_read(rule, signal, by_rule_subject):
                        if role == "stop":
                            self._keep_early_stop(tx, early, rule.id, signal)
                        elif role in ("pause", "resume"):
                            self._keep_early_act(tx, early_acts, rule.id, role, signal)
                for state in targets:
                    if role == "stop":
                        messages = self.rules.clear(state, signal)
                    elif role == "pause":
                        messages = self.rules.pause(state, signal)
                    elif role == "resume":
                        messages = self.rules.resume(state, signal)
                    touched.setdefault(state.clock_id, []).extend(
                        (m, signal.event_id) for m in messages
                    )
        # As one command for the saves and one for the events (as ``fire_due`` does).
        writes = self.store.writes()
        for clock_id in touched:
            state = states[clock_id]
            writes.save(state, self.rules.next_timer(state))
        self._outbox.stage_many(tx.pipe, self._events_of(touched, states))
        writes.queue(tx.pipe)
        if touched:
            tx.pipe.publish(self.changed_channel, b"1")
            self.schedule_changed.set()

    def _events_of(
        self, touched: dict[str, list[tuple[Message, str]]], states: dict[str, ClockState]
    ) -> list[Event[Message]]:
        """The batch's events, clock by clock; the clocks one act opened for one subject at
        one court in one ClocksOpened (issue 19), placed where the first of them opened.
        Only a clock's first event joins an earlier one: whatever else happened to it
        (a cycle before cleared, an early stop) still follows its opening."""
        pending: list[tuple[ClockState, Message, str]] = []
        openings: dict[tuple[str, str, str], pb.ClocksOpened] = {}
        for clock_id, staged in touched.items():
            state = states[clock_id]
            for index, (message, cause) in enumerate(staged):
                if isinstance(message, pb.ClockOpened):
                    together = (cause, state.subject_id, state.court_code)
                    if index == 0 and together in openings:
                        openings[together].clocks.append(message)
                        continue
                    opened = pb.ClocksOpened(subject_id=state.subject_id, clocks=[message])
                    if index == 0:
                        openings[together] = opened
                    message = opened
                pending.append((state, message, cause))
        # Built once every clock has joined: an event packs its payload when made.
        return [self._event(state, m, causation_id=cause) for state, m, cause in pending]

    def _start_read(
        self, rule: Rule, signal: Signal, by_rule_subject: Mapping[Kept, list[ClockState]]
    ) -> bool:
        """Whether the act that would have started the rule's clock was read: a clock of the
        subject that the same act starts is there (for the same ``per`` values). The rule's
        clock was then not opened for the subject (its ``when`` or ``unless``): a stop,
        pause or resume for it is not kept. Only the clocks the act concerns are at hand:
        those of the rules it stops, pauses or resumes."""
        for other in self._started_alike.get(rule.id, ()):
            for state in by_rule_subject.get((other.id, signal.subject_id), []):
                if concerns(signal, other, state):
                    return True
        return False

    def _drop_kept(
        self, tx: Transaction, early: dict[Kept, Any], early_acts: dict[Kept, list[Any]],
        rule: Rule, start: Signal,
    ) -> None:  # fmt: skip
        """What was kept for the clock ``start`` would have opened (its ``per`` values; the
        rule's other clocks of the subject keep theirs), now that it does not open."""
        values = [start.attributes.get(name) for name in rule.per]
        if None in values:
            return

        def of_this_clock(kept: Mapping[str, Any]) -> bool:
            attributes = kept["attributes"]
            return all(attributes.get(n) == v for n, v in zip(rule.per, values, strict=True))

        pair = (rule.id, start.subject_id)
        stop = early.get(pair)
        if stop is not None and of_this_clock(stop):
            del early[pair]
            self.store.drop_early_stop(tx.pipe, *pair)
        acts = early_acts.get(pair, [])
        dropped = [act["event_id"] for act in acts if of_this_clock(act)]
        if dropped:
            early_acts[pair] = [act for act in acts if not of_this_clock(act)]
            self.store.drop_early_acts(tx.pipe, *pair, dropped)

    def _keep_early_stop(
        self, tx: Transaction, early: dict[tuple[str, str], Any], rule_id: str, signal: Signal
    ) -> None:
        stop = _kept(signal)
        early[(rule_id, signal.subject_id)] = stop
        self.store.keep_early_stop(tx.pipe, rule_id, signal.subject_id, stop)

    def _keep_early_act(
        self, tx: Transaction, early_acts: dict[tuple[str, str], list[Any]], rule_id: str,
        role: str, signal: Signal,
    ) -> None:  # fmt: skip
        """A pause or resume of a clock not started yet (its start not read yet: the topics
        are read side by side): kept for the start, which applies it."""
        act = {**_kept(signal), "role": role}
        early_acts.setdefault((rule_id, signal.subject_id), []).append(act)
        self.store.keep_early_act(tx.pipe, rule_id, signal.subject_id, act)

    def _apply_early_acts(
        self, tx: Transaction, early_acts: dict[tuple[str, str], list[Any]],
        early: dict[tuple[str, str], Any], rule: Rule, start: Signal, state: ClockState,
    ) -> list[Message]:  # fmt: skip
        """The clock just opened was paused (and perhaps resumed) already, the acts read
        first: apply those of this clock made after its start and before a kept stop, in
        the order they were made. Those of the rule's other clocks of the subject (another
        ``per`` value) stay kept."""
        pair = (rule.id, state.subject_id)
        kept = early_acts.pop(pair, None)
        if kept is None:
            return []
        stop = early.get(pair)
        until = dt.datetime.fromisoformat(stop["occurred_at"]) if stop is not None else None
        mine: list[tuple[str, Signal]] = []
        others: list[Any] = []
        for act in kept:
            signal = _signal_of_kept(act, state.subject_id)
            if concerns(signal, rule, state):
                mine.append((act["role"], signal))
            else:
                others.append(act)
        if mine:
            self.store.drop_early_acts(tx.pipe, *pair, [act.event_id for _, act in mine])
        if others:
            early_acts[pair] = others
        messages: list[Message] = []
        # In the order made (a pause before a resume made at the same instant).
        mine.sort(key=lambda role_and_act: (role_and_act[1].occurred_at, role_and_act[0]))
        for role, signal in mine:
            if signal.occurred_at < start.occurred_at or (until and signal.occurred_at > until):
                continue  # made before this cycle started, or after the clock stopped
            log.info("clock paused or resumed before it was read to start",
                     clock_id=state.clock_id, act=signal.event_id, role=role)  # fmt: skip
            if role == "pause":
                messages += self.rules.pause(state, signal)
            else:
                messages += self.rules.resume(state, signal)
        return messages

    def _apply_early_stop(
        self, tx: Transaction, early: dict[tuple[str, str], Any], rule: Rule, start: Signal,
        state: ClockState,
    ) -> list[Message]:  # fmt: skip
        """The clock just opened was stopped already (its stop was read first): clear it."""
        stop = early.get((rule.id, state.subject_id))
        if stop is None:
            return []
        stopped = _signal_of_kept(stop, state.subject_id)
        same_clock = concerns(stopped, rule, state)
        if not same_clock or stopped.occurred_at < start.occurred_at:
            return []
        del early[(rule.id, state.subject_id)]
        self.store.drop_early_stop(tx.pipe, rule.id, state.subject_id)
        log.info("clock stopped before it was read to start", clock_id=state.clock_id,
                 stopped_by=stopped.event_id)  # fmt: skip
        return self.rules.clear(state, stopped)

    # --- the scheduler side ---------------------------------------------------------------

    async def scheduled(self) -> int:
        """How many clocks have a pending timer."""
        return await self.store.scheduled()

    async def provisional(self) -> set[str]:
        return await self.store.provisional()

    async def earliest(self) -> dt.datetime | None:
        return await self.store.earliest()

    async def fire_due(self, *, chunk: int = CHUNK) -> FireReport:
        """Fire the timers due now, for at most ``chunk`` clocks, in one transaction."""
        now = self._clock.now()
        return await self._fire_claimed(await self.store.claim_due(now, chunk, CLAIM_HOLD), now)

    async def _fire_claimed(self, ids: Sequence[str], now: dt.datetime) -> FireReport:
        """``_fire`` for clocks claimed at ``now``; if it fails, the claim is given back, so
        the next pass fires them (not one ``CLAIM_HOLD`` later)."""
        try:
            return await self._fire(ids, now)
        except (Exception, asyncio.CancelledError):
            with contextlib.suppress(Exception):  # Redis away: the claim runs out instead
                await self.store.release_claim(ids, now, CLAIM_HOLD)
            raise

    async def _fire(self, ids: Sequence[str], now: dt.datetime) -> FireReport:
        """Fire the timers of clocks ``ids`` due by ``now``, in one transaction."""
        if not ids:
            return FireReport(0, 0)

        def fire(pipe: Pipeline, states: dict[str, ClockState]) -> list[tuple[str, float]]:
            # The chunk's saves and events go as one command each (``ClockWrites``,
            # ``Outbox.stage_many``): per command, the client's cost dominated a burst.
            lateness = []
            writes = self.store.writes()
            events: list[Event[Message]] = []
            for clock_id in ids:
                state = states.get(clock_id)
                if state is None:
                    self.store.unschedule(pipe, clock_id)
                    continue
                fired, next_timer = self.rules.fire_until(state, now)
                for timer, message in fired:
                    events.append(self._event(state, message, occurred_at=timer.at))
                    lateness.append((timer.kind, (now - timer.at).total_seconds()))
                writes.save(state, next_timer)
            self._outbox.stage_many(pipe, events)
            writes.queue(pipe)
            return lateness

        lateness = await self.store.change_clocks(ids, fire)
        for kind, count in Tally(kind for kind, _ in lateness).items():
            TIMERS_FIRED.labels(kind).inc(count)
        for _, late in lateness:
            FIRE_LATENESS.observe(late)
        return FireReport(len(lateness), len(ids), tuple(late for _, late in lateness))

    async def drain(self, *, chunk: int = CHUNK, concurrent: int = 4) -> FireReport:
        """Fire everything due now, ``concurrent`` chunks at a time (each its own
        transaction, on its own connection: while one waits on Redis, the next one's timers
        are computed), yielding to other work in between."""
        fired, clocks = 0, 0
        lateness: list[float] = []
        while True:
            now = self._clock.now()
            ids = await self.store.claim_due(now, chunk * concurrent, CLAIM_HOLD)
            outcomes = await asyncio.gather(
                *(
                    self._fire_claimed(ids[at : at + chunk], now)
                    for at in range(0, len(ids), chunk)
                ),
                return_exceptions=True,
            )  # every chunk finishes (or fails) before the pass returns or raises
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
                fired, clocks = fired + outcome.fired, clocks + outcome.clocks
                lateness.extend(outcome.lateness_s)
            if len(ids) < chunk * concurrent:
                return FireReport(fired, clocks, tuple(lateness))
            await asyncio.sleep(0)  # let requests and consumers run between chunks

    # --- commands --------------------------------------------------------------------------

    async def request_extension(
        self, clock_id: str, *, added: int, reason: str, requested_by: str
    ) -> dict[str, Any]:
        """Record a request to extend the limit, made now on the engine's clock and checked
        against the window now (``extensions``); returns the request."""

        def request(pipe: Pipeline, states: dict[str, ClockState]) -> dict[str, Any]:
            state = _known(states, clock_id)
            if state.status is Status.CLEARED:
                raise ValueError(f"clock {clock_id} is already cleared")
            recorded = extensions.record_request(
                self.rules.rule(state.rule_id), state, added=added, reason=reason,
                requested_by=requested_by, at=self._clock.now(),
                window=self.rules.extension_window,
            )  # fmt: skip
            self._save(pipe, state)
            # The ask is an act of its own: it stays in the audit trail whatever is decided.
            asked = pb.ClockExtensionRequested(
                clock=state.ref(), request_id=recorded["request_id"], added=added,
                reason=reason, requested_by=requested_by,
            )  # fmt: skip
            self._stage(pipe, state, [asked])
            return recorded

        return await self.store.change_clocks([clock_id], request)

    async def extend(
        self, clock_id: str, *, request_id: str, approved_by: str, approval_ref: str,
        reason: str, causation_id: str = "",
    ) -> ClockState:  # fmt: skip
        """Approve the recorded request ``request_id`` (after the last day too)."""

        def extend(pipe: Pipeline, states: dict[str, ClockState]) -> ClockState:
            state = _known(states, clock_id)
            messages = self.rules.extend(
                state, request_id=request_id, approved_by=approved_by,
                approval_ref=approval_ref, reason=reason, at=self._clock.now(),
            )  # fmt: skip
            self._save(pipe, state)
            self._stage(pipe, state, messages, causation_id=causation_id)
            pipe.publish(self.changed_channel, b"1")  # with the change, or not at all
            return state

        state = await self.store.change_clocks([clock_id], extend)
        self.schedule_changed.set()
        return state

    async def refuse_extension(
        self, clock_id: str, *, request_id: str, refused_by: str, reason: str
    ) -> ClockState:
        """Refuse the recorded request ``request_id``: the limit stays."""

        def refuse(pipe: Pipeline, states: dict[str, ClockState]) -> ClockState:
            state = _known(states, clock_id)
            extensions.decide(
                state, request_id, approved=False, by=refused_by, reason=reason,
                at=self._clock.now(),
            )  # fmt: skip
            self._save(pipe, state)
            refused = pb.ClockExtensionRefused(
                clock=state.ref(), request_id=request_id, refused_by=refused_by, reason=reason
            )
            self._stage(pipe, state, [refused])
            return state

        return await self.store.change_clocks([clock_id], refuse)

    async def recompute_provisional(self, reason: str, *, chunk: int = CHUNK) -> int:
        """Recompute every provisional clock on the current calendar; returns how many moved."""
        ids = sorted(await self.provisional())
        moved = 0

        def recompute(pipe: Pipeline, states: dict[str, ClockState]) -> int:
            count = 0
            for state in states.values():
                messages = self.rules.recompute(state, reason)
                count += bool(messages)
                self._save(pipe, state, was_provisional=True)
                self._stage(pipe, state, messages)
            pipe.publish(self.changed_channel, b"1")
            return count

        for start in range(0, len(ids), chunk):
            moved += await self.store.change_clocks(ids[start : start + chunk], recompute)
        self.schedule_changed.set()
        return moved
