import pytest
from google.protobuf.any_pb2 import Any as AnyMessage

from tests.factories import case_filed_event
from zhixing.events import InvalidEvent, decode_event
from zhixing.v1 import case_events_pb2, envelope_pb2


def test_an_event_survives_the_wire() -> None:
    event = case_filed_event("case-1", amount=500)
    decoded = decode_event(event.to_bytes())
    assert decoded.envelope == event.envelope
    assert isinstance(decoded.payload, case_events_pb2.CaseFiled)
    assert decoded.payload.claim_amount_fen == 500
    assert decoded.envelope.correlation_id == event.event_id


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
