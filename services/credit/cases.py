"""What the credit service learns from other services: a filed case and its debtors, its
officer, its move to another court, its closure as performed (every restriction is then to
be lifted and every listing's ground has ended), and a listing's term running out on its
clock. Each is its own idempotent transaction: a redelivered event changes nothing."""

from __future__ import annotations

import contextlib

from redis.asyncio.client import Pipeline

from services.credit import domain
from services.credit.domain import DeleteCause, LiftCause, Record, Status
from services.credit.handler import SERVICE_ACTOR, CreditHandler
from zhixing.errors import NotFound
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import credit_events_pb2 as pb

_KINDS = {
    cases.PARTY_KIND_NATURAL_PERSON: "natural_person",
    cases.PARTY_KIND_ORGANISATION: "organisation",
}


class CaseFacts(CreditHandler):
    async def remember_case(self, filed: cases.CaseFiled, court_code: str) -> bool:
        """A case was filed: its debtors are kept, minors marked (once)."""
        minors = domain.minors_of(filed.flags)
        debtors = [
            {
                "debtor_key": domain.debtor_key(position),
                "name": party.name,
                "id_number": party.id_number.upper(),
                "kind": _KINDS.get(party.kind, "unspecified"),
                "minor": party.id_number.upper() in minors,
            }
            for position, party in enumerate(filed.debtors)
        ]
        record = domain.new_case(
            case_id=filed.case_id, case_number=filed.case_number,
            court_code=court_code or filed.court_code, debtors=debtors, at=self.now(),
        )  # fmt: skip
        return await self.records.open_once(record)

    async def assign_officer(self, case_id: str, officer_id: str) -> None:
        async def act(pipe: Pipeline, record: Record) -> None:
            if record["officer_id"] == officer_id:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            record["officer_id"] = officer_id

        # A case filed before this service ran has no record here: nothing to note.
        with contextlib.suppress(NotFound):
            await self.records.change_case(case_id, act)

    async def follow_case(self, case_id: str, from_court: str, to_court: str) -> bool:
        """A command action moved the case: its record and measures follow it."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            if record["court_code"] != from_court:
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.move(pipe, case_id, from_court, to_court)
            record["court_code"] = to_court
            self.log(record, "case_moved", SERVICE_ACTOR.id, **{"from": from_court, "to": to_court})
            return True

        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return False

    async def case_closed(self, case_id: str, method: str) -> int:
        """The case closed. Closed as performed, every restriction in force is due to be
        lifted (not urgent) and every listing in force has lost its ground; returns how
        many measures that touched (0 on a redelivery)."""

        async def act(pipe: Pipeline, record: Record) -> int:
            if record["closed_as"] == method:
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]
            record["closed_as"] = method
            self.log(record, "case_closed", SERVICE_ACTOR.id, method=method)
            if method != domain.PERFORMED:
                return 0
            return self._lift_all(pipe, record) + self._end_all_grounds(pipe, record)

        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return 0

    def _lift_all(self, pipe: Pipeline, record: Record) -> int:
        touched = 0
        for restriction in record["restrictions"].values():
            if restriction["status"] != Status.IN_FORCE or restriction["lift_due"] is not None:
                continue
            restriction["lift_due"] = {"cause": LiftCause.PERFORMED.value, "urgent": False,
                                       "by": SERVICE_ACTOR.id, "at": self.now()}  # fmt: skip
            self.stage(pipe, record, pb.RestrictionLiftDue(
                case_id=record["case_id"], restriction_id=restriction["restriction_id"],
                debtor_key=restriction["debtor_key"], cause=LiftCause.PERFORMED.value,
                urgent="no", recorded_by=SERVICE_ACTOR.id,
            ))  # fmt: skip
            touched += 1
        return touched

    def _end_all_grounds(self, pipe: Pipeline, record: Record) -> int:
        touched = 0
        today = self.today().isoformat()
        for listing in record["listings"].values():
            if listing["status"] != Status.IN_FORCE or listing["ground_ended"] is not None:
                continue
            listing["ground_ended"] = {"cause": domain.GroundEndedCause.PERFORMED.value,
                                       "on": today, "by": SERVICE_ACTOR.id}  # fmt: skip
            self.stage(pipe, record, pb.ListingGroundEnded(
                case_id=record["case_id"], listing_id=listing["listing_id"],
                debtor_key=listing["debtor_key"], cause=domain.GroundEndedCause.PERFORMED.value,
                ended_on=today, recorded_by=SERVICE_ACTOR.id,
            ))  # fmt: skip
            touched += 1
        return touched

    async def term_ended(self, case_id: str, debtor_key: str, rule_id: str) -> bool:
        """The term's clock (``rule_id``) of the debtor's listing ran out: the listing is
        deleted. Idempotent: nothing happens to a listing deleted already."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            listing = domain.in_force(record["listings"], debtor_key)
            if listing is None or not listing["fixed_term"]:
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            today = self.today().isoformat()
            listing.update(status=Status.DELETED.value, deleted_on=today,
                           delete_cause=DeleteCause.TERM_ENDED.value,
                           deleted_by=SERVICE_ACTOR.id)  # fmt: skip
            self.log(
                record,
                "listing_deleted",
                SERVICE_ACTOR.id,
                listing_id=listing["listing_id"],
                cause="term_ended",
                rule=rule_id,
            )
            self.stage(pipe, record, pb.ListingDeleted(
                case_id=case_id, listing_id=listing["listing_id"], debtor_key=debtor_key,
                cause=DeleteCause.TERM_ENDED.value, deleted_on=today,
                deleted_by=SERVICE_ACTOR.id,
            ))  # fmt: skip
            return True

        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return False
