"""The notification repository behaves the same on the in-memory Redis and on the real one:
a case kept once with what is queued beside it, listed by its court; due notices read by
time, soonest first, and unscheduled; undelivered notices listed for a court and the courts
above, and moved with the case; a code's party found by its hash; rate counters counted."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from services.notification.repository import NotificationRecords
from zhixing.errors import Conflict
from zhixing.state import KeySpace

pytestmark = pytest.mark.integration


def case(case_id: str) -> dict[str, object]:
    return {"case_id": case_id, "court_code": "苏1283", "notices": {}, "nodes": []}


async def test_a_case_is_kept_once_with_its_code_and_listed_by_court(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = NotificationRecords(store, KeySpace(contract_prefix, "notification"))

    def beside(pipe: Pipeline, record: dict[str, object]) -> None:
        records.keep_code(pipe, "hash-1", "1", "a0")

    assert await records.open_once(case("1"), beside)
    assert not await records.open_once({**case("1"), "court_code": "苏1282"}, beside)
    kept = await records.get("1")
    assert kept is not None and kept["court_code"] == "苏1283"
    assert await records.ids_in_jurisdiction("苏12") == ["1"]
    assert await records.party_of_code("hash-1") == ("1", "a0")
    assert await records.party_of_code("hash-2") is None


async def test_due_notices_by_time_and_undelivered_ones_by_court(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = NotificationRecords(store, KeySpace(contract_prefix, "notification"))
    await records.open_once(case("1"), lambda pipe, record: None)

    async def schedule(pipe: Pipeline, record: dict[str, object]) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        records.schedule(pipe, "1", "late", 3000)
        records.schedule(pipe, "1", "soon", 1000)
        records.schedule(pipe, "1", "later", 9000)
        records.list_undelivered(pipe, "苏1283", "1", "gone", at_ms=2000, since_ms=0, keep=10)
        records.list_undelivered(pipe, "苏1283", "1", "lost", at_ms=1000, since_ms=0, keep=10)

    await records.change_case("1", schedule)
    assert await records.due(5000, 10) == [("1", "soon"), ("1", "late")]
    assert await records.due(5000, 1) == [("1", "soon")]
    await records.drop_due("1", "soon")
    assert await records.due(5000, 10) == [("1", "late")]
    assert await records.undelivered_in_jurisdiction("苏12", 0, 10) == [
        ("1", "lost"),
        ("1", "gone"),
    ]
    assert await records.undelivered_in_jurisdiction("苏12", 0, 1) == [("1", "lost")]
    # Listed before since_ms: dropped (pruned for good).
    assert await records.undelivered_in_jurisdiction("苏12", 1500, 10) == [("1", "gone")]
    assert await records.undelivered_in_jurisdiction("苏12", 0, 10) == [("1", "gone")]

    async def move(pipe: Pipeline, record: dict[str, object]) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        records.move(pipe, "1", "苏1283", "苏1282", [("gone", 2000)])
        record["court_code"] = "苏1282"

    await records.change_case("1", move)
    assert await records.undelivered_in_jurisdiction("苏1283", 0, 10) == []
    assert await records.undelivered_in_jurisdiction("苏1282", 0, 10) == [("1", "gone")]

    async def cap(pipe: Pipeline, record: dict[str, object]) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        records.list_undelivered(pipe, "苏1282", "1", "new", at_ms=3000, since_ms=0, keep=1)

    await records.change_case("1", cap)  # the oldest beyond the cap drop out
    assert await records.undelivered_in_jurisdiction("苏1282", 0, 10) == [("1", "new")]
    assert await records.ids_of("苏1282") == ["1"]


async def test_a_refused_change_writes_nothing_and_counters_count(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = NotificationRecords(store, KeySpace(contract_prefix, "notification"))
    await records.open_once(case("1"), lambda pipe, record: None)

    async def refuse(pipe: Pipeline, record: dict[str, object]) -> None:
        record["court_code"] = "苏0000"
        raise Conflict("refused")

    with pytest.raises(Conflict):
        await records.change_case("1", refuse)
    kept = await records.get("1")
    assert kept is not None and kept["court_code"] == "苏1283"
    key = records.rate_key("address", "10.0.0.1", 7)
    assert [await records.count(key, 60) for _ in range(3)] == [1, 2, 3]
    assert await records.count(records.rate_key("address", "10.0.0.1", 8), 60) == 1
