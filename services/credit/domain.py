"""The vocabulary and pure rules of credit punishment (信用惩戒): consumption restrictions
(限制消费) and the list of dishonest debtors (失信被执行人名单).

A case's credit record holds its debtors as filed (each named by its ``debtor_key``, "d"
and its position in ``CaseFiled.debtors``), the restrictions ordered on them, their
listings and the decisions not to list them. At most one restriction and one listing per
debtor of a case is in force at a time.

- A **restriction** takes effect after the local grace period (rule ``credit.grace-period``,
  a setting, in calendar days). It is lifted once the debtor performed, gave security or
  the applicant consented (rules ``credit.lift-restriction``, ``-urgent``).
- A **listing** needs one of the six grounds of 法释〔2017〕7号 art 1, never names a minor,
  and also restricts the debtor (¶23). Grounds 2–6 list for a fixed term (rule
  ``credit.listing-term``), which a leader may extend once (rule
  ``credit.listing-extension``); ground 1 lists until the ground ends. Once the ground
  ends the listing is deleted (rule ``credit.delete-listing``).

Every number comes from the rule catalogue; this module holds no I/O and reads no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.periods import add_months
from zhixing.rules import Catalogue

Record = dict[str, Any]

LISTING_GROUNDS = "credit.listing-grounds"
GRACE_PERIOD = "credit.grace-period"
LISTING_TERM = "credit.listing-term"
LISTING_EXTENSION = "credit.listing-extension"
LIFT_RESTRICTION = "credit.lift-restriction"
LIFT_RESTRICTION_URGENT = "credit.lift-restriction-urgent"
DELETE_LISTING = "credit.delete-listing"

TERM_RULES = (LISTING_TERM, LISTING_EXTENSION)
"""The clocks whose breach ends a listing's term: it is deleted."""

PERFORMED = "执行完毕"
"""The closure method (intake's ``ClosureMethod.PERFORMED``) after which every restriction
is to be lifted and every listing's ground has ended."""

GROUNDS: dict[int, str] = {
    1: "有履行能力而拒不履行生效法律文书确定义务的",
    2: "以伪造证据、暴力、威胁等方法妨碍、抗拒执行的",
    3: "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行的",
    4: "违反财产报告制度的",
    5: "违反限制消费令的",
    6: "无正当理由拒不履行执行和解协议的",
}
"""The six grounds of 法释〔2017〕7号 art 1, by the number the article gives them."""

UNTIMED_GROUNDS = frozenset({1})
"""Grounds that list until the ground ends (art 2 fixes a term for the others)."""

MAX_DEBTOR_KEY = 8
"""The length of a debtor key ("d" and a position below ``zhixing.bounds.MAX_PARTIES``)."""


MAX_MONTHS = 1200
"""The longest number of months a request may name (engineering bound, a century): the
extension's own rule checks the real limit."""


class Status(StrEnum):
    IN_FORCE = "in_force"
    LIFTED = "lifted"  # a restriction
    DELETED = "deleted"  # a listing


class LiftCause(StrEnum):
    """Why a restriction is lifted (¶23), or was ordered by mistake."""

    PERFORMED = "performed"
    SECURITY = "security"
    CONSENT = "consent"
    CORRECTED = "corrected"


LIFT_DUE_CAUSES = (LiftCause.PERFORMED, LiftCause.SECURITY, LiftCause.CONSENT)


class DeclineReason(StrEnum):
    """Why a debtor is not listed (法释〔2017〕7号 art 3)."""

    ONLY_RESTRICTION = "only_restriction"
    NO_GROUND = "no_ground"
    SECURITY_SUFFICIENT = "security_sufficient"


class GroundEndedCause(StrEnum):
    """Why a listing's ground ended (``term_ended`` is the platform's own, on the term's
    clock)."""

    PERFORMED = "performed"
    REVOKED = "revoked"
    APPLICANT_CONSENT = "applicant_consent"
    OTHER = "other"


class DeleteCause(StrEnum):
    GROUND_ENDED = "ground_ended"
    CORRECTED = "corrected"
    TERM_ENDED = "term_ended"  # the platform's, when the term's clock runs out


OFFICER_DELETE_CAUSES = (DeleteCause.GROUND_ENDED, DeleteCause.CORRECTED)


def debtor_key(position: int) -> str:
    return f"d{position}"


def minors_of(flags: Iterable[str]) -> set[str]:
    """The id numbers intake flagged as minors (``minor_debtor:<id number>``)."""
    prefix = "minor_debtor:"
    return {flag[len(prefix) :].upper() for flag in flags if flag.startswith(prefix)}


def new_case(
    *, case_id: str, case_number: str, court_code: str, debtors: list[Record], at: str
) -> Record:
    return {
        "case_id": case_id,
        "case_number": case_number,
        "court_code": court_code,
        "officer_id": "",
        "closed_as": "",
        "debtors": {d["debtor_key"]: d for d in debtors},
        "restrictions": {},
        "listings": {},
        "declines": [],
        "history": [{"at": at, "act": "case_known", "by": "svc:credit"}],
    }


