"""The statutory clocks (节点管控) as pure logic: no I/O, time passed in.

A clock belongs to one rule of the catalogue and one subject (a case, an asset, a dispute,
...), and optionally one value of a payload field (``per``: one clock per lower court).
Its timeline is computed from its state: the warning points of the rule's policy, the
breach at the due time, then each escalation step after the response time of the one
before. Each timer has a key that includes the due version, so a timer fires once per due
time; an extension, a resume or a recomputation makes a new due version.

Pauses: the paused time does not count; the due time is computed from an effective start
moved later by the total paused duration. Pauses may overlap: the clock keeps a ledger of the
open ones and of the stretches it was stopped (``pauses``) and counts their exact union.

A breach, once recorded, stays: an extension or a resume that moves the due time later does
not make the clock in time again (the figures count it breached), and the breach of the new
due time is not reported a second time. Only a recomputation on a newly loaded calendar,
which corrects an estimated due time, may withdraw it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from google.protobuf.message import Message

from services.deadlines import extensions, pauses
from zhixing.bounds import EARLIEST_DAY
from zhixing.clock import CHINA_TZ
from zhixing.clock_states import ClockCondition, condition_of
from zhixing.courts import superior_of
from zhixing.events import timestamp as ts
from zhixing.periods import Due, PeriodCounter, Unit, end_of_day
from zhixing.rules import Catalogue, EscalationTarget, Rule, WarningPoint
from zhixing.v1 import deadline_events_pb2 as pb


class Status(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Signal:
    """A domain event as the deadline engine sees it."""

    event_id: str
    event_name: str  # payload message name, e.g. "CaseFiled"
    subject_id: str  # the envelope's aggregate id
    court_code: str
    occurred_at: dt.datetime
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timer:
    at: dt.datetime
    key: str
    kind: str  # warning | breach | escalation
    detail: str = ""
    level: int = 0


@dataclass
class ClockState:
    clock_id: str
    rule_id: str
    subject_id: str
    court_code: str
    cycle: int
    status: Status
    started_at: dt.datetime
    limit: int
    due_at: dt.datetime
    last_day: dt.date | None
    provisional: bool
    unknown_years: list[int]
    due_version: int = 1
    per_values: list[str] = field(default_factory=list)
    paused_at: dt.datetime | None = None
    paused_seconds: float = 0.0
    # The pause ledger (``pauses``): the open pauses, those that ended, the closed stretches.
    open_pauses: list[str] = field(default_factory=list)
    ended_pauses: list[str] = field(default_factory=list)
    paused_spans: list[pauses.Span] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    breached: bool = False
    extensions: list[dict[str, Any]] = field(default_factory=list)
    extension_requests: list[dict[str, Any]] = field(default_factory=list)
    # Other courts that may read the clock (and the courts above them): a start event's
    # ``observer_courts`` field, e.g. the entrusting court of an entrustment.
    observers: list[str] = field(default_factory=list)

    @property
    def condition(self) -> ClockCondition:
        """The clock's state in the platform's one vocabulary (``zhixing.clock_states``):
        warned when a warning of its current due time fired."""
        warned = any(
            key.startswith("warn:") and key.endswith(f"@{self.due_version}") for key in self.fired
        )
        return condition_of(
            cleared=self.status is Status.CLEARED, paused=self.status is Status.PAUSED,
            breached=self.breached, warned=warned,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies and dominated the engine's profile.
        return {
            "clock_id": self.clock_id,
            "rule_id": self.rule_id,
            "subject_id": self.subject_id,
            "court_code": self.court_code,
            "cycle": self.cycle,
            "status": self.status.value,
            "started_at": self.started_at.isoformat(),
            "limit": self.limit,
            "due_at": self.due_at.isoformat(),
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "provisional": self.provisional,
            "unknown_years": list(self.unknown_years),
            "due_version": self.due_version,
            "per_values": list(self.per_values),
            "paused_at": self.paused_at.isoformat() if self.paused_at else None,
            "paused_seconds": self.paused_seconds,
            "open_pauses": list(self.open_pauses),
            "ended_pauses": list(self.ended_pauses),
            "paused_spans": pauses.spans_json(self.paused_spans),
            "fired": list(self.fired),
            "breached": self.breached,
            "extensions": [dict(e) for e in self.extensions],
            "extension_requests": [dict(r) for r in self.extension_requests],
            "observers": list(self.observers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClockState:
        values = dict(data)
        for name in ("started_at", "due_at", "paused_at"):
            if values[name] is not None:
                values[name] = dt.datetime.fromisoformat(values[name])
        if values["last_day"] is not None:
            values["last_day"] = dt.date.fromisoformat(values["last_day"])
        values["status"] = Status(values["status"])
        values["paused_spans"] = pauses.spans_of(values.get("paused_spans", []))
        if "open_pauses" not in values and values["status"] is Status.PAUSED:
            values["open_pauses"] = [pauses.LEGACY]  # kept before the ledger: one pause
        if values.keys() == _CLOCK_STATE_FIELDS:
            # Every field stored (every clock saved since the last field was added): set
            # them as they are, in the fields' order (which orjson writes them in). The
            # dataclass's keyword ``__init__`` was two thirds of a clock's decoding, and a
            # burst decodes every clock it fires.
            state = object.__new__(cls)
            state.__dict__.update({name: values[name] for name in _CLOCK_STATE_ORDER})
            return state
        return cls(**values)  # an older clock: the missing fields take their defaults

    def ref(self) -> pb.ClockRef:
        return pb.ClockRef(
            clock_id=self.clock_id,
            rule_id=self.rule_id,
            subject_id=self.subject_id,
            court_code=self.court_code,
            cycle=self.cycle,
        )


_CLOCK_STATE_ORDER = tuple(each.name for each in fields(ClockState))
_CLOCK_STATE_FIELDS = frozenset(_CLOCK_STATE_ORDER)


def clock_id_for(rule: Rule, signal: Signal) -> str | None:
    """The id of the clock ``signal`` concerns; None if a ``per`` field is missing."""
    parts = [rule.id, signal.subject_id]
    for name in rule.per:
        value = signal.attributes.get(name)
        if not value:
            return None
        parts.append(value)
    return ":".join(parts)


def limit_of(rule: Rule, signal: Signal) -> int:
    """A limit set by the act itself (``rule.limit_field``), capped by the rule's limit;
    the rule's limit when the act sets none."""
    assert rule.limit is not None and rule.limit_field is not None
    raw = signal.attributes.get(rule.limit_field, "")
    return min(int(raw), rule.limit) if raw.isdigit() and int(raw) > 0 else rule.limit


