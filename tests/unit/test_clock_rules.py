"""Every clock of the catalogue opens, warns, breaches, escalates and clears on the right
events and dates (table-driven, simulated time, no I/O)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.command.board import CLOCK_STATES
from services.deadlines import extensions, repository
from services.deadlines.domain import (
    ClockRules,
    ClockState,
    Signal,
    Status,
    clock_id_for,
    matches,
)
from services.deadlines.extensions import ExtensionRefused
from zhixing.clock import CHINA_TZ
from zhixing.clock_states import ClockCondition, condition_of
from zhixing.errors import Conflict
from zhixing.periods import PeriodCounter
from zhixing.rules import Rule, load_catalogue
from zhixing.v1 import deadline_events_pb2 as pb
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)  # Monday

# Last day of each (unit, limit) from START, worked out by hand on the 2026 calendar.
EXPECTED_LAST_DAY = {
    ("CD", 3): "2026-03-05",
    ("CD", 5): "2026-03-09",  # 03-07 is a Saturday
    ("CD", 7): "2026-03-09",
    ("CD", 10): "2026-03-12",
    ("CD", 15): "2026-03-17",
    ("CD", 30): "2026-04-01",
    ("CD", 90): "2026-06-01",  # 05-31 is a Sunday
    ("WD", 1): "2026-03-03",
    ("WD", 3): "2026-03-05",
    ("WD", 5): "2026-03-09",
    ("WD", 10): "2026-03-16",
    ("WD", 15): "2026-03-23",
    ("WD", 30): "2026-04-14",  # 清明 04-06 is a holiday
    ("CM", 1): "2026-04-02",
    ("CM", 3): "2026-06-02",
    ("CM", 6): "2026-09-02",
}
# Periods ending in 2027 or later: the schedule for 2027 is not loaded (provisional).
PROVISIONAL = {("CM", 12), ("CM", 24), ("CM", 36), ("CM", 60), ("CM", 120)}

CATALOGUE = load_catalogue(environ={})


@pytest.fixture(scope="module")
def rules() -> ClockRules:
    calendar = StatutoryCalendar.load(CalendarSettings(dir=Path("/nonexistent")))
    return ClockRules(CATALOGUE, PeriodCounter(calendar))


def signal(
    rule: Rule, name: str, at: dt.datetime, event_id: str = "e1",
    attributes: dict[str, str] | None = None,
) -> Signal:  # fmt: skip
    # A start event has a value its rule admits (the first, where the rule lists several).
    when = {name: v if isinstance(v, str) else v[0] for name, v in rule.when.items()}
    fields = when | {field: "苏1282" for field in rule.per} | (attributes or {})
    return Signal(event_id, name, "subject-1", "苏1283", at, fields)


def open_clock(rules: ClockRules, rule: Rule) -> ClockState:
    start = signal(rule, rule.starts_on[0], START)
    clock_id = clock_id_for(rule, start)
    assert clock_id is not None
    state, events = rules.open(rule, start, clock_id, None)
    (opened,) = events
    assert isinstance(opened, pb.ClockOpened)
    return state


@pytest.mark.parametrize("rule", CATALOGUE.clocks, ids=lambda r: r.id)
def test_clock_opens_with_its_statutory_due_date(rules: ClockRules, rule: Rule) -> None:
    assert rule.unit is not None and rule.limit is not None
    state = open_clock(rules, rule)
    key = (rule.unit.value, rule.limit)
    if rule.unit.value == "h":
        assert state.due_at == START + dt.timedelta(hours=rule.limit or 0)
    elif key in PROVISIONAL:
        assert state.provisional and state.unknown_years
    else:
        assert state.last_day == dt.date.fromisoformat(EXPECTED_LAST_DAY[key])
        assert not state.provisional
        assert state.due_at == dt.datetime.combine(
            state.last_day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ
        )


@pytest.mark.parametrize("rule", CATALOGUE.clocks, ids=lambda r: r.id)
def test_clock_warns_then_breaches_then_escalates_then_clears_late(
    rules: ClockRules, rule: Rule
) -> None:
    state = open_clock(rules, rule)
    before_due = rules.fire(state, state.due_at - dt.timedelta(microseconds=1))
    assert all(t.kind == "warning" for t, _ in before_due)
    assert all(START < t.at < state.due_at for t, _ in before_due)
    assert rules.fire(state, state.due_at - dt.timedelta(microseconds=1)) == []  # once only

    at_due = rules.fire(state, state.due_at)
    assert [type(m) for _, m in at_due][:2] == [pb.ClockBreached, pb.ClockEscalated]
    breached = at_due[0][1]
    assert isinstance(breached, pb.ClockBreached)
    assert breached.on_expiry == rule.on_expiry
    assert breached.effect == (rule.effect or "")

    later = rules.fire(state, state.due_at + dt.timedelta(days=400))
    steps = [m.escalated_to for _, m in at_due[1:] + later if isinstance(m, pb.ClockEscalated)]
    assert steps == ["supervisor", "court_leader", "superior_command"]
    last = (at_due[1:] + later)[-1][1]
    assert isinstance(last, pb.ClockEscalated) and last.to_court_code == "苏12"

    (cleared,) = rules.clear(state, signal(rule, rule.stops_on[0], state.due_at, "e2"))
    assert isinstance(cleared, pb.ClockCleared) and cleared.late
    assert rules.next_timer(state) is None


@pytest.mark.parametrize("rule", CATALOGUE.clocks, ids=lambda r: r.id)
def test_clock_cleared_in_time_never_breaches(rules: ClockRules, rule: Rule) -> None:
    state = open_clock(rules, rule)
    stop_at = START + (state.due_at - START) / 2
    rules.fire(state, stop_at)
    (cleared,) = rules.clear(state, signal(rule, rule.stops_on[-1], stop_at, "e2"))
    assert isinstance(cleared, pb.ClockCleared) and not cleared.late
    assert rules.fire(state, state.due_at + dt.timedelta(days=400)) == []
    assert state.status is Status.CLEARED


@pytest.mark.parametrize("rule", CATALOGUE.clocks, ids=lambda r: r.id)
def test_an_act_after_the_limit_is_a_breach_even_when_no_timer_fired(
    rules: ClockRules, rule: Rule
) -> None:
    # A case docketed 31 days after receipt: the act arrives before any timer was fired.
    state = open_clock(rules, rule)
    late_act = signal(rule, rule.stops_on[0], state.due_at + dt.timedelta(days=24), "e2")
    breached, cleared = rules.clear(state, late_act)
    assert isinstance(breached, pb.ClockBreached) and breached.found_at_clearing
    assert breached.on_expiry == rule.on_expiry
    assert isinstance(cleared, pb.ClockCleared) and cleared.late
    assert state.to_json()["breached"] is True  # what the clocks API shows
    assert rules.clear(state, late_act) == []  # once only


def test_network_query_warns_when_two_working_days_remain_and_on_the_due_day(
    rules: ClockRules,
) -> None:
    state = open_clock(rules, CATALOGUE.rule("asset.network-query"))  # due 03-09 (Mon)
    fired = rules.fire(state, state.due_at - dt.timedelta(seconds=1))
    warnings = [(t.at, m.warning) for t, m in fired if isinstance(m, pb.ClockWarned)]
    assert warnings == [
        (dt.datetime(2026, 3, 6, tzinfo=CHINA_TZ), "working_days_remaining=2"),  # Fri, Mon left
        (dt.datetime(2026, 3, 9, tzinfo=CHINA_TZ), "due_day=True"),
    ]


def test_a_pause_does_not_count_toward_the_period(rules: ClockRules) -> None:
    rule = CATALOGUE.rule("case.close")  # 6 CM, due 2026-09-02
    state = open_clock(rules, rule)
    paused = START + dt.timedelta(days=10)
    rules.pause(state, signal(rule, "DisputeCoordinationStarted", paused))
    assert rules.fire(state, paused + dt.timedelta(days=400)) == []  # nothing fires while paused
    (resumed,) = rules.resume(
        state, signal(rule, "DisputeCoordinationEnded", paused + dt.timedelta(days=20))
    )
    assert isinstance(resumed, pb.ClockResumed)
    assert state.last_day == dt.date(2026, 9, 22)  # 09-02 + 20 days


def test_an_extension_moves_the_due_time_and_is_recorded(rules: ClockRules) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    asked = ask(rules, state, dt.datetime(2026, 9, 1, 9, 0, tzinfo=CHINA_TZ), added=3)
    (extended,) = rules.extend(
        state, request_id=asked["request_id"], approved_by="院长 王某",
        approval_ref="（2026）苏1283执延1号", reason="案情复杂", at=START,
    )  # fmt: skip
    assert isinstance(extended, pb.ClockExtended) and extended.added == 3
    assert state.last_day == dt.date(2026, 12, 2)
    assert state.extensions[0]["approval_ref"] == "（2026）苏1283执延1号"
    assert state.extensions[0]["requested_on"] == "2026-09-01"
    assert state.extension_requests[0]["status"] == "approved"


def test_a_restart_opens_the_next_cycle(rules: ClockRules) -> None:
    rule = CATALOGUE.rule("entrustment.status-report")
    first = open_clock(rules, rule)
    again = signal(rule, "EntrustmentStatusReported", START + dt.timedelta(days=29), "e3")
    state, _ = rules.open(rule, again, first.clock_id, first)
    assert (state.cycle, state.last_day) == (2, dt.date(2026, 4, 30))


def test_state_survives_its_json_form(rules: ClockRules) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    rules.fire(state, state.due_at)
    assert ClockState.from_json(state.to_json()) == state


def test_a_state_stored_by_the_standard_librarys_json_or_by_orjson_reads_the_same(
    rules: ClockRules,
) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    rules.fire(state, state.due_at)
    before_orjson = json.dumps(state.to_json(), ensure_ascii=False).encode()  # earlier saves
    assert repository._decode(before_orjson) == state
    assert repository._decode(repository._encode(state)) == state
    assert json.loads(repository._encode(state)) == state.to_json()  # still plain JSON


def test_a_stored_state_is_the_json_of_every_field_and_an_older_one_takes_the_defaults(
    rules: ClockRules,
) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    rules.fire(state, state.due_at)
    moment = state.started_at + dt.timedelta(microseconds=250)  # fractions survive as well
    state.status, state.paused_at, state.paused_seconds = Status.PAUSED, moment, 1.5
    state.open_pauses, state.ended_pauses = ["p2"], ["p1"]
    state.paused_spans = [(moment, moment + dt.timedelta(hours=1))]
    state.extensions, state.observers = [{"added": 3, "reason": "评估"}], ["苏12"]
    assert repository._encode(state) == orjson.dumps(state.to_json())  # the dataclass itself
    assert repository._decode(repository._encode(state)) == state
    stored = state.to_json()
    for newer in ("observers", "paused_spans", "open_pauses", "extension_requests"):
        del stored[newer]  # saved before these fields were kept
    older = repository._decode(orjson.dumps(stored))
    assert (older.observers, older.paused_spans, older.extension_requests) == ([], [], [])
    assert older.open_pauses == ["legacy"] and older.fired == state.fired
    # A state read back is written as its fields' JSON too, however its keys were stored.
    shuffled = dict(reversed(state.to_json().items()))
    del shuffled["paused_spans"]  # filled in by the decoding
    for read_back in (older, repository._decode(orjson.dumps(shuffled))):
        assert repository._encode(read_back) == orjson.dumps(read_back.to_json())


def test_a_limit_set_by_the_act_is_used_up_to_the_rules_limit(rules: ClockRules) -> None:
    rule = CATALOGUE.rule("command.urge-reply")  # at most 10 WD; the order says how many
    assert rule.limit == 10
    for asked, last_day in (("3", "2026-03-05"), ("30", "2026-03-16"), ("", "2026-03-16")):
        start = signal(rule, "CommandIssued", START, attributes={"reply_working_days": asked})
        clock_id = clock_id_for(rule, start)
        assert clock_id is not None
        state, _ = rules.open(rule, start, clock_id, None)
        assert state.last_day == dt.date.fromisoformat(last_day), asked


def condition(state: ClockState) -> ClockCondition:
    return state.condition  # read through a call: each read is the state of the moment


def test_a_clock_states_its_condition_in_the_platform_vocabulary(rules: ClockRules) -> None:
    """Running, warned (a warning of its current due time fired), breached, cleared; paused
    first of all; an extension's new due time has no warning yet."""
    rule = CATALOGUE.rule("case.close")
    state = open_clock(rules, rule)
    assert condition(state) is ClockCondition.RUNNING
    rules.fire(state, state.due_at - dt.timedelta(seconds=1))
    assert condition(state) is ClockCondition.WARNED
    assert state.last_day is not None
    extend_asked_on(rules, state, state.last_day, added=2)
    assert condition(state) is ClockCondition.RUNNING
    rules.fire(state, state.due_at)
    assert condition(state) is ClockCondition.BREACHED
    rules.clear(state, signal(rule, rule.stops_on[0], state.due_at, "e2"))
    assert condition(state) is ClockCondition.CLEARED

    paused = open_clock(rules, CATALOGUE.rule("case.close"))
    rules.pause(paused, signal(rule, "DisputeCoordinationStarted", START))
    assert condition(paused) is ClockCondition.PAUSED


