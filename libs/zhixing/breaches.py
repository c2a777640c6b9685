"""Consumers of the deadline engine's timers, for services whose own state changes when a
clock of a given rule reaches a point: a breach (a control lapses, a right to
reconsideration ends), or a warning (the due day of a periodic duty: a re-query after 终本
starts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import deadline_events_pb2

__all__ = [
    "OnBreach",
    "OnWarning",
    "Reaction",
    "WarningReaction",
]

Reaction = Callable[[deadline_events_pb2.ClockBreached, Event[Message]], Awaitable[object]]
WarningReaction = Callable[[deadline_events_pb2.ClockWarned, Event[Message]], Awaitable[object]]


class OnBreach:
    """Calls the reaction of each breached clock's rule. Reactions run their own
    idempotent transactions, so a redelivered breach changes nothing."""

    handles: tuple[type[Message], ...] = (deadline_events_pb2.ClockBreached,)

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


class OnWarning:
    """Calls the reaction of each warned clock's rule, at one point of its warning policy
    only (``warning``: a ``WarningPoint.key`` such as the due day's). Reactions run their
    own idempotent transactions, so a redelivered warning changes nothing."""

    handles: tuple[type[Message], ...] = (deadline_events_pb2.ClockWarned,)

    def __init__(self, reactions: Mapping[str, WarningReaction], warning: str) -> None:
        self.reactions = dict(reactions)
        self.warning = warning

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if not isinstance(warned := event.payload, deadline_events_pb2.ClockWarned):
                continue
            if warned.warning != self.warning:
                continue
            reaction = self.reactions.get(warned.clock.rule_id)
            if reaction is not None:
                await reaction(warned, event)
