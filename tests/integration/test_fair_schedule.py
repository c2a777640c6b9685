"""Query work is shared fairly across courts and cases (issue 13): a small case filed
behind a huge one, or in a court behind another court's burst, is served in the next round."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.asset_control.domain import QueryRef
from services.asset_control.schedule import SHARE_PER_CASE, WorkQueue
from tests.conftest import Isolated
from tests.factories import filing
from tests.integration.platform_stack import platform_stack
from tests.integration.test_asset_control import case_view, until_query
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.auth import Role
from zhixing.bounds import MAX_PARTIES
from zhixing.state import KeySpace

pytestmark = pytest.mark.integration


async def queue(work: WorkQueue, case_id: str, court: str, units: int, at: int) -> None:
    async with work.redis.pipeline(transaction=True) as pipe:
        for unit in range(units):
            work.schedule_query(pipe, QueryRef(case_id, 1, unit, 1).member, court, at)
        await pipe.execute()


async def test_a_round_serves_every_court_and_case_with_due_work(isolated: Isolated) -> None:
    work = WorkQueue(isolated.redis, KeySpace(isolated.prefix, "asset_control"))
    await queue(work, "huge", "苏1283", 800, at=1_000)
    for n in range(30):  # a burst of one court's cases
        await queue(work, f"burst-{n}", "苏1282", 8, at=1_100 + n)
    await queue(work, "small", "苏0281", 8, at=2_000)  # filed last, in a third court

    first = await work.due(now_ms=2_000, limit=40)
    per_case: dict[str, int] = {}
    for member in first:
        per_case[member.split("|")[1]] = per_case.get(member.split("|")[1], 0) + 1
    assert per_case["small"] == 8  # served at once, in full
    assert per_case["huge"] == SHARE_PER_CASE  # a bounded share, not the whole round
    assert max(per_case.values()) <= SHARE_PER_CASE
    assert len(first) == 40
    assert await work.count(now_ms=2_000) == 800 + 30 * 8 + 8
    assert await work.due(now_ms=999, limit=40) == []  # nothing is due before its time


async def test_a_case_whose_units_left_is_dropped_from_the_round_and_requeued_later(
    isolated: Isolated,
) -> None:
    work = WorkQueue(isolated.redis, KeySpace(isolated.prefix, "asset_control"))
    await queue(work, "c1", "苏1283", 2, at=1_000)
    async with work.redis.pipeline(transaction=True) as pipe:
        work.unschedule_query(pipe, *(QueryRef("c1", 1, u, 1).member for u in range(2)))
        await pipe.execute()
    assert await work.due(now_ms=5_000, limit=10) == []
    assert await isolated.redis.zcard(work.cases_key) == 0  # the stale pointer is gone
    await queue(work, "c1", "苏1283", 1, at=6_000)
    assert await work.due(now_ms=6_000, limit=10) == [QueryRef("c1", 1, 0, 1).member]


async def test_a_small_case_filed_behind_a_huge_one_is_answered_first(
    isolated: Isolated, tmp_path: Path
) -> None:
    many = range(1, MAX_PARTIES + 1)
    huge = filing(debtors=[{"kind": "organisation", "name": f"公司{n}",
                            "id_number": credit_code(n)} for n in many])  # fmt: skip
    small = filing(debtors=[{"kind": "organisation", "name": "某公司",
                             "id_number": credit_code(4242)}])  # fmt: skip
    async with platform_stack(isolated, tmp_path, with_command=False,
                              gateway={"latency_ms": 0}) as stack:  # fmt: skip
        clerk = stack.headers(Role.CLERK)
        async with stack.client(stack.intake) as http:
            huge_id = (await http.post("/v1/cases", json=huge, headers=clerk)).json()["case_id"]

            async def huge_queued() -> bool:
                return await case_view(stack, huge_id) is not None

            await eventually(huge_queued)
            small_id = (await http.post("/v1/cases", json=small, headers=clerk)).json()["case_id"]
        await until_query(stack, small_id, "completed")
        big = await case_view(stack, huge_id)
        assert big is not None
        answered = sum(1 for u in big["query"]["units"] if u["status"] == "answered")
        assert answered < len(big["query"]["units"])  # the huge case is still being served
        await until_query(stack, huge_id, "completed")