def test_the_board_and_the_clock_view_name_states_alike() -> None:
    assert CLOCK_STATES == ("running", "warned", "breached", "paused")
    assert condition_of(cleared=False, paused=True, breached=True, warned=True).value == "paused"
    assert condition_of(cleared=True, paused=True, breached=True, warned=True).value == "cleared"
    assert condition_of(cleared=False, paused=False, breached=True, warned=True) == "breached"


@pytest.mark.parametrize(
    ("arrived_on", "last_day"),
    [
        # Recorded 4 days late: 10 WD from the value date (Saturday 02-28 is a working day).
        ("2026-02-26", "2026-03-11"),
        ("2026-03-02", "2026-03-16"),  # the same day: from the event
        ("2026-03-05", "2026-03-16"),  # a later date never extends the period
        ("26/02/2026", "2026-03-16"),  # a malformed date is ignored
        ("", "2026-03-16"),
    ],
)
def test_a_period_runs_from_the_fact_the_act_records(
    rules: ClockRules, arrived_on: str, last_day: str
) -> None:
    rule = CATALOGUE.rule("funds.notify-finance")
    arrived = signal(rule, "FundsArrived", START, attributes={"arrived_on": arrived_on})
    state, _ = rules.open(rule, arrived, clock_id_for(rule, arrived) or "", None)
    assert state.last_day is not None and state.last_day.isoformat() == last_day


