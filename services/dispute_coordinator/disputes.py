"""Enforcement disputes (执行争议协调, ¶27; 执行规定 arts 67–72).

Between courts: the courts negotiate; if that fails the dispute goes up level by level,
each court between a party and the common superior forwarding it with its opinion; the
common superior issues a binding plan within 1 month (and may order disputed money into
an account); each party court implements it within 15 working days or asks for
reconsideration within 5 days. Conflicting instruments over one relationship stop
enforcement in every court at once, until lifted.

Between a court and an agency: negotiation, then a written report to the same-level
政法委; where the superior court must coordinate with the departments, the court reports
to it within 5 working days and it starts within 10.

Coordination pauses the affected cases' closing clocks (DisputeCoordinationStarted/Ended).
Records: JSON at ``dispute_coordinator:dispute:<id>``; an index per court and per agency.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from zhixing.auth import Identity, Role, ScopeError, may_read, require_role
from zhixing.courts import CourtDirectory, UnknownCourtCode
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.known_cases import KnownCases
from zhixing.records import JsonRecords, ids_in_jurisdiction, log_act
from zhixing.rules import catalogue
from zhixing.service import ServiceContext
from zhixing.state import as_text, transact
from zhixing.v1 import dispute_events_pb2 as pb


class AgencyKind(StrEnum):
    PROCURATORATE = "procuratorate"  # 检察院
    POLICE = "police"  # 公安
    TAX = "tax"  # 税务
    CUSTOMS = "customs"  # 海关
    NATURAL_RESOURCES = "natural_resources"  # 自然资源
    FINANCE = "finance"  # 金融
    MARKET_REGULATION = "market_regulation"  # 市场监管


class Status(StrEnum):
    NEGOTIATING = "negotiating"
    SETTLED = "settled"
    FAILED = "negotiation_failed"
    ESCALATING = "escalating"
    REFERRED = "referred"  # at the common superior
    PLANNED = "planned"
    CLOSED = "closed"  # every court implemented
    REPORTED = "reported_to_superior"  # court vs agency
    DEPARTMENTS = "department_coordination"


PARTY_ROLES = (Role.COORDINATOR, Role.OFFICER)
SUPERIOR_ROLES = (Role.COORDINATOR, Role.COMMAND, Role.LEADER)


class Disputes:
    def __init__(self, ctx: ServiceContext, courts: CourtDirectory, known: KnownCases) -> None:
        self.ctx = ctx
        self.courts = courts
        self.known = known
        self.records = JsonRecords(ctx.redis, ctx.keys, "dispute")

    # --- records -----------------------------------------------------------------------------

    def index(self, party: str) -> str:
        return self.ctx.keys.key("party", party)

    async def get(self, dispute_id: str) -> dict[str, Any] | None:
        return await self.records.get(dispute_id)

    def involved(self, record: dict[str, Any]) -> list[str]:
        """Every court that takes part: the parties, the forwarders, the common superior."""
        courts = list(record["courts"])
        escalation = record.get("escalation")
        if escalation:
            for branch in escalation["branches"]:
                courts += branch["forwarders"]
            courts.append(escalation["common_superior"])
        if record.get("superior_court"):
            courts.append(record["superior_court"])
        return list(dict.fromkeys(courts))

    def visible_to(self, identity: Identity, record: dict[str, Any]) -> bool:
        """Courts involved and the courts above them; an agency its own disputes only."""
        if identity.role is Role.AGENCY:
            return bool(record.get("agency", {}).get("id") == identity.subject)
        return any(may_read(identity, court) for court in self.involved(record))

    async def list_for(self, identity: Identity) -> list[dict[str, Any]]:
        """Every dispute the identity may read: an agency's own; a court's, and for a court
        above, those of every court below it (the common superior sees what it coordinates)."""
        if identity.role is Role.AGENCY:
            ids = sorted(
                as_text(i) for i in await self.ctx.redis.smembers(self.index(identity.subject))
            )
        else:
            ids = await ids_in_jurisdiction(self.ctx.redis, self.index, identity.court_code)
        return [r for r in await self.records.many(ids) if self.visible_to(identity, r)]

    def _stage(
        self, pipe: Pipeline, payload: Message, aggregate_id: str, court: str,
        identity: Identity,
    ) -> None:  # fmt: skip
        self.ctx.stage(pipe, payload, aggregate_id=aggregate_id, court_code=court,
                       actor=identity.as_actor())  # fmt: skip

    def _log(self, record: dict[str, Any], act: str, identity: Identity, **extra: Any) -> None:
        log_act(record, self.ctx.clock, act, identity, **extra)

    # --- opening -------------------------------------------------------------------------------

    async def open(
        self, *, identity: Identity, courts: Sequence[str], agency: dict[str, str] | None,
        subject: str, asset_key: str, case_ids: Sequence[str], case_numbers: Sequence[str],
        instruments: Sequence[dict[str, str]], positions: Sequence[dict[str, str]],
        documents: Sequence[str],
    ) -> dict[str, Any]:  # fmt: skip
        require_role(identity, *PARTY_ROLES)
        courts = list(dict.fromkeys(courts))
        for index, court in enumerate(courts):
            try:
                self.courts.lookup(court)
            except UnknownCourtCode as exc:
                raise Invalid(str(exc), loc=("body", "courts", index)) from None
        if agency is None and len(courts) < 2:
            raise Invalid(
                "a dispute between courts names two or more courts", loc=("body", "courts")
            )
        if agency is not None and len(courts) != 1:
            raise Invalid(
                "a dispute with an agency names the one court in it", loc=("body", "courts")
            )
        if identity.court_code not in courts:
            raise ScopeError(f"{identity.court_code} is not a party to this dispute")
        for index, case_id in enumerate(case_ids):
            case = await self.known.get(case_id)
            if case is None or case["court_code"] not in courts:
                raise Invalid(
                    f"case {case_id} is not a case of {', '.join(courts)}",
                    loc=("body", "case_ids", index),
                )
        for index, instrument in enumerate(instruments):
            if instrument["court_code"] not in courts:
                raise Invalid(
                    f"instrument of {instrument['court_code']}: not a party court",
                    loc=("body", "conflicting_instruments", index, "court_code"),
                )
        dispute_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "dispute_id": dispute_id,
            "kind": "agency" if agency else "courts",
            "courts": courts,
            "agency": agency or {},
            "subject": subject,
            "asset_key": asset_key,
            "case_ids": list(case_ids),
            "case_numbers": list(case_numbers),
            "conflicting_instruments": list(instruments),
            "positions": list(positions),
            "documents": list(documents),
            "status": Status.NEGOTIATING.value,
            "stops": {},
            "negotiation": [],
            "history": [],
            "opened_at": self.ctx.clock.now().isoformat(),
        }
        opened = pb.DisputeOpened(
            dispute_id=dispute_id, kind=record["kind"], courts=courts,
            agency_kind=(agency or {}).get("kind", ""), agency_name=(agency or {}).get("name", ""),
            agency_id=(agency or {}).get("id", ""), subject=subject, asset_key=asset_key,
            case_ids=list(case_ids), case_numbers=list(case_numbers),
            conflicting_instruments=[pb.ConflictingInstrument(**i) for i in instruments],
            positions=[pb.Position(**p) for p in positions], documents=list(documents),
            observer_courts=courts, opened_by=identity.subject,
        )  # fmt: skip
        cases = {case_id: (await self.known.get(case_id) or {}) for case_id in case_ids}

        async def body(pipe: Pipeline) -> dict[str, Any]:
            pipe.multi()  # type: ignore[no-untyped-call]
            self._log(record, "opened", identity)
            self._stage(pipe, opened, dispute_id, identity.court_code, identity)
            if instruments:  # 执行规定 art 68: every court stops at once
                for court in courts:
                    record["stops"][court] = "stopped"
                    stop = pb.EnforcementStopOrdered(
                        dispute_id=dispute_id, court_code=court,
                        case_ids=[c for c, k in cases.items() if k.get("court_code") == court],
                        reason="对同一法律关系的执行文书冲突，立即停止执行",
                    )  # fmt: skip
                    self._stage(pipe, stop, dispute_id, court, identity)
            for case_id, case in cases.items():
                started = pb.DisputeCoordinationStarted(case_id=case_id, dispute_id=dispute_id)
                self._stage(pipe, started, case_id, case["court_code"], identity)
            self.records.put(pipe, dispute_id, record)
            for party in [*courts, *([agency["id"]] if agency else [])]:
                pipe.sadd(self.index(party), dispute_id)
            return record

        result: dict[str, Any] = await transact(self.ctx.redis, [], body)
        return result

    # --- acting on a dispute ---------------------------------------------------------------------

    async def _act(self, dispute_id: str, identity: Identity, act: Any) -> Any:
        return await self.records.change(
            dispute_id,
            act,
            visible=lambda record: self.visible_to(identity, record),
            missing=f"no dispute {dispute_id} in your jurisdiction",
        )

    def _party(self, identity: Identity, record: dict[str, Any]) -> str:
        """The party ``identity`` speaks for: its court, or its agency."""
        if identity.role is Role.AGENCY:
            return str(record["agency"]["id"])
        require_role(identity, *PARTY_ROLES)
        if identity.court_code not in record["courts"]:
            raise ScopeError(
                f"{identity.court_code} is not a party to dispute {record['dispute_id']}"
            )
        return identity.court_code

    def _status(self, record: dict[str, Any], *allowed: Status) -> None:
        if record["status"] not in allowed:
            raise Conflict(f"dispute {record['dispute_id']} is {record['status']}")

    def _end_coordination(self, pipe: Pipeline, record: dict[str, Any], identity: Identity) -> None:
        for case_id in record["case_ids"]:
            ended = pb.DisputeCoordinationEnded(case_id=case_id, dispute_id=record["dispute_id"])
            self._stage(pipe, ended, case_id, record["courts"][0], identity)

    def _lift_all(self, pipe: Pipeline, record: dict[str, Any], identity: Identity) -> None:
        for court, state in record["stops"].items():
            if state == "stopped":
                record["stops"][court] = "lifted"
                lifted = pb.EnforcementStopLifted(
                    dispute_id=record["dispute_id"], court_code=court, lifted_by=identity.subject
                )
                self._stage(pipe, lifted, record["dispute_id"], court, identity)

    async def negotiate(
        self, dispute_id: str, note: str, outcome: str, *, identity: Identity,
        superior_must_coordinate: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Record a round of negotiation; ``outcome`` is ongoing, settled or failed."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            party = self._party(identity, record)
            self._status(record, Status.NEGOTIATING)
            if outcome != "ongoing" and identity.role is Role.AGENCY:
                raise ScopeError("the court records how the negotiation ended")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["negotiation"].append(
                {"party": party, "note": note, "at": self.ctx.clock.now().isoformat()}
            )
            recorded = pb.NegotiationRecorded(dispute_id=dispute_id, party=party, note=note)
            self._stage(pipe, recorded, dispute_id, identity.court_code, identity)
            if outcome == "settled":
                record["status"] = Status.SETTLED.value
                self._stage(pipe, pb.DisputeSettled(dispute_id=dispute_id, terms=note),
                            dispute_id, identity.court_code, identity)  # fmt: skip
                self._lift_all(pipe, record, identity)
                self._end_coordination(pipe, record, identity)
            elif outcome == "failed":
                record["status"] = Status.FAILED.value
                if record["kind"] == "agency" and superior_must_coordinate:
                    record["superior_must_coordinate"] = True
                    failed: Message = pb.AgencyNegotiationFailed(
                        dispute_id=dispute_id, reason=note,
                        observer_courts=self.involved(record),
                    )  # fmt: skip
                else:
                    failed = pb.NegotiationFailed(dispute_id=dispute_id, reason=note)
                self._stage(pipe, failed, dispute_id, identity.court_code, identity)
            self._log(record, f"negotiation_{outcome}", identity, note=note)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    # --- between courts: escalation, plan, implementation --------------------------------------

    async def escalate(self, dispute_id: str, *, identity: Identity) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            self._party(identity, record)
            if record["kind"] != "courts":
                raise Conflict("a dispute with an agency goes to the 政法委 and the superior court")
            self._status(record, Status.FAILED)
            common = self.courts.common_superior(*record["courts"]).code
            branches = []
            for court in record["courts"]:
                chain = self.courts.superiors(court)
                branches.append(
                    {"from_court": court, "forwarders": chain[: chain.index(common)], "next": 0}
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            record["escalation"] = {"common_superior": common, "branches": branches}
            record["status"] = Status.ESCALATING.value
            escalated = pb.DisputeEscalated(
                dispute_id=dispute_id, common_superior=common,
                branches=[pb.EscalationBranch(from_court=b["from_court"],
                                              forwarders=b["forwarders"]) for b in branches],
            )  # fmt: skip
            self._stage(pipe, escalated, dispute_id, identity.court_code, identity)
            self._log(record, "escalated", identity, common_superior=common)
            self._refer_if_arrived(pipe, record, identity)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    def _refer_if_arrived(self, pipe: Pipeline, record: dict[str, Any], identity: Identity) -> None:
        escalation = record["escalation"]
        if all(b["next"] >= len(b["forwarders"]) for b in escalation["branches"]):
            record["status"] = Status.REFERRED.value
            referred = pb.DisputeReferredToCommonSuperior(
                dispute_id=record["dispute_id"], common_superior=escalation["common_superior"],
                observer_courts=self.involved(record),
            )  # fmt: skip
            self._stage(pipe, referred, record["dispute_id"], escalation["common_superior"],
                        identity)  # fmt: skip

    async def forward(self, dispute_id: str, opinion: str, *, identity: Identity) -> dict[str, Any]:
        """A court on an escalation path sends the dispute up with its opinion."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            require_role(identity, *SUPERIOR_ROLES)
            self._status(record, Status.ESCALATING)
            escalation = record["escalation"]
            waiting = [b for b in escalation["branches"] if _holder(b) == identity.court_code]
            if not waiting:
                raise Conflict(f"dispute {dispute_id} is not waiting for {identity.court_code}")
            pipe.multi()  # type: ignore[no-untyped-call]
            for branch in waiting:
                branch["next"] += 1
                to_court = (
                    branch["forwarders"][branch["next"]]
                    if branch["next"] < len(branch["forwarders"])
                    else escalation["common_superior"]
                )
                forwarded = pb.DisputeForwarded(
                    dispute_id=dispute_id, from_court=identity.court_code, to_court=to_court,
                    opinion=opinion,
                )  # fmt: skip
                self._stage(pipe, forwarded, dispute_id, to_court, identity)
            self._log(record, "forwarded", identity, opinion=opinion)
            self._refer_if_arrived(pipe, record, identity)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    def _common_superior(self, identity: Identity, record: dict[str, Any]) -> str:
        require_role(identity, *SUPERIOR_ROLES)
        common = (
            record["escalation"]["common_superior"]
            if record.get("escalation")
            else self.courts.common_superior(*record["courts"]).code
        )
        if identity.court_code != common:
            raise ScopeError(f"only {common}, the common superior, decides this dispute")
        return common

    async def issue_plan(
        self, dispute_id: str, plan: str, designated_account: str, amount_fen: int, *,
        identity: Identity,
    ) -> dict[str, Any]:  # fmt: skip
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            common = self._common_superior(identity, record)
            self._status(record, Status.REFERRED)
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(
                status=Status.PLANNED.value,
                plan={"text": plan, "designated_account": designated_account,
                      "disputed_amount_fen": amount_fen, "issued_by": identity.subject},
                deliveries={court: "delivered" for court in record["courts"]},
                reconsideration_closed=[],
            )  # fmt: skip
            issued = pb.CoordinationPlanIssued(
                dispute_id=dispute_id, common_superior=common, plan=plan,
                designated_account=designated_account, disputed_amount_fen=amount_fen,
            )  # fmt: skip
            self._stage(pipe, issued, dispute_id, common, identity)
            for court in record["courts"]:
                self._deliver(pipe, record, court, plan, identity)
            self._end_coordination(pipe, record, identity)
            self._log(record, "plan_issued", identity)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    def _deliver(
        self, pipe: Pipeline, record: dict[str, Any], court: str, plan: str, identity: Identity
    ) -> None:
        delivered = pb.CoordinationPlanDelivered(
            dispute_id=record["dispute_id"], court_code=court, plan=plan,
            observer_courts=self.involved(record),
        )  # fmt: skip
        self._stage(pipe, delivered, record["dispute_id"], court, identity)

    async def implement(
        self, dispute_id: str, report: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            court = self._party(identity, record)
            self._status(record, Status.PLANNED)
            if record["deliveries"].get(court) == "implemented":
                raise Conflict(f"{court} reported the plan implemented already")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["deliveries"][court] = "implemented"
            done = pb.CoordinationPlanImplemented(
                dispute_id=dispute_id, court_code=court, report=report
            )
            self._stage(pipe, done, dispute_id, court, identity)
            self._log(record, "implemented", identity, report=report)
            if all(state == "implemented" for state in record["deliveries"].values()):
                record["status"] = Status.CLOSED.value
                self._lift_all(pipe, record, identity)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    async def request_reconsideration(
        self, dispute_id: str, reason: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            court = self._party(identity, record)
            self._status(record, Status.PLANNED)
            if court in record["reconsideration_closed"]:
                raise Conflict(
                    f"the period to ask for reconsideration, "
                    f"{catalogue().period_text('dispute.plan-reconsideration')}, has passed for "
                    f"{court}: the plan binds"
                )
            if record["deliveries"].get(court) != "delivered":
                raise Conflict(f"{court} has {record['deliveries'].get(court)} the plan")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["deliveries"][court] = "reconsideration_requested"
            asked = pb.PlanReconsiderationRequested(
                dispute_id=dispute_id, court_code=court, reason=reason
            )
            self._stage(pipe, asked, dispute_id, record["escalation"]["common_superior"], identity)
            self._log(record, "reconsideration_requested", identity, reason=reason)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    async def answer_reconsideration(
        self, dispute_id: str, court: str, answer: str, plan: str | None, *, identity: Identity
    ) -> dict[str, Any]:
        """The common superior keeps or changes its plan; the court then implements it."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            self._common_superior(identity, record)
            self._status(record, Status.PLANNED)
            if record["deliveries"].get(court) != "reconsideration_requested":
                raise Conflict(f"{court} has not asked for reconsideration")
            pipe.multi()  # type: ignore[no-untyped-call]
            if plan:
                record["plan"]["text"] = plan
            record["deliveries"][court] = "delivered"
            record["reconsideration_closed"].append(court)  # one reconsideration per court
            self._deliver(pipe, record, court, record["plan"]["text"], identity)
            self._log(record, "reconsideration_answered", identity, court=court, answer=answer)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    async def lift_stop(self, dispute_id: str, court: str, *, identity: Identity) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            self._common_superior(identity, record)
            if record["stops"].get(court) != "stopped":
                raise Conflict(f"enforcement in {court} is not stopped by this dispute")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["stops"][court] = "lifted"
            lifted = pb.EnforcementStopLifted(dispute_id=dispute_id, court_code=court,
                                              lifted_by=identity.subject)  # fmt: skip
            self._stage(pipe, lifted, dispute_id, court, identity)
            self._log(record, "stop_lifted", identity, court=court)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    # --- court against agency -------------------------------------------------------------------

    async def report_to_committee(
        self, dispute_id: str, committee: str, report: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            self._party(identity, record)
            if identity.role is Role.AGENCY or record["kind"] != "agency":
                raise Conflict("the court reports a dispute with an agency to the 政法委")
            self._status(record, Status.FAILED, Status.REPORTED, Status.DEPARTMENTS)
            pipe.multi()  # type: ignore[no-untyped-call]
            record["committee_report"] = {"committee": committee, "report": report}
            reported = pb.PoliticalCommitteeReported(
                dispute_id=dispute_id, committee=committee, report=report
            )
            self._stage(pipe, reported, dispute_id, identity.court_code, identity)
            self._log(record, "committee_reported", identity, committee=committee)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    async def report_to_superior(
        self, dispute_id: str, report: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            court = self._party(identity, record)
            if identity.role is Role.AGENCY or not record.get("superior_must_coordinate"):
                raise Conflict("only a dispute the superior must coordinate is reported to it")
            self._status(record, Status.FAILED)
            superior = self.courts.lookup(court).superior or ""
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status=Status.REPORTED.value, superior_court=superior)
            reported = pb.AgencyDisputeReportedToSuperior(
                dispute_id=dispute_id, superior_court=superior, report=report,
                observer_courts=self.involved(record),
            )  # fmt: skip
            self._stage(pipe, reported, dispute_id, superior, identity)
            self._log(record, "reported_to_superior", identity, superior=superior)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    async def start_department_coordination(
        self, dispute_id: str, departments: Sequence[str], *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            require_role(identity, *SUPERIOR_ROLES)
            self._status(record, Status.REPORTED)
            if identity.court_code != record["superior_court"]:
                raise ScopeError(
                    f"only {record['superior_court']} coordinates with the departments"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status=Status.DEPARTMENTS.value, departments=list(departments))
            started = pb.DepartmentCoordinationStarted(
                dispute_id=dispute_id,
                superior_court=identity.court_code,
                departments=list(departments),
            )
            self._stage(pipe, started, dispute_id, identity.court_code, identity)
            self._log(record, "department_coordination_started", identity)
            return record

        result: dict[str, Any] = await self._act(dispute_id, identity, act)
        return result

    async def close_reconsideration(self, dispute_id: str, court: str) -> None:
        """The period to ask for reconsideration ran out for ``court`` (the engine says so)."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            closed = record.setdefault("reconsideration_closed", [])
            if court not in closed:
                pipe.multi()  # type: ignore[no-untyped-call]
                closed.append(court)

        with contextlib.suppress(NotFound):
            await self.records.change(dispute_id, act)


def _holder(branch: dict[str, Any]) -> str | None:
    """The court a branch of the escalation waits for; None once it reached the top."""
    forwarders: list[str] = branch["forwarders"]
    return forwarders[branch["next"]] if branch["next"] < len(forwarders) else None
