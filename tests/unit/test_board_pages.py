"""The board's pages read only what they show, and show what reading everything would.

The warnings list (``Board.alerts``): the page of the most urgent is the same whether every
court's most urgent clocks are read whole and sorted, or only the page's are read; the
count is of them all either way. A node's cases (``Board.cases_at``): one court's page is
read as a range of its set, several courts' merged; both are the slice of the whole."""

from __future__ import annotations

import datetime as dt
from typing import Any

import fakeredis
from google.protobuf.timestamp_pb2 import Timestamp

from services.command.board import NODE_IDS, Board
from tests.unit.test_command_zhongben_projections import JINGJIANG, KEYS, TAIXING, apply, event
from zhixing.clock import CHINA_TZ
from zhixing.v1 import deadline_events_pb2 as clocks

COURTS = (TAIXING, JINGJIANG)
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)


def opened(case_id: str, court: str, rule_id: str, due_in_hours: int) -> Any:
    due = Timestamp()
    due.FromDatetime(MONDAY + dt.timedelta(hours=due_in_hours))
    clock = clocks.ClockOpened(
        clock=clocks.ClockRef(clock_id=f"{rule_id}:{case_id}", rule_id=rule_id,
                              subject_id=case_id, court_code=court, cycle=1),
        due_at=due, last_day=due.ToDatetime().date().isoformat(),
    )  # fmt: skip
    return event(clocks.ClocksOpened(subject_id=case_id, clocks=[clock]), case_id, court)


async def board_with_clocks() -> Board:
    """Five clocks at each court, due interleaved (泰兴's at even hours, 靖江's at odd),
    two of each court's under rule intake.*, and two of 泰兴's due at the same instant."""
    redis = fakeredis.FakeAsyncRedis()
    board = Board(redis, KEYS)
    batch = []
    for n in range(5):
        for offset, court in enumerate(COURTS):
            rule = "intake.assign-officer" if n < 2 else "asset.network-query"
            batch.append(opened(f"{court}-c{n}", court, rule, 2 * n + offset))
    batch.append(opened("苏1283-tie", TAIXING, "asset.network-query", 4))
    await apply(redis, board, batch)
    return board


async def test_the_first_page_is_the_most_urgent_of_every_court_read_whole() -> None:
    board = await board_with_clocks()
    total, everything = await board.alerts(COURTS, ["running"], per_court=4)
    assert total == len(everything) == 8  # four of each court: per_court bounds each
    whole = sorted(everything, key=lambda r: (r["due_at"], r["clock_id"]))
    counted, page = await board.alerts(COURTS, ["running"], per_court=4, first=3)
    assert counted == total
    assert [r["clock_id"] for r in page] == [r["clock_id"] for r in whole[:3]]
    assert page == whole[:3]  # each row whole: its case, times and state
    # The two clocks due at one instant come in clock id order, as the whole read sorts.
    _, tied = await board.alerts(COURTS, ["running"], per_court=5, first=7)
    at_four = [r["clock_id"] for r in tied if r["due_at"] == tied[4]["due_at"]]
    assert at_four == sorted(at_four) and len(at_four) == 2


async def test_a_page_past_every_clock_and_a_state_with_none_read_as_they_are() -> None:
    board = await board_with_clocks()
    total, page = await board.alerts(COURTS, ["running"], per_court=100, first=100)
    assert total == len(page) == 11
    assert [r["court_code"] for r in page[:2]] == [TAIXING, JINGJIANG]
    assert await board.alerts(COURTS, ["breached"], per_court=100, first=10) == (0, [])


async def board_with_cases(per_court: int) -> Board:
    """``per_court`` cases at each court at the node 'filed', filed a minute apart with the
    two courts interleaved."""
    redis = fakeredis.FakeAsyncRedis()
    board = Board(redis, KEYS)
    base = int(MONDAY.timestamp() * 1000)
    for n in range(per_court):
        for offset, court in enumerate(COURTS):
            case_id, filed_at = f"{court}-c{n:02}", base + (2 * n + offset) * 60_000
            await redis.hset(board.case_key(case_id), mapping={
                "court": court, "number": f"（2026）{court}执{n}号", "rank": 0,
                "filed_at": filed_at,
            })  # fmt: skip
            await redis.zadd(board.node_key(court, NODE_IDS[0]), {case_id: filed_at})
    return board


async def test_a_node_page_of_one_court_or_several_is_the_slice_of_the_whole() -> None:
    board = await board_with_cases(per_court=12)
    for courts in ([TAIXING], list(COURTS)):
        total, whole = await board.cases_at(courts, NODE_IDS[0], offset=0, limit=500)
        assert total == len(whole) == 12 * len(courts)
        assert [r["filed_at"] for r in whole] == sorted(r["filed_at"] for r in whole)
        for offset, limit in ((0, 5), (5, 5), (10, 5), (23, 5), (30, 5)):
            counted, page = await board.cases_at(courts, NODE_IDS[0], offset=offset, limit=limit)
            assert counted == total
            assert page == whole[offset : offset + limit], (courts, offset)