def test_a_when_list_admits_any_of_its_values_and_nothing_else() -> None:
    """An asset found offline by the query starts the offline-control clock; one found by a
    re-query after 终本 does not (nothing is controlled in a case ended this round)."""
    rule = load_catalogue(environ={}).rule("asset.offline-control")
    at = dt.datetime(2026, 3, 2, 10, tzinfo=CHINA_TZ)

    def found(**fields: str) -> Signal:
        return Signal("e1", "AssetFound", "asset-1", "苏1283", at, fields)

    assert matches(rule, found(control_mode="offline", source="query"))
    assert matches(rule, found(control_mode="offline", source="lead"))
    assert not matches(rule, found(control_mode="offline", source="requery"))
    assert not matches(rule, found(control_mode="online", source="query"))
    assert not matches(rule, found(control_mode="offline"))


def test_a_non_litigation_filing_starts_its_own_limit_and_not_the_six_months() -> None:
    """``unless`` beside ``when``: CaseFiled.proceeding is non_litigation for such a case."""
    close, non_litigation = (
        CATALOGUE.rule("case.close"),
        CATALOGUE.rule("case.close-non-litigation"),
    )

    def filed(**fields: str) -> Signal:
        return Signal("e1", "CaseFiled", "case-1", "苏1283", START, fields)

    assert matches(close, filed()) and matches(close, filed(proceeding=""))
    assert not matches(non_litigation, filed())
    assert matches(non_litigation, filed(proceeding="non_litigation"))
    assert not matches(close, filed(proceeding="non_litigation"))
    assert (non_litigation.limit, non_litigation.unit) == (3, close.unit)


