"""The interference register on the in-memory repository: any court person whose court may
see the case records (never an overseer); a correction is a new record naming the original,
which stays as recorded; discipline inspection and the command centre read records, the
per-court report and the export; nothing happens in the future."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import HTTPException
from google.protobuf.message import Message

from services.supervision.domain import Manner
from services.supervision.reactions import CaseFacts
from services.supervision.register import Interference
from tests.factories import ACTOR, START
from tests.fakes import person, staged
from tests.unit.test_supervision_tasks import COURT, NUMBER, Service, service_with_case
from zhixing import export
from zhixing.auth import Role, ScopeError
from zhixing.errors import Invalid, NotFound
from zhixing.events import Event, new_event
from zhixing.export import ExportFormat, table_bytes
from zhixing.idempotency import IdempotencyConflict
from zhixing.projection import Transaction
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import supervision_events_pb2 as pb

OFFICER = person(Role.OFFICER, COURT, "officer-1")
DISCIPLINE = person(Role.DISCIPLINE, "苏12", "discipline-1")


def entry(inside: bool = False, manner: Manner = Manner.PHONE, **changes: object) -> Interference:
    fields: dict[str, object] = dict(
        person_name="某某", person_position="局长", person_organisation="某局",
        inside_court=inside, occurred_at=START - dt.timedelta(hours=1), manner=manner,
        content="=询问案件进度", handling="告知依法办理",
    )  # fmt: skip
    fields.update(changes)
    return Interference(**fields)  # type: ignore[arg-type]


async def test_a_record_and_its_correction_are_both_kept_as_recorded() -> None:
    service = await service_with_case()
    original = await service.register.record("case-1", OFFICER, entry())
    service.clock.advance(dt.timedelta(minutes=5))
    corrected = await service.register.correct(original["record_id"], OFFICER,
                                               entry(person_position="副局长"))  # fmt: skip
    assert corrected["corrects_record_id"] == original["record_id"]
    assert (await service.register.one(original["record_id"], DISCIPLINE)) == original
    first, second = (e.payload for e in await staged(service.ctx))
    assert isinstance(first, pb.InterferenceRecorded) and isinstance(
        second, pb.InterferenceRecorded
    )
    assert first.case_number == NUMBER and first.court_code == COURT
    assert second.corrects_record_id == first.record_id
    records = (await service.register.of_case("case-1", DISCIPLINE)).items
    assert [r["record_id"] for r in records] == [original["record_id"], corrected["record_id"]]


async def test_who_records_and_who_reads() -> None:
    service = await service_with_case()
    for role in (Role.OVERSEER, Role.DISCIPLINE):
        with pytest.raises(ScopeError):
            await service.register.record("case-1", person(role, COURT), entry())
    with pytest.raises(NotFound):  # another court's people do not see the case
        await service.register.record("case-1", person(Role.OFFICER, "苏1282"), entry())
    with pytest.raises(NotFound):
        await service.register.record("case-404", OFFICER, entry())
    with pytest.raises(Invalid, match="future"):
        await service.register.record("case-1", OFFICER,
                                      entry(occurred_at=START + dt.timedelta(hours=1)))  # fmt: skip
    record = await service.register.record("case-1", person(Role.FINANCE, COURT), entry())
    for reader in (OFFICER, person(Role.OVERSEER, "苏12"), person(Role.LEADER, COURT)):
        with pytest.raises(ScopeError):
            await service.register.listing(reader, court=None, since=None, until=None)
    assert (await service.register.listing(person(Role.COMMAND, COURT), court=None, since=None,
                                           until=None)).items == [record]  # fmt: skip
    # Another jurisdiction's court reads as missing; a court the directory does not know is
    # bad input naming ``court`` (both were 403), for the listing, report and export alike.
    sibling = person(Role.DISCIPLINE, "苏1282")
    for read in (service.register.listing, service.register.report, service.register.table):
        with pytest.raises(HTTPException) as missing:
            await read(sibling, court=COURT, since=None, until=None)
        assert missing.value.status_code == 404
        with pytest.raises(Invalid) as unknown:
            await read(DISCIPLINE, court="XX99", since=None, until=None)
        assert unknown.value.loc == ("query", "court")


async def test_the_report_counts_per_court_and_the_export_neutralises_formulas() -> None:
    service = await service_with_case()
    await service.know_case("case-2", "（2026）苏1282执2号", court="苏1282")
    first = await service.register.record("case-1", OFFICER, entry(inside=True))
    await service.register.correct(first["record_id"], OFFICER, entry(inside=True))
    await service.register.record("case-2", person(Role.OFFICER, "苏1282"),
                                  entry(manner=Manner.VISIT))  # fmt: skip
    report = await service.register.report(DISCIPLINE, court=None, since=None, until=None)
    assert report == [
        {"court_code": "苏1282", "records": 1, "inside_court": 0, "outside_court": 1,
         "corrections": 0, "by_manner": {"visit": 1}},
        {"court_code": COURT, "records": 2, "inside_court": 2, "outside_court": 0,
         "corrections": 1, "by_manner": {"phone": 2}},
    ]  # fmt: skip
    day = dt.date(2026, 3, 1)
    assert (
        await service.register.listing(DISCIPLINE, court=None, since=day, until=day)
    ).items == []
    with pytest.raises(Invalid):
        await service.register.listing(DISCIPLINE, court=None, since=day,
                                       until=day - dt.timedelta(days=1))  # fmt: skip
    table, matched = await service.register.table(DISCIPLINE, court=COURT)
    assert len(table.rows) == matched == 2
    csv = table_bytes(table, ExportFormat.CSV).decode("utf-8-sig")
    assert "'=询问案件进度" in csv and NUMBER in csv


async def test_listings_come_in_pages_and_the_export_stops_at_its_row_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The register lists a page at a time, the next page after the cursor of the last one
    (a record added meanwhile does not shift it); the export is cut at MAX_EXPORT_ROWS (the
    earliest rows) and says how many matched, instead of failing with a 500."""
    service = await service_with_case()
    made = []
    for hours in (5, 4, 3):
        made.append(await service.register.record(
            "case-1", OFFICER, entry(occurred_at=START - dt.timedelta(hours=hours))))  # fmt: skip
    first = await service.register.listing(DISCIPLINE, court=None, since=None, until=None,
                                           limit=2)  # fmt: skip
    assert first.items == made[:2] and first.next_cursor
    # A record about an earlier time arrives between the pages: the next page goes on.
    await service.register.record("case-1", OFFICER,
                                  entry(occurred_at=START - dt.timedelta(hours=9)))  # fmt: skip
    second = await service.register.listing(DISCIPLINE, court=None, since=None, until=None,
                                            limit=2, after=first.next_cursor)  # fmt: skip
    assert second.items == made[2:] and second.next_cursor is None
    with pytest.raises(Invalid, match="cursor"):
        await service.register.listing(DISCIPLINE, court=None, since=None, until=None,
                                       after="not-a-cursor")  # fmt: skip
    case_page = await service.register.of_case("case-1", DISCIPLINE, limit=3)
    assert len(case_page.items) == 3 and case_page.next_cursor

    monkeypatch.setattr(export, "MAX_EXPORT_ROWS", 2)
    table, matched = await service.register.table(DISCIPLINE, court=COURT)
    assert (len(table.rows), matched) == (2, 4)


