"""Consumption restrictions (限制消费): ordered on a debtor of a case (never a minor, not
before the execution notice's period passed), served, due to be lifted (the debtor
performed, gave security, or the applicant consented; urgent or not), and lifted (never
while a listing of the debtor on the case stands, ¶23). Each act is by an officer of the
court handling the case."""

from __future__ import annotations

import datetime as dt

from redis.asyncio.client import Pipeline

from services.credit import domain
from services.credit.domain import LiftCause, Record, Status
from services.credit.handler import CreditHandler
from zhixing.auth import Identity
from zhixing.errors import Conflict, Invalid
from zhixing.v1 import credit_events_pb2 as pb


class Restrictions(CreditHandler):
    async def order(
        self, case_id: str, *, identity: Identity, debtor_key: str, ruling_number: str
    ) -> Record:
        """Order a restriction (限制消费令) on the debtor; it takes effect after the grace
        period (rule ``credit.grace-period``). Refused for a minor (rule
        ``credit.listing-grounds``) and before the execution notice's period passed (rule
        ``credit.notice-period``)."""

        async def act(pipe: Pipeline, record: Record) -> Record:
            debtor = domain.check_restriction(record, debtor_key, self.today(), self.rules)
            pipe.multi()  # type: ignore[no-untyped-call]
            return self.order_on(pipe, record, debtor, ruling_number, identity)

        return await self.act(case_id, identity, act)

    def order_on(
        self, pipe: Pipeline, record: Record, debtor: Record, ruling_number: str,
        identity: Identity,
    ) -> Record:  # fmt: skip
        """Queue a new restriction of ``debtor`` and its event (the caller checked it)."""
        today = self.today()
        restriction = {
            "restriction_id": self.new_id(),
            "debtor_key": debtor["debtor_key"],
            "debtor_name": debtor["name"],
            "ruling_number": ruling_number,
            "ordered_on": today.isoformat(),
            "effective_on": domain.effective_on(today, self.rules).isoformat(),
            "ordered_by": identity.subject,
            "served_on": None,
            "lift_due": None,
            "status": Status.IN_FORCE.value,
            "lifted_on": None,
            "lift_cause": None,
            "lifted_by": None,
        }
        record["restrictions"][restriction["restriction_id"]] = restriction
        self.records.index_subject(pipe, debtor["id_number"], record["case_id"])
        self.log(
            record,
            "restriction_ordered",
            identity.subject,
            restriction_id=restriction["restriction_id"],
            debtor_key=debtor["debtor_key"],
        )
        self.stage(pipe, record, pb.RestrictionOrdered(
            case_id=record["case_id"], restriction_id=restriction["restriction_id"],
            debtor_key=debtor["debtor_key"], debtor_id_number=debtor["id_number"],
            debtor_name=debtor["name"], ruling_number=ruling_number,
            ordered_on=restriction["ordered_on"], effective_on=restriction["effective_on"],
            ordered_by=identity.subject, case_number=record["case_number"],
        ), identity.as_actor())  # fmt: skip
        return restriction

    async def serve(
        self, case_id: str, restriction_id: str, *, identity: Identity, served_on: dt.date | None
    ) -> Record:
        day = served_on or self.today()
        if day > self.today():
            raise Invalid("served_on is in the future", loc=("body", "served_on"))

        async def act(pipe: Pipeline, record: Record) -> Record:
            restriction = domain.restriction_of(record, restriction_id)
            domain.require_restriction_in_force(restriction)
            if restriction["served_on"] is not None:
                raise Conflict(
                    f"restriction {restriction_id} was served on {restriction['served_on']} "
                    f"(rule {domain.LIFT_RESTRICTION})"
                )
            if day.isoformat() < restriction["ordered_on"]:
                raise Invalid("served_on is before the order", loc=("body", "served_on"))
            pipe.multi()  # type: ignore[no-untyped-call]
            restriction["served_on"] = day.isoformat()
            self.log(record, "restriction_served", identity.subject, restriction_id=restriction_id)
            self.stage(pipe, record, pb.RestrictionServed(
                case_id=case_id, restriction_id=restriction_id,
                debtor_key=restriction["debtor_key"], served_on=day.isoformat(),
            ), identity.as_actor())  # fmt: skip
            return restriction

        return await self.act(case_id, identity, act)

    async def lift_due(
        self, case_id: str, restriction_id: str, *, identity: Identity, cause: LiftCause,
        urgent: bool,
    ) -> Record:  # fmt: skip
        """The restriction must now be lifted: its clock (rule ``credit.lift-restriction``,
        or ``-urgent``) starts."""
        if cause not in domain.LIFT_DUE_CAUSES:
            raise Invalid(
                f"a lift is due after performance, security or consent (rule "
                f"{domain.LIFT_RESTRICTION})",
                loc=("body", "cause"),
            )

        async def act(pipe: Pipeline, record: Record) -> Record:
            restriction = domain.restriction_of(record, restriction_id)
            domain.require_restriction_in_force(restriction)
            domain.require_not_listed(record, restriction["debtor_key"])
            if (due := restriction["lift_due"]) is not None:
                raise Conflict(
                    f"restriction {restriction_id} is due to be lifted already since "
                    f"{due['at']} ({due['cause']}) (rule {domain.lift_rule(due['urgent'])})"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            restriction["lift_due"] = {"cause": cause.value, "urgent": urgent,
                                       "by": identity.subject, "at": self.now()}  # fmt: skip
            self.log(record, "restriction_lift_due", identity.subject,
                     restriction_id=restriction_id, cause=cause.value, urgent=urgent)  # fmt: skip
            self.stage(pipe, record, pb.RestrictionLiftDue(
                case_id=case_id, restriction_id=restriction_id,
                debtor_key=restriction["debtor_key"], cause=cause.value,
                urgent="yes" if urgent else "no", recorded_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return restriction

        return await self.act(case_id, identity, act)

    async def lift(
        self, case_id: str, restriction_id: str, *, identity: Identity, cause: LiftCause | None
    ) -> Record:
        """Lift the restriction, whether or not a lift was due; the cause defaults to the
        due one's. A cause only the platform records (``case_ended``) is refused (422): the
        lift the case's end made due is lifted with the cause left out. Refused while a
        listing of the debtor on the case stands (rule ``credit.listing-restricts``)."""
        if cause in domain.PLATFORM_LIFT_CAUSES:
            raise Invalid(
                f"{cause.value} is recorded by the platform when the case ends, not sent: leave "
                f"the cause out to lift for the cause the lift is due for (rule "
                f"{domain.LIFT_RESTRICTION})",
                loc=("body", "cause"),
            )

        async def act(pipe: Pipeline, record: Record) -> Record:
            restriction = domain.restriction_of(record, restriction_id)
            domain.require_restriction_in_force(restriction)
            domain.require_not_listed(record, restriction["debtor_key"])
            due = restriction["lift_due"]
            why = cause.value if cause is not None else (due["cause"] if due else None)
            if why is None:
                raise Invalid(
                    f"say why the restriction is lifted: no lift is due (rule "
                    f"{domain.LIFT_RESTRICTION})",
                    loc=("body", "cause"),
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            today = self.today().isoformat()
            restriction.update(status=Status.LIFTED.value, lifted_on=today, lift_cause=why,
                               lifted_by=identity.subject)  # fmt: skip
            self.log(record, "restriction_lifted", identity.subject,
                     restriction_id=restriction_id, cause=why)  # fmt: skip
            self.stage(pipe, record, pb.RestrictionLifted(
                case_id=case_id, restriction_id=restriction_id,
                debtor_key=restriction["debtor_key"], cause=why, lifted_on=today,
                lifted_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return restriction

        return await self.act(case_id, identity, act)
