"""The supervision repository behaves the same on the in-memory Redis and on the real one:
cases kept by id and number and moved, and the case a subject belongs to; a task listed
under the court that answers it and the court whose clock breached, and under its clock;
registered petitions counted per case; interference records listed by court and by case; a
refused change writes nothing."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from services.supervision.repository import SupervisionRecords
from zhixing.errors import Conflict
from zhixing.records import Record
from zhixing.state import KeySpace

pytestmark = pytest.mark.integration

NUMBER = "（2026）苏1283执1号"


async def write(records: SupervisionRecords, *writes: object) -> None:
    async def body(pipe: Pipeline) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        for queue in writes:
            queue(pipe)  # type: ignore[operator]

    await records.transact([], body)


async def test_cases_are_kept_by_id_and_number_and_follow_a_move(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = SupervisionRecords(store, KeySpace(contract_prefix, "supervision"))
    await write(records, lambda p: records.keep_case(p, "case-1", NUMBER, "苏1283"))
    assert await records.case("case-1") == {
        "case_id": "case-1", "case_number": NUMBER, "court_code": "苏1283"}  # fmt: skip
    await write(records, lambda p: records.move_case(p, "case-1", "苏1283", "苏1282"))
    moved = await records.case_by_number(NUMBER)
    assert moved is not None and moved["court_code"] == "苏1282"
    assert await records.courts_of_cases(["case-1", "case-2", "case-1"]) == {"case-1": "苏1282"}
    assert await records.case("case-2") is None and await records.case_by_number("x") is None
    await write(records, lambda p: records.keep_subject_case(p, "asset-1", "case-1"),
                lambda p: records.keep_subject_case(p, "asset-1", "case-9"))  # fmt: skip
    assert await records.case_of_subject("asset-1") == "case-1"  # the first word holds
    assert await records.case_of_subject("case-1") == "case-1"
    assert await records.case_of_subject("asset-2") is None


async def test_tasks_are_listed_under_both_courts_and_their_clock(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = SupervisionRecords(store, KeySpace(contract_prefix, "supervision"))
    task: Record = {"task_id": "t1", "clock_id": "c1", "court_code": "苏12",
                    "breached_court": "苏1283", "status": "open"}  # fmt: skip
    await write(records, lambda p: records.add_task(p, task))
    assert await records.tasks.ids_of("苏12") == ["t1"]
    assert await records.tasks.ids_of("苏1283") == ["t1"]
    assert await records.tasks.ids_in_jurisdiction("苏") == ["t1"]
    assert await records.task_ids_of_clock("c1") == ["t1"]

    async def refuse(pipe: Pipeline, record: Record) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        record["status"] = "answered"
        raise Conflict("refused")

    with pytest.raises(Conflict):
        await records.tasks.change("t1", refuse)
    kept = await records.tasks.get("t1")
    assert kept is not None and kept["status"] == "open"
    await write(records, lambda p: records.note_clock(p, "c1", due_at="2026-03-10T00:00:00+08:00",
                                                      last_day="2026-03-09"))  # fmt: skip
    assert (await records.clock("c1"))["last_day"] == "2026-03-09"


async def test_petitions_are_counted_per_case_and_records_listed_per_case(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = SupervisionRecords(store, KeySpace(contract_prefix, "supervision"))
    await write(
        records,
        lambda p: records.count_petition(p, "case-1", "p1"),
        lambda p: records.count_petition(p, "case-1", "p2"),
        lambda p: records.count_petition(p, "case-1", "p2"),
        lambda p: records.count_petition(p, "case-2", "p2"),
    )  # fmt: skip
    assert await records.repeat_counts(["case-1", "case-2", "case-3"]) == [2, 1, 0]
    assert await records.petitions_of_case("case-1") == {"p1", "p2"}
    record: Record = {"record_id": "r1", "case_id": "case-1", "court_code": "苏1283"}
    await write(records, lambda p: records.add_interference(p, record))
    assert await records.interference_of_case("case-1") == [record]
    assert await records.register.in_jurisdiction("苏12") == [record]
    assert await records.interference_of_case("case-2") == []
