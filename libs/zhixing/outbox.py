"""Transactional outbox: a command's state change and the events it causes are written to
Redis in one MULTI/EXEC; a relay then publishes the events to Kafka and deletes them.

This avoids the dual write (state saved, event lost; or event sent, state lost). A crash
between publishing and deleting republishes the same events with the same ids, which
consumers drop as duplicates (see ``zhixing.bus``).

An event Kafka refuses for good (too large, say), or an entry that cannot be read, would
stop every event staged after it, for ever: it is set aside (parked) in a stream of its
own, with the reason, counted and logged, and the rest go on (``zhixing outbox`` lists
and requeues what was parked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
)
from prometheus_client import Counter
from redis.asyncio.client import Pipeline

from zhixing.events import Event, InvalidEvent, decode_event
from zhixing.publisher import EventPublisher
from zhixing.state import KeySpace, transact
from zhixing.topics import UnknownAggregateType

__all__ = [
    "EVENTS_PARKED",
    "EVENTS_RELAYED",
    "Outbox",
    "OutboxRelay",
    "ParkedEvent",
    "parked_events",
    "requeue_parked",
]

log = structlog.get_logger(__name__)

EVENTS_RELAYED = Counter("zhixing_outbox_relayed_total", "Events published from the outbox")
EVENTS_PARKED = Counter(
    "zhixing_outbox_parked_total",
    "Staged events set aside: refused by Kafka for good, or unreadable (should stay 0)",
)


Entry = tuple[bytes, dict[bytes, bytes]]
"""A stream entry as the client reads it: its id and its fields."""

PARKED_REASON = b"parked_reason"
PARKED_ENTRY = b"parked_entry"  # the entry's id in the outbox: when it was staged
MAX_REASON = 1000


class UnreadableEntry(Exception):
    """An outbox entry without the fields ``Outbox.stage`` writes."""


REFUSED_FOR_GOOD: tuple[type[Exception], ...] = (
    # Kafka's refusals of the message itself: sent again, it is refused again.
    MessageSizeTooLargeError, RecordTooLargeError, CorruptRecordException, InvalidTopicError,
    InvalidTimestampError,
    # An entry that cannot be read, or names an aggregate type no topic carries.
    UnreadableEntry, InvalidEvent, UnknownAggregateType,
)  # fmt: skip
"""What sets an event aside: a refusal of the event itself. Anything else (Kafka or Redis
away, a timeout, the producer stopping) is retried, the events kept in order."""


# XADD of many events in one call, each entry as ``Outbox.stage`` writes it. KEYS: the
# stream; ARGV: four per event, its bytes, aggregate type, aggregate id and event type.
STAGE_MANY = """
for i = 1, #ARGV, 4 do
  redis.call('XADD', KEYS[1], '*', 'event', ARGV[i], 'aggregate', ARGV[i + 1],
             'key', ARGV[i + 2], 'type', ARGV[i + 3])
