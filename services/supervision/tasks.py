"""专人 tasks (¶8, ¶12): an escalated clock becomes a task in the queue of the level it
reached; the next level supersedes the open task below it; an answer closes it (and the
deadline engine stops the clock's escalation); a cleared clock closes its open tasks; a
rotation clock's warning reminds the court's leaders. Every change from another service's
event is its own idempotent transaction: a redelivery changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from redis.asyncio.client import Pipeline

from services.supervision import domain
from services.supervision.domain import Assignee, Outcome, Record, StatusFilter, TaskKind
from services.supervision.domain import TaskStatus as S
from services.supervision.handler import SupervisionHandler
from zhixing.auth import (
    Identity,
    Role,
    ScopeError,
    may_read,
    readable_court,
    require_role,
    require_scope,
)
from zhixing.errors import Conflict, NotFound
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb

QUEUE_ROLES = (Role.SUPERVISOR, Role.LEADER, Role.PRESIDENT, Role.COMMAND)
"""Who has a task queue (and reads tasks)."""


def _instant(ts: Timestamp) -> dt.datetime:
    return ts.ToDatetime(tzinfo=dt.UTC)


class Tasks(SupervisionHandler):
    # --- from the deadline engine's events ---------------------------------------------------

    async def escalated(self, escalated: clocks.ClockEscalated) -> str | None:
        """Open the task of the level the clock's escalation reached, superseding the open
        tasks below it; None when it exists already or the escalation was answered (the
        engine had fired before it heard of the answer)."""
        clock = escalated.clock
        level = escalated.level
        version = escalated.due_version or 1  # 0: an event from before the field
        task_id = domain.task_id_for(
            clock.clock_id, clock.cycle, TaskKind.ESCALATION, level, version
        )
        assignee = domain.assignee_of(level, escalated.escalated_to)
        case_id, case_number = await self._case_of_subject(clock.subject_id)
        task = self._new_task(
            task_id, clock, kind=TaskKind.ESCALATION, level=level, assignee=assignee,
            court_code=escalated.to_court_code or clock.court_code,
            respond_by=_instant(escalated.respond_by), case_id=case_id, case_number=case_number,
            due_version=version,
        )  # fmt: skip
        # Whose breach it is: the case's responsible officer then (a later one is read at
        # the answer); they never answer it (rule oversight.no-self-supervision).
        officer = await self._officer_of_case(case_id)
        task["responsible"] = [officer] if officer else []

        def supersedes(siblings: list[Record]) -> tuple[list[Record], bool]:
            # Only the chain of this due time: an answer to an earlier breach (before an
            # extension) does not silence the breach of the new due time.
            same = [t for t in siblings if t["kind"] == TaskKind.ESCALATION
                    and t["cycle"] == clock.cycle
                    and domain.due_version_of(t) == version]  # fmt: skip
            answered = any(t["status"] == S.ANSWERED for t in same)
            below = [t for t in same if t["status"] == S.OPEN and t["level"] < level]
            return sorted(below, key=lambda t: t["level"]), answered

        async def body(pipe: Pipeline) -> str | None:
            if await pipe.exists(self.records.tasks.key(task_id)):
                return None
            siblings = await self._siblings(pipe, clock.clock_id)
            below, answered = supersedes(siblings)
            if answered:
                return None
            pipe.multi()  # type: ignore[no-untyped-call]
            if below:
                task["supersedes_task_id"] = below[-1]["task_id"]
            for prior in below:
                prior.update(status=S.ESCALATED.value, next_task_id=task_id,
                             closed_at=self.now().isoformat())  # fmt: skip
                self.records.tasks.put(pipe, prior["task_id"], prior)
                self.stage(pipe, pb.SupervisionTaskEscalated(
                    task_id=prior["task_id"], clock_id=clock.clock_id, next_task_id=task_id,
                ), aggregate_id=prior["task_id"], court_code=prior["court_code"])  # fmt: skip
            self._open(pipe, task)
            return task_id

        return await self._on_clock(clock.clock_id, task_id, body)

    async def remind(self, warned: clocks.ClockWarned) -> str | None:
        """A rotation clock warned: the court's leaders are told, once per clock cycle,
        before the officer's term in post runs out (answer by the clock's due time)."""
        clock = warned.clock
        if clock.rule_id not in domain.ROTATION_RULES:
            return None
        task_id = domain.task_id_for(clock.clock_id, clock.cycle, TaskKind.REMINDER, 0)
        task = self._new_task(
            task_id, clock, kind=TaskKind.REMINDER, level=2, assignee=Assignee.COURT_LEADER,
            court_code=clock.court_code, respond_by=_instant(warned.due_at),
        )  # fmt: skip

        async def body(pipe: Pipeline) -> str | None:
            if await pipe.exists(self.records.tasks.key(task_id)):
                return None
            pipe.multi()  # type: ignore[no-untyped-call]
            self._open(pipe, task)
            return task_id

        return await self._on_clock(clock.clock_id, task_id, body)

    async def clock_cleared(self, cleared: clocks.ClockCleared) -> int:
        """The act was done: the clock's open tasks close by themselves. Returns how many."""
        clock_id = cleared.clock.clock_id

        async def body(pipe: Pipeline) -> int:
            open_tasks = [t for t in await self._siblings(pipe, clock_id) if t["status"] == S.OPEN]
            if not open_tasks:
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]
            for task in open_tasks:
                task.update(status=S.CLOSED.value, closed_reason="clock_cleared",
                            closed_at=self.now().isoformat())  # fmt: skip
                self.records.tasks.put(pipe, task["task_id"], task)
                self.stage(pipe, pb.SupervisionTaskClosed(
                    task_id=task["task_id"], clock_id=clock_id, reason="clock_cleared",
                ), aggregate_id=task["task_id"], court_code=task["court_code"])  # fmt: skip
            return len(open_tasks)

        return await self.records.transact([self.records.clock_tasks_key(clock_id)], body)

    # --- commands ------------------------------------------------------------------------------

    async def answer(
        self, task_id: str, identity: Identity, *, outcome: Outcome, text: str
    ) -> Record:
        """The assignee answers the task: it closes, late if after respond_by (409 once it is
        no longer open)."""
        require_role(identity, *QUEUE_ROLES)
        require_scope(identity, identity.court_code, write=True)
        found = await self.records.tasks.get(task_id)
        case_officer = await self._officer_of_task(found) if found else ""

        async def act(pipe: Pipeline, task: Record) -> Record:
            roles = "/".join(
                r.value for r in domain.ANSWERING_ROLES[Assignee(task["assignee_role"])]
            )
            if not domain.may_answer(task, identity.role, identity.court_code):
                raise ScopeError(
                    f"task {task_id} is answered by {roles} of {task['court_code']} "
                    f"({task['assignee_role']})"
                )
            if domain.answers_for_self(task, identity.subject, case_officer):
                raise ScopeError(
                    f"task {task_id} supervises a node of {identity.subject}'s own: another "
                    f"{roles} of {task['court_code']} answers it "
                    f"(rule {domain.NO_SELF_SUPERVISION})"
                )
            if task["status"] != S.OPEN:
                raise Conflict(f"task {task_id} is {task['status']} already")
            now = self.now()
            late = now > dt.datetime.fromisoformat(task["respond_by"])
            pipe.multi()  # type: ignore[no-untyped-call]
            task.update(status=S.ANSWERED.value, closed_at=now.isoformat(), answer={
                "outcome": outcome.value, "text": text, "by": identity.subject,
                "at": now.isoformat(), "late": late,
            })  # fmt: skip
            self.stage(pipe, pb.SupervisionTaskAnswered(
                task_id=task_id, clock_id=task["clock_id"], outcome=outcome.value, text=text,
                answered_by=identity.subject, late=late,
                due_version=domain.due_version_of(task),
            ), aggregate_id=task_id, court_code=task["court_code"],
               actor=identity.as_actor())  # fmt: skip
            return task

        return await self.records.tasks.change(
            task_id, act, visible=lambda t: _may_read_task(identity, t),
            missing=f"no task {task_id} in your jurisdiction",
        )  # fmt: skip

    # --- reads ---------------------------------------------------------------------------------

    async def task(self, task_id: str, identity: Identity) -> Record:
        require_role(identity, *QUEUE_ROLES)
        task = await self.records.tasks.get(task_id)
        if task is None or not _may_read_task(identity, task):
            raise NotFound(f"no task {task_id} in your jurisdiction")
        return task

    async def queue(
        self, identity: Identity, *, court: str | None, status: StatusFilter, limit: int
    ) -> list[Record]:
        """The caller's queue: tasks its role answers at its court, overdue first, then by
        respond_by. A command centre also sees every task of its jurisdiction (``court``
        narrows it to one court below); others read their own court's only."""
        require_role(identity, *QUEUE_ROLES)
        # An unknown court is 422 naming ``court``; one outside the caller's jurisdiction
        # reads as missing (404).
        court = readable_court(identity, court)
        if identity.role is Role.COMMAND:
            # Indexed under both the answering and the breached court: what lies below.
            tasks = await self.records.tasks.in_jurisdiction(court)
        else:
            if court != identity.court_code:
                raise ScopeError(f"a {identity.role.value} reads the queue of its own court only")
            tasks = await self.records.tasks.many(await self.records.tasks.ids_of(court))
            tasks = [t for t in tasks if domain.may_answer(t, identity.role, identity.court_code)]
        wanted = [t for t in tasks if domain.matches_status(t, status)]
        return domain.queue_order(wanted, self.now())[:limit]

    async def view(self, task: Record) -> dict[str, Any]:
        """The task as people read it: its case by number, its rule's title, the clock's
        due time, whether it is overdue."""
        case_number = task.get("case_number", "")
        case_id = task.get("case_id", "")
        if not case_number:  # the case (or the subject's) was read after the escalation
            case_id = case_id or await self.records.case_of_subject(task["subject_id"]) or ""
            case = await self.records.case(case_id) if case_id else None
            if case is not None and case.get("case_number"):
                case_id, case_number = case["case_id"], case["case_number"]
        clock = await self.records.clock(task["clock_id"])
        return {
            **task, "case_id": case_id, "case_number": case_number,
            "rule_title": self.rule_title(task["rule_id"]),
            "due_at": clock.get("due_at") or None,
            "overdue": domain.is_overdue(task, self.now()),
        }  # fmt: skip

    # --- helpers -------------------------------------------------------------------------------

    def _new_task(
        self, task_id: str, clock: clocks.ClockRef, *, kind: TaskKind, level: int,
        assignee: Assignee, court_code: str, respond_by: dt.datetime, case_id: str = "",
        case_number: str = "", due_version: int = 1,
    ) -> Record:  # fmt: skip
        return {
            "task_id": task_id, "kind": kind.value, "clock_id": clock.clock_id,
            "rule_id": clock.rule_id, "subject_id": clock.subject_id, "cycle": clock.cycle,
            "due_version": due_version,
            "case_id": case_id, "case_number": case_number,
            "breached_court": clock.court_code, "court_code": court_code, "level": level,
            "assignee_role": assignee.value, "respond_by": respond_by.isoformat(),
            "opened_at": self.now().isoformat(), "status": S.OPEN.value,
            "supersedes_task_id": "", "next_task_id": "", "answer": None,
            "closed_at": None, "closed_reason": "",
        }  # fmt: skip

    def _open(self, pipe: Pipeline, task: Record) -> None:
        self.records.add_task(pipe, task)
        respond_by = Timestamp()
        respond_by.FromDatetime(dt.datetime.fromisoformat(task["respond_by"]))
        self.stage(pipe, pb.SupervisionTaskOpened(
            task_id=task["task_id"], clock_id=task["clock_id"], rule_id=task["rule_id"],
            subject_id=task["subject_id"], case_id=task["case_id"],
            case_number=task["case_number"], breached_court=task["breached_court"],
            level=task["level"], assignee_role=task["assignee_role"],
            court_code=task["court_code"], respond_by=respond_by,
            supersedes_task_id=task["supersedes_task_id"],
        ), aggregate_id=task["task_id"], court_code=task["court_code"])  # fmt: skip

    async def _siblings(self, pipe: Pipeline, clock_id: str) -> list[Record]:
        """The clock's tasks, read in the transaction (their keys watched)."""
        ids = await self.records.task_ids_of_clock(clock_id, pipe)
        if ids:
            await pipe.watch(*[self.records.tasks.key(i) for i in ids])
        found = [await self.records.tasks.get(i, pipe) for i in ids]
        return [t for t in found if t is not None]

    async def _on_clock(
        self, clock_id: str, task_id: str, body: Callable[[Pipeline], Awaitable[str | None]]
    ) -> str | None:
        watch = [self.records.tasks.key(task_id), self.records.clock_tasks_key(clock_id)]
        return await self.records.transact(watch, body)

    async def _officer_of_case(self, case_id: str) -> str:
        """The case's responsible officer (承办人) as intake last assigned them; empty when
        unknown."""
        case = await self.records.case(case_id) if case_id else None
        return (case or {}).get("officer_id", "")

    async def _officer_of_task(self, task: Record) -> str:
        """The responsible officer, now, of the case a task is about."""
        case_id = task.get("case_id") or await self.records.case_of_subject(task["subject_id"])
        return await self._officer_of_case(case_id or "")

    async def _case_of_subject(self, subject_id: str) -> tuple[str, str]:
        """The case a clock's subject is or belongs to (for a petition, the first case it
        names)."""
        case_id = await self.records.case_of_subject(subject_id)
        case = await self.records.case(case_id) if case_id else None
        if case is not None:
            return case["case_id"], case.get("case_number", "")
        petition = await self.records.petitions.get(subject_id)
        if petition is not None and petition["case_ids"]:
            return petition["case_ids"][0], petition["case_numbers"][0]
        return "", ""


def _may_read_task(identity: Identity, task: Record) -> bool:
    return may_read(identity, task["court_code"]) or may_read(identity, task["breached_court"])