def test_the_execution_notice_runs_from_the_day_the_application_was_received(
    rules: ClockRules,
) -> None:
    """执行规定 art 22: 10 days from receipt, not from docketing (a week later here)."""
    rule = CATALOGUE.rule("intake.execution-notice")
    docketed = signal(rule, "CaseFiled", START, attributes={"received_on": "2026-02-23"})
    state, _ = rules.open(rule, docketed, clock_id_for(rule, docketed) or "", None)
    assert state.last_day == dt.date(2026, 3, 5)  # 02-23 + 10 days


WINDOW = CATALOGUE.rule("case.extension-window").limit or 0


def ask(rules: ClockRules, state: ClockState, at: dt.datetime, added: int = 1) -> dict[str, Any]:
    """A request to extend, recorded at ``at`` (the engine passes its own clock's time)."""
    return extensions.record_request(
        rules.rule(state.rule_id), state, added=added, reason="案情复杂", requested_by="officer-1",
        at=at, window=rules.extension_window,
    )  # fmt: skip


def approve(rules: ClockRules, state: ClockState, request_id: str, at: dt.datetime) -> list[object]:
    return list(rules.extend(state, request_id=request_id, approved_by="院长",
                             approval_ref="批1", reason="案情复杂", at=at))  # fmt: skip


