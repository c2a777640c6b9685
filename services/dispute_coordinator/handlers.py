"""The dispute coordinator's handlers, one method per command: each checks who may act
(the ``domain``'s checks), records the change through the ``repository`` and stages its
events in the same transaction. The course of a dispute is told in ``domain``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.dispute_coordinator import domain
from services.dispute_coordinator.domain import STOP_REASON, Status
from services.dispute_coordinator.repository import DisputeRecords
from zhixing.auth import Identity, Role
from zhixing.bounds import MAX_REPEATED_ACTS
from zhixing.courts import CourtDirectory
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.known_cases import KnownCases
from zhixing.paging import DEFAULT_PAGE, Page, by_fields, page
from zhixing.records import log_act
from zhixing.service import ServiceContext
from zhixing.v1 import dispute_events_pb2 as pb

T = TypeVar("T")


class Disputes:
    def __init__(
        self, ctx: ServiceContext, records: DisputeRecords, courts: CourtDirectory,
        known: KnownCases,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.records = records
        self.courts = courts
        self.known = known

    # --- reading -------------------------------------------------------------------------------

    async def get(self, dispute_id: str) -> dict[str, Any] | None:
        return await self.records.get(dispute_id)

    def involved(self, record: dict[str, Any]) -> list[str]:
        """Every court that takes part: the parties, the forwarders, the common superior."""
        return domain.involved(record)

    def visible_to(self, identity: Identity, record: dict[str, Any]) -> bool:
        """Courts involved and the courts above them; an agency its own disputes only."""
        return domain.visible_to(identity, record)

    async def list_for(
        self, identity: Identity, *, limit: int = DEFAULT_PAGE, after: str | None = None
    ) -> Page[dict[str, Any]]:
        """A page of the disputes the identity may read, newest first: an agency's own; a
        court's, and for a court above, those of every court below it (the common superior
        sees what it coordinates)."""
        if identity.role is Role.AGENCY:
            ids = await self.records.ids_of(identity.subject)
        else:
            ids = await self.records.ids_in_jurisdiction(identity.court_code)
        found = [r for r in await self.records.many(ids) if self.visible_to(identity, r)]
        newest_first = by_fields("opened_at", "dispute_id")
        return page(found, newest_first, limit=limit, after=after, descending=True)

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
        courts = domain.check_parties(identity, courts, agency, self.courts)
        for index, case_id in enumerate(case_ids):
            case = await self.known.get(case_id)
            if case is None or case["court_code"] not in courts:
                raise Invalid(
                    f"case {case_id} is not a case of {', '.join(courts)}",
                    loc=("body", "case_ids", index),
                )
        domain.check_instruments(instruments, courts)
        dispute_id = str(uuid.uuid4())
        record = domain.new_dispute(
            dispute_id=dispute_id, courts=courts, agency=agency, subject=subject,
            asset_key=asset_key, case_ids=case_ids, case_numbers=case_numbers,
            instruments=instruments, positions=positions, documents=documents,
            opened_at=self.ctx.clock.now().isoformat(),
        )  # fmt: skip
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
                        reason=STOP_REASON,
                    )  # fmt: skip
                    self._stage(pipe, stop, dispute_id, court, identity)
            for case_id, case in cases.items():
                started = pb.DisputeCoordinationStarted(case_id=case_id, dispute_id=dispute_id)
                self._stage(pipe, started, case_id, case["court_code"], identity)
            self.records.put(pipe, dispute_id, record)
            for party in [*courts, *([agency["id"]] if agency else [])]:
                self.records.index(pipe, party, dispute_id)
            return record

        return await self.records.transact([], body)

    # --- acting on a dispute ---------------------------------------------------------------------

    async def _act(
        self, dispute_id: str, identity: Identity,
        act: Callable[[Pipeline, dict[str, Any]], Awaitable[T]],
    ) -> T:  # fmt: skip
        """Run ``act`` on a dispute ``identity`` may see (NotFound otherwise)."""
        return await self.records.change(
            dispute_id, act, visible=lambda record: self.visible_to(identity, record),
            missing=f"no dispute {dispute_id} in your jurisdiction",
        )  # fmt: skip

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
            party = domain.negotiating_party(identity, record, outcome)
            # A round that ends the negotiation (settled, failed) is always taken: the bound
            # stops notes without end, never the way out of the negotiation.
            if outcome == "ongoing" and len(record["negotiation"]) >= MAX_REPEATED_ACTS:
                raise Conflict(f"dispute {dispute_id} has {len(record['negotiation'])} rounds of "
                               "negotiation, the most one keeps (MAX_REPEATED_ACTS): settle it, "
                               "or record it failed and escalate")  # fmt: skip
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

        return await self._act(dispute_id, identity, act)

    # --- between courts: escalation, plan, implementation --------------------------------------

    async def escalate(self, dispute_id: str, *, identity: Identity) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            domain.check_may_escalate(identity, record)
            common, branches = domain.escalation_paths(record["courts"], self.courts)
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

        return await self._act(dispute_id, identity, act)

    def _refer_if_arrived(self, pipe: Pipeline, record: dict[str, Any], identity: Identity) -> None:
        escalation = record["escalation"]
        if domain.arrived(escalation):
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
            waiting = domain.branches_waiting_for(identity, record)
            escalation = record["escalation"]
            pipe.multi()  # type: ignore[no-untyped-call]
            for branch in waiting:
                branch["next"] += 1
                to_court = domain.next_court(branch, escalation)
                forwarded = pb.DisputeForwarded(
                    dispute_id=dispute_id, from_court=identity.court_code, to_court=to_court,
                    opinion=opinion,
                )  # fmt: skip
                self._stage(pipe, forwarded, dispute_id, to_court, identity)
            self._log(record, "forwarded", identity, opinion=opinion)
            self._refer_if_arrived(pipe, record, identity)
            return record

        return await self._act(dispute_id, identity, act)

    async def issue_plan(
        self, dispute_id: str, plan: str, designated_account: str, amount_fen: int, *,
        identity: Identity,
    ) -> dict[str, Any]:  # fmt: skip
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            common = domain.common_superior_of(identity, record, self.courts)
            domain.require_status(record, Status.REFERRED)
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

        return await self._act(dispute_id, identity, act)

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
            court = domain.court_implementing(identity, record)
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

        return await self._act(dispute_id, identity, act)

    async def request_reconsideration(
        self, dispute_id: str, reason: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            court = domain.court_asking_reconsideration(identity, record)
            pipe.multi()  # type: ignore[no-untyped-call]
            record["deliveries"][court] = "reconsideration_requested"
            asked = pb.PlanReconsiderationRequested(
                dispute_id=dispute_id, court_code=court, reason=reason
            )
            self._stage(pipe, asked, dispute_id, record["escalation"]["common_superior"], identity)
            self._log(record, "reconsideration_requested", identity, reason=reason)
            return record

        return await self._act(dispute_id, identity, act)

    async def answer_reconsideration(
        self, dispute_id: str, court: str, answer: str, plan: str | None, *, identity: Identity
    ) -> dict[str, Any]:
        """The common superior keeps or changes its plan; the court then implements it."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            domain.check_may_answer_reconsideration(identity, record, court, self.courts)
            pipe.multi()  # type: ignore[no-untyped-call]
            if plan:
                record["plan"]["text"] = plan
            record["deliveries"][court] = "delivered"
            record["reconsideration_closed"].append(court)  # one reconsideration per court
            self._deliver(pipe, record, court, record["plan"]["text"], identity)
            self._log(record, "reconsideration_answered", identity, court=court, answer=answer)
            return record

        return await self._act(dispute_id, identity, act)

    async def lift_stop(self, dispute_id: str, court: str, *, identity: Identity) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            domain.check_may_lift_stop(identity, record, court, self.courts)
            pipe.multi()  # type: ignore[no-untyped-call]
            record["stops"][court] = "lifted"
            lifted = pb.EnforcementStopLifted(dispute_id=dispute_id, court_code=court,
                                              lifted_by=identity.subject)  # fmt: skip
            self._stage(pipe, lifted, dispute_id, court, identity)
            self._log(record, "stop_lifted", identity, court=court)
            return record

        return await self._act(dispute_id, identity, act)

    # --- court against agency -------------------------------------------------------------------

    async def report_to_committee(
        self, dispute_id: str, committee: str, report: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            domain.check_may_report_to_committee(identity, record)
            pipe.multi()  # type: ignore[no-untyped-call]
            record["committee_report"] = {"committee": committee, "report": report}
            reported = pb.PoliticalCommitteeReported(
                dispute_id=dispute_id, committee=committee, report=report
            )
            self._stage(pipe, reported, dispute_id, identity.court_code, identity)
            self._log(record, "committee_reported", identity, committee=committee)
            return record

        return await self._act(dispute_id, identity, act)

    async def report_to_superior(
        self, dispute_id: str, report: str, *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            court = domain.court_reporting_to_superior(identity, record)
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

        return await self._act(dispute_id, identity, act)

    async def start_department_coordination(
        self, dispute_id: str, departments: Sequence[str], *, identity: Identity
    ) -> dict[str, Any]:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            domain.check_coordinates_departments(identity, record)
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

        return await self._act(dispute_id, identity, act)

    async def conclude_department_coordination(
        self, dispute_id: str, terms: str, *, identity: Identity
    ) -> dict[str, Any]:
        """The superior records what its coordination with the departments settled: the
        dispute ends as settled would (every stop lifted, the cases' clocks run again, rule
        dispute.stop-enforcement); before, nothing could end it, and its cases' clocks stayed
        paused for good."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
            domain.check_coordinates_departments(identity, record, Status.DEPARTMENTS)
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status=Status.CONCLUDED.value, conclusion=terms)
            self._stage(pipe, pb.DisputeSettled(dispute_id=dispute_id, terms=terms),
                        dispute_id, identity.court_code, identity)  # fmt: skip
            self._lift_all(pipe, record, identity)
            self._end_coordination(pipe, record, identity)
            self._log(record, "department_coordination_concluded", identity, terms=terms)
            return record

        return await self._act(dispute_id, identity, act)

    async def close_reconsideration(self, dispute_id: str, court: str) -> None:
        """The period to ask for reconsideration ran out for ``court`` (the engine says so)."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            closed = record.setdefault("reconsideration_closed", [])
            if court not in closed:
                pipe.multi()  # type: ignore[no-untyped-call]
                closed.append(court)

        with contextlib.suppress(NotFound):
            await self.records.change(dispute_id, act)
