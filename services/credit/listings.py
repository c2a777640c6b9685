"""The list of dishonest debtors (失信被执行人名单): a debtor listed on one of the six grounds
(and restricted too, ¶23), or a decision not to list (one per debtor, the latest standing);
a fixed term's extension decided by a leader who does not handle the case (it begins when
the term runs out, ``cases.CaseFacts.term_ended``); the ground's end; and the deletion."""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from services.credit import domain
from services.credit.domain import DeclineReason, DeleteCause, GroundEndedCause, Record, Status
from services.credit.handler import CreditHandler
from services.credit.repository import CreditRecords
from services.credit.restrictions import Restrictions
from zhixing.auth import Identity, Role, ScopeError
from zhixing.errors import Invalid
from zhixing.rules import Catalogue
from zhixing.service import ServiceContext
from zhixing.v1 import credit_events_pb2 as pb


class Listings(CreditHandler):
    def __init__(
        self, ctx: ServiceContext, records: CreditRecords, restrictions: Restrictions,
        rules: Catalogue | None = None,
    ) -> None:  # fmt: skip
        super().__init__(ctx, records, rules)
        self.restrictions = restrictions

    async def list_debtor(
        self, case_id: str, *, identity: Identity, debtor_key: str, ground: int | None,
        decision_number: str, facts: str,
    ) -> Record:  # fmt: skip
        """Put the debtor on the list (rule ``credit.listing-grounds``), not before the
        execution notice's period passed (rule ``credit.notice-period``); a debtor not yet
        restricted on the case is restricted by the same decision (¶23, rule
        ``credit.listing-restricts``)."""

        async def act(pipe: Pipeline, record: Record) -> Record:
            today = self.today()
            debtor, text = domain.check_listing(record, debtor_key, ground, today, self.rules)
            assert ground is not None
            pipe.multi()  # type: ignore[no-untyped-call]
            if domain.in_force(record["restrictions"], debtor_key) is None:
                self.restrictions.order_on(pipe, record, debtor, decision_number, identity)
            listing = {
                "listing_id": self.new_id(),
                "debtor_key": debtor_key,
                "debtor_name": debtor["name"],
                "ground": ground,
                "ground_text": text,
                "fixed_term": domain.fixed_term(ground, self.rules),
                "decision_number": decision_number,
                "facts": facts,
                "listed_on": today.isoformat(),
                "effective_on": domain.effective_on(today, self.rules).isoformat(),
                "listed_by": identity.subject,
                "extension": None,
                "ground_ended": None,
                "status": Status.IN_FORCE.value,
                "deleted_on": None,
                "delete_cause": None,
                "deleted_by": None,
            }
            record["listings"][listing["listing_id"]] = listing
            self.records.index_subject(pipe, debtor["id_number"], case_id)
            self.log(
                record,
                "debtor_listed",
                identity.subject,
                listing_id=listing["listing_id"],
                debtor_key=debtor_key,
                ground=ground,
            )
            self.stage(pipe, record, pb.DebtorListed(
                case_id=case_id, listing_id=listing["listing_id"], debtor_key=debtor_key,
                debtor_id_number=debtor["id_number"], debtor_name=debtor["name"],
                ground=ground, ground_text=text,
                fixed_term="yes" if listing["fixed_term"] else "no",
                decision_number=decision_number, facts=facts, listed_on=listing["listed_on"],
                effective_on=listing["effective_on"], listed_by=identity.subject,
                case_number=record["case_number"],
            ), identity.as_actor())  # fmt: skip
            return listing

        return await self.act(case_id, identity, act)

    async def decline(
        self, case_id: str, *, identity: Identity, debtor_key: str, reason: DeclineReason,
        details: str,
    ) -> Record:  # fmt: skip
        """Record that the debtor is not listed, and why (法释〔2017〕7号 art 3). One decision
        per debtor per case: a new one replaces the standing one (the officer corrects its
        reason; the 终本 gate reads the latest); the same decision again changes nothing."""

        async def act(pipe: Pipeline, record: Record) -> Record:
            domain.check_decline(record, debtor_key)
            standing = domain.decline_of(record, debtor_key)
            if standing is not None and (standing["reason"], standing["details"]) == (
                reason.value, details,
            ):  # fmt: skip
                return standing
            pipe.multi()  # type: ignore[no-untyped-call]
            decline = {"debtor_key": debtor_key, "reason": reason.value, "details": details,
                       "decided_by": identity.subject, "on": self.today().isoformat()}  # fmt: skip
            record["declines"] = [d for d in record["declines"] if d["debtor_key"] != debtor_key]
            record["declines"].append(decline)
            self.log(record, "listing_declined", identity.subject, debtor_key=debtor_key,
                     reason=reason.value)  # fmt: skip
            self.stage(pipe, record, pb.ListingDeclined(
                case_id=case_id, debtor_key=debtor_key, reason=reason.value, details=details,
                decided_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return decline

        return await self.act(case_id, identity, act)

    async def extend(
        self, case_id: str, listing_id: str, *, identity: Identity, months: int, reason: str
    ) -> Record:
        """Decide to extend a fixed term (rule ``credit.listing-extension``): a leader of the
        court handling the case who is not its officer decides, once. The decision starts
        no clock: the extension begins when the term runs out (``ListingExtended``)."""

        async def act(pipe: Pipeline, record: Record) -> Record:
            if record["officer_id"] and record["officer_id"] == identity.subject:
                raise ScopeError(
                    f"the officer handling the case may not extend its listings; a leader "
                    f"decides (rule {domain.LISTING_EXTENSION})"
                )
            listing = domain.listing_of(record, listing_id)
            domain.check_extension(listing, months, self.rules)
            pipe.multi()  # type: ignore[no-untyped-call]
            listing["extension"] = {
                "months": months,
                "reason": reason,
                "on": self.today().isoformat(),
                "by": identity.subject,
                "began_on": None,  # the term's end
            }
            self.log(record, "listing_extension_decided", identity.subject,
                     listing_id=listing_id, months=months)  # fmt: skip
            self.stage(pipe, record, pb.ListingExtensionDecided(
                case_id=case_id, listing_id=listing_id, debtor_key=listing["debtor_key"],
                extension_months=months, reason=reason, decided_by=identity.subject,
                decided_on=listing["extension"]["on"],
            ), identity.as_actor())  # fmt: skip
            return listing

        return await self.act(case_id, identity, act, roles=(Role.LEADER,))

    async def ground_ended(
        self, case_id: str, listing_id: str, *, identity: Identity, cause: GroundEndedCause
    ) -> Record:
        """The listing's ground ended: its deletion is due (rule ``credit.delete-listing``).
        The causes only the platform records from events (``case_ended``,
        ``requery_nothing_found``) are refused (422): it records them itself."""
        if cause in domain.PLATFORM_GROUND_CAUSES:
            rule = (domain.REQUERY_NOTHING_FOUND
                    if cause is GroundEndedCause.REQUERY_NOTHING_FOUND
                    else domain.DELETE_LISTING)  # fmt: skip
            raise Invalid(
                f"{cause.value} is recorded by the platform from events (the case's closure; "
                f"the re-queries after 终本 that found nothing), not sent (rule {rule})",
                loc=("body", "cause"),
            )

        async def act(pipe: Pipeline, record: Record) -> Record:
            listing = domain.listing_of(record, listing_id)
            domain.check_ground_ended(listing)
            pipe.multi()  # type: ignore[no-untyped-call]
            today = self.today().isoformat()
            listing["ground_ended"] = {"cause": cause.value, "on": today, "by": identity.subject}
            self.log(record, "listing_ground_ended", identity.subject, listing_id=listing_id,
                     cause=cause.value)  # fmt: skip
            self.stage(pipe, record, pb.ListingGroundEnded(
                case_id=case_id, listing_id=listing_id, debtor_key=listing["debtor_key"],
                cause=cause.value, ended_on=today, recorded_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return listing

        return await self.act(case_id, identity, act)

    async def delete(
        self, case_id: str, listing_id: str, *, identity: Identity, cause: DeleteCause
    ) -> Record:
        """Delete the listing (删除失信信息): its ground ended, or it was wrong."""
        if cause not in domain.OFFICER_DELETE_CAUSES:
            raise Invalid(
                f"an officer deletes a listing whose ground ended, or corrects one; a term's "
                f"end deletes it on its clock (rule {domain.DELETE_LISTING})",
                loc=("body", "cause"),
            )

        async def act(pipe: Pipeline, record: Record) -> Record:
            listing = domain.listing_of(record, listing_id)
            domain.check_deletion(listing, cause)
            pipe.multi()  # type: ignore[no-untyped-call]
            today = self.today().isoformat()
            listing.update(status=Status.DELETED.value, deleted_on=today,
                           delete_cause=cause.value, deleted_by=identity.subject)  # fmt: skip
            self.log(record, "listing_deleted", identity.subject, listing_id=listing_id,
                     cause=cause.value)  # fmt: skip
            self.stage(pipe, record, pb.ListingDeleted(
                case_id=case_id, listing_id=listing_id, debtor_key=listing["debtor_key"],
                cause=cause.value, deleted_on=today, deleted_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return listing

        return await self.act(case_id, identity, act)
