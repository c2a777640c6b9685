"""A breached clock's escalation stops once its 专人 task is answered (¶8, ¶12): the
supervision service publishes ``SupervisionTaskAnswered`` naming the clock, and the engine
marks the remaining escalation steps of the clock's current due time as done, so no further
``ClockEscalated`` follows for it. A later due time (an extension, a resumption) runs its
own chain again, and an answer to a task of an earlier due time does not stop it; a
redelivered answer changes nothing."""

from __future__ import annotations

from services.deadlines.domain import ClockRules, ClockState, Status

ANSWER_EVENTS = frozenset({"SupervisionTaskAnswered"})
"""Events that answer a clock's escalation; their ``clock_id`` field names the clock."""


def stop_escalation(rules: ClockRules, state: ClockState, due_version: int = 1) -> bool:
    """Mark the clock's pending escalation steps fired; True if any was pending. Only a
    running clock that breached escalates (a reminder answered before the due time does
    not touch the chain), and only an answer to a task of its current due version stops it
    (``due_version``: the answered task's; 0, from an answer before it was named, is 1)."""
    if state.status is not Status.RUNNING or not state.breached:
        return False
    if (due_version or 1) != state.due_version:
        return False
    stopped = False
    while (timer := rules.next_timer(state)) is not None and timer.kind == "escalation":
        state.fired.append(timer.key)
        stopped = True
    return stopped
