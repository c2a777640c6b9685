"""``message_fields`` gives what ``MessageToDict`` gives, key for key and in order: the
timelines and the audit chain's hashes are made from it."""

from __future__ import annotations

import json
import pkgutil
import random
from importlib import import_module
from typing import Any

import pytest
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

import zhixing.v1
from zhixing.protojson import message_fields, timestamp_text
from zhixing.v1 import case_events_pb2, envelope_pb2

INT_BOUNDS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
TEXTS = ["", "a", "执行案件", "(2026)京0101执1号", "emoji 🙂", 'quote" back\\slash', "\n\t"]


def all_message_types() -> list[Any]:  # descriptors (upb's are typed apart)
    found: list[Any] = []

    def walk(descriptor: Any) -> None:
        if descriptor.GetOptions().map_entry:
            return
        found.append(descriptor)
        for nested in descriptor.nested_types:
            walk(nested)

    for module in pkgutil.iter_modules(zhixing.v1.__path__):
        if module.name.endswith("_pb2"):
            file = import_module(f"zhixing.v1.{module.name}").DESCRIPTOR
            for descriptor in file.message_types_by_name.values():
                walk(descriptor)
    return found


def fill(message: Message, rng: random.Random, depth: int = 0) -> Message:
    """``message`` with random values in a random subset of its fields."""
    field: Any
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.3:
            continue
        count = rng.choice([0, 1, 2, 3]) if field.is_repeated else 1
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                target = getattr(message, field.name)
                for _ in range(count):
                    target[rng.choice(TEXTS)] = rng.choice(TEXTS)
                continue
            if depth > 3:
                continue
            for _ in range(count):
                if field.is_repeated:
                    child = getattr(message, field.name).add()
                else:
                    child = getattr(message, field.name)
                    child.SetInParent()
                if field.message_type.full_name == "google.protobuf.Timestamp":
                    child.seconds = rng.randint(0, 4_000_000_000)
                    child.nanos = rng.choice(
                        [0, 1_000_000, 123_000_000, 123_456_000, 1, 999_999_999]
                    )
                elif field.message_type.full_name == "google.protobuf.Any":
                    child.Pack(fill(case_events_pb2.CaseTriaged(), rng, depth + 1))
                else:
                    fill(child, rng, depth + 1)
            continue
        values = [random_scalar(field, rng) for _ in range(count)]
        if field.is_repeated:
            getattr(message, field.name).extend(values)
        else:
            setattr(message, field.name, values[0])
    return message


def random_scalar(field: Any, rng: random.Random) -> Any:
    if field.type in INT_BOUNDS:
        low, high = INT_BOUNDS[field.type]
        return rng.choice([0, 1, -1 if low < 0 else 2, low, high, rng.randint(low, high)])
    if field.type == FieldDescriptor.TYPE_STRING:
        return rng.choice(TEXTS)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randint(0, 9))
    if field.type == FieldDescriptor.TYPE_ENUM:
        numbers = [value.number for value in field.enum_type.values]
        return rng.choice([*numbers, 99])  # an open enum keeps an unknown number
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return rng.choice([0.0, 0.1, 1e300, -2.5])
    raise AssertionError(f"no random value for {field.full_name}")


