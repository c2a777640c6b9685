"""The credit service's handlers on the in-memory repository: restrictions ordered once per
debtor, in effect after the grace period, due to be lifted and lifted; listings only on a
statutory ground (fixed-term ones as the catalogue says), never of a debtor who is a minor
on the day of listing, restricting the debtor too; one decision not to list per debtor;
extensions decided by a leader who does not handle the case, within the catalogue's bounds,
once, beginning when the term ends; the ground's end and deletion; a closure other than
终本 lifting and ending everything once (and a resumed 终本 case's measures with it); empty
re-queries after 终本 ending listings' grounds; a term's breach deleting or extending the
listing; and the query by ID number, which names nobody without a measure in effect."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, cast

import pytest
from google.protobuf.message import Message
from pydantic import ValidationError
from redis.asyncio.client import Pipeline

from services.credit import domain, repository
from services.credit.handler import SERVICE_ACTOR
from services.credit.handlers import Credit
from services.credit.http_api import ExtensionIn, ListingIn
from services.credit.reactions import CaseFacts, RequeryFacts, debtor_key_of
from services.credit.repository import CreditRecords
from tests.factories import START, full_width
from tests.fakes import in_memory_context, person, staged, staged_types
from tools.demo import credit_code, resident_id
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event, new_event
from zhixing.projection import Transaction
from zhixing.rules import catalogue, load_catalogue
from zhixing.state import transact
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import credit_events_pb2 as pb
from zhixing.v1 import deadline_events_pb2

COURT = "苏1283"
COMPANY = credit_code(11)
ADULT = resident_id("321283", dt.date(1998, 1, 1), 21)
MINOR = resident_id("321283", dt.date(2015, 6, 1), 22)
OFFICER = person(Role.OFFICER, COURT, "officer-1")  # handles the case
LEADER = person(Role.LEADER, COURT, "leader-1")
ZHONGBEN = "终结本次执行"  # intake's ClosureMethod.ENDED_THIS_ROUND


def filed(case_id: str = "case-1") -> cases.CaseFiled:
    return cases.CaseFiled(
        case_id=case_id, court_code=COURT, case_type_code="执",
        case_number=f"（2026）苏1283执{case_id[-1]}号",
        debtors=[
            cases.Party(kind=cases.PARTY_KIND_ORGANISATION, name="某某有限公司", id_number=COMPANY),
            cases.Party(kind=cases.PARTY_KIND_NATURAL_PERSON, name="李四", id_number=ADULT),
            cases.Party(kind=cases.PARTY_KIND_NATURAL_PERSON, name="小明", id_number=MINOR),
        ],
        flags=[f"minor_debtor:{MINOR}"],
    )  # fmt: skip


async def credit_with_case(env: dict[str, str] | None = None) -> Credit:
    ctx = in_memory_context("credit", SimulatedClock(START))
    rules = load_catalogue(environ=env) if env is not None else catalogue()
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), rules)
    assert await credit.cases.remember_case(filed(), COURT)
    await credit.cases.assign_officer("case-1", OFFICER.subject)
    await noticed(credit)
    return credit


async def noticed(credit: Credit, case_id: str = "case-1") -> None:
    """Intake served the case's execution notice today (the catalogue's default period, 0
    days, lets a measure follow the same day)."""
    assert await credit.cases.notice_served(case_id, credit.today().isoformat())


async def listed(credit: Credit, key: str = "d1", ground: int = 2) -> dict:  # type: ignore[type-arg]
    listing: dict = await credit.listings.list_debtor(  # type: ignore[type-arg]
        "case-1", identity=OFFICER, debtor_key=key, ground=ground,
        decision_number="（2026）苏1283执1号之一", facts="妨碍执行",
    )  # fmt: skip
    return listing


async def restricted(credit: Credit, key: str = "d0") -> dict:  # type: ignore[type-arg]
    restriction: dict = await credit.restrictions.order(  # type: ignore[type-arg]
        "case-1", identity=OFFICER, debtor_key=key, ruling_number="（2026）苏1283执1号之二"
    )
    return restriction


async def test_a_case_is_remembered_once_with_its_debtors_and_minors() -> None:
    credit = await credit_with_case()
    assert not await credit.cases.remember_case(filed(), COURT)
    record = await credit.record_of("case-1", OFFICER)
    assert [(d["debtor_key"], d["minor"]) for d in record["debtors"].values()] == [
        ("d0", False), ("d1", False), ("d2", True),
    ]  # fmt: skip
    assert record["officer_id"] == OFFICER.subject
    assert await staged_types(credit.ctx) == []


async def test_a_restriction_takes_effect_after_the_grace_period_once_per_debtor() -> None:
    credit = await credit_with_case({"ZHIXING_RULE_CREDIT_GRACE_PERIOD_LIMIT": "10"})
    restriction = await restricted(credit)
    ordered = dt.date.fromisoformat(restriction["ordered_on"])
    assert dt.date.fromisoformat(restriction["effective_on"]) - ordered == dt.timedelta(days=10)
    with pytest.raises(Conflict, match=r"credit\.lift-restriction"):
        await restricted(credit)
    (event,) = await staged(credit.ctx)
    assert isinstance(event.payload, pb.RestrictionOrdered)
    assert event.payload.debtor_id_number == COMPANY
    assert event.envelope.aggregate_id == "case-1" and event.envelope.court_code == COURT


async def test_without_a_grace_setting_a_restriction_is_in_effect_the_day_it_is_ordered() -> None:
    credit = await credit_with_case({})
    restriction = await restricted(credit)
    assert restriction["effective_on"] == restriction["ordered_on"]


async def test_only_an_officer_of_the_handling_court_acts_and_unknown_debtors_are_refused() -> None:
    credit = await credit_with_case()
    with pytest.raises(ScopeError):
        await credit.restrictions.order(
            "case-1", identity=person(Role.CLERK, COURT), debtor_key="d0", ruling_number="x"
        )
    with pytest.raises(NotFound):
        await credit.restrictions.order(
            "case-1", identity=person(Role.OFFICER, "苏1282"), debtor_key="d0", ruling_number="x"
        )
    with pytest.raises(Invalid) as refused:
        await restricted(credit, "d7")
    assert refused.value.loc == ("body", "debtor_key")


async def test_a_lift_is_due_then_lifted_and_a_lifted_restriction_refuses_more() -> None:
    credit = await credit_with_case()
    restriction = await restricted(credit)
    rid = restriction["restriction_id"]
    await credit.restrictions.serve("case-1", rid, identity=OFFICER, served_on=None)
    with pytest.raises(Conflict, match="served on"):
        await credit.restrictions.serve("case-1", rid, identity=OFFICER, served_on=None)
    due = await credit.restrictions.lift_due(
        "case-1", rid, identity=OFFICER, cause=domain.LiftCause.SECURITY, urgent=True
    )
    assert due["lift_due"]["urgent"] is True
    with pytest.raises(Conflict, match=r"credit\.lift-restriction-urgent"):
        await credit.restrictions.lift_due(
            "case-1", rid, identity=OFFICER, cause=domain.LiftCause.SECURITY, urgent=False
        )
    lifted = await credit.restrictions.lift("case-1", rid, identity=OFFICER, cause=None)
    assert lifted["lift_cause"] == "security" and lifted["status"] == "lifted"
    with pytest.raises(Conflict, match=r"credit\.lift-restriction"):
        await credit.restrictions.lift("case-1", rid, identity=OFFICER, cause=None)
    events = [e.payload for e in await staged(credit.ctx)]
    assert [type(p).__name__ for p in events] == [
        "RestrictionOrdered", "RestrictionServed", "RestrictionLiftDue", "RestrictionLifted",
    ]  # fmt: skip
    assert isinstance(events[2], pb.RestrictionLiftDue) and events[2].urgent == "yes"
    # A new restriction may follow once the old one is lifted.
    assert (await restricted(credit))["restriction_id"] != rid


async def test_a_lift_without_a_due_lift_needs_its_cause() -> None:
    credit = await credit_with_case()
    rid = (await restricted(credit))["restriction_id"]
    with pytest.raises(Invalid, match=r"credit\.lift-restriction") as refused:
        await credit.restrictions.lift("case-1", rid, identity=OFFICER, cause=None)
    assert refused.value.loc == ("body", "cause")
    lifted = await credit.restrictions.lift(
        "case-1", rid, identity=OFFICER, cause=domain.LiftCause.CONSENT
    )
    assert lifted["lift_cause"] == "consent"


async def test_a_minor_is_never_listed_and_a_listing_needs_a_statutory_ground() -> None:
    credit = await credit_with_case()
    with pytest.raises(Conflict, match=r"minor.*credit\.listing-grounds"):
        await listed(credit, "d2")
    for ground in (None, 0, 7):
        with pytest.raises(Invalid, match=r"credit\.listing-grounds") as refused:
            await credit.listings.list_debtor(
                "case-1", identity=OFFICER, debtor_key="d1", ground=ground,
                decision_number="x", facts="y",
            )  # fmt: skip
        assert refused.value.loc == ("body", "ground")
    assert await staged_types(credit.ctx) == []
    # The request model refuses it at the door too, naming the rule.
    with pytest.raises(ValidationError, match=r"credit\.listing-grounds"):
        ListingIn.model_validate({"debtor_key": "d1", "decision_number": "x", "facts": "y"})


async def test_a_listing_restricts_the_debtor_too_and_is_listed_once() -> None:
    credit = await credit_with_case()
    listing = await listed(credit, "d1", ground=2)
    assert listing["fixed_term"] is True
    assert listing["ground_text"] == domain.GROUNDS[2]
    with pytest.raises(Conflict, match="already listed"):
        await listed(credit, "d1", ground=3)
    events = [e.payload for e in await staged(credit.ctx)]
    assert [type(p).__name__ for p in events] == ["RestrictionOrdered", "DebtorListed"]
    debtor_listed = events[1]
    assert isinstance(debtor_listed, pb.DebtorListed)
    assert debtor_listed.fixed_term == "yes" and debtor_listed.debtor_id_number == ADULT
    # Ground 1 lists until the ground ends; a debtor restricted already is not again.
    await restricted(credit, "d0")
    untimed = await listed(credit, "d0", ground=1)
    assert untimed["fixed_term"] is False
    assert domain.term_ends_on(untimed, catalogue()) is None
    assert (await staged_types(credit.ctx))[2:] == ["RestrictionOrdered", "DebtorListed"]


async def test_a_decline_is_recorded_and_a_later_listing_is_still_allowed() -> None:
    credit = await credit_with_case()
    await credit.listings.decline(
        "case-1", identity=OFFICER, debtor_key="d1",
        reason=domain.DeclineReason.ONLY_RESTRICTION, details="只适用限制消费",
    )  # fmt: skip
    await listed(credit, "d1")
    with pytest.raises(Conflict, match=r"credit\.listing-grounds"):
        await credit.listings.decline(
            "case-1", identity=OFFICER, debtor_key="d1", reason=domain.DeclineReason.NO_GROUND,
            details="",
        )  # fmt: skip


async def test_an_extension_is_a_leaders_within_the_catalogues_bounds_and_only_once() -> None:
    credit = await credit_with_case()
    listing = await listed(credit, "d1", ground=2)
    lid = listing["listing_id"]
    shortest, longest = domain.extension_bounds(catalogue())
    with pytest.raises(ScopeError):
        await credit.listings.extend("case-1", lid, identity=OFFICER, months=shortest, reason="r")
    handling_leader = person(Role.LEADER, COURT, OFFICER.subject)
    with pytest.raises(ScopeError, match=r"credit\.listing-extension"):
        await credit.listings.extend(
            "case-1", lid, identity=handling_leader, months=shortest, reason="r"
        )
    for months in (shortest - 1, longest + 1):
        with pytest.raises(Invalid, match=r"credit\.listing-extension") as refused:
            await credit.listings.extend("case-1", lid, identity=LEADER, months=months, reason="r")
        assert refused.value.loc == ("body", "months")
    extended = await credit.listings.extend(
        "case-1", lid, identity=LEADER, months=longest, reason="仍未履行"
    )
    listed_on = dt.date.fromisoformat(extended["listed_on"])
    term = catalogue().rule(domain.LISTING_TERM).limit
    assert term is not None
    assert (
        domain.term_ends_on(extended, catalogue())
        == listed_on.replace(year=listed_on.year + (term + longest) // 12).isoformat()
    )
    with pytest.raises(Conflict, match=r"extended already.*credit\.listing-extension"):
        await credit.listings.extend("case-1", lid, identity=LEADER, months=shortest, reason="r")
    (event,) = [e.payload for e in await staged(credit.ctx)
                if isinstance(e.payload, pb.ListingExtensionDecided)]  # fmt: skip
    assert event.extension_months == longest


async def test_a_listing_without_a_term_cannot_be_extended() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1", ground=1))["listing_id"]
    shortest, _ = domain.extension_bounds(catalogue())
    with pytest.raises(Conflict, match="no fixed term"):
        await credit.listings.extend("case-1", lid, identity=LEADER, months=shortest, reason="r")


async def test_a_listing_is_deleted_once_its_ground_ended_or_as_corrected() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1"))["listing_id"]
    with pytest.raises(Conflict, match=r"credit\.delete-listing"):
        await credit.listings.delete(
            "case-1", lid, identity=OFFICER, cause=domain.DeleteCause.GROUND_ENDED
        )
    with pytest.raises(Invalid, match=r"credit\.delete-listing"):
        await credit.listings.delete(
            "case-1", lid, identity=OFFICER, cause=domain.DeleteCause.TERM_ENDED
        )
    await credit.listings.ground_ended(
        "case-1", lid, identity=OFFICER, cause=domain.GroundEndedCause.REVOKED
    )
    with pytest.raises(Conflict, match="ended already"):
        await credit.listings.ground_ended(
            "case-1", lid, identity=OFFICER, cause=domain.GroundEndedCause.OTHER
        )
    deleted = await credit.listings.delete(
        "case-1", lid, identity=OFFICER, cause=domain.DeleteCause.GROUND_ENDED
    )
    assert deleted["status"] == "deleted"
    with pytest.raises(Conflict, match="deleted on"):
        await credit.listings.delete(
            "case-1", lid, identity=OFFICER, cause=domain.DeleteCause.CORRECTED
        )
    other = (await listed(credit, "d0"))["listing_id"]
    await credit.listings.delete(
        "case-1", other, identity=OFFICER, cause=domain.DeleteCause.CORRECTED
    )
    assert (await staged_types(credit.ctx)).count("ListingDeleted") == 2


async def test_closed_as_performed_every_restriction_is_due_and_every_ground_ends_once() -> None:
    credit = await credit_with_case()
    await restricted(credit, "d0")
    await listed(credit, "d1")
    before = len(await staged(credit.ctx))
    assert await credit.cases.case_closed("case-1", domain.PERFORMED) == 3
    assert await credit.cases.case_closed("case-1", domain.PERFORMED) == 0  # redelivered
    after = [e.payload for e in (await staged(credit.ctx))[before:]]
    dues = [p for p in after if isinstance(p, pb.RestrictionLiftDue)]
    assert sorted(p.debtor_key for p in dues) == ["d0", "d1"]
    assert {(p.cause, p.urgent) for p in dues} == {("performed", "no")}
    (ended,) = [p for p in after if isinstance(p, pb.ListingGroundEnded)]
    assert ended.cause == "performed" and ended.debtor_key == "d1"
    with pytest.raises(Conflict, match="执行完毕"):
        await restricted(credit, "d2")


async def test_closed_otherwise_nothing_is_lifted() -> None:
    credit = await credit_with_case()
    await restricted(credit, "d0")
    assert await credit.cases.case_closed("case-1", ZHONGBEN) == 0
    assert await staged_types(credit.ctx) == ["RestrictionOrdered"]


async def test_a_terms_breach_deletes_the_listing_once() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1", ground=2))["listing_id"]
    clock = deadline_events_pb2.ClockRef(
        clock_id=f"{domain.LISTING_TERM}:case-1:d1", rule_id=domain.LISTING_TERM,
        subject_id="case-1",
    )  # fmt: skip
    key = debtor_key_of(clock)
    assert key == "d1"
    assert await credit.cases.term_ended("case-1", key, domain.LISTING_TERM)
    assert not await credit.cases.term_ended("case-1", key, domain.LISTING_TERM)
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][lid]["delete_cause"] == "term_ended"
    (deleted,) = [e for e in await staged(credit.ctx) if isinstance(e.payload, pb.ListingDeleted)]
    assert deleted.envelope.actor.id == "svc:credit"


async def test_the_query_answers_what_is_in_force_and_in_effect_by_court_and_case() -> None:
    credit = await credit_with_case({"ZHIXING_RULE_CREDIT_GRACE_PERIOD_LIMIT": "3"})
    await listed(credit, "d1", ground=2)
    await restricted(credit, "d0")
    waiting = await credit.subject(ADULT.lower())
    assert not waiting.listed and not waiting.restricted  # the grace period runs
    credit.ctx.clock.advance(dt.timedelta(days=3))  # type: ignore[attr-defined]
    person_now = await credit.subject(ADULT)
    assert person_now.listed and person_now.restricted and person_now.name == "李四"
    # Asked with the number typed full width (a Chinese input method), the same person.
    wide = full_width(ADULT)
    assert (await credit.subject(wide)).restricted
    assert person_now.courts == [COURT]
    (entry,) = person_now.listings
    assert entry.case_number == "（2026）苏1283执1号" and entry.ground == 2
    assert entry.term_ends_on is not None
    company = await credit.subject(COMPANY)
    assert company.restricted and not company.listed
    nobody = await credit.subject(resident_id("321283", dt.date(1999, 2, 2), 5))
    assert not nobody.listed and not nobody.restricted and nobody.courts == []
    with pytest.raises(Invalid) as refused:
        await credit.subject(ADULT[:-1] + ("0" if ADULT[-1] != "0" else "1"))  # check digit
    assert refused.value.loc == ("path", "id_number")


async def test_a_moved_case_is_read_and_acted_on_by_its_new_court() -> None:
    credit = await credit_with_case()
    assert await credit.cases.follow_case("case-1", COURT, "苏12")
    assert not await credit.cases.follow_case("case-1", COURT, "苏12")
    with pytest.raises(NotFound):  # the old court no longer sees it
        await restricted(credit)
    await credit.restrictions.order(
        "case-1", identity=person(Role.OFFICER, "苏12"), debtor_key="d0", ruling_number="x"
    )
    assert (await credit.subject(COMPANY)).courts == ["苏12"]


def test_an_extension_request_is_bounded() -> None:
    with pytest.raises(ValidationError):
        ExtensionIn.model_validate({"months": 10**9, "reason": "r"})


# --- the review's defects ---------------------------------------------------------------------


def term_clock(rule_id: str, key: str = "d1") -> deadline_events_pb2.ClockRef:
    return deadline_events_pb2.ClockRef(
        clock_id=f"{rule_id}:case-1:{key}", rule_id=rule_id, subject_id="case-1"
    )


async def test_an_extension_is_decided_without_a_clock_and_begins_when_the_term_ends() -> None:
    # 法释〔2017〕7号 art 2: the two years run first; the extension adds to them.
    ctx = in_memory_context("credit", SimulatedClock(dt.datetime(2025, 1, 1, 1, tzinfo=dt.UTC)))
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), catalogue())
    assert await credit.cases.remember_case(filed(), COURT)
    await noticed(credit)
    lid = (await listed(credit, "d1", ground=2))["listing_id"]
    credit.ctx.clock.advance(dt.timedelta(days=31))  # type: ignore[attr-defined]
    decided = await credit.listings.extend(
        "case-1", lid, identity=LEADER, months=12, reason="仍未履行"
    )
    assert decided["extension"]["on"] == "2025-02-01"
    assert domain.term_ends_on(decided, catalogue()) == "2028-01-01"
    assert (await staged_types(credit.ctx))[-1] == "ListingExtensionDecided"
    with pytest.raises(Conflict, match=r"credit\.listing-extension"):  # once (art 2)
        await credit.listings.extend("case-1", lid, identity=LEADER, months=12, reason="r")

    term = term_clock(domain.LISTING_TERM)
    assert await credit.cases.term_ended("case-1", debtor_key_of(term), term.rule_id)
    assert not await credit.cases.term_ended("case-1", "d1", domain.LISTING_TERM)  # redelivered
    record = await credit.record_of("case-1", OFFICER)
    listing = record["listings"][lid]
    assert listing["status"] == "in_force" and listing["extension"]["began_on"]
    assert domain.term_ends_on(listing, catalogue()) == "2028-01-01"
    (extended,) = [e for e in await staged(credit.ctx) if isinstance(e.payload, pb.ListingExtended)]
    assert isinstance(extended.payload, pb.ListingExtended)
    assert extended.payload.extension_months == 12 and extended.envelope.actor.id == "svc:credit"
    assert "ListingDeleted" not in await staged_types(credit.ctx)

    assert await credit.cases.term_ended("case-1", "d1", domain.LISTING_EXTENSION)
    assert not await credit.cases.term_ended("case-1", "d1", domain.LISTING_EXTENSION)
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][lid]["delete_cause"] == "term_ended"


async def test_an_extension_breach_without_a_begun_extension_deletes_nothing() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1", ground=2))["listing_id"]
    await credit.listings.extend("case-1", lid, identity=LEADER, months=12, reason="r")
    assert not await credit.cases.term_ended("case-1", "d1", domain.LISTING_EXTENSION)
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][lid]["status"] == "in_force"


async def test_a_listing_whose_ground_ended_is_deleted_at_its_term_not_extended() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1", ground=2))["listing_id"]
    await credit.listings.extend("case-1", lid, identity=LEADER, months=12, reason="r")
    await credit.listings.ground_ended(
        "case-1", lid, identity=OFFICER, cause=domain.GroundEndedCause.REVOKED
    )
    assert await credit.cases.term_ended("case-1", "d1", domain.LISTING_TERM)
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][lid]["delete_cause"] == "term_ended"
    assert "ListingExtended" not in await staged_types(credit.ctx)


@pytest.mark.parametrize("method", ["终结执行", "不予执行", "销案", "驳回申请"])
async def test_a_case_ended_otherwise_lifts_and_ends_everything_and_takes_no_new_measure(
    method: str,
) -> None:
    credit = await credit_with_case()
    await restricted(credit, "d0")
    await listed(credit, "d1")
    before = len(await staged(credit.ctx))
    assert await credit.cases.case_closed("case-1", method) == 3
    assert await credit.cases.case_closed("case-1", method) == 0  # redelivered
    after = [e.payload for e in (await staged(credit.ctx))[before:]]
    dues = [p for p in after if isinstance(p, pb.RestrictionLiftDue)]
    assert {(p.debtor_key, p.cause) for p in dues} == {("d0", "case_ended"), ("d1", "case_ended")}
    (ended,) = [p for p in after if isinstance(p, pb.ListingGroundEnded)]
    assert ended.cause == "case_ended"
    with pytest.raises(Conflict, match=rf"{method}.*credit\.lift-restriction"):
        await restricted(credit, "d2")
    with pytest.raises(Conflict, match=rf"{method}.*credit\.listing-grounds"):
        await credit.listings.list_debtor(
            "case-1", identity=OFFICER, debtor_key="d0", ground=1, decision_number="x",
            facts="y",
        )  # fmt: skip


async def test_a_zhongben_case_still_takes_new_measures() -> None:
    credit = await credit_with_case()
    assert await credit.cases.case_closed("case-1", ZHONGBEN) == 0
    await restricted(credit, "d0")
    await listed(credit, "d1")
    assert await staged_types(credit.ctx) == [
        "RestrictionOrdered", "RestrictionOrdered", "DebtorListed",
    ]  # fmt: skip


def resumed(case_id: str = "case-2") -> cases.CaseFiled:
    return cases.CaseFiled(
        case_id=case_id, court_code=COURT, case_type_code="执恢",
        case_number="（2026）苏1283执恢2号", debtors=filed().debtors,
        resumed_from_case_id="case-1", resumed_from_case_number="（2026）苏1283执1号",
    )  # fmt: skip


async def test_the_measures_of_a_resumed_zhongben_case_end_when_its_resumption_ends() -> None:
    credit = await credit_with_case()
    restriction = await restricted(credit, "d0")
    lid = (await listed(credit, "d1"))["listing_id"]
    await credit.cases.case_closed("case-1", ZHONGBEN)
    assert await credit.cases.remember_case(resumed(), COURT)
    before = len(await staged(credit.ctx))
    assert await credit.cases.case_closed("case-2", domain.PERFORMED) == 3
    assert await credit.cases.case_closed("case-2", domain.PERFORMED) == 0  # redelivered
    after = (await staged(credit.ctx))[before:]
    assert {e.envelope.aggregate_id for e in after} == {"case-1"}
    dues = [e.payload for e in after if isinstance(e.payload, pb.RestrictionLiftDue)]
    assert {(p.debtor_key, p.cause) for p in dues} == {("d0", "performed"), ("d1", "performed")}
    record = await credit.record_of("case-1", OFFICER)
    assert record["restrictions"][restriction["restriction_id"]]["lift_due"]["cause"] == (
        "performed"
    )
    assert record["listings"][lid]["ground_ended"]["cause"] == "performed"
    with pytest.raises(Conflict, match=r"执恢2号.*执行完毕.*credit\.lift-restriction"):
        await restricted(credit, "d2")  # the original ended with its resumption


async def test_a_resumption_closed_as_zhongben_again_leaves_the_original_measures() -> None:
    credit = await credit_with_case()
    await restricted(credit, "d0")
    await credit.cases.case_closed("case-1", ZHONGBEN)
    assert await credit.cases.remember_case(resumed(), COURT)
    assert await credit.cases.case_closed("case-2", ZHONGBEN) == 0
    assert await staged_types(credit.ctx) == ["RestrictionOrdered"]


async def test_minority_is_decided_on_the_day_of_listing() -> None:
    born = (START - dt.timedelta(days=365 * 18)).date() + dt.timedelta(days=10)
    almost_adult = resident_id("321283", born, 23)
    ctx = in_memory_context("credit", SimulatedClock(START))
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), catalogue())
    case = filed()
    case.debtors.append(
        cases.Party(kind=cases.PARTY_KIND_NATURAL_PERSON, name="小华", id_number=almost_adult)
    )
    case.flags.append(f"minor_debtor:{almost_adult}")  # a minor when filed
    assert await credit.cases.remember_case(case, COURT)
    await noticed(credit)
    with pytest.raises(Conflict, match=r"minor.*credit\.listing-grounds"):
        await listed(credit, "d3")
    credit.ctx.clock.advance(dt.timedelta(days=30))  # type: ignore[attr-defined]
    assert (await listed(credit, "d3"))["status"] == "in_force"  # 18 by now
    with pytest.raises(Conflict, match=r"minor.*credit\.listing-grounds"):
        await listed(credit, "d2")


async def test_the_query_names_nobody_without_a_measure_in_effect_now() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1"))["listing_id"]
    restriction_id = next(iter((await credit.record_of("case-1", OFFICER))["restrictions"]))
    await credit.listings.delete(
        "case-1", lid, identity=OFFICER, cause=domain.DeleteCause.CORRECTED
    )
    await credit.restrictions.lift(
        "case-1", restriction_id, identity=OFFICER, cause=domain.LiftCause.CORRECTED
    )
    never = resident_id("321283", dt.date(1999, 2, 2), 5)
    once_listed, never_listed = await credit.subject(ADULT), await credit.subject(never)
    assert once_listed.name is None
    assert dataclasses.replace(once_listed, id_number=never) == never_listed


async def test_one_decline_stands_per_debtor_the_latest_replacing_the_earlier() -> None:
    credit = await credit_with_case()

    async def decline(reason: domain.DeclineReason, details: str) -> None:
        await credit.listings.decline(
            "case-1", identity=OFFICER, debtor_key="d1", reason=reason, details=details
        )

    await decline(domain.DeclineReason.ONLY_RESTRICTION, "只适用限制消费")
    await decline(domain.DeclineReason.ONLY_RESTRICTION, "只适用限制消费")  # again: no change
    await decline(domain.DeclineReason.SECURITY_SUFFICIENT, "担保充分")
    record = await credit.record_of("case-1", OFFICER)
    assert [(d["debtor_key"], d["reason"]) for d in record["declines"]] == [
        ("d1", "security_sufficient")
    ]
    assert await staged_types(credit.ctx) == ["ListingDeclined", "ListingDeclined"]


async def test_which_grounds_list_for_a_fixed_term_is_the_catalogues() -> None:
    rules = catalogue()
    only_third = rules.model_copy(update={"rules": tuple(
        r.model_copy(update={"value": "3"}) if r.id == domain.LISTING_TERM else r
        for r in rules.rules
    )})  # fmt: skip
    ctx = in_memory_context("credit", SimulatedClock(START))
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), only_third)
    assert await credit.cases.remember_case(filed(), COURT)
    await noticed(credit)
    assert (await listed(credit, "d1", ground=2))["fixed_term"] is False
    assert (await listed(credit, "d0", ground=3))["fixed_term"] is True
    assert domain.fixed_term_grounds(rules) == {2, 3, 4, 5, 6}


def requery_completed(number: int, new_assets: int = 0) -> Event[Message]:
    payload = asset_pb.ZhongbenRequeryCompleted(
        case_id="case-1", round=number + 1, requery_number=number, new_assets=new_assets
    )
    return new_event(payload, aggregate_id="case-1", court_code=COURT, actor=SERVICE_ACTOR,
                     clock=SimulatedClock(START))  # fmt: skip


async def test_after_zhongben_enough_empty_requeries_end_the_listings_grounds_once() -> None:
    credit = await credit_with_case()
    reaction, tx = RequeryFacts(credit), cast(Transaction, None)
    await restricted(credit, "d0")
    first = (await listed(credit, "d1"))["listing_id"]
    await credit.cases.case_closed("case-1", ZHONGBEN)
    needed = domain.empty_requeries_to_end(catalogue())
    # A re-query that found an asset does not count; each empty one counts once.
    await reaction([requery_completed(1, new_assets=2)], tx)
    for number in range(2, needed + 1):
        await reaction([requery_completed(number), requery_completed(number)], tx)
    assert "ListingGroundEnded" not in await staged_types(credit.ctx)
    await reaction([requery_completed(needed + 1)], tx)
    await reaction([requery_completed(needed + 1)], tx)  # redelivered
    ended = [e.payload for e in await staged(credit.ctx)
             if isinstance(e.payload, pb.ListingGroundEnded)]  # fmt: skip
    assert [(p.listing_id, p.cause) for p in ended] == [(first, "requery_nothing_found")]
    assert "RestrictionLiftDue" not in await staged_types(credit.ctx)  # art 10(4): listings only
    # A listing made after the count was reached ends at the next empty re-query.
    later = (await listed(credit, "d0", ground=1))["listing_id"]
    assert await credit.cases.requery_found_nothing("case-1", needed + 2) == 1
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][later]["ground_ended"]["cause"] == "requery_nothing_found"
    assert await credit.cases.requery_found_nothing("case-1", needed + 2) == 0


async def test_empty_requeries_read_before_the_cases_filing_are_counted_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The asset and case topics are read side by side (a rebuild reads both from the start):
    # a re-query's completion can come before the filing. It is counted, once, with it.
    async def retried(redis: Any, keys: list[str], body: Any) -> Any:
        """Each transaction's body runs once and is thrown away, as a WatchError does."""
        async with redis.pipeline(transaction=True) as pipe:
            await pipe.watch(*keys)
            await body(pipe)
            await pipe.reset()
        return await transact(redis, keys, body)

    monkeypatch.setattr(repository, "transact", retried)
    ctx = in_memory_context("credit", SimulatedClock(START))
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), catalogue())
    reaction, tx = RequeryFacts(credit), cast(Transaction, None)
    needed = domain.empty_requeries_to_end(catalogue())
    for number in range(1, needed + 1):
        await reaction([requery_completed(number), requery_completed(number)], tx)
    early = credit.records.early_requeries_key("case-1")
    assert await ctx.redis.scard(early) == needed
    assert await credit.cases.remember_case(filed(), COURT)
    await credit.cases.assign_officer("case-1", OFFICER.subject)
    await noticed(credit)
    record = await credit.record_of("case-1", OFFICER)
    assert record["empty_requeries"] == list(range(1, needed + 1))
    counted = [
        h["requery_number"] for h in record["history"] if h["act"] == "requery_found_nothing"
    ]
    assert counted == list(range(1, needed + 1))
    assert not await ctx.redis.exists(early)
    # The count was reached: a listing made now ends at the next empty re-query.
    listing = (await listed(credit, "d1"))["listing_id"]
    assert await credit.cases.requery_found_nothing("case-1", needed + 1) == 1
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][listing]["ground_ended"]["cause"] == "requery_nothing_found"
    # Once the case is kept, nothing more is kept for it.
    assert not await credit.records.keep_early_requery("case-1", needed + 2)


