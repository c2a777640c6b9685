"""What the credit service learns from other services: a filed case and its debtors (and, for
a 执恢 case, the 终本 case it resumes), its officer, the day its execution notice was served
(no measure before the notice's period passed), its move to another court, its closure
(any closure but 终本 makes every restriction due to be lifted and ends every listing's
ground, on the case and on the 终本 case a 执恢 case resumed), and a listing's term running
out on its clock (the listing is deleted, or its decided extension begins). Each is its own
idempotent transaction: a redelivered event changes nothing."""

from __future__ import annotations

import contextlib

import structlog
from redis.asyncio.client import Pipeline

from services.credit import domain
from services.credit.domain import DeleteCause, Record, Status
from services.credit.handler import SERVICE_ACTOR, CreditHandler
from zhixing.errors import NotFound
from zhixing.persons import id_number_text
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import credit_events_pb2 as pb

log = structlog.get_logger(__name__)

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
                # One form (a filing kept before intake kept it so: a full-width digit).
                "id_number": id_number_text(party.id_number),
                "kind": _KINDS.get(party.kind, "unspecified"),
                "minor": id_number_text(party.id_number) in minors,
            }
            for position, party in enumerate(filed.debtors)
        ]
        record = domain.new_case(
            case_id=filed.case_id, case_number=filed.case_number,
            court_code=court_code or filed.court_code, debtors=debtors, at=self.now(),
            resumed_from_case_id=filed.resumed_from_case_id,
        )  # fmt: skip
        return await self.records.open_once(record, self._count_early_requeries)

    def _count_early_requeries(self, record: Record, numbers: list[int]) -> None:
        """Re-queries that found nothing, read before the filing: counted with it (no listing
        can stand on a case yet, so none ends)."""
        for number in numbers:
            record.setdefault("empty_requeries", []).append(number)
            self.log(record, "requery_found_nothing", SERVICE_ACTOR.id, requery_number=number)

    async def assign_officer(self, case_id: str, officer_id: str) -> None:
        async def act(pipe: Pipeline, record: Record) -> None:
            if record["officer_id"] == officer_id:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            record["officer_id"] = officer_id

        # A case filed before this service ran has no record here: nothing to note.
        with contextlib.suppress(NotFound):
            await self.records.change_case(case_id, act)

    async def notice_served(self, case_id: str, served_on: str) -> bool:
        """The execution notice was served (intake's ``ExecutionNoticeServed``): its day is
        kept, from which the notice's period runs (rule ``credit.notice-period``). Once:
        a redelivery changes nothing."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            if record.get("notice_served_on"):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            record["notice_served_on"] = served_on or self.today().isoformat()
            self.log(record, "execution_notice_served", SERVICE_ACTOR.id,
                     served_on=record["notice_served_on"])  # fmt: skip
            return True

        # A case filed before this service ran has no record here: nothing to note.
        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return False

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
        """The case closed. Unless closed as 终本, every restriction in force is due to be
        lifted (not urgent) and every listing in force has lost its ground, cause
        "performed" (执行完毕) or "case_ended"; so too on the 终本 case a 执恢 case resumed.
        Returns how many measures that touched (0 on a redelivery)."""
        cause = domain.ending_cause(method)

        async def act(pipe: Pipeline, record: Record) -> tuple[int, Record]:
            if record["closed_as"] == method:
                return 0, record
            pipe.multi()  # type: ignore[no-untyped-call]
            record["closed_as"] = method
            self.log(record, "case_closed", SERVICE_ACTOR.id, method=method)
            if cause is None:
                return 0, record
            return self._end_measures(pipe, record, cause), record

        try:
            touched, closed = await self.records.change_case(case_id, act)
        except NotFound:
            return 0
        resumed_from = str(closed.get("resumed_from_case_id") or "")
        if cause is None or not resumed_from:
            return touched
        # Run on a redelivery too: a crash between the two transactions must not leave the
        # original case's measures standing; ending them is idempotent by itself.
        ended_by = {"case_id": case_id, "case_number": closed["case_number"], "method": method}
        return touched + await self._end_resumed(resumed_from, ended_by, cause)

    async def _end_resumed(self, original_id: str, ended_by: Record, cause: str) -> int:
        """The 执恢 case ``ended_by`` ended: the measures the 终本 case ``original_id`` ordered
        end with it (they were never lifted when that case closed as 终本), and it takes no
        new one."""

        async def act(pipe: Pipeline, record: Record) -> int:
            marked = bool(record.get("resumption_ended"))
            if marked and not _measures_to_end(record):
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]
            if not marked:
                record["resumption_ended"] = ended_by
                self.log(record, "resumption_ended", SERVICE_ACTOR.id, **ended_by)
            return self._end_measures(pipe, record, cause)

        try:
            return await self.records.change_case(original_id, act)
        except NotFound:  # resumed a case filed before this service ran
            return 0

    async def requery_found_nothing(self, case_id: str, requery_number: int) -> int:
        """A re-query after 终本 found no new asset. Once the catalogue's number of them
        (rule ``credit.requery-nothing-found``, 法释〔2017〕7号 art 10(4)) found nothing,
        every listing in force on the case has lost its ground (cause
        "requery_nothing_found"); restrictions stay. Counted by re-query number, so a
        redelivery counts once; returns how many listings that touched."""
        needed = domain.empty_requeries_to_end(self.rules)

        async def act(pipe: Pipeline, record: Record) -> int:
            empty: list[int] = record.setdefault("empty_requeries", [])
            counted = requery_number in empty
            standing = [x for x in record["listings"].values() if _ground_standing(x)]
            # A listing made after the count was reached ends at the next empty re-query.
            if counted and not (len(empty) >= needed and standing):
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]
            if not counted:
                empty.append(requery_number)
                self.log(record, "requery_found_nothing", SERVICE_ACTOR.id,
                         requery_number=requery_number)  # fmt: skip
            if len(empty) < needed:
                return 0
            cause = domain.GroundEndedCause.REQUERY_NOTHING_FOUND.value
            return self._end_all_grounds(pipe, record, cause)

        while True:
            try:
                return await self.records.change_case(case_id, act)
            except NotFound:
                # Read before the case's filing (the asset and case topics are read side by
                # side): kept for it, which counts it. Else the case was kept meanwhile.
                if await self.records.keep_early_requery(case_id, requery_number):
                    log.warning("an empty re-query of a case not known yet kept for its filing",
                                case_id=case_id, requery_number=requery_number)  # fmt: skip
                    return 0

    def _end_measures(self, pipe: Pipeline, record: Record, cause: str) -> int:
        return self._lift_all(pipe, record, cause) + self._end_all_grounds(pipe, record, cause)

    def _lift_all(self, pipe: Pipeline, record: Record, cause: str) -> int:
        touched = 0
        for restriction in record["restrictions"].values():
            if not _lift_not_yet_due(restriction):
                continue
            restriction["lift_due"] = {"cause": cause, "urgent": False,
                                       "by": SERVICE_ACTOR.id, "at": self.now()}  # fmt: skip
            self.stage(pipe, record, pb.RestrictionLiftDue(
                case_id=record["case_id"], restriction_id=restriction["restriction_id"],
                debtor_key=restriction["debtor_key"], cause=cause, urgent="no",
                recorded_by=SERVICE_ACTOR.id,
            ))  # fmt: skip
            touched += 1
        return touched

    def _end_all_grounds(self, pipe: Pipeline, record: Record, cause: str) -> int:
        touched = 0
        today = self.today().isoformat()
        for listing in record["listings"].values():
            if not _ground_standing(listing):
                continue
            listing["ground_ended"] = {"cause": cause, "on": today, "by": SERVICE_ACTOR.id}
            self.stage(pipe, record, pb.ListingGroundEnded(
                case_id=record["case_id"], listing_id=listing["listing_id"],
                debtor_key=listing["debtor_key"], cause=cause, ended_on=today,
                recorded_by=SERVICE_ACTOR.id,
            ))  # fmt: skip
            touched += 1
        return touched

    async def term_ended(self, case_id: str, debtor_key: str, rule_id: str) -> bool:
        """The term's clock (``rule_id``) of the debtor's listing ran out. A term with an
        extension decided goes on: the extension begins now (``ListingExtended`` starts its
        clock from the term's end); otherwise the listing is deleted. Idempotent: a listing
        deleted already, or whose extension began, is not touched again by the term."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            listing = domain.in_force(record["listings"], debtor_key)
            if listing is None or not listing["fixed_term"]:
                return False
            extension = listing["extension"]
            if rule_id == domain.LISTING_TERM and extension is not None:
                if _extension_began(extension):
                    return False
                # A listing whose ground ended is due for deletion: it is not extended.
                if listing["ground_ended"] is None:
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self._begin_extension(pipe, record, listing)
                    return True
            elif rule_id == domain.LISTING_EXTENSION and not _extension_began(extension):
                return False  # no extension runs: nothing of its clock to act on
            pipe.multi()  # type: ignore[no-untyped-call]
            self._delete_at_term_end(pipe, record, listing, rule_id)
            return True

        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return False

    def _begin_extension(self, pipe: Pipeline, record: Record, listing: Record) -> None:
        extension = listing["extension"]
        extension["began_on"] = self.today().isoformat()
        self.log(record, "listing_extended", SERVICE_ACTOR.id, listing_id=listing["listing_id"],
                 months=extension["months"])  # fmt: skip
        self.stage(pipe, record, pb.ListingExtended(
            case_id=record["case_id"], listing_id=listing["listing_id"],
            debtor_key=listing["debtor_key"], extension_months=int(extension["months"]),
            reason=extension["reason"], decided_by=extension["by"],
        ))  # fmt: skip

    def _delete_at_term_end(
        self, pipe: Pipeline, record: Record, listing: Record, rule_id: str
    ) -> None:
        today = self.today().isoformat()
        listing.update(status=Status.DELETED.value, deleted_on=today,
                       delete_cause=DeleteCause.TERM_ENDED.value,
                       deleted_by=SERVICE_ACTOR.id)  # fmt: skip
        self.log(record, "listing_deleted", SERVICE_ACTOR.id, listing_id=listing["listing_id"],
                 cause=DeleteCause.TERM_ENDED.value, rule=rule_id)  # fmt: skip
        self.stage(pipe, record, pb.ListingDeleted(
            case_id=record["case_id"], listing_id=listing["listing_id"],
            debtor_key=listing["debtor_key"], cause=DeleteCause.TERM_ENDED.value,
            deleted_on=today, deleted_by=SERVICE_ACTOR.id,
        ))  # fmt: skip


def _extension_began(extension: Record | None) -> bool:
    """Whether the listing's extension runs. A record kept before extensions waited for the
    term has no ``began_on``: its extension ran from the decision, on its own clock."""
    if extension is None:
        return False
    return "began_on" not in extension or bool(extension["began_on"])


def _lift_not_yet_due(restriction: Record) -> bool:
    return restriction["status"] == Status.IN_FORCE and restriction["lift_due"] is None


def _ground_standing(listing: Record) -> bool:
    return listing["status"] == Status.IN_FORCE and listing["ground_ended"] is None


def _measures_to_end(record: Record) -> bool:
    return any(map(_lift_not_yet_due, record["restrictions"].values())) or any(
        map(_ground_standing, record["listings"].values())
    )
