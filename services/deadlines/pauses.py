"""The ledger of a clock's open pauses (审限规定 art 9; 执行程序解释 art 13).

Pauses overlap: an appraisal during a suspension, two disputes in coordination at once. Each
pause is told apart by its kind (the position of its start event in the rule's
``pauses_on``, which the end event has in ``resumes_on``) and its key (the event's
``pause_id``, or ``dispute_id`` for a dispute's coordination). The clock stops at the first
open pause and runs again when the last one closes, so the time it does not count is the
union of the paused intervals, never their sum.

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
