import uuid

import pytest
from google.protobuf.any_pb2 import Any as AnyMessage

from tests.factories import case_filed_event
from zhixing.events import (
    EVENT_TYPE_HEADER,
    InvalidEvent,
    decode_event,
    named_type,
    new_event_id,
    type_header,
)
from zhixing.v1 import case_events_pb2, envelope_pb2


def test_an_event_survives_the_wire() -> None:
    event = case_filed_event("case-1", amount=500)
    decoded = decode_event(event.to_bytes())
    assert decoded.envelope == event.envelope
    assert isinstance(decoded.payload, case_events_pb2.CaseFiled)
    assert decoded.payload.claim_amount_fen == 500
    assert decoded.envelope.correlation_id == event.event_id


def test_an_event_id_is_a_random_uuid_in_its_canonical_text() -> None:
    ids = [new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text  # lower-case, dashed: as ``str(uuid.uuid4())`` writes it
    assert len({text[:8] for text in ids}) > 1900  # random throughout, not a counter


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xff\xff\xff", "not an EventEnvelope"),
        (envelope_pb2.EventEnvelope(event_id="x").SerializeToString(), "is empty"),
    ],
)
def test_undecodable_messages_are_invalid(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode_event(data)


def test_unknown_event_type_is_invalid() -> None:
    envelope = case_filed_event("case-1").envelope
    envelope.event_type = "zhixing.v1.NoSuchThing"
    with pytest.raises(InvalidEvent, match="unknown event type"):
        decode_event(envelope.SerializeToString())


def test_payload_of_another_type_is_invalid() -> None:
    envelope = case_filed_event("case-1").envelope
    other = AnyMessage()
    other.Pack(envelope_pb2.Actor(id="x"))
    envelope.payload.CopyFrom(other)
    with pytest.raises(InvalidEvent, match="does not match"):
        decode_event(envelope.SerializeToString())


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ([type_header("zhixing.v1.CaseFiled")], "zhixing.v1.CaseFiled"),
        (
            [("traceparent", b"00-ab"), type_header("zhixing.v1.CaseClosed")],
            "zhixing.v1.CaseClosed",
        ),
        ([], None),  # published before the header: decoded for its type
        ([(EVENT_TYPE_HEADER, None)], None),  # a null value (aiokafka gives None)
        ([(EVENT_TYPE_HEADER, b"\xff\xfe")], None),  # not UTF-8
    ],
)
def test_the_type_header_names_a_type_or_nothing_a_consumer_could_trust(
    headers: list[tuple[str, bytes | None]], named: str | None
) -> None:
    """A header no producer of ours writes is as none: the record is decoded, never a
    failure that would stop its consumer on the batch."""
    assert named_type(headers) == named
