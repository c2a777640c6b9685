"""Whether each payout to an applicant was on time, for the figures' 案款发放及时率
(definition: ``services.command.figures``).

A payout (``FundsPaid``, on the funds topic) is judged by two clearings on the deadline
topic: its payment's ``funds.notify-finance`` clock and its notice's ``funds.pay`` clock.
Topics are not ordered with each other, and a replay may bring the clearings before the
payout, so each side leaves what it knows where the other finds it, by clock id (the
deadline contract's ``<rule id>:<subject id>:<per value>``; a funds clock's subject is the
case):

- ``figures-funds-clock:<clock id>``: a cleared clock's verdict, ``0`` in time or ``1`` late;
- ``figures-payout:<case id>:<payout id>``: a payout's court, its two clock ids, and
  ``judged`` once counted;
- ``figures-payout-waits:<clock id>``: the payouts waiting for that clock's verdict.

A payout is counted once, at the court that paid it, when both verdicts are known. Two
consumers of the group may hold the payout's and a clearing's partitions at once, so the
keys read are WATCHed (``prepare``): a concurrent write makes the batch retry and see it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.command.report_periods import labels_of
from zhixing.events import Event
from zhixing.state import KeySpace, as_text, text_hash
from zhixing.v1 import deadline_events_pb2, funds_events_pb2

NOTIFY_RULE = "funds.notify-finance"
PAY_RULE = "funds.pay"
JUDGING_RULES = (NOTIFY_RULE, PAY_RULE)

IN_TIME, LATE = "0", "1"


def clocks_of(paid: funds_events_pb2.FundsPaid) -> tuple[str, str]:
    """The ids of the two clocks a payout is judged by: its payment's and its notice's."""
    return (
        f"{NOTIFY_RULE}:{paid.case_id}:{paid.payment_id}",
        f"{PAY_RULE}:{paid.case_id}:{paid.notice_id}",
    )


def payout_of(paid: funds_events_pb2.FundsPaid) -> str:
    return f"{paid.case_id}:{paid.payout_id}"


def judging_clock(payload: Message) -> str | None:
    """The clock id of a clearing that judges payouts, else None."""
    if not isinstance(payload, deadline_events_pb2.ClockCleared):
        return None
    return payload.clock.clock_id if payload.clock.rule_id in JUDGING_RULES else None


@dataclass
class Known:
    """What Redis held, when the batch began, of the payouts and clocks it names."""

    verdicts: dict[str, str] = field(default_factory=dict)  # clock id → IN_TIME or LATE
    waiting: dict[str, set[str]] = field(default_factory=dict)  # clock id → payouts
    payouts: dict[str, dict[str, str]] = field(default_factory=dict)  # payout → its record


class Count(Protocol):
    """Adds to a court's counter, for all time and for the weeks and months ``labels`` (by
    default those of the event being counted)."""

    def __call__(self, court: str, field: str, by: int = 1, *,
                 labels: tuple[str, ...] | None = None) -> None: ...  # fmt: skip


# Called with the court and the amount of a payout recorded for the first time.
Paid = Callable[[str, int], None]


class PayoutJudge:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def verdict_key(self, clock_id: str) -> str:
        return self._keys.key("figures-funds-clock", clock_id)

    def payout_key(self, payout: str) -> str:
        return self._keys.key("figures-payout", payout)

    def waits_key(self, clock_id: str) -> str:
        return self._keys.key("figures-payout-waits", clock_id)

    async def prepare(self, events: Sequence[Event[Message]], pipe: Pipeline) -> Known | None:
        """WATCH, then read, the keys the batch's payouts and clearings concern; None when it
        has none."""
        paid = [e.payload for e in events if isinstance(e.payload, funds_events_pb2.FundsPaid)]
        cleared = sorted({c for e in events if (c := judging_clock(e.payload))})
        if not paid and not cleared:
            return None
        payouts = sorted({payout_of(p) for p in paid})
        clocks = sorted({c for p in paid for c in clocks_of(p)} | set(cleared))
        await pipe.watch(
            *[self.verdict_key(c) for c in clocks],
            *[self.waits_key(c) for c in cleared],
            *[self.payout_key(p) for p in payouts],
        )
        known = Known()
        await self._read(known, clocks, cleared, payouts)
        # The payouts found waiting on a clock cleared now, and their other clock's verdict.
        more = sorted({p for waiting in known.waiting.values() for p in waiting} - set(payouts))
        if more:
            await pipe.watch(*[self.payout_key(p) for p in more])
            await self._read(known, [], [], more)
            other = sorted(
                {c for p in more for c in self._clocks(known.payouts[p])} - set(known.verdicts)
                - set(clocks)
            )  # fmt: skip
            if other:
                await pipe.watch(*[self.verdict_key(c) for c in other])
                await self._read(known, other, [], [])
        return known

    async def _read(
        self, known: Known, clocks: Sequence[str], cleared: Sequence[str], payouts: Sequence[str]
    ) -> None:
        reads = self._redis.pipeline(transaction=False)
        for clock_id in clocks:
            reads.get(self.verdict_key(clock_id))
        for clock_id in cleared:
            reads.smembers(self.waits_key(clock_id))
        for payout in payouts:
            reads.hgetall(self.payout_key(payout))
        replies = iter(await reads.execute())
        for clock_id in clocks:
            if (verdict := next(replies)) is not None:
                known.verdicts[clock_id] = as_text(verdict)
        for clock_id in cleared:
            known.waiting[clock_id] = {as_text(p) for p in next(replies)}
        for payout in payouts:
            known.payouts[payout] = text_hash(next(replies))

    @staticmethod
    def _clocks(record: dict[str, str]) -> list[str]:
        return [c for c in (record.get("notify"), record.get("pay")) if c]

    def apply(
        self, events: Sequence[Event[Message]], pipe: Pipeline, known: Known, *,
        count: Count, paid: Paid,
    ) -> None:  # fmt: skip
        """Record the batch's payouts and clearings in order: ``paid`` is told of each new
        payout (a payout id seen before is not counted again), and each payout whose two
        verdicts are now known is counted as ``payouts_judged``, and ``payouts_in_time``
        when both clocks cleared in time."""

        def judge(payout: str) -> None:
            record = known.payouts.get(payout) or {}
            if not record or record.get("judged"):
                return
            verdicts = {c: known.verdicts.get(c) for c in self._clocks(record)}
            unknown = [c for c, verdict in verdicts.items() if verdict is None]
            for clock_id in unknown:
                if payout not in known.waiting.setdefault(clock_id, set()):
                    known.waiting[clock_id].add(payout)
                    pipe.sadd(self.waits_key(clock_id), payout)
            if unknown:
                return
            record["judged"] = "1"
            pipe.hset(self.payout_key(payout), "judged", "1")
            paid_in = tuple(record["periods"].split(",")) if record.get("periods") else None
            count(record["court"], "payouts_judged", labels=paid_in)
            if all(verdict == IN_TIME for verdict in verdicts.values()):
                count(record["court"], "payouts_in_time", labels=paid_in)

        for event in events:
            payload = event.payload
            if isinstance(payload, funds_events_pb2.FundsPaid):
                payout = payout_of(payload)
                if known.payouts.get(payout):
                    continue  # this payout was recorded already
                notify, pay = clocks_of(payload)
                # Judged in the week and month it was paid in, whichever clearing comes last.
                record = {"court": event.envelope.court_code, "notify": notify, "pay": pay,
                          "periods": ",".join(labels_of(event.envelope.occurred_at))}  # fmt: skip
                known.payouts[payout] = record
                pipe.hset(self.payout_key(payout), mapping=dict(record))  # type: ignore[arg-type]
                paid(record["court"], payload.amount_fen)
                judge(payout)
            elif (clock_id := judging_clock(payload)) is not None:
                assert isinstance(payload, deadline_events_pb2.ClockCleared)
                if clock_id in known.verdicts:
                    continue
                known.verdicts[clock_id] = LATE if payload.late else IN_TIME
                pipe.set(self.verdict_key(clock_id), known.verdicts[clock_id])
                for payout in sorted(known.waiting.pop(clock_id, set())):
                    judge(payout)
                pipe.delete(self.waits_key(clock_id))