def debtor_of(record: Record, key: str) -> Record:
    debtor: Record | None = record["debtors"].get(key)
    if debtor is None:
        known = ", ".join(sorted(record["debtors"])) or "none"
        raise Invalid(
            f"case has no debtor {key!r} (its debtors: {known})", loc=("body", "debtor_key")
        )
    return debtor


def restriction_of(record: Record, restriction_id: str) -> Record:
    restriction: Record | None = record["restrictions"].get(restriction_id)
    if restriction is None:
        raise NotFound(f"no restriction {restriction_id} on case {record['case_id']}")
    return restriction


def listing_of(record: Record, listing_id: str) -> Record:
    listing: Record | None = record["listings"].get(listing_id)
    if listing is None:
        raise NotFound(f"no listing {listing_id} on case {record['case_id']}")
    return listing


def in_force(items: dict[str, Record], key: str) -> Record | None:
    """The measure (restriction or listing) in force on debtor ``key``, if any."""
    return next(
        (m for m in items.values() if m["debtor_key"] == key and m["status"] == Status.IN_FORCE),
        None,
    )


def require_open(record: Record, rule: str) -> None:
    if record["closed_as"] == PERFORMED:
        raise Conflict(
            f"case {record['case_number']} was closed as {PERFORMED}: no new measure (rule {rule})"
        )


# --- restrictions ----------------------------------------------------------------------------


def effective_on(ordered_on: dt.date, rules: Catalogue) -> dt.date:
    """The day a restriction or listing takes effect: after the local grace period."""
    grace = rules.rule(GRACE_PERIOD)
    assert grace.limit is not None
    return ordered_on + dt.timedelta(days=grace.limit)


def check_restriction(record: Record, key: str) -> Record:
    """The debtor a new restriction names; refused when one is in force already."""
    debtor = debtor_of(record, key)
    require_open(record, LIFT_RESTRICTION)
    if (current := in_force(record["restrictions"], key)) is not None:
        raise Conflict(
            f"debtor {key} is already restricted on this case by {current['ruling_number']} "
            f"({current['restriction_id']}): one restriction in force per debtor; lift it "
            f"first (rule {LIFT_RESTRICTION})"
        )
    return debtor


def require_restriction_in_force(restriction: Record) -> None:
    if restriction["status"] != Status.IN_FORCE:
        raise Conflict(
            f"restriction {restriction['restriction_id']} was lifted on "
            f"{restriction['lifted_on']} (rule {LIFT_RESTRICTION})"
        )


def lift_rule(urgent: bool) -> str:
    return LIFT_RESTRICTION_URGENT if urgent else LIFT_RESTRICTION


# --- listings --------------------------------------------------------------------------------


def ground_text(ground: int | None) -> str:
    """The text of a ground of art 1; a missing or unknown ground is refused (422)."""
    if ground is None or ground not in GROUNDS:
        raise Invalid(
            f"a listing needs one of the six grounds of 法释〔2017〕7号 art 1, numbered "
            f"{min(GROUNDS)}–{max(GROUNDS)} (rule {LISTING_GROUNDS})",
            loc=("body", "ground"),
        )
    return GROUNDS[ground]


def fixed_term(ground: int) -> bool:
    return ground not in UNTIMED_GROUNDS


def check_listing(record: Record, key: str, ground: int | None) -> tuple[Record, str]:
    """The debtor a new listing names and the ground's text; refused for a minor, without a
    ground, or when the debtor is listed on this case already."""
    debtor = debtor_of(record, key)
    text = ground_text(ground)
    require_open(record, LISTING_GROUNDS)
    if debtor["minor"]:
        raise Conflict(
            f"debtor {key} is a minor: never put on the 失信 list (rule {LISTING_GROUNDS})"
        )
    if (current := in_force(record["listings"], key)) is not None:
        raise Conflict(
            f"debtor {key} is already listed on this case ({current['listing_id']}, ground "
            f"{current['ground']}) (rule {LISTING_GROUNDS})"
        )
    return debtor, text


def check_decline(record: Record, key: str) -> None:
    debtor_of(record, key)
    if (current := in_force(record["listings"], key)) is not None:
        raise Conflict(
            f"debtor {key} is listed on this case ({current['listing_id']}): record the "
            f"ground's end or delete the listing instead (rule {LISTING_GROUNDS})"
        )


def require_listing_in_force(listing: Record, rule: str) -> None:
    if listing["status"] != Status.IN_FORCE:
        raise Conflict(
            f"listing {listing['listing_id']} was deleted on {listing['deleted_on']} (rule {rule})"
        )


