"""Extensions of a clock's limit (延长), as pure checks.

Which rules may be extended, and by whom, is catalogue data (a rule's ``extension``: the case's
closing limits, by the court president; 法发〔2006〕35号 art 1, 执行规定 art 63). When the
extension may be asked is the gate checked here, ``case.extension-window``: within the last
days of the limit the gate states (届满前5日内), not before them and not after the last day.
A paused limit is not running, so its last days have not come: asking while it is paused is
refused too.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from zhixing.errors import Conflict
from zhixing.periods import Unit
from zhixing.rules import Catalogue, CatalogueError, Rule

if TYPE_CHECKING:
    from services.deadlines.domain import ClockState

WINDOW_GATE = "case.extension-window"


class ExtensionRefused(Conflict):
    """The extension is refused by the window gate (409, naming the gate)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message} (rule {WINDOW_GATE})")
        self.unmet_rules = [WINDOW_GATE]


def window_days(catalogue: Catalogue) -> int:
    """The gate's window in calendar days, as the catalogue states it."""
    gate = catalogue.rule(WINDOW_GATE)
    if gate.unit is not Unit.CALENDAR_DAYS or gate.limit is None:
        raise CatalogueError(f"{WINDOW_GATE} must state its window in calendar days (CD)")
    return gate.limit


def check_request(
    rule: Rule, state: ClockState, *, requested_on: dt.date, window: int, paused_on: dt.date | None
) -> None:
    """Refuse (``ExtensionRefused``) an extension of ``state`` asked on ``requested_on``
    unless its rule allows one and the request falls within the window before its last day.
    ``paused_on``: the day the clock's current pause began, when it is paused."""
    if rule.extension is None:
        raise ExtensionRefused(f"the limit of rule {rule.id} ({rule.title}) is never extended")
    last_day = state.last_day
    if last_day is None:  # only limits in hours have no last day; none is extendable
        raise ExtensionRefused(f"clock {state.clock_id} has no last day to count back from")
    if paused_on is not None and requested_on >= paused_on:
        raise ExtensionRefused(
            f"clock {state.clock_id} has been paused since {paused_on}: its limit is not "
            f"running, so its last {window} days have not come (asked on {requested_on})"
        )
    if requested_on > last_day:
        raise ExtensionRefused(
            f"asked on {requested_on}, after the limit's last day {last_day}: an extension "
            f"is asked within its last {window} days"
        )
    first = last_day - dt.timedelta(days=window)
    if requested_on < first:
        raise ExtensionRefused(
            f"asked on {requested_on}, more than {window} days before the limit's last day "
            f"{last_day}: it may be asked from {first}"
        )
