"""The figures of a week or month do not depend on the order events are read in (topics
and partitions are not ordered with each other, and a replay reads them in another order):
a payout is judged in the week it was paid, a case counted controlled in the week of its
earliest control."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from google.protobuf.message import Message

from services.command.figures import CourtFigures
from tests.factories import ACTOR, START
from tests.unit.test_command_payouts import COURT, apply, batchings, figures
from zhixing.clock import SimulatedClock
from zhixing.events import Event, new_event
from zhixing.state import text_hash
from zhixing.v1 import asset_events_pb2, deadline_events_pb2, funds_events_pb2

WEEK = dt.timedelta(days=7)  # START is Monday of 2026-W10


def at(when: dt.datetime, payload: Message, aggregate: str) -> Event[Any]:
    return new_event(payload, aggregate_id=aggregate, court_code=COURT, actor=ACTOR,
                     clock=SimulatedClock(when))  # fmt: skip


def cleared(when: dt.datetime, rule: str, per: str) -> Event[Any]:
    clock_id = f"{rule}:c1:{per}"
    ref = deadline_events_pb2.ClockRef(clock_id=clock_id, rule_id=rule, subject_id="c1",
                                       court_code=COURT, cycle=1)  # fmt: skip
    return at(when, deadline_events_pb2.ClockCleared(clock=ref, late=False), clock_id)


async def weeks(projection: CourtFigures, redis: Any, field: str) -> dict[str, int]:
    found = {}
    for label in ("2026-W10", "2026-W11", "2026-W12"):
        value = text_hash(await redis.hgetall(projection.period_key(COURT, label))).get(field)
        if value and int(value):
            found[label] = int(value)
    return found


async def test_a_payout_is_judged_in_the_week_it_was_paid_in_any_order() -> None:
    paid = at(START, funds_events_pb2.FundsPaid(case_id="c1", payment_id="pay-1",
                                                notice_id="n-1", payout_id="out-1",
                                                amount_fen=5_000), "c1")  # fmt: skip
    events = [paid, cleared(START + WEEK, "funds.notify-finance", "pay-1"),
              cleared(START + 2 * WEEK, "funds.pay", "n-1")]  # fmt: skip
    for batches in batchings(events):
        redis, projection = figures()
        for batch in batches:
            await apply(redis, projection, batch)
        assert await weeks(projection, redis, "payouts_judged") == {"2026-W10": 1}, batches
        assert await weeks(projection, redis, "payouts_in_time") == {"2026-W10": 1}, batches
        assert (await projection.counters(COURT))["payouts_judged"] == 1


async def test_a_case_is_controlled_in_the_week_of_its_earliest_control_in_any_order() -> None:
    controls = [
        at(START + n * WEEK, asset_events_pb2.AssetControlled(asset_id=f"a{n}", case_id="c1",
                                                              amount_fen=100), f"a{n}")
        for n in (2, 0, 1)
    ]  # fmt: skip
    for order in itertools.permutations(controls):
        redis, projection = figures()
        for one in order:
            await apply(redis, projection, [one])
        assert await weeks(projection, redis, "controlled_cases") == {"2026-W10": 1}
        assert (await projection.counters(COURT))["controlled_cases"] == 1
