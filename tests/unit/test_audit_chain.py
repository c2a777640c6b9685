import datetime as dt
import hashlib
import itertools
import json
import random
from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

import fakeredis
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from tests.factories import START, case_filed_event
from zhixing import audit
from zhixing.audit import GENESIS_HASH, audit_record, canonical_json, verify_chain
from zhixing.clock import SimulatedClock
from zhixing.events import Event, registered_event_types
from zhixing.projection import Transaction
from zhixing.state import KeySpace
from zhixing.v1 import audit_events_pb2, envelope_pb2


def build_chain(n: int) -> tuple[list[bytes], tuple[int, str]]:
    records, prev = [], GENESIS_HASH
    for seq in range(n):
        record = audit_record(case_filed_event(f"case-{seq}"), seq=seq, prev_hash=prev)
        records.append(canonical_json(record))
        prev = record["hash"]
    return records, (n, prev)


def test_an_untouched_chain_is_intact() -> None:
    records, head = build_chain(5)
    verdict = verify_chain(records, head)
    assert verdict.intact and verdict.records == 5


def changed(records: list[bytes]) -> list[bytes]:
    record = json.loads(records[2])
    record["payload"]["claim_amount_fen"] = "1"
    return [*records[:2], canonical_json(record), *records[3:]]


def removed(records: list[bytes]) -> list[bytes]:
    return [*records[:2], *records[3:]]


def swapped(records: list[bytes]) -> list[bytes]:
    return [*records[:2], records[3], records[2], *records[4:]]


@pytest.mark.parametrize("tamper", [changed, removed, swapped])
def test_tampering_is_detected_at_the_first_bad_record(
    tamper: Callable[[list[bytes]], list[bytes]],
) -> None:
    records, head = build_chain(5)
    verdict = verify_chain(tamper(records), head)
    assert not verdict.intact
    assert verdict.first_bad == 2


def test_rehashed_change_is_still_caught_by_the_next_link() -> None:
    records, head = build_chain(5)
    record = json.loads(records[1])
    record["court_code"] = "苏1282"
    from zhixing.audit import record_hash

    record["hash"] = record_hash(record)
    verdict = verify_chain([records[0], canonical_json(record), *records[2:]], head)
    assert (verdict.intact, verdict.first_bad) == (False, 2)


def test_cutting_off_the_tail_is_caught_by_the_head() -> None:
    records, head = build_chain(5)
    verdict = verify_chain(records[:4], head)
    assert (verdict.intact, verdict.first_bad) == (False, 4)


def test_records_without_a_head_are_not_trusted() -> None:
    records, _ = build_chain(2)
    assert not verify_chain(records, None).intact