async def test_an_extension_recorded_before_extensions_waited_for_the_term_still_ends() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1", ground=2))["listing_id"]
    await credit.listings.extend("case-1", lid, identity=LEADER, months=12, reason="r")

    async def as_kept_before(pipe: Pipeline, record: dict) -> None:  # type: ignore[type-arg]
        pipe.multi()  # type: ignore[no-untyped-call]
        del record["listings"][lid]["extension"]["began_on"]  # its clock ran from the decision

    await credit.records.change_case("case-1", as_kept_before)
    kept = (await credit.record_of("case-1", OFFICER))["listings"][lid]
    decided_on = dt.date.fromisoformat(kept["extension"]["on"])
    assert (
        domain.term_ends_on(kept, catalogue())
        == decided_on.replace(year=decided_on.year + 1).isoformat()
    )
    assert not await credit.cases.term_ended("case-1", "d1", domain.LISTING_TERM)
    assert await credit.cases.term_ended("case-1", "d1", domain.LISTING_EXTENSION)
    record = await credit.record_of("case-1", OFFICER)
    assert record["listings"][lid]["delete_cause"] == "term_ended"


# --- the probe's defects: a listed debtor stays restricted; platform causes; minors; notice ---


async def test_a_listed_debtors_restriction_is_not_lifted_while_the_listing_stands() -> None:
    # ¶23: 纳入失信名单同时限制消费 (credit.md §4): the listing's restriction stays with it.
    credit = await credit_with_case()
    lid = (await listed(credit, "d1"))["listing_id"]
    record = await credit.record_of("case-1", OFFICER)
    (rid,) = record["restrictions"]
    for cause in (domain.LiftCause.CONSENT, domain.LiftCause.CORRECTED, None):
        with pytest.raises(Conflict, match=r"失信 list.*credit\.listing-restricts"):
            await credit.restrictions.lift("case-1", rid, identity=OFFICER, cause=cause)
    with pytest.raises(Conflict, match=r"credit\.listing-restricts"):
        await credit.restrictions.lift_due(
            "case-1", rid, identity=OFFICER, cause=domain.LiftCause.CONSENT, urgent=False
        )
    answer = await credit.subject(ADULT)
    assert answer.listed and answer.restricted
    assert await staged_types(credit.ctx) == ["RestrictionOrdered", "DebtorListed"]
    # Once the listing's ground ended (its deletion due), the restriction may be lifted.
    await credit.listings.ground_ended(
        "case-1", lid, identity=OFFICER, cause=domain.GroundEndedCause.APPLICANT_CONSENT
    )
    await credit.restrictions.lift_due(
        "case-1", rid, identity=OFFICER, cause=domain.LiftCause.CONSENT, urgent=False
    )
    lifted = await credit.restrictions.lift("case-1", rid, identity=OFFICER, cause=None)
    assert lifted["lift_cause"] == "consent"