def started_at_of(rule: Rule, signal: Signal) -> dt.datetime:
    """When the period runs from: the event, or the earlier day its ``rule.start_field``
    names (the start of that day, China time); a missing, malformed or later date is
    ignored, and so is one before ``EARLIEST_DAY`` (a year-1 date would overflow the
    period's arithmetic and the event would dead-letter: the clock would never open)."""
    raw = signal.attributes.get(rule.start_field or "", "")
    try:
        day = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        day = None
    if day is None or day < EARLIEST_DAY:
        return signal.occurred_at
    if day >= signal.occurred_at.astimezone(CHINA_TZ).date():
        return signal.occurred_at
    return dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)


def observers_of(signal: Signal) -> list[str]:
    raw = signal.attributes.get("observer_courts")
    if not raw:
        return []
    courts = json.loads(raw)
    return [str(c) for c in courts] if isinstance(courts, list) else []


def _has(signal: Signal, name: str, wanted: str | tuple[str, ...]) -> bool:
    value = signal.attributes.get(name)
    return value in wanted if isinstance(wanted, tuple) else value == wanted


def matches(rule: Rule, signal: Signal) -> bool:
    """Whether a start event starts the rule's clock: every ``when`` field has its value,
    and no ``unless`` field has one of its values."""
    return all(_has(signal, n, w) for n, w in rule.when.items()) and not any(
        _has(signal, n, w) for n, w in rule.unless.items()
    )


