"""Command actions (统一指挥, ¶26–28): an intermediate court's command centre orders a court
of its jurisdiction about one of its cases, and the order is recorded, audited (every event
enters the audit chain) and delivered as an event the receiving court must acknowledge on
a clock (``command.acknowledge``).

This module covers 督办 (urge: a reply within the days the order sets, no reply escalates)
and 函告纠正 / 裁定纠正 (a letter asking the court to correct an act itself, or a direct
correcting ruling; either may be met with a request for reconsideration within 5 days,
执行规定 art 72). The records are kept by ``repository.ActionRecords``; the vocabulary and
the pure checks are in ``domain``.
"""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.command.domain import (
    DESIGNATION_MUST_SPEED,
    MOVES,
    RECONSIDERABLE,
    REPLY_RULES,
    Action,
    command_centre,
    of_jurisdiction,
    visible_to,
)
from services.command.projections import NODE_RECEIVED, CaseOverviews
from services.command.repository import ActionRecords
from zhixing.auth import Identity, Role, ScopeError, require_role
from zhixing.closures import refuse_if_closed
from zhixing.courts import covers
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.paging import DEFAULT_PAGE, Page, by_fields, page
from zhixing.persons import id_number_text
from zhixing.records import log_act
from zhixing.rules import catalogue
from zhixing.service import ServiceContext
from zhixing.v1 import case_events_pb2
from zhixing.v1 import command_events_pb2 as pb


