"""The case clock's pauses (审限规定 art 9; 执行程序解释 art 13): overlapping pauses stop the
clock once and count the union of their time; an end without its start, or an act read
twice, changes nothing; a clock stored before the ledger still resumes; the catalogue pairs
each pause event with its end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.deadlines.domain import ClockRules, ClockState, Signal, Status, clock_id_for
from zhixing.clock import CHINA_TZ
from zhixing.periods import PeriodCounter
from zhixing.rules import CATALOGUE_FILE, load_catalogue
from zhixing.v1 import deadline_events_pb2 as pb
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)  # Monday
LAST_DAY = dt.date(2026, 9, 2)  # case.close: 6 CM from START, nothing paused
CATALOGUE = load_catalogue(environ={})
CASE_CLOSE = CATALOGUE.rule("case.close")


@pytest.fixture(scope="module")
def rules() -> ClockRules:
    calendar = StatutoryCalendar.load(CalendarSettings(dir=Path("/nonexistent")))
    return ClockRules(CATALOGUE, PeriodCounter(calendar))


def day(n: int) -> dt.datetime:
    return START + dt.timedelta(days=n)


def after_pausing(rules: ClockRules, days: int, rule_id: str = "case.close") -> dt.date | None:
    """The limit's last day with ``days`` paused: from a start that many days later (a last
    day on a weekend or holiday moves to the next working day)."""
    rule = CATALOGUE.rule(rule_id)
    assert rule.unit is not None and rule.limit is not None
    return rules.counter.due(day(days), rule.unit, rule.limit, provisional=True).last_day


def status(state: ClockState) -> Status:
    return state.status  # read through a call: each read is the state of the moment


def act(name: str, at: dt.datetime, **attributes: str) -> Signal:
    return Signal(f"e-{name}-{at.isoformat()}", name, "case-1", "苏1283", at, attributes)


def opened(rules: ClockRules, rule_id: str = "case.close") -> ClockState:
    rule = CATALOGUE.rule(rule_id)
    when = {name: v if isinstance(v, str) else v[0] for name, v in rule.when.items()}
    start = Signal("e0", "CaseFiled", "case-1", "苏1283", START, when)
    state, _ = rules.open(rule, start, clock_id_for(rule, start) or "", None)
    return state


def test_overlapping_pauses_count_their_union_once(rules: ClockRules) -> None:
    """Suspended on day 10 to day 40; an appraisal from day 20 to day 50: 40 days paused."""
    state = opened(rules)
    assert state.last_day == LAST_DAY
    assert len(rules.pause(state, act("CaseSuspended", day(10), pause_id="p1"))) == 1
    assert rules.pause(state, act("AppraisalStarted", day(20), pause_id="p2")) == []
    assert rules.resume(state, act("CaseResumed", day(40), pause_id="p1")) == []  # p2 open
    assert status(state) is Status.PAUSED and state.open_pauses == ["3:p2"]
    (resumed,) = rules.resume(state, act("AppraisalEnded", day(50), pause_id="p2"))
    assert isinstance(resumed, pb.ClockResumed)
    assert status(state) is Status.RUNNING
    assert state.paused_seconds == dt.timedelta(days=40).total_seconds()
    assert state.last_day == after_pausing(rules, 40)


def test_two_disputes_in_coordination_are_two_pauses(rules: ClockRules) -> None:
    state = opened(rules)
    rules.pause(state, act("DisputeCoordinationStarted", day(10), dispute_id="d1"))
    rules.pause(state, act("DisputeCoordinationStarted", day(12), dispute_id="d2"))
    assert rules.resume(state, act("DisputeCoordinationEnded", day(15), dispute_id="d1")) == []
    rules.resume(state, act("DisputeCoordinationEnded", day(30), dispute_id="d2"))
    assert status(state) is Status.RUNNING
    assert state.last_day == after_pausing(rules, 20)


def test_separate_pauses_add_up(rules: ClockRules) -> None:
    state = opened(rules)
    rules.pause(state, act("AuctionStarted", day(10), pause_id="a1"))
    rules.resume(state, act("AuctionEnded", day(15), pause_id="a1"))
    rules.pause(state, act("PublicNoticeStarted", day(20), pause_id="n1"))
    rules.resume(state, act("PublicNoticeEnded", day(27), pause_id="n1"))
    assert state.last_day == after_pausing(rules, 12)


def test_an_end_without_its_start_and_acts_read_twice_change_nothing(rules: ClockRules) -> None:
    state = opened(rules)
    # An end of a pause that never began: ignored, and so is that start read later.
    assert rules.resume(state, act("InstructionAnswered", day(5), pause_id="x")) == []
    assert rules.pause(state, act("InstructionRequested", day(6), pause_id="x")) == []
    assert status(state) is Status.RUNNING and state.last_day == LAST_DAY
    # A pause read twice, its end read twice, then the pause read again (a redelivery).
    suspended = act("CaseSuspended", day(10), pause_id="p1")
    assert len(rules.pause(state, suspended)) == 1
    assert rules.pause(state, suspended) == []
    ended = act("CaseResumed", day(20), pause_id="p1")
    assert len(rules.resume(state, ended)) == 1
    assert rules.resume(state, ended) == []
    assert rules.pause(state, suspended) == []
    assert status(state) is Status.RUNNING
    assert state.last_day == after_pausing(rules, 10)
    # The end of another kind with the same id does not end it.
    rules.pause(state, act("EnforcementDeferred", day(30), pause_id="p1"))
    assert rules.resume(state, act("AppraisalEnded", day(31), pause_id="p1")) == []
    assert status(state) is Status.PAUSED


def test_a_pause_read_late_moves_the_stop_back(rules: ClockRules) -> None:
    """Another topic's pause that began earlier, read while the clock is already paused."""
    state = opened(rules)
    rules.pause(state, act("CaseSuspended", day(10), pause_id="p1"))
    rules.pause(state, act("DisputeCoordinationStarted", day(5), dispute_id="d1"))
    rules.resume(state, act("CaseResumed", day(20), pause_id="p1"))
    rules.resume(state, act("DisputeCoordinationEnded", day(25), dispute_id="d1"))
    assert state.last_day == after_pausing(rules, 20)


