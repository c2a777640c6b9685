"""Building and reading event envelopes.

Each event type is a protobuf message in ``protos/zhixing/v1``; ``register_event`` ties it to
the aggregate type (and so the topic) it belongs to; every registration is in
``zhixing.event_types``, loaded with this module. ``decode_event`` turns bytes from Kafka
back into an envelope and its payload, or raises ``InvalidEvent`` saying what is wrong.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from zhixing import tracing
from zhixing.clock import Clock
from zhixing.protojson import message_fields, timestamp_text
from zhixing.v1 import envelope_pb2

__all__ = [
    "EVENT_TYPE_HEADER",
    "SCHEMA_VERSION",
    "Event",
    "EventType",
    "InvalidEvent",
    "decode_event",
    "event_type_of",
    "named_type",
    "new_event",
    "new_event_id",
    "register_event",
    "timestamp",
    "type_header",
]

P = TypeVar("P", bound=Message)

SCHEMA_VERSION = 1

EVENT_TYPE_HEADER = "zhixing-event-type"
"""The Kafka header naming a record's event type (``EventType.name``), beside its bytes: a
consumer passes over a type none of its projections handles without decoding the record
(most of what the deadline topic carries, for six services). The envelope stays the
authority: a record a consumer does decode is checked whole, and a record without the header
(published before it existed) is decoded for its type."""


def type_header(event_type: str) -> tuple[str, bytes]:
    """The header that names ``event_type`` on a record."""
    return EVENT_TYPE_HEADER, event_type.encode()


def named_type(headers: Sequence[tuple[str, bytes | None]]) -> str | None:
    """The event type a record's headers name, or None: a record without the header, or
    with one no producer of ours writes (null, not UTF-8), which is then decoded."""
    for key, value in headers:
        if key == EVENT_TYPE_HEADER:
            try:
                return value.decode() if value is not None else None
            except UnicodeDecodeError:
                return None
    return None


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    payload_class: type[Message]
    aggregate_type: str


_REGISTRY: dict[str, EventType] = {}


def register_event(payload_class: type[Message], aggregate_type: str) -> EventType:
    name = payload_class.DESCRIPTOR.full_name
    event_type = EventType(name, payload_class, aggregate_type)
    _REGISTRY[name] = event_type
    return event_type


def registered_event_types() -> tuple[EventType, ...]:
    """Every event type of the platform (``zhixing.event_types``), in registration order."""
    return tuple(_REGISTRY.values())


def event_type_of(name: str) -> EventType:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidEvent(f"unknown event type {name!r}") from None


class InvalidEvent(ValueError):
    """A message that cannot be decoded or fails validation; it goes to the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class Event(Generic[P]):
    """A decoded envelope with its unpacked payload."""

    envelope: envelope_pb2.EventEnvelope
    payload: P
    _payload_fields: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    _occurred_text: str | None = field(default=None, compare=False, repr=False)

    def payload_fields(self) -> dict[str, Any]:
        """The payload as JSON-ready fields (proto field names), converted once per event:
        several projections of one consumer read it. Callers must not change it."""
        if self._payload_fields is None:
            fields: dict[str, Any] = message_fields(self.payload)
            object.__setattr__(self, "_payload_fields", fields)
            return fields
        return self._payload_fields

    def occurred_text(self) -> str:
        """When it occurred, as RFC 3339 text (``Timestamp.ToJsonString``), worked out once
        per event: the audit record and the timeline entry both write it."""
        if self._occurred_text is None:
            text = timestamp_text(self.envelope.occurred_at)
            object.__setattr__(self, "_occurred_text", text)
            return text
        return self._occurred_text

    @property
    def event_id(self) -> str:
        return self.envelope.event_id

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def aggregate_id(self) -> str:
        return self.envelope.aggregate_id

    def to_bytes(self) -> bytes:
        return self.envelope.SerializeToString(deterministic=True)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(instant: datetime) -> Timestamp:
    """``Timestamp.FromDatetime`` (a naive instant is UTC) at a third of its cost: every
    event is stamped twice, and the deadline engine's bursts stamp its events by the
    thousand."""
    since = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)) - _EPOCH
    return Timestamp(seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000)


# The version (4) and variant (RFC 4122) bits of a random UUID, cleared then set.
_UUID_FIXED_BITS = (0xF000 << 64) | (0xC000 << 48)
_UUID_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)


def new_event_id() -> str:
    """A random (version 4) UUID in its text form, as ``str(uuid.uuid4())`` gives it, at
    about half the cost: every event takes one, and a burst of the deadline engine makes
    them by the hundred thousand. Drawn from ``os.urandom`` as ``uuid4`` is."""
    bits = int.from_bytes(os.urandom(16)) & ~_UUID_FIXED_BITS | _UUID_VERSION_4
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_event(
    payload: P,
    *,
    aggregate_id: str,
    court_code: str,
    actor: envelope_pb2.Actor,
    clock: Clock,
    occurred_at: datetime | None = None,
    correlation_id: str = "",
    causation_id: str = "",
    event_id: str | None = None,
) -> Event[P]:
    """Wrap ``payload`` in an envelope stamped by ``clock``."""
    event_type = event_type_of(payload.DESCRIPTOR.full_name)
    if not aggregate_id:
        raise ValueError(f"{event_type.name}: aggregate id is empty")
    packed = AnyMessage()
    packed.Pack(payload)
    now = clock.now()
    the_id = event_id or new_event_id()
    envelope = envelope_pb2.EventEnvelope(
        event_id=the_id,
        event_type=event_type.name,
        aggregate_type=event_type.aggregate_type,
        aggregate_id=aggregate_id,
        court_code=court_code,
        actor=actor,
        occurred_at=timestamp(occurred_at or now),
        recorded_at=timestamp(now),
        correlation_id=correlation_id or the_id,
        causation_id=causation_id,
        schema_version=SCHEMA_VERSION,
        payload=packed,
    )
    if tracing.enabled():
        tracing.stamp(envelope.trace_context, causation_id)
    return Event(envelope, payload)


def decode_event(data: bytes | None) -> Event[Message]:
    """Parse and validate one Kafka message value."""
    if not data:
        raise InvalidEvent("empty message value")
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidEvent(f"not an EventEnvelope: {exc}") from None
    for name in ("event_id", "event_type", "aggregate_type", "aggregate_id"):
        if not getattr(envelope, name):
            raise InvalidEvent(f"envelope field {name!r} is empty")
    try:
        uuid.UUID(envelope.event_id)
    except ValueError:
        raise InvalidEvent(f"event_id {envelope.event_id!r} is not a UUID") from None
    event_type = event_type_of(envelope.event_type)
    if envelope.aggregate_type != event_type.aggregate_type:
        raise InvalidEvent(
            f"{event_type.name} belongs to aggregate {event_type.aggregate_type!r}, "
            f"envelope says {envelope.aggregate_type!r}"
        )
    payload = event_type.payload_class()
    try:
        unpacked = envelope.payload.Unpack(payload)
    except DecodeError as exc:
        raise InvalidEvent(f"payload of {event_type.name} cannot be decoded: {exc}") from None
    if not unpacked:
        raise InvalidEvent(
            f"payload type {envelope.payload.TypeName()!r} does not match {event_type.name}"
        )
    return Event(envelope, payload)


# Every event type, registered (imported last: it registers through ``register_event``).
from zhixing import event_types as _event_types  # noqa: E402, F401
