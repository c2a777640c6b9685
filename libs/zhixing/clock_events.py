"""Reading the deadline engine's events one clock at a time.

The engine records the clocks one act opens for a subject as one ClocksOpened event (issue
19: an event per act, not per clock). Readers that follow clocks one by one iterate with
``each_payload``, which gives every ClockOpened a ClocksOpened carries, with the event that
carried it (its envelope: when, by whom, its event id for the audit chain), and every other
event's own payload."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.v1 import deadline_events_pb2

__all__ = ["CARRIERS", "each_payload"]

CARRIERS = {
    deadline_events_pb2.ClockOpened.DESCRIPTOR.full_name: (
        deadline_events_pb2.ClocksOpened.DESCRIPTOR.full_name
    ),
}
"""An event type now recorded inside another (by full name): a handler naming it in
``handles`` must name its carrier too (``zhixing.projection.check_handled``)."""


def each_payload(events: Iterable[Event[Message]]) -> Iterator[tuple[Event[Message], Message]]:
    """(event, payload) for each event, a ClocksOpened giving one per clock it opened."""
    for event in events:
        payload = event.payload
        if isinstance(payload, deadline_events_pb2.ClocksOpened):
            for opened in payload.clocks:
                yield event, opened
        else:
            yield event, payload