class ClockRules:
    """The pure behaviour of clocks, given the catalogue and a period counter."""

    def __init__(self, catalogue: Catalogue, counter: PeriodCounter) -> None:
        self.catalogue = catalogue
        self.counter = counter
        self.by_event = catalogue.by_event()
        self._rules = {r.id: r for r in catalogue.clocks}
        self.extension_window = extensions.window_days(catalogue)

    def rule(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    # --- due times ------------------------------------------------------------------

    def compute_due(self, state: ClockState, rule: Rule) -> Due:
        assert rule.unit is not None
        effective_start = state.started_at + dt.timedelta(seconds=state.paused_seconds)
        return self.counter.due(effective_start, rule.unit, state.limit, provisional=True)

    def _set_due(self, state: ClockState, due: Due) -> None:
        state.due_at = due.due_at
        state.last_day = due.last_day
        state.provisional = due.provisional
        state.unknown_years = list(due.unknown_years)

    # --- timelines ------------------------------------------------------------------

    def _warning_at(self, rule: Rule, state: ClockState, point: WarningPoint) -> dt.datetime | None:
        day_unit = rule.unit is not Unit.HOURS
        if point.hours_before is not None:
            return state.due_at - dt.timedelta(hours=point.hours_before)
        if not day_unit or state.last_day is None:
            return None
        if point.due_day:
            return end_of_day(state.last_day - dt.timedelta(days=1))
        if point.days_before is not None:
            return end_of_day(state.last_day - dt.timedelta(days=point.days_before + 1))
        assert point.working_days_remaining is not None
        day, remaining = state.last_day, 0
        while True:
            if self.counter.calendar.is_working_day(day, provisional=True):
                remaining += 1
                if remaining == point.working_days_remaining:
                    return end_of_day(day - dt.timedelta(days=1))
            day -= dt.timedelta(days=1)
            if day < state.started_at.astimezone(CHINA_TZ).date():
                return None

    def _timers(self, state: ClockState) -> Iterator[Timer]:
        """The timers of the current due version, in time order, computed lazily: every
        warning lies before the due time, and each escalation step after the one before,
        so the common question (the next timer) is answered without the whole chain."""
        if state.status is not Status.RUNNING:
            return
        rule = self.rule(state.rule_id)
        version = state.due_version
        warnings = []
        for point in self.catalogue.warnings_of(rule):
            at = self._warning_at(rule, state, point)
            if at is not None and state.started_at < at < state.due_at:
                warnings.append(Timer(at, f"warn:{point.key}@{version}", "warning", point.key))
        yield from sorted(warnings, key=lambda t: t.at)
        yield Timer(state.due_at, f"breach@{version}", "breach")
        at = state.due_at
        for level, step in enumerate(self.catalogue.escalation_of(rule), start=1):
            yield Timer(at, f"escalate:{level}@{version}", "escalation", step.to.value, level)
            period = step.respond_within
            at = self.counter.due(at, period.unit, period.limit, provisional=True).due_at

    def next_timer(self, state: ClockState) -> Timer | None:
        fired = set(state.fired)
        return next((t for t in self._timers(state) if t.key not in fired), None)

    # --- transitions (each returns the events it causes) -------------------------------

    def open(
        self, rule: Rule, signal: Signal, clock_id: str, existing: ClockState | None
    ) -> tuple[ClockState, list[Message]]:
        assert rule.limit is not None and rule.unit is not None
        events: list[Message] = []
        cycle = 1
        if existing is not None:
            cycle = existing.cycle + 1
        state = ClockState(
            clock_id=clock_id,
            rule_id=rule.id,
            subject_id=signal.subject_id,
            court_code=signal.court_code,
            cycle=cycle,
            status=Status.RUNNING,
            started_at=started_at_of(rule, signal),
            limit=rule.limit,
            due_at=signal.occurred_at,
            last_day=None,
            provisional=False,
            unknown_years=[],
            due_version=(existing.due_version + 1) if existing else 1,
            per_values=[signal.attributes[name] for name in rule.per],
            observers=observers_of(signal),
        )
        if rule.limit_field:
            state.limit = limit_of(rule, signal)
        self._set_due(state, self.compute_due(state, rule))
        events.append(
            pb.ClockOpened(
                clock=state.ref(),
                started_at=ts(state.started_at),
                due_at=ts(state.due_at),
                last_day=state.last_day.isoformat() if state.last_day else "",
                unit=rule.unit.value,
                limit=state.limit,
                provisional=state.provisional,
                unknown_years=state.unknown_years,
                started_by_event_id=signal.event_id,
            )
        )
        return state, events

    def clear(self, state: ClockState, signal: Signal) -> list[Message]:
        if state.status is Status.CLEARED:
            return []
        events = self._found_late(state, signal, clearing=True)
        state.status = Status.CLEARED
        state.paused_at = None
        state.open_pauses.clear()
        events.append(
            pb.ClockCleared(
                clock=state.ref(), late=state.breached, cleared_by_event_id=signal.event_id
            )
        )
        return events

    def _found_late(self, state: ClockState, signal: Signal, *, clearing: bool) -> list[Message]:
        """An act recorded after the limit passed finds the breach no timer reported yet (a
        receipt recorded late, a timer still queued), so every reader counts it (issue 13); a
        paused clock's act is not late. A stop judged the act (``found_at_clearing``); a
        pause did not, so the expiry's reactions follow as if the timer had fired."""
        late = state.status is Status.RUNNING and signal.occurred_at >= state.due_at
        if state.breached or not late:
            return []
        state.breached = True
        rule = self.rule(state.rule_id)
        return [
            pb.ClockBreached(
                clock=state.ref(), due_at=ts(state.due_at),
                on_expiry=rule.on_expiry.value if rule.on_expiry else "",
                effect=rule.effect or "", found_at_clearing=clearing,
            )
        ]  # fmt: skip

    def pause(self, state: ClockState, signal: Signal) -> list[Message]:
        """A pause opens: the clock stops at the first open one. Recorded after the due time,
        it finds the breach first, even when it names an earlier day (``pauses``)."""
        if state.status is Status.CLEARED:
            return []
        key = pauses.pause_key(self.rule(state.rule_id), signal, ending=False)
        if not pauses.open_pause(state, key):
            return []
        at = pauses.act_at(state, signal)
        if state.status is Status.PAUSED:
            # Already stopped: the union counts this pause's time once; one that began
            # earlier (read late, from another topic) moves the stop back.
            if state.paused_at is not None and at < state.paused_at:
                state.paused_at = at
            return []
        events = self._found_late(state, signal, clearing=False)
        state.status = Status.PAUSED
        state.paused_at = at
        return [*events, pb.ClockPaused(clock=state.ref(), paused_by_event_id=signal.event_id)]

    def resume(self, state: ClockState, signal: Signal) -> list[Message]:
        """A pause ends: the clock runs again when no other pause is open."""
        if state.status is Status.CLEARED:
            return []
        key = pauses.pause_key(self.rule(state.rule_id), signal, ending=True)
        if not pauses.close_pause(state, key) or state.open_pauses:
            return []
        if state.status is not Status.PAUSED or state.paused_at is None:
            return []
        pauses.close_stretch(state, pauses.act_at(state, signal))
        state.status = Status.RUNNING
        self._new_due(state)
        return [
            pb.ClockResumed(
                clock=state.ref(), due_at=ts(state.due_at), resumed_by_event_id=signal.event_id,
                last_day=state.last_day.isoformat() if state.last_day else "",
            )
        ]  # fmt: skip

    def _new_due(self, state: ClockState, *, corrected: bool = False) -> Due:
        due = self.compute_due(state, self.rule(state.rule_id))
        if due.due_at != state.due_at:
            state.due_version += 1
            if corrected and due.due_at > state.due_at and not state.extensions:
                # The estimated due time was wrong (a calendar loaded): the act is in time.
                # An extension or a pause never withdraws a breach (the module's docstring).
                state.breached = False
        self._set_due(state, due)
        return due

    def extend(
        self, state: ClockState, *, request_id: str, approved_by: str, approval_ref: str,
        reason: str, at: dt.datetime,
    ) -> list[Message]:  # fmt: skip
        """Approve the recorded request ``request_id``: the limit grows by what it asked."""
        if state.status is Status.CLEARED:
            raise ValueError(f"clock {state.clock_id} is already cleared")
        added = extensions.approve(state, request_id, by=approved_by, ref=approval_ref,
                                   reason=reason, at=at)  # fmt: skip
        old_due, state.limit = state.due_at, state.limit + added
        self._new_due(state)
        return [
            pb.ClockExtended(
                clock=state.ref(), added=added, old_due_at=ts(old_due), due_at=ts(state.due_at),
                last_day=state.last_day.isoformat() if state.last_day else "",
                approved_by=approved_by, approval_ref=approval_ref, reason=reason,
                request_id=request_id,
            )
        ]  # fmt: skip

    def recompute(self, state: ClockState, reason: str) -> list[Message]:
        """Recompute the due time on the current calendar (e.g. a year's file loaded)."""
        old_due = state.due_at
        was_provisional = state.provisional
        self._new_due(state, corrected=True)
        if state.due_at == old_due and state.provisional == was_provisional:
            return []
        return [
            pb.ClockRecomputed(
                clock=state.ref(), old_due_at=ts(old_due), due_at=ts(state.due_at),
                last_day=state.last_day.isoformat() if state.last_day else "",
                provisional=state.provisional, reason=reason,
            )
        ]  # fmt: skip

    def fire(self, state: ClockState, now: dt.datetime) -> list[tuple[Timer, Message]]:
        """Fire every timer due by ``now``, in order, each once."""
        return self.fire_until(state, now)[0]

    def fire_until(
        self, state: ClockState, now: dt.datetime
    ) -> tuple[list[tuple[Timer, Message]], Timer | None]:
        """``fire``, and the clock's next timer after it (``next_timer``), from one walk of
        its timeline: firing changes neither the timeline nor the order of its timers."""
        rule = self.rule(state.rule_id)
        fired: list[tuple[Timer, Message]] = []
        done = set(state.fired)
        for timer in self._timers(state):
            if timer.key in done:
                continue
            if timer.at > now:
                return fired, timer
            state.fired.append(timer.key)
            done.add(timer.key)
            if timer.kind == "warning":
                message: Message = pb.ClockWarned(
                    clock=state.ref(), warning=timer.detail, due_at=ts(state.due_at)
                )
            elif timer.kind == "breach":
                if state.breached:  # breached before an extension: reported once
                    continue
                state.breached = True
                message = pb.ClockBreached(
                    clock=state.ref(), due_at=ts(state.due_at),
                    on_expiry=rule.on_expiry.value if rule.on_expiry else "",
                    effect=rule.effect or "",
                )  # fmt: skip
            else:
                target = EscalationTarget(timer.detail)
                to_court = state.court_code
                if target is EscalationTarget.SUPERIOR_COMMAND:
                    to_court = superior_of(state.court_code) or state.court_code
                step = self.catalogue.escalation_of(rule)[timer.level - 1]
                respond_by = self.counter.due(
                    timer.at, step.respond_within.unit, step.respond_within.limit, provisional=True
                ).due_at
                message = pb.ClockEscalated(
                    clock=state.ref(), level=timer.level, escalated_to=target.value,
                    to_court_code=to_court, respond_by=ts(respond_by),
                    due_version=state.due_version,
                )  # fmt: skip
            fired.append((timer, message))
        return fired, None
