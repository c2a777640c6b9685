"""Extensions of a clock's limit (延长), as pure checks and records.

Which rules may be extended, and by whom, is catalogue data (a rule's ``extension``: the case's
closing limits, by the court president; 法发〔2006〕35号 art 1, 执行规定 art 63). When the
extension may be asked is the gate checked here, ``case.extension-window``: within the last
days of the limit the gate states (届满前5日内), not before them and not after the last day.
A paused limit is not running, so its last days have not come: asking while it is paused is
refused too.

The request is its own act (申请延长): recorded on the clock when it is made, on the server's
clock, and checked against the window then; no day the client names is trusted (a request
claimed "in time" months after the limit ran out is what the gate exists to refuse). The
extender then approves (or refuses) that recorded request, possibly after the last day: the
approval is the president's, the timeliness the request's. One request is pending at a time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from zhixing.clock import CHINA_TZ
from zhixing.errors import Conflict
from zhixing.periods import Unit
from zhixing.rules import Catalogue, CatalogueError, Rule

if TYPE_CHECKING:
    from services.deadlines.domain import ClockState

WINDOW_GATE = "case.extension-window"

MAX_REQUESTS = 20
"""Requests kept on one clock (a bound on the record, not a statutory number): one pending at
a time, each asked within the window of a limit, so a clock rarely sees more than a few."""


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


def record_request(
    rule: Rule, state: ClockState, *, added: int, reason: str, requested_by: str,
    at: dt.datetime, window: int,
) -> dict[str, Any]:  # fmt: skip
    """Record a request to extend ``state`` by ``added``, made at ``at`` (the server's
    clock), refused (``ExtensionRefused``) outside the window; ``Conflict`` when one is
    pending already or the clock has too many."""
    if any(r["status"] == "pending" for r in state.extension_requests):
        raise Conflict(f"clock {state.clock_id} has an extension request pending already")
    if len(state.extension_requests) >= MAX_REQUESTS:
        raise Conflict(f"clock {state.clock_id} has {MAX_REQUESTS} extension requests already")
    paused_on = state.paused_at.astimezone(CHINA_TZ).date() if state.paused_at else None
    requested_on = at.astimezone(CHINA_TZ).date()
    check_request(rule, state, requested_on=requested_on, window=window, paused_on=paused_on)
    request = {
        "request_id": f"ext-{len(state.extension_requests) + 1}", "added": added,
        "reason": reason, "requested_by": requested_by, "requested_at": at.isoformat(),
        "requested_on": requested_on.isoformat(),
        "last_day": state.last_day.isoformat() if state.last_day else None,
        "status": "pending",
    }  # fmt: skip
    state.extension_requests.append(request)
    return request


def decide(
    state: ClockState, request_id: str, *, approved: bool, by: str, reason: str, at: dt.datetime
) -> dict[str, Any]:
    """Approve or refuse the pending request ``request_id``; returns it, decided."""
    request = next((r for r in state.extension_requests if r["request_id"] == request_id), None)
    if request is None:  # the clock exists: a body naming no request of it is a conflict
        raise Conflict(f"clock {state.clock_id} has no extension request {request_id}")
    if request["status"] != "pending":
        raise Conflict(f"extension request {request_id} is {request['status']} already")
    request.update(
        status="approved" if approved else "refused", decided_by=by, decided_at=at.isoformat(),
        decision_reason=reason,
    )  # fmt: skip
    return request


def approve(
    state: ClockState, request_id: str, *, by: str, ref: str, reason: str, at: dt.datetime
) -> int:
    """Approve the pending request ``request_id``, recorded among the clock's extensions with
    who asked and on which day; returns what it adds to the limit."""
    request = decide(state, request_id, approved=True, by=by, reason=reason, at=at)
    state.extensions.append(
        {"added": request["added"], "approved_by": by, "approval_ref": ref, "reason": reason,
         "at": at.isoformat(), "request_id": request_id,
         "requested_by": request["requested_by"], "requested_on": request["requested_on"]}
    )  # fmt: skip
    return int(request["added"])