async def test_a_restriction_of_a_debtor_listed_and_deleted_is_lifted() -> None:
    credit = await credit_with_case()
    lid = (await listed(credit, "d1"))["listing_id"]
    (rid,) = (await credit.record_of("case-1", OFFICER))["restrictions"]
    await credit.listings.delete(
        "case-1", lid, identity=OFFICER, cause=domain.DeleteCause.CORRECTED
    )
    lifted = await credit.restrictions.lift(
        "case-1", rid, identity=OFFICER, cause=domain.LiftCause.CORRECTED
    )
    assert lifted["status"] == "lifted"


async def test_a_person_never_sends_the_causes_only_the_platform_records() -> None:
    credit = await credit_with_case()
    rid = (await restricted(credit, "d0"))["restriction_id"]
    with pytest.raises(Invalid, match=r"credit\.lift-restriction") as refused:
        await credit.restrictions.lift(
            "case-1", rid, identity=OFFICER, cause=domain.LiftCause.CASE_ENDED
        )
    assert refused.value.loc == ("body", "cause")
    lid = (await listed(credit, "d1"))["listing_id"]
    for cause, rule in (
        (domain.GroundEndedCause.CASE_ENDED, domain.DELETE_LISTING),
        (domain.GroundEndedCause.REQUERY_NOTHING_FOUND, domain.REQUERY_NOTHING_FOUND),
    ):
        with pytest.raises(Invalid, match=rule.replace(".", r"\.")) as refused:
            await credit.listings.ground_ended("case-1", lid, identity=OFFICER, cause=cause)
        assert refused.value.loc == ("body", "cause")
    record = await credit.record_of("case-1", OFFICER)
    assert record["restrictions"][rid]["status"] == "in_force"
    assert record["listings"][lid]["ground_ended"] is None
    # The platform records them: the case ended, the lift it made due is lifted with the
    # cause left out.
    await credit.cases.case_closed("case-1", "终结执行")
    lifted = await credit.restrictions.lift("case-1", rid, identity=OFFICER, cause=None)
    assert lifted["lift_cause"] == "case_ended"


