"""A case's credit punishment (信用惩戒) as the command centre shows it, kept from the credit
events: each consumption restriction (限制消费) and each 失信 listing of the case's debtors,
where it stands, and each debtor the officer decided not to list.

One hash per case: a JSON field per restriction (``restriction:<id>``), listing
(``listing:<id>``) and decision not to list (``declined:<debtor_key>``), and the debtors'
names (``name:<debtor_key>``, from the case's filing, or the order or listing that names
them). A case's credit events share its partition of the credit topic, so they come in
order. No ID number is kept: the case view names debtors, as its timeline does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.command.case_hash import CaseHashProjection
from zhixing.v1 import case_events_pb2
from zhixing.v1 import credit_events_pb2 as pb

RESTRICTION_EVENTS = (pb.RestrictionOrdered, pb.RestrictionServed, pb.RestrictionLiftDue,
                      pb.RestrictionLifted)  # fmt: skip
LISTING_EVENTS = (
    pb.DebtorListed, pb.ListingExtensionDecided, pb.ListingExtended, pb.ListingGroundEnded,
    pb.ListingDeleted,
)  # fmt: skip
FOLLOWED = (case_events_pb2.CaseFiled, pb.ListingDeclined, *RESTRICTION_EVENTS, *LISTING_EVENTS)


@dataclass(frozen=True)
class Restriction:
    restriction_id: str
    debtor_key: str
    debtor_name: str
    ruling_number: str
    ordered_on: str
    effective_on: str
    served_on: str
    state: str  # ordered, served, lift_due or lifted
    lift_cause: str
    urgent: bool
    lifted_on: str


@dataclass(frozen=True)
class Listing:
    listing_id: str
    debtor_key: str
    debtor_name: str
    ground: int
    ground_text: str
    fixed_term: bool
    decision_number: str
    listed_on: str
    effective_on: str
    extension_decided_months: int  # decided, to begin at the term's end
    extended_months: int  # begun
    state: str  # listed, ground_ended or deleted
    end_cause: str
    deleted_on: str


@dataclass(frozen=True)
class Declined:
    debtor_key: str
    debtor_name: str
    reason: str
    details: str


@dataclass(frozen=True)
class CreditSummary:
    restrictions: list[Restriction]
    listings: list[Listing]
    declined: list[Declined]


class CaseCredit(CaseHashProjection):
    FOLLOWED = FOLLOWED
    KEY = "case-credit"

    @staticmethod
    def _changes(p: Any, case: dict[str, str]) -> dict[str, str]:
        """The fields ``p`` sets in the case's hash (``case``: what is known so far)."""
        if isinstance(p, case_events_pb2.CaseFiled):
            return {f"name:d{n}": d.name for n, d in enumerate(p.debtors) if d.name}
        if isinstance(p, pb.ListingDeclined):
            declined = {"reason": p.reason, "details": p.details}
            return {f"declined:{p.debtor_key}": json.dumps(declined, ensure_ascii=False)}
        field = (f"restriction:{p.restriction_id}" if isinstance(p, RESTRICTION_EVENTS)
                 else f"listing:{p.listing_id}")  # fmt: skip
        record: dict[str, Any] = json.loads(case.get(field) or "{}")
        record["debtor_key"] = p.debtor_key
        changes: dict[str, str] = {}
        if isinstance(p, pb.RestrictionOrdered | pb.DebtorListed) and p.debtor_name:
            changes[f"name:{p.debtor_key}"] = p.debtor_name
        if isinstance(p, pb.RestrictionOrdered):
            record.update(ruling_number=p.ruling_number, ordered_on=p.ordered_on,
                          effective_on=p.effective_on)  # fmt: skip
            record.setdefault("state", "ordered")
        elif isinstance(p, pb.RestrictionServed):
            record.update(served_on=p.served_on)
            if record.get("state", "ordered") == "ordered":
                record["state"] = "served"
        elif isinstance(p, pb.RestrictionLiftDue):
            record.update(state="lift_due", lift_cause=p.cause, urgent=p.urgent == "yes")
        elif isinstance(p, pb.RestrictionLifted):
            record.update(state="lifted", lifted_on=p.lifted_on,
                          lift_cause=p.cause or record.get("lift_cause", ""))  # fmt: skip
        elif isinstance(p, pb.DebtorListed):
            record.update(ground=p.ground, ground_text=p.ground_text,
                          fixed_term=p.fixed_term == "yes", decision_number=p.decision_number,
                          listed_on=p.listed_on, effective_on=p.effective_on)  # fmt: skip
            record.setdefault("state", "listed")
        elif isinstance(p, pb.ListingExtensionDecided):  # begins at the term's end
            record["extension_decided_months"] = p.extension_months
        elif isinstance(p, pb.ListingExtended):
            record["extended_months"] = int(record.get("extended_months", 0)) + p.extension_months
        elif isinstance(p, pb.ListingGroundEnded):
            record.update(state="ground_ended", end_cause=p.cause)
        elif isinstance(p, pb.ListingDeleted):
            record.update(state="deleted", deleted_on=p.deleted_on,
                          end_cause=record.get("end_cause") or p.cause)  # fmt: skip
        changes[field] = json.dumps(record, ensure_ascii=False)
        return changes

    async def get(self, case_id: str) -> CreditSummary:
        """The case's restrictions, listings and decisions not to list (none before any)."""
        raw = await self.read(case_id)

        def name(record: dict[str, Any]) -> str:
            return raw.get(f"name:{record.get('debtor_key', '')}", "")

        restrictions, listings, declined = [], [], []
        for field, value in sorted(raw.items()):
            kind, _, ident = field.partition(":")
            if kind not in ("restriction", "listing", "declined"):
                continue
            r: dict[str, Any] = json.loads(value)
            if kind == "restriction":
                restrictions.append(Restriction(
                    restriction_id=ident, debtor_key=r.get("debtor_key", ""), debtor_name=name(r),
                    ruling_number=r.get("ruling_number", ""), ordered_on=r.get("ordered_on", ""),
                    effective_on=r.get("effective_on", ""), served_on=r.get("served_on", ""),
                    state=r.get("state", "ordered"), lift_cause=r.get("lift_cause", ""),
                    urgent=bool(r.get("urgent")), lifted_on=r.get("lifted_on", ""),
                ))  # fmt: skip
            elif kind == "listing":
                listings.append(Listing(
                    listing_id=ident, debtor_key=r.get("debtor_key", ""), debtor_name=name(r),
                    ground=int(r.get("ground", 0)), ground_text=r.get("ground_text", ""),
                    fixed_term=bool(r.get("fixed_term")),
                    decision_number=r.get("decision_number", ""),
                    listed_on=r.get("listed_on", ""), effective_on=r.get("effective_on", ""),
                    extension_decided_months=int(r.get("extension_decided_months", 0)),
                    extended_months=int(r.get("extended_months", 0)),
                    state=r.get("state", "listed"), end_cause=r.get("end_cause", ""),
                    deleted_on=r.get("deleted_on", ""),
                ))  # fmt: skip
            else:
                declined.append(Declined(debtor_key=ident, debtor_name=raw.get(f"name:{ident}", ""),
                                         reason=r.get("reason", ""),
                                         details=r.get("details", "")))  # fmt: skip
        return CreditSummary(restrictions=restrictions, listings=listings, declined=declined)