def test_the_ledger_survives_its_json_form(rules: ClockRules) -> None:
    state = opened(rules)
    rules.pause(state, act("CaseSuspended", day(10), pause_id="p1"))
    rules.pause(state, act("AppraisalStarted", day(11), pause_id="p2"))
    rules.resume(state, act("AppraisalEnded", day(12), pause_id="p2"))
    again = ClockState.from_json(state.to_json())
    assert again == state
    rules.resume(again, act("CaseResumed", day(20), pause_id="p1"))
    assert again.last_day == after_pausing(rules, 10)


def test_a_clock_paused_before_the_ledger_resumes_on_its_end(rules: ClockRules) -> None:
    state = opened(rules)
    rules.pause(state, act("DisputeCoordinationStarted", day(10), dispute_id="d1"))
    stored = state.to_json()
    del stored["open_pauses"], stored["ended_pauses"]  # as kept before the ledger
    old = ClockState.from_json(stored)
    assert status(old) is Status.PAUSED
    # Another pause during the old one, ended first: the clock stays paused.
    rules.pause(old, act("AppraisalStarted", day(12), pause_id="p2"))
    assert rules.resume(old, act("AppraisalEnded", day(14), pause_id="p2")) == []
    (resumed,) = rules.resume(old, act("DisputeCoordinationEnded", day(30), dispute_id="d1"))
    assert isinstance(resumed, pb.ClockResumed)
    assert old.last_day == after_pausing(rules, 20)
    running = state.to_json() | {"status": "running", "paused_at": None}
    del running["open_pauses"], running["ended_pauses"]
    assert ClockState.from_json(running).open_pauses == []


def test_a_cleared_clock_neither_pauses_nor_resumes(rules: ClockRules) -> None:
    state = opened(rules)
    rules.pause(state, act("CaseSuspended", day(10), pause_id="p1"))
    rules.clear(state, act("CaseClosed", day(12)))
    assert rules.resume(state, act("CaseResumed", day(20), pause_id="p1")) == []
    assert rules.pause(state, act("AuctionStarted", day(21), pause_id="a")) == []
    assert status(state) is Status.CLEARED and state.open_pauses == []


def test_the_non_litigation_limit_pauses_alike(rules: ClockRules) -> None:
    state = opened(rules, "case.close-non-litigation")
    assert state.last_day == dt.date(2026, 6, 2)  # 3 CM
    rules.pause(state, act("CaseSuspended", day(10), pause_id="p1"))
    rules.pause(state, act("AuctionStarted", day(15), pause_id="a1"))
    rules.resume(state, act("CaseResumed", day(20), pause_id="p1"))
    rules.resume(state, act("AuctionEnded", day(25), pause_id="a1"))
    assert state.last_day == after_pausing(rules, 15, "case.close-non-litigation")


def test_both_case_limits_pause_on_the_same_acts() -> None:
    close, non_litigation = CASE_CLOSE, CATALOGUE.rule("case.close-non-litigation")
    assert (close.pauses_on, close.resumes_on) == (
        non_litigation.pauses_on, non_litigation.resumes_on,
    )  # fmt: skip
    assert len(close.pauses_on) == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["resumes_on"].pop(), "must pair up"),
        (lambda r: r["resumes_on"].__setitem__(1, "CaseResumed"), "more than once"),
        (lambda r: r["pauses_on"].__setitem__(0, "CaseResumed"), "more than once"),
    ],
)
def test_the_catalogue_pairs_each_pause_with_its_end(
    tmp_path: Path, change: object, message: str
) -> None:
    raw = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    rule = next(r for r in raw["rules"] if r["id"] == "case.close")
    change(rule)  # type: ignore[operator]
    broken = tmp_path / "catalogue.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_catalogue(broken, environ={})