def assert_same(message: Message) -> None:
    expected = MessageToDict(message, preserving_proto_field_name=True)
    given = message_fields(message)
    assert given == expected
    # The same keys in the same order: the timelines' JSON keeps the order it is given.
    assert json.dumps(given, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


MESSAGE_TYPES = all_message_types()


def test_every_message_type_of_ours_is_covered() -> None:
    names = {descriptor.full_name for descriptor in MESSAGE_TYPES}
    assert "zhixing.v1.CaseFiled" in names and "zhixing.v1.EventEnvelope" in names
    assert len(names) > 150


@pytest.mark.parametrize("descriptor", MESSAGE_TYPES, ids=lambda d: d.full_name)
def test_random_instances_convert_as_message_to_dict_does(descriptor: Any) -> None:
    rng = random.Random(descriptor.full_name)
    message_class = GetMessageClass(descriptor)
    assert_same(message_class())
    for _ in range(25):
        assert_same(fill(message_class(), rng))


def test_what_it_leaves_to_message_to_dict_comes_out_the_same() -> None:
    """Well-known types, floating point, maps and Any: converted by MessageToDict."""
    stamp = timestamp_pb2.Timestamp(seconds=1_800_000_000, nanos=5_000)
    assert message_fields(stamp) == "2027-01-15T08:00:00.000005Z"
    assert message_fields(wrappers_pb2.DoubleValue(value=0.1)) == 0.1
    assert_same(struct_pb2.Struct(fields={"a": struct_pb2.Value(number_value=1.5)}))
    packed = any_pb2.Any()
    packed.Pack(case_events_pb2.CaseTriaged(case_id="c1", track="简案"))
    assert_same(packed)
    envelope = envelope_pb2.EventEnvelope(event_id="e1", trace_context={"traceparent": "00-a"})
    envelope.payload.Pack(case_events_pb2.CaseTriaged(case_id="c1", reasons=["x", "y"]))
    assert_same(envelope)


def test_int64_are_text_and_enums_names_or_unknown_numbers() -> None:
    party = case_events_pb2.Party(name="甲", kind=case_events_pb2.PARTY_KIND_ORGANISATION)
    filed = case_events_pb2.CaseFiled(claim_amount_fen=2**63 - 1, debtors=[party])
    fields = message_fields(filed)
    assert fields["claim_amount_fen"] == "9223372036854775807"
    assert fields["debtors"] == [{"name": "甲", "kind": "PARTY_KIND_ORGANISATION"}]
    party.kind = 77  # type: ignore[assignment]  # an open enum keeps a number it does not know
    assert message_fields(party)["kind"] == 77


def test_an_aliased_enum_prints_the_first_name_and_one_with_options_is_left_alone() -> None:
    """Neither is in our contracts today; both must stay what MessageToDict gives."""
    file = descriptor_pb2.FileDescriptorProto(
        name="protojson_test.proto", package="pjt", syntax="proto3"
    )
    aliased = file.enum_type.add(name="Aliased")
    aliased.options.allow_alias = True
    for name, number in [("A_ZERO", 0), ("A_ONE", 1), ("A_UNO", 1)]:
        aliased.value.add(name=name, number=number)
    marked = file.enum_type.add(name="Marked")
    marked.value.add(name="M_ZERO", number=0)
    old = marked.value.add(name="M_OLD", number=1)
    old.options.deprecated = True
    for name, enum in [("Aliases", ".pjt.Aliased"), ("Marks", ".pjt.Marked")]:
        holder = file.message_type.add(name=name)
        holder.field.add(
            name="value", number=1, type=FieldDescriptor.TYPE_ENUM, type_name=enum,
            label=FieldDescriptor.LABEL_OPTIONAL,
        )  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    # Made at run time: no stub knows their fields.
    aliases_class: Any = GetMessageClass(pool.FindMessageTypeByName("pjt.Aliases"))
    marks_class: Any = GetMessageClass(pool.FindMessageTypeByName("pjt.Marks"))
    aliases, marks = aliases_class(value=1), marks_class(value=1)
    assert message_fields(aliases) == {"value": "A_ONE"}
    assert message_fields(marks) == {"value": "M_OLD"}
    assert_same(aliases)
    assert_same(marks)


def test_timestamps_are_written_as_protobuf_writes_them_and_refused_out_of_range() -> None:
    rng = random.Random(20261204)
    first, last = -62135596800, 253402300799  # 0001-01-01 and 9999-12-31T23:59:59
    seconds = [first, last, -1, 0, 1, 951782400, 4107542400]  # and 2000-02-29, 2100-03-01
    for _ in range(20_000):
        seconds.append(rng.randint(first, last))
    for second in seconds:
        for nanos in (0, 999_999_999, rng.randrange(1000) * 1_000_000,
                      rng.randrange(1_000_000) * 1000, rng.randrange(1_000_000_000)):  # fmt: skip
            stamp = timestamp_pb2.Timestamp(seconds=second, nanos=nanos)
            assert timestamp_text(stamp) == stamp.ToJsonString(), (second, nanos)
    for second, nanos in ((first - 1, 0), (last + 1, 0), (0, -1), (0, 1_000_000_000)):
        with pytest.raises(ValueError):
            timestamp_text(timestamp_pb2.Timestamp(seconds=second, nanos=nanos))
