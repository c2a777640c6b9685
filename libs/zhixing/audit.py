"""The append-only audit trail (留痕): every event, chained by hashes.

Each record holds the hash of the record before it, and its own hash covers its position,
its content and that link. Changing, removing or reordering any record therefore breaks the
chain at that record, and ``verify_chain`` names it. The chain's head (length and last
hash) is written with every append, so cutting records off the end is detected as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.protojson import message_fields, timestamp_text
from zhixing.state import KeySpace, as_bytes, text_hash
from zhixing.v1 import audit_events_pb2, envelope_pb2

__all__ = [
    "GENESIS_HASH",
    "RECORDS_EVENT_MAX_BYTES",
    "AuditChain",
    "PublishRecords",
    "Verdict",
    "audit_record",
    "canonical_json",
    "chunks_of_size",
    "record_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64

PublishRecords = Callable[[Pipeline, audit_events_pb2.AuditRecordsAppended], None]


def canonical_json(data: dict[str, Any]) -> bytes:
    """The record's one byte form, which its hash covers and outsiders recompute: keys
    sorted, no spaces, UTF-8 unescaped, as ``json.dumps(data, ensure_ascii=False,
    sort_keys=True, separators=(",", ":"))`` writes it.

    orjson writes the same bytes for what a record holds (text, integers, booleans, null,
    lists and objects: no protobuf message of ours has a float, whose exponent orjson
    writes differently; a unit test holds the protos to that) at a fraction of the cost (a
    sixth of the command service's CPU was this). What it cannot write (an integer beyond
    64 bits, a lone surrogate), subclasses, datetimes and dataclasses are left to the
    standard library; an Enum or a UUID orjson would write where the standard library
    refuses, but a record holds neither (``message_fields`` gives plain data). A unit test
    compares the two on random and real records."""
    try:
        return orjson.dumps(data, default=_not_plain, option=_PLAIN_ONLY)
    except TypeError:  # orjson.JSONEncodeError is one
        return _standard_json(data)


# Subclasses (a StrEnum), datetimes and dataclasses go to ``default``, which refuses them:
# they are written by the standard library, as before, or refused as before.
_PLAIN_ONLY = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _not_plain(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is left to the standard library")


def _standard_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def audit_record(event: Event[Any], *, seq: int, prev_hash: str) -> dict[str, Any]:
    """The chained record of one event; the payload is kept whole, as JSON."""
    envelope = event.envelope
    occurred_at = event.occurred_text()
    record: dict[str, Any] = {
        "seq": seq,
        "prev_hash": prev_hash,
        "event_id": envelope.event_id,
        "event_type": envelope.event_type,
        "aggregate_type": envelope.aggregate_type,
        "aggregate_id": envelope.aggregate_id,
        "court_code": envelope.court_code,
        "actor": _actor_fields(envelope.actor),
        "occurred_at": occurred_at,
        # Most events are recorded as they occur: the same text, not worked out twice.
        "recorded_at": (
            occurred_at
            if envelope.recorded_at == envelope.occurred_at
            else timestamp_text(envelope.recorded_at)
        ),
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "payload": event.payload_fields(),
    }
    # ``record_hash`` without its copy: the record has no hash yet.
    record["hash"] = hashlib.sha256(canonical_json(record)).hexdigest()
    return record


# The actors of the events are few (the services, the officers at work): each one's fields
# are worked out once, by its encoded form (whatever fields the Actor message grows).
_ACTORS: dict[bytes, dict[str, Any]] = {}
_ACTORS_KEPT = 10_000


def _actor_fields(actor: envelope_pb2.Actor) -> dict[str, Any]:
    key = actor.SerializeToString(deterministic=True)
    fields = _ACTORS.get(key)
    if fields is None:
        if len(_ACTORS) >= _ACTORS_KEPT:
            _ACTORS.clear()
        fields = _ACTORS[key] = message_fields(actor)
    return dict(fields)  # the record's own: a caller may change it


@dataclass(frozen=True, slots=True)
class Verdict:
    intact: bool
    records: int
    first_bad: int | None = None
    reason: str = ""


def verify_chain(raw_records: Iterable[bytes], head: tuple[int, str] | None) -> Verdict:
    """Check every link; ``head`` is the (length, last hash) stored with the chain."""
    prev_hash = GENESIS_HASH
    count = 0
    for index, raw in enumerate(raw_records):
        try:
            record = json.loads(raw)
        except ValueError:
            return Verdict(False, count, index, "record is not valid JSON")
        if record.get("seq") != index:
            return Verdict(
                False, count, index, f"record holds seq {record.get('seq')}, expected {index}"
            )
        if record.get("prev_hash") != prev_hash:
            return Verdict(False, count, index, "link to the previous record is broken")
        try:
            recomputed = record_hash(record)
        except ValueError:  # text that is not Unicode (a lone surrogate): no canonical form
            return Verdict(False, count, index, "record has text with no canonical form")
        if record.get("hash") != recomputed:
            return Verdict(False, count, index, "content does not match its hash")
        prev_hash = record["hash"]
        count += 1
    if head is not None:
        length, last_hash = head
        if length != count or last_hash != prev_hash:
            return Verdict(
                False, count, count, f"head says {length} records ending in {last_hash[:12]}…"
            )
    elif count:
        return Verdict(False, count, count, "the chain's head record is missing")
    return Verdict(True, count)


RECORDS_EVENT_MAX_BYTES = 256 * 1024
"""The records one AuditRecordsAppended carries, at most. Kafka refuses a message over 1 MiB
by default (the producer's ``max_request_size``, the broker's ``message.max.bytes``), and
the outbox relay sends its staged events in order: a batch's records in one event past that
size stopped every event of the command service behind it (consumer batches of 2,000
events made 1.15 MB of records; 500, the default, about 300 KB). The runs are cut by
bytes, so their size does not depend on the records' own; the rest of the 1 MiB is ample
for the envelope. A single record over 1 MiB (an event whose JSON is that large: the API's
bodies are at most 512 KiB) would still go alone and be too large: the relay sets it aside
with the chain's later records, in order (``zhixing.outbox``), so the chain stalls there
rather than skipping a record."""


def chunks_of_size(records: Sequence[bytes], max_bytes: int) -> list[tuple[int, list[bytes]]]:
    """``records`` cut, in order, into runs of at most ``max_bytes`` together (a record
    larger than that alone in its run), each with the position of its first record."""
    chunks: list[tuple[int, list[bytes]]] = []
    start, size = 0, 0
    for index, record in enumerate(records):
        if index > start and size + len(record) > max_bytes:
            chunks.append((start, list(records[start:index])))
            start, size = index, 0
        size += len(record)
    if start < len(records):
        chunks.append((start, list(records[start:])))
    return chunks


class AuditChain:
    """The chain stored in Redis: a list of records and a head hash."""

    def __init__(
        self, redis: aioredis.Redis, keys: KeySpace, publish: PublishRecords | None = None
    ) -> None:
        self._redis = redis
        # Stages each batch's records for Kafka (AuditRecordsAppended), in the batch's own
        # transaction, so the notary can anchor the chain outside this Redis.
        self._publish = publish
        self.chain = keys.service
        self.records_key = keys.key("audit", "records")
        self.head_key = keys.key("audit", "head")
        # event id → position in the chain, so a timeline can show each event's record.
        self.positions_key = keys.key("audit", "positions")

    async def read_head(self) -> tuple[int, str] | None:
        stored = text_hash(await self._redis.hgetall(self.head_key))
        if not stored:
            return None
        return int(stored["length"]), stored["hash"]

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        """Batch handler: append one record per event, atomically with the batch's offsets.

        The head is read afresh for each batch: the consumer WATCHes its offsets, so if
        another replica appended meanwhile this write is refused and the batch re-read.
        """
        length, last_hash = await self.read_head() or (0, GENESIS_HASH)
        encoded = []
        positions: dict[str, int] = {}
        for event in events:
            record = audit_record(event, seq=length, prev_hash=last_hash)
            encoded.append(canonical_json(record))
            positions[event.event_id] = length
            length, last_hash = length + 1, record["hash"]
        tx.pipe.rpush(self.records_key, *encoded)
        tx.pipe.hset(self.head_key, mapping={"length": length, "hash": last_hash})
        if self._publish is not None and encoded:
            first_seq = length - len(encoded)
            for offset, records in chunks_of_size(encoded, RECORDS_EVENT_MAX_BYTES):
                self._publish(tx.pipe, audit_events_pb2.AuditRecordsAppended(
                    chain=self.chain, first_seq=first_seq + offset, records=records))  # fmt: skip
        tx.pipe.hset(self.positions_key, mapping=positions)  # type: ignore[arg-type]

    async def records_of(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The audit records of these events (those recorded so far)."""
        if not event_ids:
            return {}
        positions = await self._redis.hmget(self.positions_key, list(event_ids))
        found: dict[str, dict[str, Any]] = {}
        for event_id, position in zip(event_ids, positions, strict=True):
            if position is not None:
                raw = await self._redis.lindex(self.records_key, int(position))
                if raw is not None:
                    found[event_id] = json.loads(raw)
        return found

    async def raw_records(self, page: int = 10_000, upto: int | None = None) -> list[bytes]:
        """Every record as stored (canonical JSON), or the first ``upto``, read a page at a
        time."""
        total = await self._redis.llen(self.records_key)
        if upto is not None:
            total = min(total, upto)
        raw: list[bytes] = []
        for start in range(0, total, page):
            last = min(start + page, total) - 1
            chunk = await self._redis.lrange(self.records_key, start, last)
            raw.extend(as_bytes(record) for record in chunk)
        return raw

    async def snapshot(self, page: int = 10_000) -> tuple[tuple[int, str] | None, list[bytes]]:
        """The head and the records it covers, consistent on a live chain: the head is read
        first, and records appended after it (a batch's records and head are written in one
        transaction) are left out. With no head, every record found."""
        head = await self.read_head()
        upto = None if head is None else head[0]
        return head, await self.raw_records(page, upto)

    async def verify(self, page: int = 10_000) -> Verdict:
        head, raw = await self.snapshot(page)
        return verify_chain(raw, head)