def extension_bounds(rules: Catalogue) -> tuple[int, int]:
    """The shortest and longest extension of a listing's term, in months."""
    rule = rules.rule(LISTING_EXTENSION)
    assert rule.value is not None and rule.limit is not None
    return int(rule.value), rule.limit


def check_extension(listing: Record, months: int, rules: Catalogue) -> None:
    require_listing_in_force(listing, LISTING_EXTENSION)
    if not listing["fixed_term"]:
        raise Conflict(
            f"listing {listing['listing_id']} (ground {listing['ground']}) has no fixed term "
            f"to extend (rule {LISTING_EXTENSION})"
        )
    if listing["extension"] is not None:
        raise Conflict(
            f"listing {listing['listing_id']} was extended already on "
            f"{listing['extension']['on']} (rule {LISTING_EXTENSION})"
        )
    if listing["ground_ended"] is not None:
        raise Conflict(
            f"the ground of listing {listing['listing_id']} ended: it is to be deleted, not "
            f"extended (rule {DELETE_LISTING})"
        )
    shortest, longest = extension_bounds(rules)
    if not shortest <= months <= longest:
        raise Invalid(
            f"an extension is {shortest} to {longest} months (rule {LISTING_EXTENSION})",
            loc=("body", "months"),
        )


def term_ends_on(listing: Record, rules: Catalogue) -> str | None:
    """The nominal last day of a fixed-term listing (its clock rolls a rest day over to the
    next working day), None for a listing without a term."""
    if not listing["fixed_term"]:
        return None
    extension = listing["extension"]
    if extension is not None:
        start, months = dt.date.fromisoformat(extension["on"]), int(extension["months"])
    else:
        term = rules.rule(LISTING_TERM)
        assert term.limit is not None
        start, months = dt.date.fromisoformat(listing["listed_on"]), term.limit
    return add_months(start, months).isoformat()


def check_ground_ended(listing: Record) -> None:
    require_listing_in_force(listing, DELETE_LISTING)
    if listing["ground_ended"] is not None:
        raise Conflict(
            f"the ground of listing {listing['listing_id']} ended already on "
            f"{listing['ground_ended']['on']} (rule {DELETE_LISTING})"
        )


def check_deletion(listing: Record, cause: DeleteCause) -> None:
    require_listing_in_force(listing, DELETE_LISTING)
    if cause is DeleteCause.GROUND_ENDED and listing["ground_ended"] is None:
        raise Conflict(
            f"the ground of listing {listing['listing_id']} has not ended: record its end "
            f"first, or delete it as corrected (rule {DELETE_LISTING})"
        )


# --- the query by ID number or credit code ----------------------------------------------------


@dataclass(frozen=True)
class SubjectListing:
    case_number: str
    court_code: str
    since: str
    ground: int
    ground_text: str
    term_ends_on: str | None


@dataclass(frozen=True)
class SubjectRestriction:
    case_number: str
    court_code: str
    since: str
    ruling_number: str


@dataclass(frozen=True)
class SubjectCredit:
    """Whether a person or company is listed or restricted now, by which courts, on which
    cases."""

    id_number: str
    name: str | None
    listings: tuple[SubjectListing, ...]
    restrictions: tuple[SubjectRestriction, ...]

    @property
    def listed(self) -> bool:
        return bool(self.listings)

    @property
    def restricted(self) -> bool:
        return bool(self.restrictions)

    @property
    def courts(self) -> list[str]:
        return sorted(
            {m.court_code for m in self.listings} | {m.court_code for m in self.restrictions}
        )


def subject_credit(
    id_number: str, records: Iterable[Record], today: dt.date, rules: Catalogue
) -> SubjectCredit:
    """What the credit records say of ``id_number`` on ``today``: the measures in force and
    in effect (their grace period over)."""
    name: str | None = None
    listings: list[SubjectListing] = []
    restrictions: list[SubjectRestriction] = []
    day = today.isoformat()
    for record in sorted(records, key=lambda r: r["case_number"]):
        keys = {k for k, d in record["debtors"].items() if d["id_number"] == id_number}
        for key in sorted(keys):
            name = record["debtors"][key]["name"]
        for listing in record["listings"].values():
            if _current(listing, keys, day):
                listings.append(SubjectListing(
                    record["case_number"], record["court_code"], listing["effective_on"],
                    listing["ground"], listing["ground_text"], term_ends_on(listing, rules),
                ))  # fmt: skip
        for restriction in record["restrictions"].values():
            if _current(restriction, keys, day):
                restrictions.append(SubjectRestriction(
                    record["case_number"], record["court_code"], restriction["effective_on"],
                    restriction["ruling_number"],
                ))  # fmt: skip
    return SubjectCredit(id_number, name, tuple(listings), tuple(restrictions))


def _current(measure: Record, keys: set[str], day: str) -> bool:
    return (
        measure["debtor_key"] in keys
        and measure["status"] == Status.IN_FORCE
        and measure["effective_on"] <= day
    )