async def test_a_minor_is_never_restricted_and_one_of_age_is() -> None:
    credit = await credit_with_case()
    with pytest.raises(Conflict, match=r"minor.*credit\.listing-grounds"):
        await restricted(credit, "d2")
    assert await staged_types(credit.ctx) == []
    assert not (await credit.subject(MINOR)).restricted
    # Minority is decided on the day of the order, as for a listing.
    born = (START - dt.timedelta(days=365 * 18)).date() + dt.timedelta(days=10)
    almost_adult = resident_id("321283", born, 24)
    case = filed("case-2")
    case.debtors.append(
        cases.Party(kind=cases.PARTY_KIND_NATURAL_PERSON, name="小华", id_number=almost_adult)
    )
    assert await credit.cases.remember_case(case, COURT)
    await noticed(credit, "case-2")
    order = {"identity": OFFICER, "debtor_key": "d3", "ruling_number": "x"}
    with pytest.raises(Conflict, match=r"minor.*credit\.listing-grounds"):
        await credit.restrictions.order("case-2", **order)  # type: ignore[arg-type]
    credit.ctx.clock.advance(dt.timedelta(days=30))  # type: ignore[attr-defined]
    assert (await credit.restrictions.order("case-2", **order))["status"] == "in_force"  # type: ignore[arg-type]


