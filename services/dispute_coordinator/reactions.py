"""The dispute coordinator on the deadline engine's events: when a court's 5 days to ask
for reconsideration of a plan run out, the plan binds it."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from services.dispute_coordinator.disputes import Disputes
from zhixing.bus import Transaction
from zhixing.events import CLOCK_BREACHED, Event
from zhixing.v1 import deadline_events_pb2

RECONSIDERATION_RULE = "dispute.plan-reconsideration"


class ReconsiderationLapses:
    def __init__(self, disputes: Disputes) -> None:
        self.disputes = disputes

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if event.event_type != CLOCK_BREACHED.name:
                continue
            breached = event.payload
            assert isinstance(breached, deadline_events_pb2.ClockBreached)
            if breached.clock.rule_id == RECONSIDERATION_RULE:
                # The clock is one per court: its id ends with the court's code.
                court = breached.clock.clock_id.rsplit(":", 1)[-1]
                await self.disputes.close_reconsideration(breached.clock.subject_id, court)