async def test_a_repeated_request_with_its_idempotency_key_records_once() -> None:
    service = await service_with_case()
    first = await service.register.record_once("case-1", OFFICER, entry(), "k-1")
    again = await service.register.record_once("case-1", OFFICER, entry(), "k-1")
    assert first.created and not again.created and again.record == first.record
    with pytest.raises(IdempotencyConflict):
        await service.register.record_once("case-1", OFFICER, entry(person_name="另一人"), "k-1")
    original = first.record["record_id"]
    fixed = await service.register.correct_once(
        original, OFFICER, entry(person_position="副"), "k-2"
    )
    fixed_again = await service.register.correct_once(
        original, OFFICER, entry(person_position="副"), "k-2"
    )
    assert fixed.created and not fixed_again.created and fixed_again.record == fixed.record
    assert len(await staged(service.ctx)) == 2  # one record, one correction
    # A colleague's key is not one's own: the same key records anew, showing nothing of the
    # first officer's record.
    colleague = person(Role.OFFICER, COURT, "officer-2")
    theirs = await service.register.record_once("case-1", colleague, entry(), "k-1")
    assert theirs.created and theirs.record["record_id"] != original


async def test_records_given_in_other_offsets_are_listed_in_the_order_they_happened() -> None:
    """09:30 in Beijing is 01:30 UTC: written in UTC it happened before 10:00 Beijing time,
    whatever the text of the offsets says."""
    service = await service_with_case()
    china = dt.timezone(dt.timedelta(hours=8))
    day = (START - dt.timedelta(days=1)).astimezone(china).date()
    later = dt.datetime.combine(day, dt.time(10, 0), tzinfo=china)
    earlier_in_utc = dt.datetime.combine(day, dt.time(1, 30), tzinfo=dt.UTC)
    await service.register.record("case-1", OFFICER, entry(occurred_at=later, person_name="乙"))
    await service.register.record("case-1", OFFICER,
                                  entry(occurred_at=earlier_in_utc, person_name="甲"))  # fmt: skip
    page = await service.register.listing(DISCIPLINE, court=None, since=None, until=None)
    assert [r["person_name"] for r in page.items] == ["甲", "乙"]
    assert page.items[0]["occurred_at"].endswith("+08:00")


