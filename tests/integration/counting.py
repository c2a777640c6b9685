"""A projection for bus tests: counts how often each event is applied, and keeps the order
in which each aggregate's events arrived."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import case_events_pb2

POISON_AMOUNT = 666


class CountingProjection:
    """Counts under ``<keys>applied`` and ``<keys>order:<aggregate>``, or, given a
    ``label``, under ``<keys><label>:applied`` (several projections in one key space)."""

    def __init__(self, label: str = "", *, refuses_poison: bool = True) -> None:
        self._prefix = (label,) if label else ()
        self._refuses_poison = refuses_poison

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            payload = event.payload
            assert isinstance(payload, case_events_pb2.CaseFiled)
            if self._refuses_poison and payload.claim_amount_fen == POISON_AMOUNT:
                raise ValueError("claim of 666 fen is refused by this projection")
            tx.pipe.hincrby(tx.keys.key(*self._prefix, "applied"), event.event_id, 1)
            tx.pipe.rpush(
                tx.keys.key(*self._prefix, "order", event.aggregate_id), payload.claim_amount_fen
            )
