"""The figures' judgement of payouts (案款发放及时率) on the in-memory Redis: a payout and the
two clearings that judge it give the same count in any order and any batching (topics are
not ordered with each other), a payout is counted once, and a concurrent writer of the keys
read makes the batch retry."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import fakeredis
import pytest
from google.protobuf.message import Message
from redis.exceptions import WatchError

from services.command.figures import CourtFigures
from tests.factories import ACTOR, START
from zhixing.clock import SimulatedClock
from zhixing.courts import directory
from zhixing.events import Event, new_event
from zhixing.projection import Transaction
from zhixing.state import KeySpace
from zhixing.v1 import deadline_events_pb2, funds_events_pb2

COURT = "苏1283"
KEYS = KeySpace("unit.", "command")


def event(payload: Message, aggregate: str) -> Event[Any]:
    return new_event(payload, aggregate_id=aggregate, court_code=COURT, actor=ACTOR,
                     clock=SimulatedClock(START))  # fmt: skip


def paid(payout: str = "out-1") -> Event[Any]:
    return event(funds_events_pb2.FundsPaid(case_id="c1", payment_id="pay-1", notice_id="n-1",
                                            payout_id=payout, amount_fen=5_000), "c1")  # fmt: skip


def cleared(rule: str, per: str, *, late: bool) -> Event[Any]:
    clock_id = f"{rule}:c1:{per}"
    ref = deadline_events_pb2.ClockRef(clock_id=clock_id, rule_id=rule, subject_id="c1",
                                       court_code=COURT, cycle=1)  # fmt: skip
    return event(deadline_events_pb2.ClockCleared(clock=ref, late=late), clock_id)


def figures() -> tuple[fakeredis.FakeAsyncRedis, CourtFigures]:
    redis = fakeredis.FakeAsyncRedis()
    return redis, CourtFigures(redis, KEYS, directory())


async def apply(redis: Any, projection: CourtFigures, batch: Sequence[Event[Any]]) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        prepared = await projection.prepare(batch, pipe)
        pipe.multi()
        await projection(batch, Transaction(redis, pipe, KEYS, prepared))
        await pipe.execute()


def batchings(events: Sequence[Event[Any]]) -> list[list[list[Event[Any]]]]:
    """Every order of ``events``, cut into consecutive batches every possible way."""
    ways = []
    for order in itertools.permutations(events):
        for cuts in itertools.product((False, True), repeat=len(order) - 1):
            batches, current = [], [order[0]]
            for cut, item in zip(cuts, order[1:], strict=True):
                if cut:
                    batches.append(current)
                    current = []
                current.append(item)
            ways.append([*batches, current])
    return ways


@pytest.mark.parametrize(
    ("notify_late", "pay_late", "in_time"),
    [(False, False, 1), (True, False, 0), (False, True, 0), (True, True, 0)],
)
async def test_a_payout_is_judged_by_both_its_clocks_in_any_order_and_batching(
    notify_late: bool, pay_late: bool, in_time: int
) -> None:
    events = [
        paid(),
        cleared("funds.notify-finance", "pay-1", late=notify_late),
        cleared("funds.pay", "n-1", late=pay_late),
    ]
    for batches in batchings(events):
        redis, projection = figures()
        for batch in batches:
            await apply(redis, projection, batch)
        counts = await projection.counters(COURT)
        assert (counts["payouts"], counts["payouts_judged"], counts["payouts_in_time"]) == (
            1, 1, in_time,
        ), batches  # fmt: skip
        assert counts["paid_fen"] == 5_000


async def test_a_payout_waits_for_its_second_clock_and_is_counted_once() -> None:
    redis, projection = figures()
    await apply(redis, projection, [paid(), cleared("funds.pay", "n-1", late=False)])
    counts = await projection.counters(COURT)
    assert (counts["payouts"], counts["payouts_judged"]) == (1, 0)  # the notify clock is due
    # The same payout reported again (another event) counts no second time.
    await apply(redis, projection, [paid()])
    await apply(redis, projection, [cleared("funds.notify-finance", "pay-1", late=False)])
    counts = await projection.counters(COURT)
    assert (counts["payouts"], counts["payouts_judged"], counts["payouts_in_time"]) == (1, 1, 1)
    assert counts["paid_fen"] == 5_000
    # Another rule's clearing judges nothing.
    await apply(redis, projection, [cleared("intake.assign-officer", "x", late=True)])
    assert (await projection.counters(COURT))["payouts_judged"] == 1


async def test_a_clearing_written_meanwhile_makes_the_payouts_batch_retry() -> None:
    """Two consumers of the group: one has read the payout's keys, the other records a
    clearing the payout waits for; the first one's write is refused (and retried)."""
    redis, projection = figures()
    await apply(redis, projection, [cleared("funds.notify-finance", "pay-1", late=False)])
    async with redis.pipeline(transaction=True) as pipe:
        batch = [paid()]
        prepared = await projection.prepare(batch, pipe)
        await apply(redis, projection, [cleared("funds.pay", "n-1", late=False)])
        pipe.multi()  # type: ignore[no-untyped-call]
        await projection(batch, Transaction(redis, pipe, KEYS, prepared))
        with pytest.raises(WatchError):
            await pipe.execute()
    await apply(redis, projection, [paid()])  # the retry sees both verdicts
    counts = await projection.counters(COURT)
    assert (counts["payouts"], counts["payouts_judged"], counts["payouts_in_time"]) == (1, 1, 1)