async def moved(service: Service, to_court: str) -> None:
    """The case's move (指定执行) applied as the service's projection applies it."""
    move = cases.CaseHandlingCourtChanged(case_id="case-1", from_court=COURT, to_court=to_court,
                                          kind="designate")  # fmt: skip
    event: Event[Message] = new_event(move, aggregate_id="case-1", court_code=COURT,
                                      actor=ACTOR, clock=service.clock)  # fmt: skip
    async with service.ctx.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        await CaseFacts(service.records)([event], Transaction(service.ctx.redis, pipe,
                                                              service.ctx.keys))  # fmt: skip
        await pipe.execute()


async def test_a_case_moved_to_another_court_takes_its_register_with_it() -> None:
    """The court handling the case now reads and corrects its records, lists, reports and
    exports them; the court that handled it before no longer sees them."""
    service = await service_with_case()
    record = await service.register.record("case-1", OFFICER, entry())
    await moved(service, "苏1282")
    new_court = person(Role.DISCIPLINE, "苏1282", "discipline-2")
    old_court = person(Role.DISCIPLINE, COURT, "discipline-3")
    shown = await service.register.one(record["record_id"], new_court)
    assert shown["court_code"] == "苏1282"
    listed = await service.register.listing(new_court, court=None, since=None, until=None)
    assert [r["record_id"] for r in listed.items] == [record["record_id"]]
    (row,) = await service.register.report(new_court, court=None, since=None, until=None)
    assert row["court_code"] == "苏1282"
    with pytest.raises(NotFound):
        await service.register.one(record["record_id"], old_court)
    assert (await service.register.listing(old_court, court=None, since=None,
                                           until=None)).items == []  # fmt: skip
    corrected = await service.register.correct(record["record_id"],
                                               person(Role.COMMAND, "苏1282", "command-2"),
                                               entry(person_position="副局长"))  # fmt: skip
    assert corrected["court_code"] == "苏1282"
    with pytest.raises(NotFound):
        await service.register.correct(record["record_id"], OFFICER, entry())
    assert len((await service.register.listing(new_court, court=None, since=None,
                                               until=None)).items) == 2  # fmt: skip
    # The court above both sees them all along.
    assert len((await service.register.listing(DISCIPLINE, court=None, since=None,
                                               until=None)).items) == 2  # fmt: skip


async def test_a_repeated_request_after_the_case_moved_shows_the_court_handling_it_now() -> None:
    """The record repeated (same Idempotency-Key) is shown as every read shows it: under the
    court handling its case now, not the one it was recorded under."""
    service = await service_with_case()
    command = person(Role.COMMAND, "苏12", "command-1")  # sees both courts
    first = await service.register.record_once("case-1", command, entry(), "k-1")
    await moved(service, "苏1282")
    again = await service.register.record_once("case-1", command, entry(), "k-1")
    assert not again.created and again.record["record_id"] == first.record["record_id"]
    assert again.record == await service.register.one(first.record["record_id"], command)
    assert again.record["court_code"] == "苏1282"


async def test_a_record_left_under_the_court_its_case_left_is_not_listed_there() -> None:
    """A case moved before its records moved with it (or by an event naming no court it
    left): the court's listing shows only the records of cases it handles now."""
    service = await service_with_case()
    await service.register.record("case-1", OFFICER, entry())
    async with service.ctx.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        service.records.move_case(pipe, "case-1", "", "苏1282")  # the index left as it was
        await pipe.execute()
    old_court = person(Role.DISCIPLINE, COURT, "discipline-3")
    assert (await service.register.listing(old_court, court=None, since=None,
                                           until=None)).items == []  # fmt: skip
    assert await service.register.report(old_court, court=None, since=None, until=None) == []


async def test_only_a_register_reader_or_the_recorder_corrects_and_others_learn_nothing() -> None:
    """A court leader (who reads no record of the register) planted a correction of a record
    and was answered with its case: now whoever may not read the record is told it does not
    exist, and nothing is recorded; its recorder and the command centre correct it."""
    service = await service_with_case()
    record_id = (await service.register.record("case-1", OFFICER, entry()))["record_id"]
    outsiders = (
        person(Role.LEADER, COURT, "leader-1"), person(Role.CLERK, COURT, "c-1"),
        person(Role.OFFICER, COURT, "officer-2"),  # a colleague, not the recorder
        person(Role.OFFICER, "苏1282", "officer-1"),  # the recorder's id, at another court
    )  # fmt: skip
    for outsider in outsiders:
        with pytest.raises(NotFound) as missing:
            await service.register.correct(record_id, outsider, entry())
        assert "case-1" not in str(missing.value) and NUMBER not in str(missing.value)
    with pytest.raises(ScopeError):  # discipline reads it, but records nothing
        await service.register.correct(record_id, DISCIPLINE, entry())
    assert len(await staged(service.ctx)) == 1
    mine = await service.register.correct(record_id, OFFICER, entry(person_position="副局长"))
    command = person(Role.COMMAND, "苏12", "command-1")
    theirs = await service.register.correct(record_id, command, entry(person_position="处长"))
    assert mine["corrects_record_id"] == theirs["corrects_record_id"] == record_id
