"""The vocabulary and pure rules of supervision (监督).

- A **task** (专人督办任务) is one step of a breached clock's escalation (¶8, ¶12): level 1
  goes to the court's supervisor (专人), level 2 to its leaders (院领导: ``Role.LEADER`` or
  ``Role.PRESIDENT``), level 3 to the superior court's command centre. One task per clock,
  cycle and level, so a redelivered escalation opens nothing new; the next level supersedes
  an open task of the level below. A task is answered (closing it, and stopping the clock's
  escalation), superseded (escalated), or closed when its clock clears. A **reminder** is
  a task for the leaders raised by a rotation clock's warning (rules ``officer.rotation-*``),
  before an officer's term in one post runs out.
- A **petition** (信访, ¶30) is received, registered (录入, rule ``petition.enter``) and
  answered (rule ``petition.resolve``), in that order.
- An **interference record** (干预过问案件登记) is never changed: a correction is a new record.
- An officer's **posting** is open until the officer rotates; one open posting at a time.

No I/O here, and no clock reads: the time is passed in.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from enum import StrEnum
from typing import Any

from zhixing.auth import INTERFERENCE_REGISTER_READERS, Identity, Role, may_read
from zhixing.periods import add_months
from zhixing.rules import Catalogue, Rule

Record = dict[str, Any]

PETITION_ENTER = "petition.enter"
PETITION_RESOLVE = "petition.resolve"
ROTATION_LEADER = "officer.rotation-leader"
ROTATION_OTHER = "officer.rotation-other"
ROTATION_RULES = (ROTATION_LEADER, ROTATION_OTHER)
RECORD_INTERFERENCE = "oversight.record-interference"
NO_SELF_SUPERVISION = "oversight.no-self-supervision"
"""Nobody answers a task about their own breach: the case's responsible officer (承办人),
or the officer whose rotation a reminder is about, is not their own 专人 or leader."""

_TASK_NAMESPACE = uuid.UUID("5b0c6a1e-7f38-4d2a-9a61-2f0d3c1e9b47")


class TaskKind(StrEnum):
    ESCALATION = "escalation"
    REMINDER = "reminder"


class TaskStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ESCALATED = "escalated"  # superseded by the next level's task
    CLOSED = "closed"  # its clock cleared: the act was done


class StatusFilter(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # anything no longer open
    ALL = "all"


class Outcome(StrEnum):
    CORRECTED = "corrected"  # 纠正
    EXPLAINED = "explained"  # 说明情况
    ORDERED = "ordered"  # 责令/督促


class Assignee(StrEnum):
    """Who answers a task, by level (the deadline engine's ``escalated_to``)."""

    SUPERVISOR = "supervisor"  # 专人
    COURT_LEADER = "court_leader"  # 院领导
    SUPERIOR_COMMAND = "superior_command"  # 上级法院指挥中心


LEVELS = {1: Assignee.SUPERVISOR, 2: Assignee.COURT_LEADER, 3: Assignee.SUPERIOR_COMMAND}

ANSWERING_ROLES: dict[Assignee, tuple[Role, ...]] = {
    Assignee.SUPERVISOR: (Role.SUPERVISOR,),
    Assignee.COURT_LEADER: (Role.LEADER, Role.PRESIDENT),
    Assignee.SUPERIOR_COMMAND: (Role.COMMAND,),
}


def assignee_of(level: int, escalated_to: str = "") -> Assignee:
    """The assignee of a level: the engine's word when it names one, else the policy's."""
    try:
        return Assignee(escalated_to)
    except ValueError:
        return LEVELS.get(level, Assignee.SUPERIOR_COMMAND)


def task_id_for(clock_id: str, cycle: int, kind: TaskKind, level: int, due_version: int = 1) -> str:
    """The one task of a clock's cycle and due time at a level (a redelivery finds it
    again). An extension or a resumption gives the clock a new due version, not a new
    cycle: when that due time breaches too, its escalation opens tasks of its own. The
    first due version keeps the id it always had (events before the field say 0)."""
    name = f"{clock_id}|{cycle}|{kind.value}|{level}"
    if due_version > 1:
        name += f"|v{due_version}"
    return str(uuid.uuid5(_TASK_NAMESPACE, name))


def due_version_of(task: Record) -> int:
    """The due version a task escalates (tasks recorded before it was kept: the first)."""
    return int(task.get("due_version") or 1)


def may_answer(task: Record, role: Role, court_code: str) -> bool:
    """Whether a person of ``role`` at ``court_code`` answers ``task``."""
    roles = ANSWERING_ROLES[Assignee(task["assignee_role"])]
    return role in roles and court_code == task["court_code"]


def answers_for_self(task: Record, subject: str, case_officer: str = "") -> bool:
    """Whether ``subject`` is the person the task supervises: the responsible officer of its
    case when it opened or now (``case_officer``), or the officer a rotation reminder is
    about (rule ``oversight.no-self-supervision``)."""
    responsible = set(task.get("responsible") or ()) | {case_officer}
    if task["rule_id"] in ROTATION_RULES:
        responsible.add(task["subject_id"])
    return bool(subject) and subject in responsible


def is_overdue(task: Record, now: dt.datetime) -> bool:
    return task["status"] == TaskStatus.OPEN and now > dt.datetime.fromisoformat(task["respond_by"])


def queue_order(tasks: list[Record], now: dt.datetime) -> list[Record]:
    """Overdue first, then by respond_by, then by level (higher first)."""
    return sorted(
        tasks, key=lambda t: (not is_overdue(t, now), t["respond_by"], -t["level"], t["task_id"])
    )


def matches_status(task: Record, wanted: StatusFilter) -> bool:
    if wanted is StatusFilter.ALL:
        return True
    is_open: bool = task["status"] == TaskStatus.OPEN
    return is_open == (wanted is StatusFilter.OPEN)


# --- petitions ------------------------------------------------------------------------------


class PetitionStatus(StrEnum):
    RECEIVED = "received"
    REGISTERED = "registered"
    ANSWERED = "answered"


class Channel(StrEnum):
    VISIT = "visit"  # 来访
    LETTER = "letter"  # 来信
    PHONE = "phone"  # 来电
    ONLINE = "online"  # 网上信访
    HOTLINE_12368 = "hotline_12368"


class PetitionerRole(StrEnum):
    APPLICANT = "applicant"
    DEBTOR = "debtor"
    THIRD_PARTY = "third_party"
    OTHER = "other"


class ReplyChannel(StrEnum):
    LETTER = "letter"
    VISIT = "visit"
    PHONE = "phone"
    ONLINE = "online"
    SMS = "sms"


_CASE_NUMBER_YEAR = re.compile(r"^[（(](\d{4})[)）]")


def filing_day(case: Record) -> dt.date | None:
    """The day a case was filed (docketed, when its number was issued), or, for a case whose
    filing day this service did not keep, the first day of its number's year: a petition
    naming the case by number was received no earlier (None when neither is known)."""
    try:
        if case.get("filed_on"):
            return dt.date.fromisoformat(case["filed_on"])
    except ValueError:  # as intake wrote it; a day unreadable here bounds nothing
        pass
    year = _CASE_NUMBER_YEAR.match(case.get("case_number", ""))
    if year and dt.MINYEAR < int(year.group(1)) < dt.MAXYEAR:
        return dt.date(int(year.group(1)), 1, 1)
    return None


PETITION_ROLES = (Role.CLERK, Role.OFFICER, Role.SUPERVISOR, Role.COMMAND)
"""Who receives, registers and answers a court's petitions."""


# --- the interference register --------------------------------------------------------------


class Manner(StrEnum):
    PHONE = "phone"
    VISIT = "visit"
    LETTER = "letter"
    MESSAGE = "message"
    IN_MEETING = "in_meeting"
    OTHER = "other"


RECORDING_ROLES = (
    Role.CLERK, Role.OFFICER, Role.COMMAND, Role.LEADER, Role.PRESIDENT, Role.SUPERVISOR,
    Role.FINANCE, Role.COORDINATOR,
)  # fmt: skip
"""Every court person records (never the overseers, an agency or a service)."""

REGISTER_READERS = tuple(sorted(INTERFERENCE_REGISTER_READERS))
"""Discipline inspection and the command centre read the register; the procuratorate's
overseers do not (they have no need of it): ``zhixing.auth``, which the command service's
access log reads too."""


def may_correct(record: Record, identity: Identity) -> bool:
    """Whether ``identity`` may correct (and so read) ``record``, whose ``court_code`` is the
    court handling its case now: a reader of the register of that court or one above, or
    the person who recorded it (at the court they recorded it from) while their court
    still sees the case."""
    if not may_read(identity, record["court_code"]):
        return False
    if identity.role in REGISTER_READERS:
        return True
    recorder = (record["recorded_by"], record.get("recorder_court"))
    return recorder == (identity.subject, identity.court_code)


def register_report(records: list[Record]) -> dict[str, Record]:
    """Per court: records, inside/outside the court, by manner, corrections."""
    report: dict[str, Record] = {}
    for record in records:
        row = report.setdefault(record["court_code"], {
            "court_code": record["court_code"], "records": 0, "inside_court": 0,
            "outside_court": 0, "corrections": 0, "by_manner": {},
        })  # fmt: skip
        row["records"] += 1
        row["inside_court" if record["inside_court"] else "outside_court"] += 1
        row["corrections"] += bool(record["corrects_record_id"])
        row["by_manner"][record["manner"]] = row["by_manner"].get(record["manner"], 0) + 1
    return dict(sorted(report.items()))


# --- officers' postings ---------------------------------------------------------------------


class PostKind(StrEnum):
    LEADER = "leader"  # leaders and independent handlers (rule officer.rotation-leader)
    OTHER = "other"  # other enforcement staff (rule officer.rotation-other)


POSTING_ROLES = (Role.LEADER, Role.PRESIDENT, Role.COMMAND)


def rotation_rule(rules: Catalogue, post_kind: PostKind) -> Rule:
    """The rotation clock the catalogue runs for a posting of ``post_kind``."""
    for rule_id in ROTATION_RULES:
        rule = rules.rule(rule_id)
        if rule.when.get("post_kind") == post_kind.value:
            return rule
    raise LookupError(f"no rotation rule for post kind {post_kind.value}")


def nominal_rotation_day(rules: Catalogue, post_kind: PostKind, since: dt.date) -> dt.date:
    """The day the term in post runs out by the catalogue, before any rest-day shift (the
    clock's own last day replaces it once the deadline engine opened it)."""
    rule = rotation_rule(rules, post_kind)
    assert rule.limit is not None
    return add_months(since, rule.limit)


MAX_YEARS_IN_POST = 45
"""A posting began at most this many years ago: a working life, from 18 to the retirement
age of 63 at the latest. A date of 1949 would pass ``EARLIEST_DAY`` and make an officer 77
years in post."""


def earliest_posting(today: dt.date) -> dt.date:
    """The earliest ``since`` a posting recorded ``today`` may name."""
    year = today.year - MAX_YEARS_IN_POST
    return dt.date(year, today.month, min(today.day, 28 if today.month == 2 else today.day))


def years_in_post(since: dt.date, today: dt.date) -> float:
    return round(max(0, (today - since).days) / 365.25, 1)