async def fresh_case(env: dict[str, str] | None = None) -> Credit:
    """A case filed and its officer assigned, its execution notice not yet served."""
    ctx = in_memory_context("credit", SimulatedClock(START))
    rules = load_catalogue(environ=env or {})
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), rules)
    assert await credit.cases.remember_case(filed(), COURT)
    await credit.cases.assign_officer("case-1", OFFICER.subject)
    return credit


async def test_no_measure_before_the_execution_notice_was_served() -> None:
    # The probe: a listing (and a restriction with it) on the filing day, no notice served.
    credit = await fresh_case()
    with pytest.raises(Conflict, match=r"not been served.*credit\.notice-period"):
        await listed(credit, "d1")
    with pytest.raises(Conflict, match=r"not been served.*credit\.notice-period"):
        await restricted(credit, "d0")
    assert await staged_types(credit.ctx) == []
    # The notice served (intake's event, read by the case projection), once.
    served = cases.ExecutionNoticeServed(case_id="case-1", served_on=credit.today().isoformat())
    event: Event[Message] = new_event(served, aggregate_id="case-1", court_code=COURT,
                                      actor=SERVICE_ACTOR, clock=credit.ctx.clock)  # fmt: skip
    facts = CaseFacts(credit)
    assert cases.ExecutionNoticeServed in facts.handles  # the projection reads it
    await facts([event, event], cast(Transaction, None))
    record = await credit.record_of("case-1", OFFICER)
    assert record["notice_served_on"] == credit.today().isoformat()
    assert [h["act"] for h in record["history"]].count("execution_notice_served") == 1
    assert not await credit.cases.notice_served("case-1", "2030-01-01")  # redelivered
    # The catalogue's default period is 0 days (立即履行): a measure may follow the service.
    assert domain.measures_from(credit.today(), credit.rules) == credit.today()
    await restricted(credit, "d0")
    await listed(credit, "d1")
    assert await staged_types(credit.ctx) == [
        "RestrictionOrdered", "RestrictionOrdered", "DebtorListed",
    ]  # fmt: skip