def test_a_pause_runs_from_the_day_its_act_names(rules: ClockRules) -> None:
    """Intake records the ruling's day (``on``): a suspension ruled on day 10, recorded on
    day 12, ended on day 30, recorded on day 31: 20 days paused. A day before the clock
    started, or a later one, or none, counts from the recording or the start."""
    state = opened(rules)
    ruled, ended = day(10).date().isoformat(), day(30).date().isoformat()
    rules.pause(state, act("CaseSuspended", day(12), pause_id="p1", on=ruled))
    rules.resume(state, act("CaseResumed", day(31), pause_id="p1", on=ended))
    assert state.paused_seconds == dt.timedelta(days=20).total_seconds()
    early = opened(rules)
    rules.pause(early, act("AuctionStarted", day(2), pause_id="a", on="2026-01-01"))
    assert early.paused_at == START
    rules.resume(early, act("AuctionEnded", day(5), pause_id="a", on="2026-12-31"))
    assert early.paused_seconds == dt.timedelta(days=5).total_seconds()


def test_a_backdated_pause_over_a_closed_one_counts_their_union(rules: ClockRules) -> None:
    """The reviewer's case: an appraisal from day 10 to day 20; a suspension recorded on day
    25 as ruled on day 15, ended on day 30. Paused from day 10 to day 30: 20 days, not the
    10 + 15 of a sum."""
    state = opened(rules)
    rules.pause(state, act("AppraisalStarted", day(10), pause_id="a1"))
    rules.resume(state, act("AppraisalEnded", day(20), pause_id="a1"))
    ruled = day(15).replace(hour=0).date().isoformat()
    (paused,) = rules.pause(state, act("CaseSuspended", day(25), pause_id="s1", on=ruled))
    assert isinstance(paused, pb.ClockPaused)
    rules.resume(state, act("CaseResumed", day(30), pause_id="s1"))
    assert state.paused_seconds == dt.timedelta(days=20).total_seconds()
    assert state.paused_spans == [(day(10), day(30))]
    assert state.last_day == after_pausing(rules, 20)


def test_the_closed_stretches_merge_as_they_close(rules: ClockRules) -> None:
    """Three separate pauses, then one backdated over all three: one stretch is kept."""
    state = opened(rules)
    for n, (start, end) in enumerate([(10, 12), (14, 16), (18, 20)]):
        rules.pause(state, act("AuctionStarted", day(start), pause_id=f"a{n}"))
        rules.resume(state, act("AuctionEnded", day(end), pause_id=f"a{n}"))
    assert len(state.paused_spans) == 3
    assert state.paused_seconds == dt.timedelta(days=6).total_seconds()
    ruled = day(11).date().isoformat()  # the start of day 11: 10 hours before day(11)
    rules.pause(state, act("PublicNoticeStarted", day(22), pause_id="n1", on=ruled))
    rules.resume(state, act("PublicNoticeEnded", day(24), pause_id="n1"))
    assert state.paused_spans == [(day(10), day(24))]
    assert state.paused_seconds == dt.timedelta(days=14).total_seconds()
    assert ClockState.from_json(state.to_json()) == state


def test_a_pause_backdated_to_before_a_breach_does_not_undo_it(rules: ClockRules) -> None:
    """A breach found and reported stays (only an explicit withdrawal removes it, and a pause
    act is none): the suspension ruled 20 days before the due time but recorded 10 days
    after it moves the rest of the limit, and no second breach is reported for it."""
    state = opened(rules)
    due = state.due_at
    assert [m for _, m in rules.fire(state, due) if isinstance(m, pb.ClockBreached)]
    ruled = (due - dt.timedelta(days=20)).date().isoformat()
    paused = rules.pause(state, act("CaseSuspended", due + dt.timedelta(days=10),
                                    pause_id="s1", on=ruled))  # fmt: skip
    assert [type(m) for m in paused] == [pb.ClockPaused]
    rules.resume(state, act("CaseResumed", due + dt.timedelta(days=30), pause_id="s1"))
    assert state.breached and state.condition.value == "breached"
    assert state.due_at > due + dt.timedelta(days=40)  # the paused 50 days count from here on
    again = [m for _, m in rules.fire(state, state.due_at) if isinstance(m, pb.ClockBreached)]
    assert again == []


def test_a_pause_recorded_after_the_due_time_finds_the_breach_first(rules: ClockRules) -> None:
    """The limit passed with no pause on the record: the pause read then reports the breach
    the timer had not fired yet (a queued timer, a lagging consumer), whatever day it names,
    so the outcome never depends on which came first. The expiry's reactions follow."""
    state = opened(rules)
    due = state.due_at
    ruled = (due - dt.timedelta(days=20)).date().isoformat()
    late = act("CaseSuspended", due + dt.timedelta(hours=1), pause_id="s1", on=ruled)
    breached, paused = rules.pause(state, late)
    assert isinstance(breached, pb.ClockBreached) and isinstance(paused, pb.ClockPaused)
    assert not breached.found_at_clearing and state.breached
    # Recorded before the due time, the same backdated pause finds nothing.
    early = opened(rules)
    on_time = act("CaseSuspended", due - dt.timedelta(hours=1), pause_id="s1", on=ruled)
    assert [type(m) for m in rules.pause(early, on_time)] == [pb.ClockPaused]
    assert not early.breached