# The canonical form must not change with its encoder: recorded chains are verified by
# recomputing it. Characters a JSON encoder treats specially, text of every plane, and keys
# whose order differs between code points and UTF-16 (U+FFFF against U+1F600).
SPECIAL = ['"', "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "\u2028",
           "\u2029", "\ufeff", "\uffff", "😀", "执", "苏1283", "é", " ", "a", "0"]  # fmt: skip


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(SPECIAL) for _ in range(rng.randrange(0, 8)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return random_text(rng)
    if kind == 1:
        return rng.randrange(-(2**63), 2**63)
    if kind == 2:
        return rng.choice([True, False])
    if kind == 3:
        return None
    if kind == 4:
        return rng.randrange(-1000, 1000)
    if kind == 5:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def standard(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def test_the_canonical_form_is_the_standard_librarys_for_random_records() -> None:
    rng = random.Random(20261203)
    for _ in range(3000):
        data = {random_text(rng): random_value(rng) for _ in range(rng.randrange(1, 6))}
        assert canonical_json(data) == standard(data), data


def test_what_orjson_cannot_write_is_written_as_the_standard_library_writes_it() -> None:
    for data in ({"big": 2**70}, {"seq": -(2**64)}):
        assert canonical_json(data) == standard(data)
    with pytest.raises(UnicodeEncodeError):  # as before: text that is not Unicode has no form
        canonical_json({"surrogate": "\udc80"})


def test_real_records_and_their_hashes_are_as_before() -> None:
    for seq in range(20):
        event = case_filed_event(f"案件-{seq}", amount=seq * 10**12)
        record = audit_record(event, seq=seq, prev_hash=GENESIS_HASH)
        body = {k: v for k, v in record.items() if k != "hash"}
        assert canonical_json(record) == standard(record)
        assert record["hash"] == hashlib.sha256(standard(body)).hexdigest()


def test_a_records_times_and_actor_are_the_envelopes_in_protobufs_json() -> None:
    # Its times come from the event's own text and, when they differ, the recorded time's;
    # its actor from fields worked out once per actor: each as protobuf writes them.
    clock = SimulatedClock(START + dt.timedelta(microseconds=1500))
    for n, recorded_later in enumerate((False, True, False)):
        event = case_filed_event(f"c{n}", clock=clock)
        if recorded_later:
            event.envelope.recorded_at.FromDatetime(START + dt.timedelta(days=400, seconds=7))
        event.envelope.actor.id = f"officer-{n % 2}"
        record = audit_record(event, seq=n, prev_hash=GENESIS_HASH)
        envelope = event.envelope
        assert record["occurred_at"] == envelope.occurred_at.ToJsonString()
        assert record["recorded_at"] == envelope.recorded_at.ToJsonString()
        assert record["actor"] == MessageToDict(envelope.actor, preserving_proto_field_name=True)
        record["actor"]["id"] = "changed"  # a record's actor is its own
    later = case_filed_event("c9", clock=clock)
    later.envelope.actor.id = "officer-0"  # the first record's actor, whose copy was changed
    again = audit_record(later, seq=0, prev_hash=GENESIS_HASH)
    assert again["actor"]["id"] == "officer-0"


def test_no_event_carries_a_number_orjson_would_write_differently() -> None:
    """Floats are the one plain value orjson writes in another form (1e-07 against 1e-7):
    no field of any event's payload, at any depth, may hold one (nor Struct or Value, which
    hold floats)."""
    seen: set[str] = set()
    floats = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
    wrappers = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
                "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
                "google.protobuf.Any"}  # fmt: skip

    def fields_holding_floats(message: Any) -> list[str]:  # a Descriptor (upb or Python)
        if message.full_name in seen:
            return []
        seen.add(message.full_name)
        found = []
        for field in message.fields:
            if field.type in floats or (field.message_type and field.message_type.full_name
                                        in wrappers):  # fmt: skip
                found.append(field.full_name)
            elif field.message_type is not None:
                found += fields_holding_floats(field.message_type)
        return found

    registered = registered_event_types()
    assert len(registered) > 100  # every event type, registered on import
    for event_type in registered:
        assert fields_holding_floats(event_type.payload_class.DESCRIPTOR) == [], event_type.name
    assert fields_holding_floats(envelope_pb2.Actor.DESCRIPTOR) == []


def test_values_that_are_not_plain_json_are_written_or_refused_as_before() -> None:
    class Track(StrEnum):
        SIMPLE = "简"

    assert canonical_json({"track": Track.SIMPLE}) == standard({"track": Track.SIMPLE})
    with pytest.raises(TypeError):
        canonical_json({"at": dt.datetime(2026, 3, 2, tzinfo=dt.UTC)})


def test_a_record_edited_to_hold_text_with_no_canonical_form_fails_verification() -> None:
    records, head = build_chain(3)
    record = json.loads(records[1])
    record["payload"]["case_id"] = "\ud800"  # a lone surrogate, written as JSON's \ud800
    edited = json.dumps(record).encode()
    verdict = verify_chain([records[0], edited, records[2]], head)
    assert not verdict.intact and verdict.first_bad == 1
    assert "no canonical form" in verdict.reason


def test_records_are_cut_into_runs_of_at_most_the_size_in_order() -> None:
    records = [bytes([n]) * size for n, size in enumerate([300, 300, 500, 1200, 100, 100, 900])]
    chunks = audit.chunks_of_size(records, 1000)
    assert [first for first, _ in chunks] == [0, 2, 3, 4, 6]
    assert [run for _, run in chunks] == [
        records[0:2],
        records[2:3],
        records[3:4],
        records[4:6],
        records[6:7],
    ]
    # every run within the size, but a record larger than it alone in its run
    assert all(sum(map(len, run)) <= 1000 or len(run) == 1 for _, run in chunks)
    assert audit.chunks_of_size([], 1000) == []
    exact = [b"a" * 500, b"b" * 500]
    assert audit.chunks_of_size(exact, 1000) == [(0, exact)]  # a run may fill the size
    big_first = [b"a" * 2000, b"b"]
    assert audit.chunks_of_size(big_first, 1000) == [(0, big_first[:1]), (1, big_first[1:])]


async def test_a_batch_of_records_larger_than_an_event_may_carry_is_published_in_several(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Published as the notary follows them (each record the next): consecutive first
    positions, every record once, in the chain's order; each event within the size."""
    monkeypatch.setattr(audit, "RECORDS_EVENT_MAX_BYTES", 4000)
    redis = fakeredis.FakeAsyncRedis()
    published: list[audit_events_pb2.AuditRecordsAppended] = []
    keys = KeySpace("t.", "command")
    chain = audit.AuditChain(redis, keys, publish=lambda _, records: published.append(records))
    events = cast(list[Event[Message]], [case_filed_event(f"case-{n}") for n in range(20)])
    for batch in (events[:3], events[3:]):
        async with redis.pipeline(transaction=True) as pipe:
            pipe.multi()  # type: ignore[no-untyped-call]
            await chain(batch, Transaction(redis, pipe, keys))
            await pipe.execute()
    stored = await chain.raw_records()
    assert len(stored) == 20 and verify_chain(stored, await chain.read_head()).intact
    assert len(published) > 2  # the second batch's records did not fit in one event
    assert [event.first_seq for event in published] == list(
        itertools.accumulate([0] + [len(event.records) for event in published[:-1]])
    )
    assert [record for event in published for record in event.records] == stored
    assert all(sum(map(len, event.records)) <= 4000 for event in published)