async def test_no_measure_before_the_notices_period_passed() -> None:
    # A court whose notices give 3 days: served on S, the debtor may perform until the end
    # of S+3 (the starting day not counted); measures from S+4.
    credit = await fresh_case({"ZHIXING_RULE_CREDIT_NOTICE_PERIOD_LIMIT": "3"})
    served_on = credit.today()
    await noticed(credit)
    for _ in range(4):
        with pytest.raises(Conflict, match=r"served on.*3 days.*credit\.notice-period"):
            await listed(credit, "d1")
        with pytest.raises(Conflict, match=r"credit\.notice-period"):
            await restricted(credit, "d0")
        credit.ctx.clock.advance(dt.timedelta(days=1))  # type: ignore[attr-defined]
    assert credit.today() == served_on + dt.timedelta(days=4)
    await restricted(credit, "d0")
    await listed(credit, "d1")


async def test_a_record_kept_before_notices_were_watched_is_not_refused() -> None:
    credit = await fresh_case()

    async def as_kept_before(pipe: Pipeline, record: dict) -> None:  # type: ignore[type-arg]
        pipe.multi()  # type: ignore[no-untyped-call]
        del record["notice_served_on"]

    await credit.records.change_case("case-1", as_kept_before)
    assert (await restricted(credit, "d0"))["status"] == "in_force"


async def test_a_debtor_filed_full_width_is_found_by_the_real_number() -> None:
    """A filing kept before intake kept ID numbers in one form: the credit service keeps
    them so itself, and the nationwide query by the real number finds the restriction."""
    ctx = in_memory_context("credit", SimulatedClock(START))
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys), catalogue())
    case = filed()
    [position] = [n for n, d in enumerate(case.debtors) if d.id_number == ADULT]
    case.debtors[position].id_number = full_width(ADULT)
    assert await credit.cases.remember_case(case, COURT)
    await credit.cases.assign_officer("case-1", OFFICER.subject)
    await noticed(credit)
    await restricted(credit, f"d{position}")
    credit.ctx.clock.advance(dt.timedelta(days=30))  # type: ignore[attr-defined]
    assert (await credit.subject(ADULT)).restricted
