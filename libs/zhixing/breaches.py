"""A consumer of the deadline engine's breaches, for services whose own state changes when
a clock of a given rule runs out (a control lapses, a right to reconsideration ends)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import deadline_events_pb2

__all__ = [
    "OnBreach",
    "Reaction",
]

Reaction = Callable[[deadline_events_pb2.ClockBreached, Event[Message]], Awaitable[object]]


class OnBreach:
    """Calls the reaction of each breached clock's rule. Reactions run their own
    idempotent transactions, so a redelivered breach changes nothing."""

    def __init__(self, reactions: Mapping[str, Reaction]) -> None:
        self.reactions = dict(reactions)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if not isinstance(breached := event.payload, deadline_events_pb2.ClockBreached):
                continue
            if breached.found_at_clearing:
                continue  # the act came late but came: its own service judged it
            reaction = self.reactions.get(breached.clock.rule_id)
            if reaction is not None:
                await reaction(breached, event)
