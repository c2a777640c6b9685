"""Credit punishment through the real stack: intake files a case on Kafka and the credit
service keeps its debtors; a minor is never listed and a listing needs a ground; a ground-2
listing's term runs on the deadline engine's clock and its end deletes the listing, while a
listing whose extension a leader decided is not deleted then: its extension's clock starts
at the term's end; a restriction is due to be lifted once the case is closed as performed,
and lifting it stops its clock, while one left unlifted breaches and escalates; and any
court, or a cooperating agency, asks whether a person or company is listed or restricted
now."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.deadlines.domain import ClockState, Status
from tests.conftest import Isolated, read_topic
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import file_case
from tests.polling import eventually
from tools.demo import (
    DEMO_BASIC_COURTS,
    credit_code,
    load_demo,
    load_demo_credit,
    resident_id,
)
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ
from zhixing.events import decode_event
from zhixing.topics import CREDIT_EVENTS, DEADLINE_EVENTS
from zhixing.v1 import credit_events_pb2 as credit_pb
from zhixing.v1 import credit_service_pb2, credit_service_pb2_grpc
from zhixing.v1 import deadline_events_pb2 as deadline_pb

pytestmark = pytest.mark.integration

COURT = "苏1283"
HANDLER = "officer-7"
COMPANY = credit_code(31)
ADULT = resident_id("321283", dt.date(1998, 3, 3), 31)
MINOR = resident_id("321283", dt.date(2014, 9, 9), 32)
DEBTORS = [
    {"kind": "organisation", "name": "某某有限公司", "id_number": COMPANY},
    {"kind": "natural_person", "name": "李四", "id_number": ADULT},
    {"kind": "natural_person", "name": "小明", "id_number": MINOR},
]


def case_path(case_id: str) -> str:
    return f"/v1/cases/{case_id}"


async def filed_and_known(stack: Stack, *, noticed: bool = True) -> str:
    """A case of 苏1283 against a company, an adult and a minor, its officer assigned and
    (``noticed``) its execution notice served, as the credit service knows it (the
    catalogue's default period of the notice, 0 days, lets a measure follow at once)."""
    assert stack.credit is not None
    case_id = await file_case(stack, filing(COURT, debtors=DEBTORS))
    async with stack.client(stack.intake) as http:
        assigned = await http.post(
            f"{case_path(case_id)}/assignment", json={"officer_id": HANDLER, "team": "法官团队"},
            headers=stack.headers(Role.LEADER, COURT, "leader-1"),
        )  # fmt: skip
        assert assigned.status_code in (200, 204), assigned.text
        if noticed:
            served = await http.post(
                f"{case_path(case_id)}/execution-notice",
                headers=stack.headers(Role.OFFICER, COURT, HANDLER),
            )
            assert served.status_code == 200, served.text

    async def known() -> bool:
        view = await credit_record(stack, case_id)
        return (
            view is not None and view["officer_id"] == HANDLER
            and bool(view["notice_served_on"]) == noticed
        )  # fmt: skip

    await eventually(known)
    return case_id


async def credit_record(stack: Stack, case_id: str) -> dict[str, Any] | None:
    assert stack.credit is not None
    async with stack.client(stack.credit) as http:
        response = await http.get(
            f"{case_path(case_id)}/credit", headers=stack.headers(Role.COMMAND, "苏12")
        )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def officer_post(
    stack: Stack, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    assert stack.credit is not None
    async with stack.client(stack.credit) as http:
        response = await http.post(
            path, json=body or {}, headers=stack.headers(Role.OFFICER, COURT, HANDLER)
        )
    return response.status_code, response.json()


async def query(stack: Stack, id_number: str, role: Role, court: str) -> dict[str, Any]:
    assert stack.credit is not None
    async with stack.client(stack.credit) as http:
        response = await http.get(
            f"/v1/credit/subjects/{id_number}", headers=stack.headers(role, court)
        )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def clock_of(
    stack: Stack, case_id: str, rule_id: str, debtor_key: str = ""
) -> ClockState | None:
    clocks = await stack.engine.clocks_of(case_id)
    return next(
        (
            c
            for c in clocks
            if c.rule_id == rule_id and (not debtor_key or c.clock_id.endswith(f":{debtor_key}"))
        ),
        None,
    )


async def until_clock(stack: Stack, case_id: str, rule_id: str, debtor_key: str = "") -> ClockState:
    found: list[ClockState] = []

    async def opened() -> bool:
        clock = await clock_of(stack, case_id, rule_id, debtor_key)
        found[:] = [clock] if clock is not None else []
        return bool(found)

    await eventually(opened)
    return found[0]


async def escalated(isolated: Isolated, rule_id: str, subject_id: str) -> bool:
    return any(
        isinstance(p := decode_event(r.value).payload, deadline_pb.ClockEscalated)
        and p.clock.rule_id == rule_id
        and p.clock.subject_id == subject_id
        for r in await read_topic(isolated, DEADLINE_EVENTS.name)
    )


async def test_a_minor_is_never_listed_a_ground_is_required_and_the_term_ends_the_listing(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_credit=True) as stack:
        case_id = await filed_and_known(stack)
        listings = f"{case_path(case_id)}/listings"
        listing = {"decision_number": "（2026）苏1283执1号之一", "facts": "以暴力方法妨碍执行"}

        status, answer = await officer_post(stack, listings, {**listing, "debtor_key": "d2",
                                                               "ground": 2})  # fmt: skip
        assert status == 409 and "credit.listing-grounds" in answer["detail"]
        assert "minor" in answer["detail"]

        status, answer = await officer_post(stack, listings, {**listing, "debtor_key": "d1"})
        assert status == 422
        (error,) = answer["detail"]
        assert error["loc"] == ["body", "ground"] and "credit.listing-grounds" in error["msg"]

        status, listed = await officer_post(stack, listings, {**listing, "debtor_key": "d1",
                                                              "ground": 2})  # fmt: skip
        assert status == 201, listed
        assert listed["fixed_term"] is True and listed["term_ends_on"] is not None

        # The company is listed too, and a leader decides to extend its term by a year: the
        # decision starts no clock; the year is added to the term's end.
        status, company_listed = await officer_post(
            stack, listings, {**listing, "debtor_key": "d0", "ground": 3}
        )
        assert status == 201, company_listed
        assert stack.credit is not None
        async with stack.client(stack.credit) as http:
            decided = await http.post(
                f"{listings}/{company_listed['listing_id']}/extension",
                json={"months": 12, "reason": "仍未履行"},
                headers=stack.headers(Role.LEADER, COURT, "leader-1"),
            )  # fmt: skip
        assert decided.status_code == 200, decided.text
        term_end = dt.date.fromisoformat(company_listed["term_ends_on"])
        assert (
            decided.json()["term_ends_on"] == term_end.replace(year=term_end.year + 1).isoformat()
        )

        # Any court's person, or a cooperating agency, asks by ID number.
        for role, court in ((Role.CLERK, "苏0281"), (Role.AGENCY, "苏1283")):
            person = await query(stack, ADULT, role, court)
            assert person["listed"] is True and person["restricted"] is True
            assert person["courts"] == [COURT]
            (entry,) = person["listings"]
            assert entry["ground"] == 2 and entry["court_code"] == COURT
            assert entry["case_number"].startswith("（2026）苏1283执")
            assert entry["term_ends_on"] == listed["term_ends_on"]
        minor = await query(stack, MINOR, Role.OFFICER, "苏0281")
        assert minor["listed"] is False and minor["restricted"] is False
        # The agency asks the query only: a case's record is not its business.
        assert stack.credit is not None
        async with stack.client(stack.credit) as http:
            refused = await http.get(
                f"{case_path(case_id)}/credit", headers=stack.headers(Role.AGENCY, COURT)
            )
        assert refused.status_code in (403, 404)

        # The platform's services ask the same over gRPC, with their credentials only.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.credit.grpc_port}") as channel:
            stub = credit_service_pb2_grpc.CreditServiceStub(channel)
            service = [("authorization", f"Bearer {stack.tokens.issue_service('command')}")]
            checked = await stub.CheckSubject(
                credit_service_pb2.CheckSubjectRequest(id_number=ADULT), metadata=service
            )
            assert checked.listed and checked.restricted and list(checked.courts) == [COURT]
            assert checked.listings[0].term_ends_on == listed["term_ends_on"]
            with pytest.raises(grpc.aio.AioRpcError) as malformed:
                await stub.CheckSubject(
                    credit_service_pb2.CheckSubjectRequest(id_number="X"), metadata=service
                )
            assert malformed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            person_token = stack.tokens.issue(subject="p", court_code=COURT, role=Role.OFFICER)
            with pytest.raises(grpc.aio.AioRpcError) as person_refused:
                await stub.CheckSubject(
                    credit_service_pb2.CheckSubjectRequest(id_number=ADULT),
                    metadata=[("authorization", f"Bearer {person_token}")],
                )
            assert person_refused.value.code() is grpc.StatusCode.PERMISSION_DENIED

        term = await until_clock(stack, case_id, "credit.listing-term", "d1")
        assert term.status is Status.RUNNING and term.last_day is not None
        assert await clock_of(stack, case_id, "credit.listing-extension") is None
        stack.clock.set(
            dt.datetime.combine(term.last_day + dt.timedelta(days=1), dt.time(9), CHINA_TZ)
        )

        def listing_of(view: dict[str, Any], debtor_key: str) -> dict[str, Any]:
            return next(x for x in view["listings"] if x["debtor_key"] == debtor_key)

        async def deleted_and_extended() -> bool:
            view = await credit_record(stack, case_id)
            assert view is not None
            extension = listing_of(view, "d0")["extension"]
            return listing_of(view, "d1")["status"] == "deleted" and bool(extension["began_on"])

        await eventually(deleted_and_extended)
        view = await credit_record(stack, case_id)
        assert view is not None and listing_of(view, "d1")["delete_cause"] == "term_ended"
        assert listing_of(view, "d0")["status"] == "in_force"
        after = await query(stack, ADULT, Role.OFFICER, "苏0281")
        assert after["listed"] is False and after["restricted"] is True  # the restriction stays
        events = [decode_event(r.value) for r in await read_topic(isolated, CREDIT_EVENTS.name)]
        (deletion,) = [e for e in events if isinstance(e.payload, credit_pb.ListingDeleted)]
        assert deletion.envelope.actor.id == "svc:credit"
        (extended,) = [e for e in events if isinstance(e.payload, credit_pb.ListingExtended)]
        assert extended.envelope.actor.id == "svc:credit"
        # The extension's clock runs from the term's end, for the year decided.
        extension = await until_clock(stack, case_id, "credit.listing-extension", "d0")
        assert extension.status is Status.RUNNING and extension.last_day is not None
        assert extension.last_day >= term.last_day.replace(year=term.last_day.year + 1)


async def test_no_measure_before_the_notice_no_minor_restricted_and_a_listed_debtor_stays_so(
    isolated: Isolated, tmp_path: Path
) -> None:
    # The probe's defects through the stack: a listing on the filing day (no notice served);
    # a minor restricted; a listed debtor's restriction lifted; platform causes sent.
    async with platform_stack(isolated, tmp_path, with_credit=True) as stack:
        case_id = await filed_and_known(stack, noticed=False)
        listings = f"{case_path(case_id)}/listings"
        restrictions = f"{case_path(case_id)}/restrictions"
        listing = {"debtor_key": "d1", "ground": 1, "decision_number": "（2026）苏1283执1号之一",
                   "facts": "有履行能力而拒不履行"}  # fmt: skip
        status, answer = await officer_post(stack, listings, listing)
        assert status == 409 and "credit.notice-period" in answer["detail"], answer
        status, answer = await officer_post(stack, restrictions,
                                            {"debtor_key": "d0", "ruling_number": "x"})  # fmt: skip
        assert status == 409 and "credit.notice-period" in answer["detail"], answer

        async with stack.client(stack.intake) as http:
            served = await http.post(
                f"{case_path(case_id)}/execution-notice",
                headers=stack.headers(Role.OFFICER, COURT, HANDLER),
            )
            assert served.status_code == 200, served.text

        async def noticed() -> bool:
            view = await credit_record(stack, case_id)
            return view is not None and bool(view["notice_served_on"])

        await eventually(noticed)
        status, answer = await officer_post(stack, restrictions,
                                            {"debtor_key": "d2", "ruling_number": "x"})  # fmt: skip
        assert status == 409 and "minor" in answer["detail"], answer
        assert "credit.listing-grounds" in answer["detail"]
        assert (await query(stack, MINOR, Role.AGENCY, COURT))["restricted"] is False

        status, listed = await officer_post(stack, listings, listing)
        assert status == 201, listed
        view = await credit_record(stack, case_id)
        assert view is not None
        (restriction,) = view["restrictions"]
        lifting = f"{restrictions}/{restriction['restriction_id']}/lifting"
        status, answer = await officer_post(stack, lifting, {"cause": "consent"})
        assert status == 409 and "credit.listing-restricts" in answer["detail"], answer
        status, answer = await officer_post(stack, lifting, {"cause": "case_ended"})
        assert status == 422 and answer["detail"][0]["loc"] == ["body", "cause"], answer
        status, answer = await officer_post(
            stack, f"{listings}/{listed['listing_id']}/ground-ended",
            {"cause": "requery_nothing_found"},
        )  # fmt: skip
        assert status == 422 and answer["detail"][0]["loc"] == ["body", "cause"], answer
        person = await query(stack, ADULT, Role.AGENCY, COURT)
        assert person["listed"] is True and person["restricted"] is True


async def test_after_performance_a_lift_stops_its_clock_and_an_unlifted_one_escalates(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_credit=True) as stack:
        lifted_case = await filed_and_known(stack)
        unlifted_case = await filed_and_known(stack)
        restrictions = {}
        for case_id in (lifted_case, unlifted_case):
            status, restriction = await officer_post(
                stack, f"{case_path(case_id)}/restrictions",
                {"debtor_key": "d0", "ruling_number": "（2026）苏1283执1号之二"},
            )  # fmt: skip
            assert status == 201, restriction
            restrictions[case_id] = restriction["restriction_id"]
        company = await query(stack, COMPANY, Role.FINANCE, "苏12")
        assert company["restricted"] is True and len(company["restrictions"]) == 2

        # Both cases are performed (执行完毕): each restriction is due to be lifted.
        async with stack.client(stack.intake) as http:
            for case_id in (lifted_case, unlifted_case):
                closed = await http.post(
                    f"{case_path(case_id)}/closure", json={"method": "执行完毕"},
                    headers=stack.headers(Role.OFFICER, COURT, HANDLER),
                )  # fmt: skip
                assert closed.status_code in (200, 204), closed.text
        for case_id in (lifted_case, unlifted_case):
            clock = await until_clock(stack, case_id, "credit.lift-restriction")
            assert clock.clock_id.endswith(":d0") and clock.status is Status.RUNNING

        rid = restrictions[lifted_case]
        status, lifted = await officer_post(
            stack, f"{case_path(lifted_case)}/restrictions/{rid}/lifting"
        )
        assert status == 200, lifted
        assert lifted["lift_cause"] == "performed"

        async def cleared() -> bool:
            clock = await clock_of(stack, lifted_case, "credit.lift-restriction")
            return clock is not None and clock.status is Status.CLEARED

        await eventually(cleared)

        # The day after the unlifted one's last day, it is late.
        due = await clock_of(stack, unlifted_case, "credit.lift-restriction")
        assert due is not None and due.last_day is not None
        stack.clock.set(
            dt.datetime.combine(due.last_day + dt.timedelta(days=1), dt.time(9), CHINA_TZ)
        )

        async def unlifted_escalated() -> bool:
            return await escalated(isolated, "credit.lift-restriction", unlifted_case)

        await eventually(unlifted_escalated)
        late = await clock_of(stack, unlifted_case, "credit.lift-restriction")
        on_time = await clock_of(stack, lifted_case, "credit.lift-restriction")
        assert late is not None and late.breached
        assert on_time is not None and not on_time.breached
        company = await query(stack, COMPANY, Role.OVERSEER, "苏")
        # The lifted one is no longer in force; the unlifted one is.
        (still,) = company["restrictions"]
        assert still["ruling_number"] == "（2026）苏1283执1号之二"


async def test_the_demo_restricts_some_debtors_once_however_often_it_is_loaded(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_credit=True) as stack:
        assert stack.credit is not None
        intake_url = f"http://127.0.0.1:{stack.intake.http_port}"
        credit_url = f"http://127.0.0.1:{stack.credit.http_port}"
        # The demo's judgments are of June 2026: load it when they are in the past.
        stack.clock.set(dt.datetime(2026, 7, 1, 9, 0, tzinfo=CHINA_TZ))
        for _ in range(2):
            case_ids = await asyncio.to_thread(load_demo, intake_url, stack.tokens)
            in_force = await asyncio.to_thread(load_demo_credit, credit_url, stack.tokens, case_ids)
            assert in_force == len(DEMO_BASIC_COURTS)
    records = await read_topic(isolated, CREDIT_EVENTS.name)
    events = Counter(type(decode_event(r.value).payload).__name__ for r in records)
    assert events["RestrictionOrdered"] == events["RestrictionServed"] == len(DEMO_BASIC_COURTS)
