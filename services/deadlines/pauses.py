"""The ledger of a clock's open pauses (审限规定 art 9; 执行程序解释 art 13).

Pauses overlap: an appraisal during a suspension, two disputes in coordination at once. Each
pause is told apart by its kind (the position of its start event in the rule's
``pauses_on``, which the end event has in ``resumes_on``) and its key (the event's
``pause_id``, or ``dispute_id`` for a dispute's coordination). The clock stops at the first
open pause and runs again when the last one closes, so the time it does not count is the
union of the paused intervals, never their sum.

The union is exact: the clock keeps the stretches it was stopped (``paused_spans``, merged as
they close, so overlapping ones are one) and each stretch that closes adds only the time no
earlier stretch covered. A pause recorded later but naming an earlier day can reach back over
a stretch already closed (an appraisal from day 10 to day 20, then a suspension recorded on day
25 as ruled on day 15, ended on day 30: 20 days paused, not 25).

A breach stays (the house rule: a breach found and reported stays in the figures unless
withdrawn explicitly, and no pause act is a withdrawal). A pause backdated to before the due
time moves the due time later for the rest of the limit, but does not undo a breach already
found; and a pause recorded after the due time passed finds the breach then, as a stop does,
so whether the limit is counted as broken never depends on whether the breach timer had fired
before the act was read. The act that would have stopped the clock in time was not on the
record in time: supervision judges the limit on the record as it stood (see
docs/architecture.md, "Pauses").

A pause act names its day (``on``, the day of the ruling or decision, recorded later): the
pause runs from the start of that day (China time) when it is earlier than the act's
recording, never before the clock started; an act without a day counts from its recording.

Ended pauses are remembered: a start or end read again (a redelivery, a replay) changes
nothing, and an end read without its start is ignored, as is that start if it comes later
(the pair does not count rather than leaving the clock paused for good).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from zhixing.clock import CHINA_TZ
from zhixing.rules import Rule

if TYPE_CHECKING:
    from services.deadlines.domain import ClockState, Signal

KEY_FIELDS = ("pause_id", "dispute_id")
"""The payload fields that tell one pause from another of the same kind, the first present."""

DAY_FIELD = "on"
"""The payload field with the calendar day of a pause act (YYYY-MM-DD, China time)."""

LEGACY = "legacy"
"""The one pause of a clock stored before the ledger (paused, no ledger): any end event of
its rule ends it, as it did then."""


Span = tuple[dt.datetime, dt.datetime]
"""A closed stretch during which the clock was stopped: [start, end)."""


def merged(spans: list[Span], new: Span) -> list[Span]:
    """``spans`` with ``new`` added, sorted, overlapping or touching stretches made one."""
    out: list[Span] = []
    for start, end in sorted([*spans, new]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def spans_json(spans: list[Span]) -> list[list[str]]:
    return [[start.isoformat(), end.isoformat()] for start, end in spans]


def spans_of(raw: list[list[str]]) -> list[Span]:
    """The spans as stored (none for a clock stored before they were kept)."""
    return [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in raw]


def covered(spans: list[Span]) -> float:
    """Seconds covered by merged ``spans``."""
    return sum((end - start).total_seconds() for start, end in spans)


def close_stretch(state: ClockState, end: dt.datetime) -> None:
    """The clock runs again at ``end``: the stretch since ``paused_at`` (cleared) joins the
    closed ones, and the paused time grows by what no earlier stretch covered. (A clock stored
    before the spans were kept has paused time without spans: that time stays counted.)"""
    start, state.paused_at = state.paused_at, None
    if start is None or end <= start:
        return
    before = covered(state.paused_spans)
    state.paused_spans = merged(state.paused_spans, (start, end))
    state.paused_seconds += covered(state.paused_spans) - before


def pause_key(rule: Rule, signal: Signal, *, ending: bool) -> str:
    """``<kind>:<key>``: the kind is the event's position among the rule's pause (or resume)
    events, the key its pause id (empty when the event has none: one pause of that kind)."""
    names = rule.resumes_on if ending else rule.pauses_on
    kind = names.index(signal.event_name)
    key = next((signal.attributes[f] for f in KEY_FIELDS if signal.attributes.get(f)), "")
    return f"{kind}:{key}"


def act_at(state: ClockState, signal: Signal) -> dt.datetime:
    """When a pause act took effect: the start of its day when that day is earlier than the
    act's recording (and not before the clock started), else the recording."""
    raw = signal.attributes.get(DAY_FIELD, "")
    try:
        day = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        day = None
    if day is None or day >= signal.occurred_at.astimezone(CHINA_TZ).date():
        return signal.occurred_at
    return max(dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ), state.started_at)


def open_pause(state: ClockState, key: str) -> bool:
    """Record the pause as open; False when it is open already or has ended."""
    if key in state.open_pauses or key in state.ended_pauses:
        return False
    state.open_pauses.append(key)
    return True


def close_pause(state: ClockState, key: str) -> bool:
    """Record the pause as ended; False when it was not open (an end without its start, or
    read again), which is remembered so that its start, read later, opens nothing."""
    if key in state.open_pauses:
        state.open_pauses.remove(key)
        state.ended_pauses.append(key)
        return True
    if key not in state.ended_pauses:
        state.ended_pauses.append(key)
    if LEGACY in state.open_pauses:
        state.open_pauses.remove(LEGACY)
        return True
    return False
