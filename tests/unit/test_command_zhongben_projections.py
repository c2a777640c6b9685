"""The command centre's 终本 projections on the in-memory Redis: the figures 终本率,
终本合格率 and 恢复执行率 (which closures count, at which court), the board's node 终本, and
the case view's 终本 and credit records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import fakeredis
from google.protobuf.message import Message

from services.command.board import Board
from services.command.case_credit import CaseCredit
from services.command.case_zhongben import CaseZhongben
from services.command.figures import COUNTERS, SUMS, CourtFigures, rates
from tests.factories import ACTOR, START
from zhixing.clock import SimulatedClock
from zhixing.courts import directory
from zhixing.events import Event, new_event
from zhixing.projection import Transaction
from zhixing.state import KeySpace, text_hash
from zhixing.v1 import asset_events_pb2, case_events_pb2, credit_events_pb2

KEYS = KeySpace("unit.", "command")
TAIXING, JINGJIANG = "苏1283", "苏1282"
c, a, r = case_events_pb2, asset_events_pb2, credit_events_pb2
THIS_ROUND = "终结本次执行"


def event(payload: Message, case_id: str, court: str = TAIXING) -> Event[Any]:
    return new_event(
        payload, aggregate_id=case_id, court_code=court, actor=ACTOR, clock=SimulatedClock(START)
    )


async def apply(redis: Any, projection: Any, batch: Sequence[Event[Any]]) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await projection.prepare(batch, pipe) if hasattr(projection, "prepare") else None
        pipe.multi()
        await projection(batch, Transaction(redis, pipe, KEYS, prepared))
        await pipe.execute()


def filed(case_id: str, court: str = TAIXING) -> Event[Any]:
    return event(
        c.CaseFiled(
            case_id=case_id,
            court_code=court,
            case_type_code="执",
            claim_amount_fen=100,
            filed_on="2026-03-02",
            debtors=[c.Party(name="某某有限公司")],
        ),
        case_id,
        court,
    )


def closed(case_id: str, method: str = THIS_ROUND, court: str = TAIXING) -> Event[Any]:
    return event(
        c.CaseClosed(case_id=case_id, method=method, closed_on="2026-06-10"), case_id, court
    )


def ruled(case_id: str, court: str = TAIXING) -> Event[Any]:
    return event(
        c.ZhongbenRuled(
            case_id=case_id,
            ruling_number=f"{case_id}-ruling",
            ruled_on="2026-06-10",
            approved_by="leader-1",
        ),
        case_id,
        court,
    )


def history() -> list[Event[Any]]:
    """泰兴: z1 ruled and closed 终本; z2 ruled, closed, revoked on objection and resumed; z3
    closed 终本 with no ruling (as before the gate); p1 closed 执行完毕. z4 ruled at 泰兴, moved
    to 靖江 before closing, closed there and resumed there."""
    return [
        *(filed(case) for case in ("z1", "z2", "z3", "p1", "z4")),
        ruled("z1"),
        closed("z1"),
        ruled("z2"),
        closed("z2"),
        event(c.ZhongbenRevoked(case_id="z2", reason="未穷尽财产调查措施"), "z2"),
        event(c.ExecutionResumed(case_id="z2", new_case_id="z2r", cause="objection_upheld"), "z2"),
        # Reported twice: counted once.
        event(c.ExecutionResumed(case_id="z2", new_case_id="z2r", cause="objection_upheld"), "z2"),
        closed("z3"),
        closed("p1", "执行完毕"),
        ruled("z4"),
        event(
            c.CaseHandlingCourtChanged(
                case_id="z4", from_court=TAIXING, to_court=JINGJIANG, kind="designate"
            ),
            "z4",
        ),
        closed("z4", court=JINGJIANG),
        event(
            c.ExecutionResumed(case_id="z4", new_case_id="z4r", cause="assets_found"),
            "z4",
            JINGJIANG,
        ),
    ]


async def test_the_zhongben_figures_count_gated_unrevoked_and_resumed_closures_per_court() -> None:
    redis = fakeredis.FakeAsyncRedis()
    figures = CourtFigures(redis, KEYS, directory())
    for one in history():  # one event a batch, and all in one batch: the same counts
        await apply(redis, figures, [one])
    taixing, jingjiang = await figures.counters(TAIXING), await figures.counters(JINGJIANG)
    assert (taixing["closed"], taixing["closed_this_round"]) == (4, 3)
    assert (taixing["closed_this_round_gated"], taixing["closed_this_round_revoked"]) == (2, 1)
    assert taixing["closed_this_round_resumed"] == 1
    taixing_rates = rates(taixing)
    assert taixing_rates["终本率"] == 0.75  # z1, z2, z3 of the four closed
    assert taixing_rates["终本合格率"] == round(1 / 3, 4)  # z1 only: z2 revoked, z3 ungated
    assert taixing_rates["恢复执行率"] == round(1 / 3, 4)  # z2
    jingjiang_rates = rates(jingjiang)
    assert (jingjiang_rates["终本合格率"], jingjiang_rates["恢复执行率"]) == (1.0, 1.0)

    redis = fakeredis.FakeAsyncRedis()
    together = CourtFigures(redis, KEYS, directory())
    await apply(redis, together, history())
    assert await together.counters(TAIXING) == taixing
    assert await together.counters(JINGJIANG) == jingjiang


def test_the_zhongben_rates_have_nothing_to_divide_without_a_zhongben_closure() -> None:
    counts = dict.fromkeys((*COUNTERS, *SUMS), 0) | {"filed": 4, "closed": 4, "closed_performed": 4}
    computed = rates(counts)
    assert computed["终本率"] == 0.0
    assert computed["终本合格率"] is None and computed["恢复执行率"] is None


async def board_counts(redis: Any, board: Board, court: str = TAIXING) -> dict[str, int]:
    return (await board.counts([court]))[court]


async def test_a_zhongben_case_shows_at_its_node_while_in_requery_and_not_as_open() -> None:
    redis = fakeredis.FakeAsyncRedis()
    board = Board(redis, KEYS)
    await apply(
        redis,
        board,
        [
            filed("z1"),
            filed("z2"),
            filed("p1"),
            ruled("z1"),
            closed("z1"),
            closed("p1", "执行完毕"),
        ],
    )
    counts = await board_counts(redis, board)
    assert (counts["node_zhongben"], counts["open_cases"], counts["node_filed"]) == (1, 1, 1)
    await apply(
        redis,
        board,
        [event(a.ZhongbenRequeryStarted(case_id="z1", round=2, requery_number=1), "z1")],
    )
    total, rows = await board.cases_at([TAIXING], "zhongben", offset=0, limit=10)
    assert total == 1 and [(row["case_id"], row["requeries"]) for row in rows] == [("z1", 1)]
    # Resumed: the original leaves the node (the 执恢 case is a case of its own).
    await apply(redis, board, [event(c.ExecutionResumed(case_id="z1", new_case_id="z1r"), "z1")])
    assert (await board_counts(redis, board))["node_zhongben"] == 0
    # The re-query period's end, read before the closure (topics are not ordered): never shown.
    await apply(
        redis, board, [event(a.ZhongbenRequeryPeriodEnded(case_id="z2"), "z2"), closed("z2")]
    )
    assert (await board_counts(redis, board))["node_zhongben"] == 0


async def test_the_case_view_keeps_the_zhongben_and_the_credit_state() -> None:
    redis = fakeredis.FakeAsyncRedis()
    zhongben, credit = CaseZhongben(redis, KEYS), CaseCredit(redis, KEYS)
    events = [
        filed("z1"),
        ruled("z1"),
        event(c.ZhongbenRulingServed(case_id="z1", served_on="2026-06-12"), "z1"),
        event(
            c.ZhongbenObjected(
                case_id="z1", objection_id="o1", grounds="财产未查清", received_on="2026-06-20"
            ),
            "z1",
        ),
        event(c.ZhongbenObjectionDecided(case_id="z1", objection_id="o1", upheld="no"), "z1"),
        event(
            a.ZhongbenRequeryCompleted(
                case_id="z1", round=3, requery_number=2, new_assets=1, resumption_proposed="yes"
            ),
            "z1",
        ),
        event(a.ZhongbenRequeryCompleted(case_id="z1", round=2, requery_number=1), "z1"),
        event(
            r.RestrictionOrdered(
                case_id="z1",
                restriction_id="re1",
                debtor_key="d0",
                debtor_id_number="91321283MA0000007N",
                ruling_number="限1号",
                ordered_on="2026-04-01",
            ),
            "z1",
        ),
        event(
            r.RestrictionServed(
                case_id="z1", restriction_id="re1", debtor_key="d0", served_on="2026-04-02"
            ),
            "z1",
        ),
        event(
            r.DebtorListed(
                case_id="z1", listing_id="li1", debtor_key="d0", ground=1, fixed_term="no"
            ),
            "z1",
        ),
        event(
            r.ListingGroundEnded(
                case_id="z1", listing_id="li1", debtor_key="d0", cause="performed"
            ),
            "z1",
        ),
        event(
            r.ListingDeleted(
                case_id="z1",
                listing_id="li1",
                debtor_key="d0",
                cause="ground_ended",
                deleted_on="2026-08-03",
            ),
            "z1",
        ),
    ]
    for projection in (zhongben, credit):
        await apply(redis, projection, events)
    state = await zhongben.get("z1")
    assert (state.state, state.ruling_number, state.served_on) == (
        "ruled",
        "z1-ruling",
        "2026-06-12",
    )
    assert [(o.objection_id, o.decision) for o in state.objections] == [("o1", "rejected")]
    # The later round stays the last one, whichever is read last.
    assert state.requeries_completed == 2 and state.last_requery is not None
    assert state.last_requery.new_assets == 1 and state.last_requery.resumption_proposed
    kept = await credit.get("z1")
    [restriction] = kept.restrictions
    assert (restriction.state, restriction.debtor_name, restriction.served_on) == (
        "served",
        "某某有限公司",
        "2026-04-02",
    )
    [listing] = kept.listings
    assert (listing.state, listing.end_cause, listing.deleted_on) == (
        "deleted",
        "performed",
        "2026-08-03",
    )
    stored = text_hash(await redis.hgetall(credit.key("z1")))
    assert not any("91321283MA0000007N" in value for value in stored.values())
    assert (await zhongben.get("none")).state == "none"
