"""Petitions (信访) on the in-memory repository: received at the caller's court with the
cases it names by number (unknown or out-of-jurisdiction numbers refused, naming which),
never received in the future; registered once, with each case's repeat count; answered
only once registered; read by the court and the courts above it."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import HTTPException

from services.supervision.domain import Channel, PetitionerRole, PetitionStatus, ReplyChannel
from services.supervision.petitions import Petition
from tests.fakes import person, staged, staged_types
from tests.unit.test_supervision_tasks import COURT, NUMBER, Service, service_with_case
from zhixing.auth import Role, ScopeError
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.idempotency import IdempotencyConflict
from zhixing.v1 import supervision_events_pb2 as pb

CLERK = person(Role.CLERK, COURT, "clerk-1")
OFFICER = person(Role.OFFICER, COURT, "officer-1")
TODAY = dt.date(2026, 3, 2)  # tests.factories.START in China


def petition(*numbers: str, received_on: dt.date = TODAY) -> Petition:
    return Petition(received_on=received_on, channel=Channel.VISIT, petitioner_name="张三",
                    petitioner_role=PetitionerRole.APPLICANT, summary="执行拖延",
                    case_numbers=numbers or (NUMBER,))  # fmt: skip


async def test_a_petition_is_received_with_its_cases_then_registered_and_answered() -> None:
    service = await service_with_case()
    record = await service.petitions.receive(CLERK, petition(NUMBER, NUMBER))
    assert record["case_ids"] == ["case-1"] and record["status"] == PetitionStatus.RECEIVED
    petition_id = record["petition_id"]
    with pytest.raises(Conflict, match="register it first"):
        await service.petitions.reply(petition_id, OFFICER, reply="已答复", replied_on=TODAY,
                                      reply_channel=ReplyChannel.LETTER)  # fmt: skip
    registered = await service.petitions.register(petition_id, OFFICER, handler="王法官")
    assert registered["registration"]["repeat_counts"] == [1]
    with pytest.raises(Conflict, match="registered already"):
        await service.petitions.register(petition_id, OFFICER, handler="王法官")
    answered = await service.petitions.reply(
        petition_id, OFFICER, reply="已答复", replied_on=TODAY, reply_channel=ReplyChannel.SMS
    )
    assert answered["status"] == PetitionStatus.ANSWERED
    events = await staged(service.ctx)
    assert [type(e.payload).__name__ for e in events] == [
        "PetitionReceived", "PetitionRegistered", "PetitionAnswered"]  # fmt: skip
    received = events[0].payload
    assert isinstance(received, pb.PetitionReceived)
    assert received.received_on == "2026-03-02" and list(received.case_numbers) == [NUMBER]
    assert all(e.envelope.aggregate_id == petition_id for e in events)


async def test_repeat_petitions_are_counted_per_case_on_registration() -> None:
    service = await service_with_case()
    await service.know_case("case-2", "（2026）苏1283执2号")
    first = await service.petitions.receive(CLERK, petition(NUMBER), register=True, handler="王")
    assert await staged_types(service.ctx) == ["PetitionReceived", "PetitionRegistered"]
    second = await service.petitions.receive(CLERK, petition(NUMBER, "（2026）苏1283执2号"),
                                             register=True, handler="王")  # fmt: skip
    assert first["registration"]["repeat_counts"] == [1]
    assert second["registration"]["repeat_counts"] == [2, 1]
    view = await service.petitions.view(first)
    assert view["cases"] == [{"case_id": "case-1", "case_number": NUMBER, "petitions": 2}]
    registered = (await staged(service.ctx))[-1].payload
    assert isinstance(registered, pb.PetitionRegistered)
    assert list(registered.repeat_counts) == [2, 1]


async def test_unknown_cases_future_days_and_wrong_roles_are_refused() -> None:
    service = await service_with_case()
    await service.know_case("case-9", "（2026）苏1282执9号", court="苏1282")
    with pytest.raises(Invalid, match="苏1283执404") as refused:
        await service.petitions.receive(CLERK, petition(NUMBER, "（2026）苏1283执404号"))
    assert refused.value.loc == ("body", "case_numbers", 1)
    with pytest.raises(Invalid, match="苏1282执9"):  # another court's case
        await service.petitions.receive(CLERK, petition("（2026）苏1282执9号"))
    with pytest.raises(Invalid, match="future"):
        await service.petitions.receive(CLERK, petition(received_on=TODAY + dt.timedelta(days=1)))
    with pytest.raises(Invalid, match="handler"):
        await service.petitions.receive(CLERK, petition(), register=True)
    for role in (Role.LEADER, Role.OVERSEER, Role.FINANCE):
        with pytest.raises(ScopeError):
            await service.petitions.receive(person(role, COURT), petition())
    assert await staged(service.ctx) == []


async def test_a_petition_is_not_received_before_the_cases_it_names_were_filed() -> None:
    """A petition dated 1949 breached petition.enter at once and escalated within
    milliseconds: it names cases by number, so it came once they were filed (a case whose
    filing day is unknown: not before its number's year)."""
    service = Service()
    await service.know_case(filed_on="2026-02-10")
    await service.know_case("case-2", "（2025）苏1283执2号")  # no filing day kept
    for numbers, day in (((NUMBER,), dt.date(1949, 10, 1)), ((NUMBER,), dt.date(2026, 2, 9)),
                         (("（2025）苏1283执2号",), dt.date(2024, 12, 31))):  # fmt: skip
        with pytest.raises(Invalid, match="before case") as refused:
            await service.petitions.receive(CLERK, petition(*numbers, received_on=day))
        assert refused.value.loc == ("body", "received_on")
    assert await staged(service.ctx) == []
    on_filing = await service.petitions.receive(CLERK, petition(received_on=dt.date(2026, 2, 10)))
    assert on_filing["received_on"] == "2026-02-10"
    await service.petitions.receive(CLERK, petition("（2025）苏1283执2号",
                                                    received_on=dt.date(2025, 1, 1)))  # fmt: skip


async def test_the_court_and_the_courts_above_read_and_only_the_court_acts() -> None:
    service = await service_with_case()
    record = await service.petitions.receive(CLERK, petition())
    petition_id = record["petition_id"]
    command = person(Role.COMMAND, "苏12")
    assert [p["petition_id"] for p in (await service.petitions.listing(
        command, court=None, case_id="case-1", status=None)).items] == [petition_id]  # fmt: skip
    assert (await service.petitions.listing(command, court=None, case_id="case-2",
                                            status=None)).items == []  # fmt: skip
    answered = await service.petitions.listing(command, court=COURT, case_id=None,
                                               status=PetitionStatus.ANSWERED)  # fmt: skip
    assert answered.items == []
    with pytest.raises(ScopeError):  # reads, but registers through its own court only
        await service.petitions.register(petition_id, command, handler="王")
    with pytest.raises(NotFound):
        await service.petitions.petition(petition_id, person(Role.CLERK, "苏1282"))
    # Another jurisdiction's court reads as missing (it was 403, naming it); a court the
    # directory does not know is bad input naming ``court``.
    with pytest.raises(HTTPException) as missing:
        await service.petitions.listing(person(Role.CLERK, "苏1282"), court=COURT,
                                        case_id=None, status=None)  # fmt: skip
    assert missing.value.status_code == 404
    with pytest.raises(Invalid) as unknown:
        await service.petitions.listing(CLERK, court="XX99", case_id=None, status=None)
    assert unknown.value.loc == ("query", "court")


async def test_a_reply_is_not_dated_before_receipt_nor_in_the_future() -> None:
    service = Service()
    await service.know_case()
    record = await service.petitions.receive(CLERK, petition(), register=True, handler="王")
    for day in (TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1)):
        with pytest.raises(Invalid):
            await service.petitions.reply(
                record["petition_id"], OFFICER, reply="答复", replied_on=day,
                reply_channel=ReplyChannel.PHONE,
            )  # fmt: skip


