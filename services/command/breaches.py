"""Every breach of a statutory clock (超期), kept after the clock is cleared: the register
overseers export (¶34, ¶36). The board forgets a clock once it is cleared; a breach done late
is still a breach, and stays one after any extension (the extension is noted beside it).

One hash per breach (a clock's cycle breached: a clock that opens again is a new cycle), and
per court a sorted set of its breaches by the time they happened. A breach stays with the
court whose clock it was when it breached, as in the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.state import KeySpace, as_text, read_hashes
from zhixing.v1 import deadline_events_pb2 as pb

FOLLOWED = (pb.ClockBreached, pb.ClockEscalated, pb.ClockCleared, pb.ClockExtended)


def _ms(timestamp: Any) -> int:
    return int(timestamp.ToMilliseconds()) if timestamp.ByteSize() else 0


def breach_id(ref: pb.ClockRef) -> str:
    return f"{ref.clock_id}@{ref.cycle}"


class BreachRegister:
    # What the consumer gives it (``SelectiveHandler``): not the openings and warnings that
    # are most of the deadline topic.
    handles: tuple[type[Message], ...] = FOLLOWED

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, breach: str) -> str:
        return self._keys.key("breaches", "clock", breach)

    def court_key(self, court: str) -> str:
        return self._keys.key("breaches", "court", court)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        followed = [e for e in events if isinstance(e.payload, FOLLOWED)]
        if not followed:
            return
        ids = sorted({breach_id(e.payload.clock) for e in followed})  # type: ignore[attr-defined]
        pipe = tx.redis.pipeline(transaction=False)
        for breach in ids:
            pipe.exists(self.key(breach))
        known = {b for b, there in zip(ids, await pipe.execute(), strict=True) if there}
        for event in followed:
            payload: Any = event.payload
            breach = breach_id(payload.clock)
            key = self.key(breach)
            if isinstance(payload, pb.ClockBreached):
                if breach in known:
                    continue  # redelivered: the first breach stands
                known.add(breach)
                ref = payload.clock
                at = _ms(event.envelope.occurred_at)
                tx.pipe.hset(key, mapping={
                    "clock_id": ref.clock_id, "rule_id": ref.rule_id,
                    "subject_id": ref.subject_id, "court": ref.court_code,
                    "due_at": str(_ms(payload.due_at)), "breached_at": str(at),
                })  # fmt: skip
                tx.pipe.zadd(self.court_key(ref.court_code), {breach: at})
            elif breach not in known:
                continue  # a clock that never breached
            elif isinstance(payload, pb.ClockEscalated):
                tx.pipe.hset(key, mapping={"level": str(payload.level),
                                           "escalated_to": payload.to_court_code})  # fmt: skip
            elif isinstance(payload, pb.ClockCleared):
                tx.pipe.hset(key, "cleared_at", str(_ms(event.envelope.occurred_at)))
            elif isinstance(payload, pb.ClockExtended):
                tx.pipe.hset(key, "extended_due_at", str(_ms(payload.due_at)))

    async def of_courts(self, courts: Sequence[str], limit: int) -> list[dict[str, str]]:
        """The breaches of ``courts``, the latest first, at most ``limit`` of each court."""
        pipe = self._redis.pipeline(transaction=False)
        for court in courts:
            pipe.zrevrange(self.court_key(court), 0, limit - 1)
        ids = [as_text(i) for reply in await pipe.execute() for i in reply]
        rows = await read_hashes(self._redis, [self.key(i) for i in ids])
        found = [row for row in rows if row]
        found.sort(key=lambda row: -int(row.get("breached_at") or 0))
        return found
