"""The one vocabulary of a statutory clock's state, end to end: the deadlines service's
clock view, the command centre's board and its API, and the dashboard page all say
``running``, ``warned`` (预警), ``breached`` (超期), ``paused`` (中止) or ``cleared``
(已办结), decided in the same order."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LABELS", "OPEN_STATES", "ClockCondition", "condition_of"]


class ClockCondition(StrEnum):
    RUNNING = "running"
    WARNED = "warned"  # 预警: a warning point passed
    BREACHED = "breached"  # 超期: the due time passed (or the act came after it)
    PAUSED = "paused"  # 中止
    CLEARED = "cleared"  # 已办结: the act the clock waited for was done


OPEN_STATES: tuple[ClockCondition, ...] = (
    ClockCondition.RUNNING,
    ClockCondition.WARNED,
    ClockCondition.BREACHED,
    ClockCondition.PAUSED,
)
"""The states of a clock still open: the board's sets, one per state and court."""

LABELS = {
    ClockCondition.RUNNING: "运行",
    ClockCondition.WARNED: "预警",
    ClockCondition.BREACHED: "超期",
    ClockCondition.PAUSED: "中止",
    ClockCondition.CLEARED: "已办结",
}


def condition_of(*, cleared: bool, paused: bool, breached: bool, warned: bool) -> ClockCondition:
    """A clock's state: cleared, else paused, else breached, else warned, else running."""
    if cleared:
        return ClockCondition.CLEARED
    if paused:
        return ClockCondition.PAUSED
    if breached:
        return ClockCondition.BREACHED
    if warned:
        return ClockCondition.WARNED
    return ClockCondition.RUNNING
