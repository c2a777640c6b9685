"""Entrustment's handlers, one method per command: each checks who may act (the
``domain``'s checks), records the change through the ``repository`` and stages its events
in the same transaction. A matter goes: entrusted → started → status reported → completed,
or returned with its reasons; not started in time, the entrusting court asks the entrusted
court's superior to order it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.entrustment import domain
from services.entrustment.domain import HANDOVER, SERVICE_ACTOR, MatterType, Status
from services.entrustment.repository import EntrustmentRecords
from zhixing.auth import Identity, Role, require_role
from zhixing.bounds import MAX_ENTRUSTMENTS_PER_CASE, MAX_REPEATED_ACTS
from zhixing.clock import china_today
from zhixing.courts import CourtDirectory
from zhixing.errors import Conflict
from zhixing.known_cases import KnownCases
from zhixing.paging import DEFAULT_PAGE, Page, by_fields, page
from zhixing.records import log_act
from zhixing.service import ServiceContext
from zhixing.stops import StopOrders
from zhixing.v1 import entrustment_events_pb2 as pb

T = TypeVar("T")


def _both_courts(record: dict[str, Any]) -> list[str]:
    """The two courts of a matter: each clock it opens is read by both (and those above)."""
    return [record["entrusting_court"], record["entrusted_court"]]


class Entrustments:
    def __init__(
        self, ctx: ServiceContext, records: EntrustmentRecords, courts: CourtDirectory,
        known: KnownCases,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.records = records
        self.courts = courts
        self.known = known
        # The stops in force per case (执行规定 art 68), kept by the service's projection.
        self.stops = StopOrders(ctx.redis, ctx.keys)

    async def get(self, entrustment_id: str) -> dict[str, Any] | None:
        return await self.records.get(entrustment_id)

    def visible_to(self, identity: Identity, record: dict[str, Any]) -> bool:
        """Both courts, and the courts above either, see the matter."""
        return domain.visible_to(identity, record)

    async def list_for(
        self, identity: Identity, *, limit: int = DEFAULT_PAGE, after: str | None = None
    ) -> Page[dict[str, Any]]:
        """A page of the matters the identity may read (its court's and, for a court above,
        those of every court below it), newest first."""
        ids = await self.records.ids_in_jurisdiction(identity.court_code)
        found = [r for r in await self.records.many(ids) if self.visible_to(identity, r)]
        newest_first = by_fields("entrusted_at", "entrustment_id")
        return page(found, newest_first, limit=limit, after=after, descending=True)

    def _stage(
        self, pipe: Pipeline, payload: Message, record: dict[str, Any], court: str,
        identity: Identity,
    ) -> None:  # fmt: skip
        self.ctx.stage(pipe, payload, aggregate_id=record["entrustment_id"], court_code=court,
                       actor=identity.as_actor())  # fmt: skip

    # --- entrusting ----------------------------------------------------------------------------

    async def entrust(
        self, *, identity: Identity, case_id: str, matter_type: MatterType, description: str,
        location_division: str, documents: Sequence[str], control_expires_on: dt.date | None,
    ) -> dict[str, Any]:  # fmt: skip
        require_role(identity, Role.OFFICER)
        domain.check_entrusting(identity, case_id, await self.known.get(case_id))
        entrusted = domain.entrusted_court(identity, location_division, self.courts)
        if matter_type in HANDOVER:
            domain.check_time_left(control_expires_on, china_today(self.ctx.clock))
        entrustment_id = str(uuid.uuid4())
        observers = [identity.court_code, entrusted.code]
        record = domain.new_entrustment(
            entrustment_id=entrustment_id, case_id=case_id, identity=identity,
            entrusted=entrusted, matter_type=matter_type, description=description,
            location_division=location_division, documents=documents,
            entrusted_at=self.ctx.clock.now().isoformat(),
        )  # fmt: skip
        payload = pb.MatterEntrusted(
            entrustment_id=entrustment_id,
            case_id=case_id,
            entrusting_court=identity.court_code,
            entrusted_court=entrusted.code,
            matter_type=matter_type.value,
            description=description,
            location_division=location_division,
            documents=list(documents),
            observer_courts=observers,
            entrusted_by=identity.subject,
        )

        async def body(pipe: Pipeline) -> dict[str, Any]:
            # The case as known at the commit (watched): a closure read meanwhile counts.
            known = await self.known.watch_and_get(pipe, case_id)
            domain.check_entrusting(identity, case_id, known)
            assert known is not None  # check_entrusting refused an unknown one
            domain.check_open_for(known, case_id, matter_type)
            if matter_type in domain.TAKES_CONTROL:
                await self.stops.check(pipe, case_id, identity.court_code,
                                       f"entrusting a {matter_type.value}")  # fmt: skip
            entrusted_before = await self.records.entrusted_by_case(pipe, case_id)
            if entrusted_before >= MAX_ENTRUSTMENTS_PER_CASE:
                raise Conflict(
                    f"case {case_id} has entrusted {entrusted_before} matters, the most one "
                    f"case may (MAX_ENTRUSTMENTS_PER_CASE, {MAX_ENTRUSTMENTS_PER_CASE})"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.put(pipe, entrustment_id, record)
            for court in observers:
                self.records.index(pipe, court, entrustment_id)
            self.records.count_for_case(pipe, case_id, entrustment_id)
            self._stage(pipe, payload, record, entrusted.code, identity)
            return record

        return await self.records.transact([self.records.case_key(case_id)], body)

    # --- acting on it --------------------------------------------------------------------------

    async def _act(
        self, entrustment_id: str, identity: Identity,
        act: Callable[[Pipeline, dict[str, Any]], Awaitable[T]],
    ) -> T:  # fmt: skip
        """Run ``act`` on a matter ``identity`` may see (NotFound otherwise)."""
        return await self.records.change(
            entrustment_id,
            act,
            visible=lambda record: self.visible_to(identity, record),
            missing=f"no entrustment {entrustment_id} in your jurisdiction",
        )

    def _log(self, record: dict[str, Any], what: str, identity: Identity, **extra: Any) -> None:
        log_act(record, self.ctx.clock, what, identity, **extra)

    async def start(self, entrustment_id: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            domain.require_entrusted_officer(identity, record)
            domain.require_status(record, Status.ENTRUSTED)
            pipe.multi()  # type: ignore[no-untyped-call]
            record["status"] = Status.STARTED.value
            self._log(record, "started", identity)
            started = pb.EntrustmentStarted(
                entrustment_id=entrustment_id,
                started_by=identity.subject,
                # Both courts read the clock it starts (entrustment.handle), as the others.
                observer_courts=_both_courts(record),
            )
            self._stage(pipe, started, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def report_status(self, entrustment_id: str, report: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            domain.require_entrusted_officer(identity, record)
            domain.require_open(record)
            reported_before = sum(h["act"] == "status_reported" for h in record["history"])
            if reported_before >= MAX_REPEATED_ACTS:
                raise Conflict(f"entrustment {entrustment_id} has {reported_before} status "
                               f"reports, the most one keeps (MAX_REPEATED_ACTS): complete or "
                               "return the matter")  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            self._log(record, "status_reported", identity, report=report)
            reported = pb.EntrustmentStatusReported(
                entrustment_id=entrustment_id,
                report=report,
                observer_courts=_both_courts(record),
            )
            self._stage(pipe, reported, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def request_order(self, entrustment_id: str, *, identity: Identity) -> str:
        """Not started within the limit: the entrusting court asks the entrusted court's
        superior, in one act, to order it (民诉法 art 240)."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> str:
            domain.check_may_request_order(identity, record)
            superior = self.courts.lookup(record["entrusted_court"]).superior or ""
            pipe.multi()  # type: ignore[no-untyped-call]
            record["order_requested"] = superior
            self._log(record, "order_requested", identity, superior=superior)
            requested = pb.EntrustmentOrderRequested(
                entrustment_id=entrustment_id, superior_court=superior,
                requested_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, requested, record, superior, identity)
            return superior

        return await self._act(entrustment_id, identity, act)

    async def order(self, entrustment_id: str, instruction: str, *, identity: Identity) -> None:
        """The entrusted court's superior orders it to act."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            superior = domain.ordering_superior(identity, record, self.courts)
            if record.get("ordered_by"):
                raise Conflict(f"entrustment {entrustment_id} was ordered already, by "
                               f"{record['ordered_by']}: the order stands")  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["ordered_by"] = identity.subject
            self._log(record, "ordered", identity, instruction=instruction)
            ordered = pb.EntrustmentOrdered(
                entrustment_id=entrustment_id, superior_court=superior,
                ordered_by=identity.subject, instruction=instruction,
            )  # fmt: skip
            self._stage(pipe, ordered, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def complete(
        self, entrustment_id: str, result: str, documents: Sequence[str],
        control: pb.EntrustedControl | None, *, identity: Identity,
    ) -> None:  # fmt: skip
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            domain.require_entrusted_officer(identity, record)
            if control is not None:  # the input (422) before the state (409)
                domain.check_control(MatterType(record["matter_type"]), control, self.courts)
            domain.require_status(record, Status.STARTED, "; start it first")
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(
                status=Status.COMPLETED.value, result=result, result_documents=list(documents)
            )
            self._log(record, "completed", identity)
            completed = pb.EntrustmentCompleted(
                entrustment_id=entrustment_id,
                case_id=record["case_id"],
                entrusting_court=record["entrusting_court"],
                result=result,
                documents=list(documents),
            )
            if control is not None:
                completed.control.CopyFrom(control)
                record["control"] = {
                    "asset_key": control.asset_key,
                    "amount_fen": control.amount_fen,
                }
            self._stage(pipe, completed, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def return_matter(self, entrustment_id: str, reason: str, *, identity: Identity) -> None:
        """Return the matter with its reasons (not a refusal: audited, and the entrusting
        court sees why)."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            domain.require_entrusted_officer(identity, record)
            domain.require_open(record)
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status=Status.RETURNED.value, return_reason=reason)
            self._log(record, "returned", identity, reason=reason)
            returned = pb.EntrustmentReturned(
                entrustment_id=entrustment_id, reason=reason, returned_by=identity.subject
            )
            self._stage(pipe, returned, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def follow_case(self, case_id: str, from_court: str, to_court: str) -> int:
        """The entrusting court's case moved: the new court entrusts its open matters (the
        clocks' observers follow through EntrustmentCourtChanged). Idempotent."""
        moved = 0
        for entrustment_id in await self.records.ids_of(from_court):

            async def act(
                pipe: Pipeline, record: dict[str, Any], entrustment_id: str = entrustment_id
            ) -> bool:
                if record["case_id"] != case_id or record["entrusting_court"] != from_court:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                record["entrusting_court"] = to_court
                record["history"].append(
                    {"at": self.ctx.clock.now().isoformat(), "act": "case_moved",
                     "from": from_court, "to": to_court}
                )  # fmt: skip
                self.records.index(pipe, to_court, entrustment_id)
                changed = pb.EntrustmentCourtChanged(
                    entrustment_id=entrustment_id, from_court=from_court, to_court=to_court
                )
                self.ctx.stage(
                    pipe,
                    changed,
                    aggregate_id=entrustment_id,
                    court_code=record["entrusted_court"],
                    actor=SERVICE_ACTOR,
                )
                return True

            if await self.records.change(entrustment_id, act):
                moved += 1
        return moved

    async def mark_start_overdue(self, entrustment_id: str) -> None:
        """The deadline engine reported the start clock breached."""
        await self.records.set_once(entrustment_id, "start_overdue", True)