end
return #ARGV / 4
"""


class Outbox:
    """Stages events in a Redis stream of one service."""

    def __init__(self, keys: KeySpace) -> None:
        self.stream = keys.key("outbox")
        # Events the relay set aside (``REFUSED_FOR_GOOD``), each with why and when.
        self.parked = keys.key("outbox", "parked")

    def stage(self, pipe: Pipeline, event: Event[Any]) -> None:
        """Queue ``event`` on ``pipe`` (in MULTI mode) beside the state change it records,
        with its aggregate type and id and its event type, so the relay can send the bytes
        without decoding them again (a topic is named by the aggregate type, a message keyed
        by its id, and its header names its type)."""
        envelope = event.envelope
        pipe.xadd(self.stream, {b"event": event.to_bytes(), b"aggregate": envelope.aggregate_type,
                                b"key": envelope.aggregate_id,
                                b"type": envelope.event_type})  # fmt: skip

    def stage_many(self, pipe: Pipeline, events: Sequence[Event[Any]]) -> None:
        """Queue ``events`` on ``pipe`` (in MULTI mode) as ``stage`` does, in order, as one
        command: a script adding each entry with the same fields (nothing if none)."""
        if not events:
            return
        args: list[bytes] = []  # bytes: the client passes them without encoding each
        for event in events:
            envelope = event.envelope
            args += (event.to_bytes(), envelope.aggregate_type.encode(),
                     envelope.aggregate_id.encode(), envelope.event_type.encode())  # fmt: skip
        pipe.execute_command("EVAL", STAGE_MANY, 1, self.stream, *args)


def _staged(fields: dict[bytes, bytes]) -> tuple[str, str, bytes, str | None]:
    """(aggregate type, aggregate id, bytes, event type) of a staged event; an event staged
    by an earlier version, without the first two, is decoded for all three, and one staged
    without the event type only goes without its header."""
    data = _event_bytes(fields)
    if b"aggregate" in fields and b"key" in fields:
        named = fields.get(b"type")
        try:
            return (fields[b"aggregate"].decode(), fields[b"key"].decode(), data,
                    named.decode() if named else None)  # fmt: skip
        except UnicodeDecodeError as exc:
            raise UnreadableEntry(f"a staged event's fields are not UTF-8: {exc}") from None
    envelope = decode_event(data).envelope
    return envelope.aggregate_type, envelope.aggregate_id, data, envelope.event_type


def _event_bytes(fields: dict[bytes, bytes]) -> bytes:
    try:
        return fields[b"event"]
    except KeyError:
        raise UnreadableEntry(f"an outbox entry without an event: {sorted(fields)}") from None


class OutboxRelay:
    """Publishes staged events in order, then removes them from the stream."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        outbox: Outbox,
        publisher: EventPublisher,
        batch_size: int = 500,
        block_ms: int = 200,
    ) -> None:
        self._redis = redis
        self._stream = outbox.stream
        self._parked = outbox.parked
        self._publisher = publisher
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._stopping = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish what is staged now (at most one batch): how many entries left the outbox
        (published, or set aside when refused for good)."""
        reply = await self._redis.xread(
            {self._stream: "0-0"}, count=self._batch_size, block=self._block_ms
        )
        if not reply:
            return 0
        entries: list[tuple[bytes, dict[bytes, bytes]]] = reply[0][1]  # type: ignore[index, assignment]
        try:
            await self._send(entries)
        except REFUSED_FOR_GOOD:
            # One of them is refused for good: sent one at a time, it is found and set
            # aside. Those sent before it go again (consumers drop the duplicates).
            return await self._send_each(entries)
        await self._redis.xdel(self._stream, *[entry_id for entry_id, _ in entries])
        EVENTS_RELAYED.inc(len(entries))
        return len(entries)

    async def _send(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        if self._publisher.traced:  # each event's producer span needs its envelope
            await self._publisher.publish_many(
                [decode_event(_event_bytes(fields)) for _, fields in entries]
            )
        else:
            await self._publisher.publish_staged([_staged(fields) for _, fields in entries])

    async def _send_each(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> int:
        """Send ``entries`` one at a time, in order, each deleted once sent; one refused for
        good is set aside. Any other failure stops it, the rest kept in the outbox."""
        for entry_id, fields in entries:
            try:
                await self._send([(entry_id, fields)])
            except REFUSED_FOR_GOOD as refused:
                await self._park(entry_id, fields, refused)
                continue
            await self._redis.xdel(self._stream, entry_id)
            EVENTS_RELAYED.inc()
        return len(entries)

    async def _park(self, entry_id: bytes, fields: dict[bytes, bytes], refused: Exception) -> None:
        """Move an entry from the outbox to its parked stream, with why, in one transaction:
        it is kept, for an operator, and stops nothing staged after it."""
        why = f"{type(refused).__name__}: {refused}"[:MAX_REASON]
        async with self._redis.pipeline(transaction=True) as pipe:
            parked: dict[Any, Any] = {**fields, PARKED_REASON: why.encode(),
                                        PARKED_ENTRY: entry_id}  # fmt: skip
            pipe.xadd(self._parked, parked)
            pipe.xdel(self._stream, entry_id)
            await pipe.execute()
        EVENTS_PARKED.inc()
        log.error(
            "an event was refused for good and set aside; the events after it go on",
            outbox=self._stream, entry=entry_id.decode(), reason=why,
            aggregate=fields.get(b"aggregate", b"?").decode(errors="replace"),
            aggregate_id=fields.get(b"key", b"?").decode(errors="replace")[:MAX_REASON],
            event_type=fields.get(b"type", b"?").decode(errors="replace")[:MAX_REASON],
            size=len(fields.get(b"event", b"")),
        )  # fmt: skip

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.relay_once()
            except Exception as exc:  # keep relaying: staged events must not wait on a restart
                log.warning("outbox relay failed; retrying", error=str(exc))
                await asyncio.sleep(0.5)
        # Drain what was staged before the stop was asked for; what cannot be sent now stays
        # in the stream and goes out on the next start.
        try:
            while await self.relay_once():
                pass
        except Exception as exc:
            log.warning("outbox not drained at shutdown; kept for the next start", error=str(exc))

    def stop(self) -> None:
        self._stopping.set()


# --- what was set aside --------------------------------------------------------------------


@dataclass(frozen=True)
class ParkedEvent:
    parked_id: str  # its entry in the parked stream
    staged_id: str  # its entry in the outbox, when it was staged
    event_type: str
    aggregate_type: str
    aggregate_id: str
    size: int  # the event's bytes
    reason: str


def _text(fields: dict[bytes, bytes], name: bytes) -> str:
    return fields.get(name, b"").decode(errors="replace")


async def parked_events(redis: aioredis.Redis, outbox: Outbox, limit: int) -> list[ParkedEvent]:
    """The first ``limit`` events the relay set aside, oldest first."""
    entries: list[Entry] = await redis.xrange(outbox.parked, count=limit)  # type: ignore[assignment]
    return [_parked(entry_id, fields) for entry_id, fields in entries]


def _parked(entry_id: bytes, fields: dict[bytes, bytes]) -> ParkedEvent:
    return ParkedEvent(
        parked_id=entry_id.decode(), staged_id=_text(fields, PARKED_ENTRY),
        event_type=_text(fields, b"type"), aggregate_type=_text(fields, b"aggregate"),
        aggregate_id=_text(fields, b"key"), size=len(fields.get(b"event", b"")),
        reason=_text(fields, PARKED_REASON),
    )  # fmt: skip


async def requeue_parked(
    redis: aioredis.Redis, outbox: Outbox, parked_ids: Sequence[str]
) -> list[str]:
    """Put the parked events ``parked_ids`` back in the outbox, as they were staged, in one
    transaction (after what was staged since: consumers keep their own order per
    aggregate only for what they have not read yet): the ids not parked (none moved then).
    Once the cause is mended (a broker taking larger messages, say), the relay sends them;
    one still refused is set aside again."""
    wanted = list(dict.fromkeys(parked_ids))

    async def body(pipe: Pipeline) -> list[str]:
        found: list[Entry] = []
        for parked_id in wanted:
            entries: list[Entry] = await pipe.xrange(outbox.parked, min=parked_id, max=parked_id)  # type: ignore[assignment]
            found += entries
        missing = sorted(set(wanted) - {entry_id.decode() for entry_id, _ in found})
        if missing or not found:
            return missing
        pipe.multi()  # type: ignore[no-untyped-call]
        for entry_id, fields in found:
            kept = {k: v for k, v in fields.items() if k not in (PARKED_REASON, PARKED_ENTRY)}
            pipe.xadd(outbox.stream, kept)  # type: ignore[arg-type]  # (stub: str keys)
            pipe.xdel(outbox.parked, entry_id)
        return []

    return await transact(redis, [outbox.parked], body)