def extend_asked_on(
    rules: ClockRules, state: ClockState, asked: dt.date, added: int = 1
) -> list[object]:
    """Asked at noon of ``asked`` (China time), approved then."""
    at = dt.datetime.combine(asked, dt.time(12), tzinfo=CHINA_TZ)
    return approve(rules, state, ask(rules, state, at, added)["request_id"], at)


@pytest.mark.parametrize(
    ("days_before", "allowed"),
    [(WINDOW + 1, False), (WINDOW, True), (1, True), (0, True), (-1, False)],
    ids=["6th day before", "5th day before", "the day before", "the last day", "after it"],
)
def test_an_extension_is_asked_within_the_last_days_of_the_limit(
    rules: ClockRules, days_before: int, allowed: bool
) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    assert state.last_day == dt.date(2026, 9, 2) and WINDOW == 5
    asked = state.last_day - dt.timedelta(days=days_before)
    if allowed:
        assert len(extend_asked_on(rules, state, asked)) == 1
        assert state.last_day == dt.date(2026, 10, 8)  # 7 CM; 10-02 is in the National Day week
        return
    with pytest.raises(ExtensionRefused, match=r"case\.extension-window") as refused:
        extend_asked_on(rules, state, asked)
    assert refused.value.status == 409 and refused.value.unmet_rules == ["case.extension-window"]
    assert state.last_day == dt.date(2026, 9, 2) and not state.extensions


def test_only_a_rule_that_allows_it_is_extended(rules: ClockRules) -> None:
    extendable = {r.id for r in CATALOGUE.clocks if r.extension}
    assert extendable == {"case.close", "case.close-non-litigation"}
    assert {r.extension.by.value for r in CATALOGUE.clocks if r.extension} == {"president"}
    state = open_clock(rules, CATALOGUE.rule("asset.network-query"))
    assert state.last_day is not None
    with pytest.raises(ExtensionRefused, match=r"asset\.network-query.*never extended"):
        extend_asked_on(rules, state, state.last_day)


def test_a_paused_limit_is_not_extended_on_a_request_made_while_paused(
    rules: ClockRules,
) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    assert state.last_day is not None
    asked = state.last_day - dt.timedelta(days=2)
    paused_at = dt.datetime.combine(asked, dt.time(9), tzinfo=CHINA_TZ)
    suspended = Signal("e9", "CaseSuspended", "subject-1", "苏1283", paused_at, {"pause_id": "p1"})
    rules.pause(state, suspended)
    with pytest.raises(ExtensionRefused, match="paused"):
        extend_asked_on(rules, state, asked)
    assert state.extension_requests == []  # a refused request is not recorded
    # Asked the day before it was paused, within the window: approved while paused.
    earlier = open_clock(rules, CATALOGUE.rule("case.close"))
    request = ask(rules, earlier, paused_at - dt.timedelta(days=1))
    rules.pause(earlier, suspended)
    assert len(approve(rules, earlier, request["request_id"], paused_at)) == 1