async def test_the_listing_comes_in_pages_newest_received_first() -> None:
    service = await service_with_case()
    ids = []
    for days in (3, 1, 2):
        received = await service.petitions.receive(
            CLERK, petition(received_on=TODAY - dt.timedelta(days=days))
        )
        ids.append(received["petition_id"])
    first = await service.petitions.listing(CLERK, court=None, case_id=None, status=None, limit=2)
    assert [p["petition_id"] for p in first.items] == [ids[1], ids[2]] and first.next_cursor
    rest = await service.petitions.listing(CLERK, court=None, case_id=None, status=None,
                                           limit=2, after=first.next_cursor)  # fmt: skip
    assert [p["petition_id"] for p in rest.items] == [ids[0]] and rest.next_cursor is None


async def test_a_repeated_request_with_its_idempotency_key_receives_one_petition() -> None:
    """A retried POST (same Idempotency-Key, same body) returns the first petition: one
    PetitionReceived, one count per case; the key with another body is refused (409)."""
    service = await service_with_case()
    first = await service.petitions.receive_once(
        CLERK, petition(), register=True, handler="王", idempotency_key="k-1"
    )
    again = await service.petitions.receive_once(
        CLERK, petition(), register=True, handler="王", idempotency_key="k-1"
    )
    assert first.created and not again.created and again.record == first.record
    assert await staged_types(service.ctx) == ["PetitionReceived", "PetitionRegistered"]
    assert await service.records.repeat_counts(["case-1"]) == [1]
    with pytest.raises(IdempotencyConflict, match="k-1"):
        await service.petitions.receive_once(
            CLERK, petition(received_on=TODAY - dt.timedelta(days=1)), register=True,
            handler="王", idempotency_key="k-1",
        )  # fmt: skip
    other = await service.petitions.receive_once(CLERK, petition(), idempotency_key="k-2")
    assert other.created and other.record["petition_id"] != first.record["petition_id"]
