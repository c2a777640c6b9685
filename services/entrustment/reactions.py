"""Entrustment on the deadline engine's events: a breached start clock lets the entrusting
court ask the entrusted court's superior for an order."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from services.entrustment.entrustments import Entrustments
from zhixing.bus import Transaction
from zhixing.events import CLOCK_BREACHED, Event
from zhixing.v1 import deadline_events_pb2

START_RULE = "entrustment.start"


class StartBreaches:
    def __init__(self, entrustments: Entrustments) -> None:
        self.entrustments = entrustments

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if event.event_type != CLOCK_BREACHED.name:
                continue
            breached = event.payload
            assert isinstance(breached, deadline_events_pb2.ClockBreached)
            if breached.clock.rule_id == START_RULE:
                # Its own idempotent transaction: a redelivered breach changes nothing.
                await self.entrustments.mark_start_overdue(breached.clock.subject_id)
