"""The vocabulary and pure rules of credit punishment (信用惩戒): consumption restrictions
(限制消费) and the list of dishonest debtors (失信被执行人名单).

A case's credit record holds its debtors as filed (each named by its ``debtor_key``, "d"
and its position in ``CaseFiled.debtors``), the restrictions ordered on them, their
listings and the decisions not to list them. At most one restriction and one listing per
debtor of a case is in force at a time.

- Neither measure is ordered before the case's **execution notice** was served and the
  period it set passed (rule ``credit.notice-period``, a setting: 限消规定 art 1, 法释〔2017〕7号
  art 1), nor on a debtor who is a **minor** on the day (rule ``credit.listing-grounds``).
- A **restriction** takes effect after the local grace period (rule ``credit.grace-period``,
  a setting, in calendar days). It is lifted once the debtor performed, gave security or
  the applicant consented (rules ``credit.lift-restriction``, ``-urgent``); never while
  a listing of the debtor on the case stands (rule ``credit.listing-restricts``, ¶23).
- A **listing** needs one of the six grounds of 法释〔2017〕7号 art 1, and also restricts the
  debtor (¶23). The grounds the catalogue's ``credit.listing-term`` names (its ``value``)
  list for a fixed term, which a leader may decide once to extend (rule
  ``credit.listing-extension``): the extension begins when the term runs out. The other
  ground lists until it ends. Once the ground ends the listing is deleted (rule
  ``credit.delete-listing``).
- A case that **ends** (any closure but 终结本次执行) ends every listing's ground and makes
  every restriction's lift due; it takes no new measure. A 终本 case takes new measures,
  and its measures end when the 执恢 case that resumed it ends.

Every number comes from the rule catalogue; this module holds no I/O and reads no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from stdnum.cn import ric

from zhixing import persons
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
REQUERY_NOTHING_FOUND = "credit.requery-nothing-found"
LISTING_RESTRICTS = "credit.listing-restricts"
NOTICE_PERIOD = "credit.notice-period"

TERM_RULES = (LISTING_TERM, LISTING_EXTENSION)
"""The clocks whose breach ends a listing's term: it is deleted, or its decided extension
begins."""

PERFORMED = "执行完毕"
"""The closure method (intake's ``ClosureMethod.PERFORMED``): the debtor performed."""
ENDED_THIS_ROUND = "终结本次执行"
"""The closure method (intake's ``ClosureMethod.ENDED_THIS_ROUND``, 终本) that does not end
the case's enforcement: its measures stay, and new ones may still be ordered."""

GROUNDS: dict[int, str] = {
    1: "有履行能力而拒不履行生效法律文书确定义务的",
    2: "以伪造证据、暴力、威胁等方法妨碍、抗拒执行的",
    3: "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行的",
    4: "违反财产报告制度的",
    5: "违反限制消费令的",
    6: "无正当理由拒不履行执行和解协议的",
}
"""The six grounds of 法释〔2017〕7号 art 1, by the number the article gives them."""

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
    CASE_ENDED = "case_ended"  # closed otherwise than as performed or 终本: nothing to enforce


LIFT_DUE_CAUSES = (LiftCause.PERFORMED, LiftCause.SECURITY, LiftCause.CONSENT)
PLATFORM_LIFT_CAUSES = (LiftCause.CASE_ENDED,)
"""Causes only the platform records, from the case's closure: a person never sends them (a
lift due for one is lifted with the cause left out, which takes the due one)."""


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
    # 法释〔2017〕7号 art 10: the case ended otherwise (终结执行, 不予执行, ...); 终本 is no end.
    CASE_ENDED = "case_ended"
    # Art 10(4): after 终本, the re-queries found nothing (rule credit.requery-nothing-found).
    REQUERY_NOTHING_FOUND = "requery_nothing_found"


class DeleteCause(StrEnum):
    GROUND_ENDED = "ground_ended"
    CORRECTED = "corrected"
    TERM_ENDED = "term_ended"  # the platform's, when the term's clock runs out


OFFICER_DELETE_CAUSES = (DeleteCause.GROUND_ENDED, DeleteCause.CORRECTED)
PLATFORM_GROUND_CAUSES = (GroundEndedCause.CASE_ENDED, GroundEndedCause.REQUERY_NOTHING_FOUND)
"""Causes only the platform records, from events (the case's closure; the re-queries after
终本 that found nothing): a person never sends them."""


def debtor_key(position: int) -> str:
    return f"d{position}"


def minors_of(flags: Iterable[str]) -> set[str]:
    """The id numbers intake flagged as minors (``minor_debtor:<id number>``) on filing."""
    prefix = "minor_debtor:"
    return {flag[len(prefix) :].upper() for flag in flags if flag.startswith(prefix)}


def is_minor_on(debtor: Record, day: dt.date, rules: Catalogue) -> bool:
    """Whether the debtor is a minor on ``day``, from the birth date in the resident ID; a
    debtor without one keeps intake's mark as filed. (Intake marks minors on the filing
    day: a debtor who comes of age since may be listed.)"""
    number = debtor["id_number"]
    if debtor["kind"] == "organisation" or not ric.is_valid(number):
        return bool(debtor["minor"])
    return persons.is_minor_on(number, day, rules)


def ending_cause(method: str) -> str | None:
    """What a closure by ``method`` ends the case's measures for: "performed" (执行完毕),
    "case_ended" (any other end, 法释〔2017〕7号 art 10), or None for 终本, after which the
    case may resume and its measures stay."""
    if method == ENDED_THIS_ROUND:
        return None
    return LiftCause.PERFORMED.value if method == PERFORMED else LiftCause.CASE_ENDED.value


def new_case(
    *,
    case_id: str,
    case_number: str,
    court_code: str,
    debtors: list[Record],
    at: str,
    resumed_from_case_id: str = "",
) -> Record:
    return {
        "case_id": case_id,
        "case_number": case_number,
        "court_code": court_code,
        "officer_id": "",
        # The day intake served the execution notice (``ExecutionNoticeServed``); a record
        # kept before the service watched notices has no such key (``require_notice_period``).
        "notice_served_on": None,
        "closed_as": "",
        "resumed_from_case_id": resumed_from_case_id,
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


def empty_requeries_to_end(rules: Catalogue) -> int:
    """How many re-queries after 终本 that found nothing end a listing's ground (art 10(4))."""
    value = rules.rule(REQUERY_NOTHING_FOUND).value
    assert value is not None, f"rule {REQUERY_NOTHING_FOUND} gives the count as its value"
    return int(value)


def require_open(record: Record, rule: str) -> None:
    """A case that ended takes no new measure; one closed as 终本 still may (its debtor has
    not performed and may still be punished)."""
    closed_as = record["closed_as"]
    if closed_as and closed_as != ENDED_THIS_ROUND:
        raise Conflict(
            f"case {record['case_number']} was closed as {closed_as}: no new measure (rule {rule})"
        )
    # A 终本 case ends with the 执恢 case that resumed it (``cases.CaseFacts.case_closed``).
    if ended := record.get("resumption_ended"):
        raise Conflict(
            f"case {record['case_number']} was resumed as {ended['case_number']}, closed as "
            f"{ended['method']}: no new measure (rule {rule})"
        )


def measures_from(served_on: dt.date, rules: Catalogue) -> dt.date:
    """The first day a restriction or listing may be ordered after the execution notice was
    served on ``served_on``: the notice's period (rule ``credit.notice-period``, calendar
    days, a setting) runs from the next day, and the debtor failed to perform once its last
    day is over; a period of 0 is a notice ordering performance at once (立即履行)."""
    days = rules.rule(NOTICE_PERIOD).limit
    assert days is not None
    return served_on if days == 0 else served_on + dt.timedelta(days=days + 1)


def require_notice_period(record: Record, today: dt.date, rules: Catalogue) -> None:
    """No measure before the execution notice was served and its period passed (限消规定 art
    1: 未按执行通知书指定的期间履行; 法释〔2017〕7号 art 1: 未履行). A record kept before the
    service watched notices (no ``notice_served_on`` key) cannot tell: not refused."""
    if "notice_served_on" not in record:
        return
    served = record["notice_served_on"]
    if not served:
        raise Conflict(
            f"the execution notice of case {record['case_number']} has not been served: the "
            f"debtor has no period to perform in yet, so no restriction or listing (rule "
            f"{NOTICE_PERIOD})"
        )
    earliest = measures_from(dt.date.fromisoformat(served), rules)
    if today < earliest:
        raise Conflict(
            f"the execution notice of case {record['case_number']} was served on {served}; "
            f"the period it set ({rules.rule(NOTICE_PERIOD).period.describe()}) runs until "
            f"{earliest - dt.timedelta(days=1)}: no restriction or listing before {earliest} "
            f"(rule {NOTICE_PERIOD})"
        )


def require_not_minor(debtor: Record, today: dt.date, rules: Catalogue, measure: str) -> None:
    """A minor on ``today`` is never listed (法释〔2017〕7号 art 4) nor restricted (the
    platform's design, RULES.md: never minors); both under rule ``credit.listing-grounds``,
    whose value is the age of majority."""
    if is_minor_on(debtor, today, rules):
        raise Conflict(
            f"debtor {debtor['debtor_key']} is a minor: never {measure} (rule {LISTING_GROUNDS})"
        )


# --- restrictions ----------------------------------------------------------------------------


def effective_on(ordered_on: dt.date, rules: Catalogue) -> dt.date:
    """The day a restriction or listing takes effect: after the local grace period."""
    grace = rules.rule(GRACE_PERIOD)
    assert grace.limit is not None
    return ordered_on + dt.timedelta(days=grace.limit)


def check_restriction(record: Record, key: str, today: dt.date, rules: Catalogue) -> Record:
    """The debtor a new restriction names; refused for a minor (on ``today``), when one is in
    force already, or before the execution notice's period passed."""
    debtor = debtor_of(record, key)
    require_open(record, LIFT_RESTRICTION)
    require_not_minor(debtor, today, rules, "restricted in consumption")
    if (current := in_force(record["restrictions"], key)) is not None:
        raise Conflict(
            f"debtor {key} is already restricted on this case by {current['ruling_number']} "
            f"({current['restriction_id']}): one restriction in force per debtor; lift it "
            f"first (rule {LIFT_RESTRICTION})"
        )
    require_notice_period(record, today, rules)
    return debtor


def require_not_listed(record: Record, key: str) -> None:
    """A debtor listed on the case is restricted with it (¶23): its restriction is not lifted,
    nor its lift made due, while the listing stands with its ground not ended."""
    standing = next(
        (x for x in record["listings"].values()
         if x["debtor_key"] == key and x["status"] == Status.IN_FORCE
         and x["ground_ended"] is None),
        None,
    )  # fmt: skip
    if standing is not None:
        raise Conflict(
            f"debtor {key} is on the 失信 list on this case ({standing['listing_id']}, ground "
            f"{standing['ground']}), and a listed debtor is restricted with it: record the "
            f"listing's ground ended, or delete it, first (rule {LISTING_RESTRICTS})"
        )


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


def fixed_term_grounds(rules: Catalogue) -> frozenset[int]:
    """The grounds that list for a fixed term: the catalogue's ``credit.listing-term`` value,
    the grounds' numbers separated by commas."""
    value = rules.rule(LISTING_TERM).value
    assert value is not None, f"rule {LISTING_TERM} names its fixed-term grounds as its value"
    return frozenset(int(number) for number in value.split(","))


def fixed_term(ground: int, rules: Catalogue) -> bool:
    return ground in fixed_term_grounds(rules)


def check_listing(
    record: Record, key: str, ground: int | None, today: dt.date, rules: Catalogue
) -> tuple[Record, str]:
    """The debtor a new listing names and the ground's text; refused for a minor (on
    ``today``, the day of listing), without a ground, when the debtor is listed on this
    case already, or before the execution notice's period passed."""
    debtor = debtor_of(record, key)
    text = ground_text(ground)
    require_open(record, LISTING_GROUNDS)
    require_not_minor(debtor, today, rules, "put on the 失信 list")
    if (current := in_force(record["listings"], key)) is not None:
        raise Conflict(
            f"debtor {key} is already listed on this case ({current['listing_id']}, ground "
            f"{current['ground']}) (rule {LISTING_GROUNDS})"
        )
    require_notice_period(record, today, rules)
    return debtor, text


def decline_of(record: Record, key: str) -> Record | None:
    """The standing decision not to list debtor ``key`` (one per debtor per case)."""
    return next((d for d in record["declines"] if d["debtor_key"] == key), None)


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
        # Art 2 says 可以延长一至三年: one extension of the term, not a renewable one.
        raise Conflict(
            f"listing {listing['listing_id']} was extended already on "
            f"{listing['extension']['on']}: a term is extended once (rule {LISTING_EXTENSION})"
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
    """The nominal last day of a fixed-term listing, extended by the extension decided (it
    runs from the term's end), None for a listing without a term. (The clocks roll a rest
    day over to the next working day.)"""
    if not listing["fixed_term"]:
        return None
    term = rules.rule(LISTING_TERM)
    assert term.limit is not None
    ends = add_months(dt.date.fromisoformat(listing["listed_on"]), term.limit)
    if (extension := listing["extension"]) is not None:
        # A record kept before extensions waited for the term (no "began_on") ran its
        # extension from the decision.
        began = ends if "began_on" in extension else dt.date.fromisoformat(extension["on"])
        ends = add_months(began, int(extension["months"]))
    return ends.isoformat()


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
        current_keys: set[str] = set()
        for listing in record["listings"].values():
            if _current(listing, keys, day):
                current_keys.add(listing["debtor_key"])
                listings.append(SubjectListing(
                    record["case_number"], record["court_code"], listing["effective_on"],
                    listing["ground"], listing["ground_text"], term_ends_on(listing, rules),
                ))  # fmt: skip
        for restriction in record["restrictions"].values():
            if _current(restriction, keys, day):
                current_keys.add(restriction["debtor_key"])
                restrictions.append(SubjectRestriction(
                    record["case_number"], record["court_code"], restriction["effective_on"],
                    restriction["ruling_number"],
                ))  # fmt: skip
        # The name only from a case with a measure in effect now: the answer for someone no
        # longer punished must not tell that they ever were.
        for key in sorted(current_keys):
            name = record["debtors"][key]["name"]
    return SubjectCredit(id_number, name, tuple(listings), tuple(restrictions))


def _current(measure: Record, keys: set[str], day: str) -> bool:
    return (
        measure["debtor_key"] in keys
        and measure["status"] == Status.IN_FORCE
        and measure["effective_on"] <= day
    )