def test_a_request_is_recorded_when_made_and_approved_after_the_last_day(
    rules: ClockRules,
) -> None:
    """The window is judged on the request's recording, never on a day the client names;
    the approval may come after the limit ran out (and the breach stays)."""
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    asked_at = dt.datetime(2026, 9, 2, 16, 0, tzinfo=CHINA_TZ)  # the last day
    request = ask(rules, state, asked_at, added=2)
    assert request == request | {
        "request_id": "ext-1", "added": 2, "requested_by": "officer-1", "status": "pending",
        "requested_at": asked_at.isoformat(), "requested_on": "2026-09-02",
    }  # fmt: skip
    with pytest.raises(Conflict, match="pending already"):  # one request at a time
        ask(rules, state, asked_at)
    rules.fire(state, state.due_at)
    assert state.breached
    (extended,) = approve(rules, state, "ext-1", asked_at + dt.timedelta(days=30))
    assert isinstance(extended, pb.ClockExtended) and extended.added == 2
    assert state.last_day == dt.date(2026, 11, 2) and state.breached
    with pytest.raises(Conflict, match="approved already"):
        approve(rules, state, "ext-1", asked_at + dt.timedelta(days=31))
    with pytest.raises(Conflict, match="no extension request ext-9"):
        approve(rules, state, "ext-9", asked_at + dt.timedelta(days=31))
    # A request made after the last day is refused, whenever the client says it was asked.
    late = open_clock(rules, CATALOGUE.rule("case.close"))
    with pytest.raises(ExtensionRefused, match=r"after the limit's last day"):
        ask(rules, late, dt.datetime(2026, 12, 1, 9, 0, tzinfo=CHINA_TZ))


def test_a_refused_request_extends_nothing_and_another_may_be_asked(rules: ClockRules) -> None:
    state = open_clock(rules, CATALOGUE.rule("case.close"))
    at = dt.datetime(2026, 9, 1, 9, 0, tzinfo=CHINA_TZ)
    ask(rules, state, at)
    extensions.decide(state, "ext-1", approved=False, by="院长", reason="不符合条件", at=at)
    with pytest.raises(Conflict, match="refused already"):
        approve(rules, state, "ext-1", at)
    assert state.last_day == dt.date(2026, 9, 2) and not state.extensions
    assert len(approve(rules, state, ask(rules, state, at)["request_id"], at)) == 1


def test_a_breached_clock_stays_breached_after_an_extension(rules: ClockRules) -> None:
    """Asked in time, approved after the breach: the breach is counted once and stays; the
    case closed within the extension is still closed late."""
    rule = CATALOGUE.rule("case.close")
    state = open_clock(rules, rule)
    assert state.last_day is not None
    breached = [m for _, m in rules.fire(state, state.due_at) if isinstance(m, pb.ClockBreached)]
    assert len(breached) == 1 and state.breached
    extend_asked_on(rules, state, state.last_day - dt.timedelta(days=1))
    assert state.breached and condition(state) is ClockCondition.BREACHED
    again = [m for _, m in rules.fire(state, state.due_at) if isinstance(m, pb.ClockBreached)]
    assert again == []  # the new due time passing reports no second breach
    (cleared,) = rules.clear(state, signal(rule, "CaseClosed", state.due_at, "e2"))
    assert isinstance(cleared, pb.ClockCleared) and cleared.late


def test_a_breach_before_a_pause_stays_after_it(rules: ClockRules) -> None:
    rule = CATALOGUE.rule("case.close")
    state = open_clock(rules, rule)
    rules.fire(state, state.due_at)
    paused = state.due_at + dt.timedelta(days=1)
    rules.pause(state, signal(rule, "CaseSuspended", paused, attributes={"pause_id": "p"}))
    resumed = paused + dt.timedelta(days=30)
    rules.resume(state, signal(rule, "CaseResumed", resumed, attributes={"pause_id": "p"}))
    assert state.breached and state.due_at > state.started_at
