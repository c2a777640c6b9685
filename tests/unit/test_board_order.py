"""The board's place of a case does not depend on the order its topics are read in: a
query started (asset topic) read before the filing (case topic) scores the case by its
filing time once that arrives, as reading them the other way round does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import fakeredis

from services.command.board import NODE_IDS, Board
from tests.unit.test_command_zhongben_projections import KEYS, TAIXING, apply, event, filed
from zhixing.events import Event
from zhixing.v1 import asset_events_pb2, case_events_pb2


def received(case_id: str) -> Event[Any]:
    payload = case_events_pb2.ApplicationReceived(
        case_id=case_id, court_code=TAIXING, received_on="2026-03-02"
    )
    return event(payload, case_id)


def querying(case_id: str) -> Event[Any]:
    return event(asset_events_pb2.NetworkQueryStarted(case_id=case_id), case_id)


async def scores(order: Sequence[Event[Any]]) -> list[tuple[bytes, float]]:
    """The node's members and scores after applying ``order``, one event per batch."""
    redis = fakeredis.FakeAsyncRedis()
    board = Board(redis, KEYS)
    for one in order:
        await apply(redis, board, [one])
    found: Any = await redis.zrange(
        board.node_key(TAIXING, NODE_IDS[1]), 0, -1, withscores=True)  # fmt: skip
    return [(member, float(score)) for member, score in found]


async def test_a_query_read_before_the_filing_is_dated_by_the_filing() -> None:
    application, query, filing = received("c1"), querying("c1"), filed("c1")
    in_order = await scores([application, filing, query])
    out_of_order = await scores([application, query, filing])
    assert in_order == out_of_order
    assert in_order[0][1] > 0  # the filing's time, not the 0 of a case not yet filed
