"""终本 (终结本次执行): the acts the gate asks for, the proposal, the leader's ruling, its
service, the applicant's objection, and resumption (恢复执行) as a new 执恢 case.

The handling court's officer records the acts (visits, the applicant's interview,
obstructions, searches, fines and detentions) and proposes 终本; the gate
(``zhongben_domain.evaluate_gate``) must hold when he proposes and again when a leader of
the court, neither the handling officer nor the proposer, approves it (rule
zhongben.leader-approval). The ruling closes the case (CaseClosed, 终结本次执行) in the same
transaction. Every change and its events are written in one Redis transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.intake.domain import ClosureMethod
from services.intake.handlers import Intake
from services.intake.repository import CaseRecord, CaseStatus
from services.intake.zhongben_domain import (
    AFTER_RULING,
    DEBTOR_VISITED,
    GATE_RULES,
    LEADER_APPROVAL,
    SEARCH_PUNISHMENT,
    Condition,
    Obstruction,
    ObstructionKind,
    PunishmentKind,
    ResumptionCause,
    VisitKind,
    debtor_key,
    evaluate_gate,
    refusal_text,
    unmet,
)
from services.intake.zhongben_facts import gate_facts
from services.intake.zhongben_resumption import Resumed, Resumption
from zhixing.auth import Identity, Role, ScopeError, require_handling_court, require_role
from zhixing.clock import china_today
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.v1 import case_events_pb2 as cases

PROPOSED = "proposed"
RULED = "ruled"


class GateRefused(Conflict):
    """The 终本 gate does not hold: every unmet condition, by its rule id."""

    def __init__(self, failed: list[Condition]) -> None:
        super().__init__(refusal_text(failed))
        self.unmet_rules = [c.rule_id for c in failed]


@dataclass(frozen=True, slots=True)
class Act:
    """An act recorded towards the gate: its day and, if it concerns one, the debtor."""

    on: dt.date | None
    debtor_key: str | None = None


class Zhongben:
    """The 终本 handlers, over intake's handlers (its records, events and filing)."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.ctx = intake.ctx
        self.records = intake.records
        self.facts = intake.facts
        self.resumption = Resumption(intake)

    def _today(self) -> dt.date:
        return china_today(self.ctx.clock)

    def _stage(self, pipe: Pipeline, payload: Message, record: CaseRecord,
               identity: Identity) -> None:  # fmt: skip
        self.ctx.outbox.stage(
            pipe, self.intake.event(payload, record.case_id, record.court_code, identity)
        )

    async def _open_case(self, pipe: Pipeline, case_id: str, identity: Identity, role: Role,
                         rule: str) -> CaseRecord:  # fmt: skip
        """The case, refused unless it exists, ``identity`` has ``role`` in the court handling
        it, and it is filed and open (the refusal names ``rule``)."""
        record = await self.records.read(case_id, pipe)
        if record is None:
            raise NotFound(f"no case {case_id}")
        require_role(identity, role)
        require_handling_court(identity, record.court_code, f"case {case_id}")
        if record.status is not CaseStatus.FILED:
            raise Conflict(
                f"case {case_id} is {record.status.value}, not filed and open (rule {rule})"
            )
        return record

    # --- acts --------------------------------------------------------------------------------

    def _act_day(self, act: Act, record: CaseRecord, rule: str) -> dt.date:
        today = self._today()
        day = act.on or today
        if day > today:
            raise Invalid(f"on {day} is after today ({today}) (rule {rule})", loc=("body", "on"))
        filed_on = record.get("filed_on")
        if filed_on and day.isoformat() < filed_on:
            raise Invalid(
                f"on {day} is before the case was filed ({filed_on}) (rule {rule})",
                loc=("body", "on"),
            )
        if act.debtor_key is not None:
            assert record.filed is not None
            keys = [debtor_key(i) for i in range(len(record.filed.debtors))]
            if act.debtor_key not in keys:
                raise Invalid(
                    f"debtor_key {act.debtor_key!r} names no debtor of case {record.case_id} "
                    f"(its debtors: {', '.join(keys)}) (rule {rule})",
                    loc=("body", "debtor_key"),
                )
        return day

    async def _record_act(
        self, case_id: str, act: Act, identity: Identity, rule: str,
        record_fact: Callable[[Pipeline, dt.date], Message],
    ) -> None:  # fmt: skip
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> None:
            record = await self._open_case(pipe, case_id, identity, Role.OFFICER, rule)
            day = self._act_day(act, record, rule)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._stage(pipe, record_fact(pipe, day), record, identity)

        await self.records.transact([case_key], body)

    async def record_visit(self, case_id: str, act: Act, kind: VisitKind, result: str, *,
                           identity: Identity) -> None:  # fmt: skip
        """A debtor visited or summoned (约谈、传唤), with the result."""
        assert act.debtor_key is not None

        def fact(pipe: Pipeline, day: dt.date) -> Message:
            self.facts.visited(pipe, case_id, act.debtor_key or "", day)
            return cases.DebtorVisited(
                case_id=case_id, debtor_key=act.debtor_key, kind=kind.value, on=day.isoformat(),
                result=result, recorded_by=identity.subject,
            )  # fmt: skip

        await self._record_act(case_id, act, identity, DEBTOR_VISITED, fact)

    async def record_interview(self, case_id: str, act: Act, summary: str, *,
                               identity: Identity) -> None:  # fmt: skip
        """The applicant interviewed (约谈申请执行人)."""

        def fact(pipe: Pipeline, day: dt.date) -> Message:
            self.facts.interviewed(pipe, case_id, day)
            return cases.ApplicantInterviewed(
                case_id=case_id, on=day.isoformat(), summary=summary, recorded_by=identity.subject
            )

        await self._record_act(case_id, act, identity, "zhongben.applicant-interviewed", fact)

    async def record_obstruction(self, case_id: str, act: Act, kind: ObstructionKind,
                                 details: str, *, identity: Identity) -> str:  # fmt: skip
        """Concealment, or a breach of the report-assets order: a search, or a fine or
        detention, is then due before 终本. Returns the obstruction's id."""
        obstruction_id = str(uuid.uuid4())

        def fact(pipe: Pipeline, day: dt.date) -> Message:
            found = Obstruction(obstruction_id, act.debtor_key or "", kind, day)
            self.facts.obstruction(pipe, case_id, found)
            return cases.ObstructionFound(
                case_id=case_id, obstruction_id=obstruction_id, debtor_key=act.debtor_key,
                kind=kind.value, on=day.isoformat(), details=details,
                recorded_by=identity.subject,
            )  # fmt: skip

        await self._record_act(case_id, act, identity, SEARCH_PUNISHMENT, fact)
        return obstruction_id

    async def record_search(self, case_id: str, act: Act, result: str, *,
                            identity: Identity) -> None:  # fmt: skip
        """A search (搜查) of the debtor."""

        def fact(pipe: Pipeline, day: dt.date) -> Message:
            self.facts.searched(pipe, case_id, act.debtor_key or "", day)
            return cases.SearchConducted(
                case_id=case_id, debtor_key=act.debtor_key, on=day.isoformat(), result=result,
                recorded_by=identity.subject,
            )  # fmt: skip

        await self._record_act(case_id, act, identity, SEARCH_PUNISHMENT, fact)

    async def record_punishment(self, case_id: str, act: Act, kind: PunishmentKind,
                                decision_number: str, *, identity: Identity) -> None:  # fmt: skip
        """A fine or detention (罚款、拘留) imposed on the debtor."""

        def fact(pipe: Pipeline, day: dt.date) -> Message:
            self.facts.punished(pipe, case_id, act.debtor_key or "", day)
            return cases.PunishmentImposed(
                case_id=case_id, debtor_key=act.debtor_key, kind=kind.value,
                decision_number=decision_number, on=day.isoformat(),
                recorded_by=identity.subject,
            )  # fmt: skip

        await self._record_act(case_id, act, identity, SEARCH_PUNISHMENT, fact)

    # --- the gate ----------------------------------------------------------------------------

    async def _gate(self, client: Redis | Pipeline, record: CaseRecord) -> list[Condition]:
        today = self._today()
        raw = await self.facts.read(record.case_id, client)
        return evaluate_gate(gate_facts(record, raw, today), today)

    async def evaluation(self, record: CaseRecord) -> dict[str, object]:
        """The gate's evaluation today and the case's 终本 state (GET .../zhongben)."""
        view: dict[str, object] = {
            "case_id": record.case_id, "case_number": record.get("case_number"),
            "status": record.status.value,
        }  # fmt: skip
        gate = None
        if record.filed is not None:
            conditions = await self._gate(self.ctx.redis, record)
            gate = {"met": not unmet(conditions), "conditions": [c.as_dict() for c in conditions]}
        view["gate"] = gate
        view["zhongben"] = state_view(record)
        return view

    # --- proposal and ruling ---------------------------------------------------------------

    async def propose(self, case_id: str, reason: str, *, identity: Identity) -> None:
        """The officer proposes 终本: refused (GateRefused) unless every condition holds."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> None:
            record = await self._open_case(pipe, case_id, identity, Role.OFFICER, LEADER_APPROVAL)
            if record.get("zhongben") == PROPOSED:
                raise Conflict(
                    f"终本 of case {case_id} was proposed by {record.get('zhongben_proposed_by')} "
                    f"and awaits a leader's decision (rule {LEADER_APPROVAL})"
                )
            await self.intake.refuse_if_stopped(pipe, record, "proposing 终本")
            failed = unmet(await self._gate(pipe, record))
            if failed:
                raise GateRefused(failed)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(case_key, mapping={
                "zhongben": PROPOSED, "zhongben_proposed_by": identity.subject,
                "zhongben_reason": reason,
            })  # fmt: skip
            self._stage(pipe, cases.ZhongbenProposed(
                case_id=case_id, proposed_by=identity.subject, reason=reason,
            ), record, identity)  # fmt: skip

        await self.records.transact([case_key, self.facts.key(case_id)], body)

    async def decide(
        self, case_id: str, *, approve: bool, reason: str, ruling_number: str | None,
        identity: Identity,
    ) -> str:  # fmt: skip
        """A leader approves (ZhongbenRuled, then CaseClosed) or refuses (ZhongbenRefused) the
        proposal. If the gate no longer holds, the proposal is refused with the unmet rules
        and GateRefused raised. Returns the case's status."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> list[Condition]:
            record = await self._open_case(pipe, case_id, identity, Role.LEADER, LEADER_APPROVAL)
            if record.get("zhongben") != PROPOSED:
                raise Conflict(
                    f"case {case_id} has no 终本 proposal awaiting a decision "
                    f"(rule {LEADER_APPROVAL})"
                )
            _require_not_involved(identity, record, ("officer_id", "zhongben_proposed_by"))
            if approve and not ruling_number:
                raise Invalid(
                    f"approving 终本 needs the ruling's number (rule {LEADER_APPROVAL})",
                    loc=("body", "ruling_number"),
                )
            if approve:  # refusing a proposal ends nothing: it stays open under a stop
                await self.intake.refuse_if_stopped(pipe, record, "ruling 终本")
            failed = unmet(await self._gate(pipe, record)) if approve else []
            pipe.multi()  # type: ignore[no-untyped-call]
            if not approve or failed:
                pipe.hdel(case_key, "zhongben", "zhongben_proposed_by", "zhongben_reason")
                self._stage(pipe, cases.ZhongbenRefused(
                    case_id=case_id, refused_by=identity.subject, reason=reason,
                    unmet_rules=[c.rule_id for c in failed],
                ), record, identity)  # fmt: skip
                return failed
            today = self._today().isoformat()
            pipe.hset(case_key, mapping={
                "status": CaseStatus.CLOSED.value,
                "closed_method": ClosureMethod.ENDED_THIS_ROUND.value, "closed_on": today,
                "zhongben": RULED, "zhongben_ruled_on": today,
                "zhongben_ruling_number": ruling_number or "",
                "zhongben_approved_by": identity.subject,
            })  # fmt: skip
            self._stage(pipe, cases.ZhongbenRuled(
                case_id=case_id, ruling_number=ruling_number, ruled_on=today,
                proposed_by=record.get("zhongben_proposed_by"), approved_by=identity.subject,
                checked_rules=GATE_RULES, case_number=record.get("case_number"),
            ), record, identity)  # fmt: skip
            self._stage(pipe, cases.CaseClosed(
                case_id=case_id, method=ClosureMethod.ENDED_THIS_ROUND.value, closed_on=today,
            ), record, identity)  # fmt: skip
            return []

        failed = await self.records.transact([case_key, self.facts.key(case_id)], body)
        if failed:
            raise GateRefused(failed)
        return CaseStatus.CLOSED.value if approve else CaseStatus.FILED.value

    # --- after the ruling ------------------------------------------------------------------

    async def _ruled(self, pipe: Pipeline, case_id: str, identity: Identity,
                     *roles: Role) -> CaseRecord:  # fmt: skip
        """The case, refused unless it was closed by a 终本 ruling and not resumed since."""
        record = await self.records.read(case_id, pipe)
        if record is None:
            raise NotFound(f"no case {case_id}")
        require_role(identity, *roles)
        require_handling_court(identity, record.court_code, f"case {case_id}")
        if record.get("zhongben") != RULED:
            raise Conflict(f"case {case_id} was not closed by a 终本 ruling (rule {AFTER_RULING})")
        if record.get("resumed_as"):
            raise Conflict(
                f"case {case_id} was resumed as {record.get('resumed_as_number')} on "
                f"{record.get('resumed_on')}: its 终本 has ended (rule {AFTER_RULING})"
            )
        return record

    async def serve_ruling(self, case_id: str, *, identity: Identity) -> str:
        """The 终本 ruling served on the parties. Returns the day."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> str:
            record = await self._ruled(pipe, case_id, identity, Role.CLERK, Role.OFFICER)
            if record.get("zhongben_served_on"):
                raise Conflict(
                    f"the 终本 ruling of case {case_id} was served on "
                    f"{record.get('zhongben_served_on')} (rule {AFTER_RULING})"
                )
            today = self._today().isoformat()
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(case_key, "zhongben_served_on", today)
            self._stage(pipe, cases.ZhongbenRulingServed(case_id=case_id, served_on=today),
                        record, identity)  # fmt: skip
            return today

        return await self.records.transact([case_key], body)

    async def object(self, case_id: str, grounds: str, received_on: dt.date | None, *,
                     identity: Identity) -> str:  # fmt: skip
        """The applicant's objection to the 终本 (执行异议), received by the court. Returns
        the objection's id."""
        case_key = self.records.case_key(case_id)
        objection_id = str(uuid.uuid4())

        async def body(pipe: Pipeline) -> str:
            record = await self._ruled(pipe, case_id, identity, Role.CLERK, Role.OFFICER)
            today = self._today()
            received = received_on or today
            ruled_on = dt.date.fromisoformat(record.get("zhongben_ruled_on"))
            if not ruled_on <= received <= today:
                raise Invalid(
                    f"received_on {received} is not between the ruling ({ruled_on}) and today "
                    f"({today}) (rule {AFTER_RULING})",
                    loc=("body", "received_on"),
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(case_key, f"objection:{objection_id}", json.dumps({
                "objection_id": objection_id, "grounds": grounds,
                "received_on": received.isoformat(), "recorded_by": identity.subject,
            }, ensure_ascii=False))  # fmt: skip
            self._stage(pipe, cases.ZhongbenObjected(
                case_id=case_id, objection_id=objection_id, grounds=grounds,
                received_on=received.isoformat(), recorded_by=identity.subject,
            ), record, identity)  # fmt: skip
            return objection_id

        return await self.records.transact([case_key], body)

    async def decide_objection(
        self, case_id: str, objection_id: str, *, upheld: bool, reason: str, identity: Identity
    ) -> Resumed | None:
        """A leader (not the handling officer) decides the objection; upheld, the ruling is
        revoked and the case resumes as a 执恢 case (returned)."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> Resumed | None:
            record = await self._ruled(pipe, case_id, identity, Role.LEADER)
            raw = record.get(f"objection:{objection_id}")
            if not raw:
                raise NotFound(f"case {case_id} has no objection {objection_id}")
            objection = json.loads(raw)
            if "upheld" in objection:
                raise Conflict(
                    f"objection {objection_id} was decided by {objection['decided_by']} "
                    f"(rule {AFTER_RULING})"
                )
            # Nor who approved the ruling objected to: no one reviews their own decision.
            _require_not_involved(identity, record, ("officer_id", "zhongben_approved_by"))
            resumed = None
            if upheld:
                resumed = await self.resumption.prepare(
                    pipe, record, identity, act="upholding the objection"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            objection.update(upheld=upheld, reason=reason, decided_by=identity.subject)
            pipe.hset(case_key, f"objection:{objection_id}",
                      json.dumps(objection, ensure_ascii=False))  # fmt: skip
            self._stage(pipe, cases.ZhongbenObjectionDecided(
                case_id=case_id, objection_id=objection_id, upheld="yes" if upheld else "no",
                reason=reason, decided_by=identity.subject,
            ), record, identity)  # fmt: skip
            if resumed is not None:
                pipe.hset(case_key, "zhongben_revoked", objection_id)
                self._stage(pipe, cases.ZhongbenRevoked(
                    case_id=case_id, reason=reason, objection_id=objection_id,
                ), record, identity)  # fmt: skip
                self.resumption.write(pipe, record, resumed, ResumptionCause.OBJECTION_UPHELD,
                                      reason, identity)  # fmt: skip
            return resumed.answer if resumed else None

        return await self.resumption.transact(case_id, body)

    async def resume(
        self, case_id: str, cause: ResumptionCause, reason: str, *, identity: Identity,
        claim_amount_fen: int | None = None,
    ) -> Resumed:  # fmt: skip
        """Resume enforcement (恢复执行): file the 执恢 case, for ``claim_amount_fen`` (what
        is still unperformed; by default the claim less what was paid out or lodged: the
        resumption's ``prepare``); ExecutionResumed on this one."""

        async def body(pipe: Pipeline) -> Resumed:
            record = await self._ruled(pipe, case_id, identity, Role.CLERK, Role.OFFICER)
            resumed = await self.resumption.prepare(pipe, record, identity, claim_amount_fen)
            pipe.multi()  # type: ignore[no-untyped-call]
            self.resumption.write(pipe, record, resumed, cause, reason, identity)
            return resumed.answer

        return await self.resumption.transact(case_id, body)


_INVOLVEMENT = {
    "officer_id": "the case's officer",
    "zhongben_proposed_by": "who proposed ending this round",
    "zhongben_approved_by": "who approved the ruling objected to",
}


def _require_not_involved(identity: Identity, record: CaseRecord, roles: tuple[str, ...]) -> None:
    """Who decides is not who handles, proposed or ruled (四不批, rule
    zhongben.leader-approval)."""
    for field in roles:
        if record.get(field) and identity.subject == record.get(field):
            raise ScopeError(
                f"{identity.subject} is {_INVOLVEMENT[field]}; another leader decides "
                f"(rule {LEADER_APPROVAL})"
            )


def state_view(record: CaseRecord) -> dict[str, object]:
    """The case's 终本 state: proposal, ruling, service, objections, resumption."""
    fields = record.fields
    objections = [json.loads(v) for k, v in sorted(fields.items()) if k.startswith("objection:")]
    state: dict[str, object] = {"state": record.get("zhongben") or "none",
                                "objections": objections}  # fmt: skip
    for shown, name in (
        ("proposed_by", "zhongben_proposed_by"), ("reason", "zhongben_reason"),
        ("ruled_on", "zhongben_ruled_on"), ("ruling_number", "zhongben_ruling_number"),
        ("approved_by", "zhongben_approved_by"), ("served_on", "zhongben_served_on"),
        ("revoked_by_objection", "zhongben_revoked"), ("resumed_as", "resumed_as"),
        ("resumed_as_number", "resumed_as_number"), ("resumed_on", "resumed_on"),
        ("resumption_cause", "resumption_cause"),
    ):  # fmt: skip
        if record.get(name):
            state[shown] = record.get(name)
    if record.filed is not None and record.filed.resumed_from_case_id:
        state["resumed_from"] = record.filed.resumed_from_case_id
        state["resumed_from_number"] = record.filed.resumed_from_case_number
    return state