class CommandActions:
    def __init__(self, ctx: ServiceContext, overviews: CaseOverviews) -> None:
        self.ctx = ctx
        self.overviews = overviews
        self.records = ActionRecords(ctx.redis, ctx.keys)

    async def get(self, command_id: str) -> dict[str, Any] | None:
        return await self.records.get(command_id)

    async def list_for(
        self, identity: Identity, *, limit: int = DEFAULT_PAGE, after: str | None = None
    ) -> Page[dict[str, Any]]:
        """A page of the command actions the identity may read (its court's and its
        jurisdiction's), newest first."""
        found = [r for r in await self.records.in_jurisdiction(identity.court_code)
                 if visible_to(identity, r)]  # fmt: skip
        newest_first = by_fields("issued_at", "command_id")
        return page(found, newest_first, limit=limit, after=after, descending=True)

    def _stage(self, pipe: Pipeline, payload: Message, command_id: str, court: str,
               identity: Identity) -> None:  # fmt: skip
        self.ctx.stage(pipe, payload, aggregate_id=command_id, court_code=court,
                       actor=identity.as_actor())  # fmt: skip

    def _log(self, record: dict[str, Any], act: str, identity: Identity, **extra: Any) -> None:
        log_act(record, self.ctx.clock, act, identity, **extra)

    async def issue(
        self, *, identity: Identity, action: Action, case_id: str, instruction: str,
        reply_working_days: int | None, to_court: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        command_centre(identity)
        if action in (Action.CONSOLIDATE, Action.CROSS, Action.LEND_OFFICERS):
            raise Invalid(f"a {action.value} has its own request", loc=("body", "action"))
        case, closure = await self.overviews.read(case_id)
        if case is None or not covers(identity.court_code, case.court_code):
            raise NotFound(f"no case {case_id} in your jurisdiction")
        if case.node == NODE_RECEIVED and action is not Action.URGE:
            raise Conflict(f"{case_id} is an application not yet docketed: it may be urged "
                           f"(督办) to be docketed, not {action.value}")  # fmt: skip
        target = case.court_code
        if target == identity.court_code:
            raise Conflict(f"case {case_id} is {target}'s own: command actions go to lower courts")
        reply_rule = REPLY_RULES.get(action)
        if reply_rule is not None:
            most = catalogue().rule(reply_rule).limit or 0
            if reply_working_days is None:
                raise Invalid("an order that asks for a reply sets reply_working_days",
                              loc=("body", "reply_working_days"))  # fmt: skip
            if not 1 <= reply_working_days <= most:
                raise Invalid(
                    f"reply_working_days must be 1 to {most} ({reply_rule}), "
                    f"not {reply_working_days}",
                    loc=("body", "reply_working_days"),
                )
        elif reply_working_days is not None:
            raise Invalid(f"a {action.value} asks for no reply", loc=("body", "reply_working_days"))
        if action is Action.URGE:
            # A closed case has nothing left to speed up (its clocks stopped): an urge would
            # open clocks no one could clear and tell the parties it is being hurried. A
            # correction stays open to it (a wrongful closure is corrected).
            refuse_if_closed(closure, case_id, f"a {action.value} (督办)")
        destination = await self._destination(identity, action, case_id, target, closure, to_court)
        command_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "command_id": command_id,
            "action": action.value,
            "case_id": case_id,
            "issuing_court": identity.court_code,
            "target_court": target,
            "instruction": instruction,
            "reply_working_days": reply_working_days,
            "to_court": destination,
            "reconsiderable": action in RECONSIDERABLE,
            "status": "issued",
            "acknowledged": False,
            "reconsideration_closed": False,
            "issued_by": identity.subject,
            "issued_at": self.ctx.clock.now().isoformat(),
            "history": [],
        }
        issued = pb.CommandIssued(
            command_id=command_id, action=action.value, case_id=case_id,
            issuing_court=identity.court_code, target_court=target, instruction=instruction,
            reply_working_days=reply_working_days or 0,
            reconsiderable="yes" if action in RECONSIDERABLE else "no",
            observer_courts=[identity.court_code, target], issued_by=identity.subject,
        )  # fmt: skip

        async def body(pipe: Pipeline) -> dict[str, Any]:
            pipe.multi()  # type: ignore[no-untyped-call]
            self._log(record, "issued", identity)
            self.records.add(pipe, command_id, record, [identity.court_code, target])
            self._stage(pipe, issued, command_id, target, identity)
            if destination is not None:
                self._move(pipe, case_id, target, destination, action.value, command_id,
                           instruction, identity)  # fmt: skip
            return record

        result: dict[str, Any] = await self.records.transact([], body)
        return result

    # --- one debtor's cases: consolidation and cross execution (¶26) ---------------------------

    async def proposals(self, identity: Identity) -> list[dict[str, Any]]:
        """Debtors with cases in several courts of the jurisdiction, found by their ID or
        credit code, each with the court that holds most of them as the suggestion."""
        require_role(identity, Role.COMMAND, Role.OVERSEER)
        found = []
        for debtor in await self.overviews.debtors_with_several_cases():
            cases = [{"case_id": case_id, "court_code": court}
                     for case_id, court in await self._open_cases_of(identity, debtor)]  # fmt: skip
            courts = sorted({c["court_code"] for c in cases})
            if len(courts) < 2:
                continue
            counts = {court: sum(c["court_code"] == court for c in cases) for court in courts}
            suggested = max(courts, key=lambda court: (counts[court], [-ord(ch) for ch in court]))
            found.append({"debtor_id": debtor, "cases": cases, "courts": courts,
                          "suggested_court": suggested})  # fmt: skip
        return found

    async def bring_together(
        self, *, identity: Identity, action: Action, debtor_id: str, to_court: str,
        instruction: str,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Consolidate (集中执行) or cross-execute (交叉执行) one debtor's open cases: each case
        not already there moves to ``to_court``, one command per case, in one transaction."""
        command_centre(identity)
        of_jurisdiction(identity, to_court, "to_court")
        debtor_id = id_number_text(debtor_id)  # as the debtors' index keeps them
        cases = await self._open_cases_of(identity, debtor_id)
        if len({court for _, court in cases}) < 2 and action is Action.CONSOLIDATE:
            raise Conflict(f"debtor {debtor_id} has no open cases in several courts of the "
                           "jurisdiction (a closed case is not moved)")  # fmt: skip
        if action is Action.CROSS and any(court == to_court for _, court in cases):
            raise Conflict(f"cross execution takes the cases to a court other than their own; "
                           f"{to_court} holds some of them")  # fmt: skip
        moving = [(case_id, court) for case_id, court in cases if court != to_court]
        if not moving:
            raise Conflict(f"every case of debtor {debtor_id} is at {to_court} already")
        records = []

        async def body(pipe: Pipeline) -> list[dict[str, Any]]:
            pipe.multi()  # type: ignore[no-untyped-call]
            for case_id, court in moving:
                command_id = str(uuid.uuid4())
                record: dict[str, Any] = {
                    "command_id": command_id, "action": action.value, "case_id": case_id,
                    "issuing_court": identity.court_code, "target_court": court,
                    "instruction": instruction, "reply_working_days": None,
                    "to_court": to_court, "debtor_id": debtor_id, "reconsiderable": True,
                    "status": "issued", "acknowledged": False, "reconsideration_closed": False,
                    "issued_by": identity.subject,
                    "issued_at": self.ctx.clock.now().isoformat(), "history": [],
                }  # fmt: skip
                self._log(record, "issued", identity)
                self.records.add(pipe, command_id, record, (identity.court_code, court, to_court))
                issued = pb.CommandIssued(
                    command_id=command_id, action=action.value, case_id=case_id,
                    issuing_court=identity.court_code, target_court=court,
                    instruction=instruction, reconsiderable="yes",
                    observer_courts=[identity.court_code, court, to_court],
                    issued_by=identity.subject, debtor_id=debtor_id,
                )  # fmt: skip
                self._stage(pipe, issued, command_id, court, identity)
                self._move(pipe, case_id, court, to_court, action.value, command_id,
                           instruction, identity)  # fmt: skip
                records.append(record)
            return records

        result: list[dict[str, Any]] = await self.records.transact([], body)
        return result

    async def _open_cases_of(self, identity: Identity, debtor_id: str) -> list[tuple[str, str]]:
        """The debtor's cases in ``identity``'s jurisdiction, with their courts, that are not
        closed: a closed case is not brought together with the others (nothing is left to
        enforce in it, and the move would take its history to a court with no part in it)."""
        cases = []
        for case_id in await self.overviews.cases_of_debtor(debtor_id):
            case, closure = await self.overviews.read(case_id)
            if case is not None and covers(identity.court_code, case.court_code) and not closure:
                cases.append((case_id, case.court_code))
        return cases

    async def lend_officers(
        self, *, identity: Identity, from_court: str, to_court: str, officers: list[str],
        instruction: str,
    ) -> dict[str, Any]:  # fmt: skip
        """调配力量: officers of one court lent to another for a joint operation; the lending
        court acknowledges on the acknowledgement clock."""
        command_centre(identity)
        of_jurisdiction(identity, from_court, "from_court")
        of_jurisdiction(identity, to_court, "to_court")
        if from_court == to_court:
            raise Invalid("officers are lent to another court", loc=("body", "to_court"))
        command_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "command_id": command_id, "action": Action.LEND_OFFICERS.value, "case_id": "",
            "issuing_court": identity.court_code, "target_court": from_court,
            "lend_to_court": to_court, "officers": officers, "instruction": instruction,
            "reply_working_days": None, "to_court": None, "reconsiderable": False,
            "status": "issued", "acknowledged": False, "reconsideration_closed": False,
            "issued_by": identity.subject, "issued_at": self.ctx.clock.now().isoformat(),
            "history": [],
        }  # fmt: skip
        issued = pb.CommandIssued(
            command_id=command_id, action=Action.LEND_OFFICERS.value,
            issuing_court=identity.court_code, target_court=from_court, instruction=instruction,
            reconsiderable="no", observer_courts=[identity.court_code, from_court, to_court],
            issued_by=identity.subject, officers=officers, lend_to_court=to_court,
        )  # fmt: skip

        async def body(pipe: Pipeline) -> dict[str, Any]:
            pipe.multi()  # type: ignore[no-untyped-call]
            self._log(record, "issued", identity)
            self.records.add(pipe, command_id, record, (identity.court_code, from_court, to_court))
            self._stage(pipe, issued, command_id, from_court, identity)
            return record

        result: dict[str, Any] = await self.records.transact([], body)
        return result

    async def _destination(
        self, identity: Identity, action: Action, case_id: str, current: str,
        closure: dict[str, str], to_court: str | None,
    ) -> str | None:  # fmt: skip
        """Where an elevation or designation moves the case; refused where ¶28 forbids."""
        if action not in MOVES:
            if to_court is not None:
                raise Invalid(f"a {action.value} moves no case", loc=("body", "to_court"))
            return None
        # A closed case has nothing left to enforce faster: moving it would only move its
        # history (its breaches) to a court that had no part in it.
        refuse_if_closed(closure, case_id, f"a {action.value}")
        if action is Action.ELEVATE:
            if to_court not in (None, identity.court_code):
                raise Invalid("an elevation moves the case to the issuing court",
                              loc=("body", "to_court"))  # fmt: skip
            return identity.court_code
        if to_court is None:
            raise Invalid("a designation names the court that takes the case",
                          loc=("body", "to_court"))  # fmt: skip
        of_jurisdiction(identity, to_court, "to_court")
        if to_court == identity.court_code:
            raise Invalid("taking the case to the issuing court is an elevation (elevate)",
                          loc=("body", "to_court"))  # fmt: skip
        if to_court == current:
            raise Conflict(f"case {case_id} is already handled by {to_court}")
        if to_court in await self.overviews.passive_courts(case_id):
            raise Conflict(
                f"case {case_id} was taken away from {to_court} for passive enforcement: "
                f"designating it back would delay enforcement (rule {DESIGNATION_MUST_SPEED})"
            )
        return to_court

    def _move(
        self, pipe: Pipeline, case_id: str, from_court: str, to_court: str, kind: str,
        command_id: str, reason: str, identity: Identity,
    ) -> None:  # fmt: skip
        """The case changes hands; every service follows the event. Its clocks keep
        running where they are: nothing restarts to the applicant's harm (¶28)."""
        moved = case_events_pb2.CaseHandlingCourtChanged(
            case_id=case_id, from_court=from_court, to_court=to_court, kind=kind,
            command_id=command_id, reason=reason,
        )  # fmt: skip
        self.ctx.stage(pipe, moved, aggregate_id=case_id, court_code=to_court,
                       actor=identity.as_actor())  # fmt: skip

    async def _act(self, command_id: str, identity: Identity, act: Any) -> dict[str, Any]:
        async def act_and_show(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            await act(pipe, record)
            return record

        return await self.records.change(
            command_id,
            act_and_show,
            visible=lambda record: visible_to(identity, record),
            missing=f"no command {command_id} in your jurisdiction",
        )

    def _receiver(self, identity: Identity, record: dict[str, Any]) -> None:
        require_role(identity, Role.OFFICER, Role.LEADER)
        if identity.court_code != record["target_court"]:
            raise ScopeError(f"only {record['target_court']}, which received it, answers it")

    async def acknowledge(self, command_id: str, *, identity: Identity) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._receiver(identity, record)
            if record["acknowledged"]:
                raise Conflict(f"command {command_id} was acknowledged already")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["acknowledged"] = True
            self._log(record, "acknowledged", identity)
            ack = pb.CommandAcknowledged(command_id=command_id, court_code=identity.court_code,
                                         acknowledged_by=identity.subject)  # fmt: skip
            self._stage(pipe, ack, command_id, record["issuing_court"], identity)

        return await self._act(command_id, identity, act)

    async def reply(self, command_id: str, text: str, *, identity: Identity) -> dict[str, Any]:
        """The reply an urge asks for, or the report of a correction the court made itself."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._receiver(identity, record)
            action = Action(record["action"])
            if action not in REPLY_RULES:
                raise Conflict(f"a {action.value} asks for no reply")
            if record["status"] != "issued":
                raise Conflict(f"command {command_id} is {record['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status="answered", reply=text)
            self._log(record, "replied", identity)
            message: Message = (
                pb.UrgeReplied(command_id=command_id, court_code=identity.court_code, reply=text)
                if action is Action.URGE
                else pb.CorrectionReported(command_id=command_id, court_code=identity.court_code,
                                           report=text)
            )  # fmt: skip
            self._stage(pipe, message, command_id, record["issuing_court"], identity)

        return await self._act(command_id, identity, act)

    async def request_reconsideration(
        self, command_id: str, reason: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._receiver(identity, record)
            if not record["reconsiderable"]:
                raise Conflict(f"a {record['action']} is not open to reconsideration")
            if record["reconsideration_closed"]:
                raise Conflict(
                    "the period to ask for reconsideration, "
                    f"{catalogue().period_text('command.reconsideration')}, has passed: it stands"
                )
            if record["status"] != "issued":
                raise Conflict(f"command {command_id} is {record['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status="reconsideration_requested", reconsideration_closed=True)
            self._log(record, "reconsideration_requested", identity, reason=reason)
            asked = pb.CommandReconsiderationRequested(
                command_id=command_id, court_code=identity.court_code, reason=reason
            )
            self._stage(pipe, asked, command_id, record["issuing_court"], identity)

        return await self._act(command_id, identity, act)

    async def answer_reconsideration(
        self, command_id: str, answer: str, upheld: bool, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            require_role(identity, Role.COMMAND)
            if identity.court_code != record["issuing_court"]:
                raise ScopeError(f"only {record['issuing_court']}, which issued it, answers")
            if record["status"] != "reconsideration_requested":
                raise Conflict(f"command {command_id} is {record['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["status"] = "issued" if upheld else "withdrawn"
            if not upheld and record.get("to_court"):  # the move is undone
                self._move(pipe, record["case_id"], record["to_court"], record["target_court"],
                           "reconsidered", command_id, answer, identity)  # fmt: skip
            self._log(record, "reconsideration_answered", identity, answer=answer, upheld=upheld)
            answered = pb.CommandReconsiderationAnswered(
                command_id=command_id, answer=answer, upheld=upheld
            )
            self._stage(pipe, answered, command_id, record["target_court"], identity)

        return await self._act(command_id, identity, act)

    async def close_reconsideration(self, command_id: str) -> None:
        """The reconsideration period ran out (the deadline engine's breach): the
        instruction stands."""
        await self.records.set_once(command_id, "reconsideration_closed", True)
