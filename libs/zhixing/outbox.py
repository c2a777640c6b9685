"""Transactional outbox: a command's state change and the events it causes are written to
Redis in one MULTI/EXEC; a relay then publishes the events to Kafka and deletes them.

This avoids the dual write (state saved, event lost; or event sent, state lost). A crash
between publishing and deleting republishes the same events with the same ids, which
consumers drop as duplicates (see ``zhixing.bus``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter
from redis.asyncio.client import Pipeline

from zhixing.events import Event, decode_event
from zhixing.publisher import EventPublisher
from zhixing.state import KeySpace

__all__ = [
    "EVENTS_RELAYED",
    "Outbox",
    "OutboxRelay",
]

log = structlog.get_logger(__name__)

EVENTS_RELAYED = Counter("zhixing_outbox_relayed_total", "Events published from the outbox")


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
    data = fields[b"event"]
    if b"aggregate" in fields and b"key" in fields:
        named = fields.get(b"type")
        return (fields[b"aggregate"].decode(), fields[b"key"].decode(), data,
                named.decode() if named else None)  # fmt: skip
    envelope = decode_event(data).envelope
    return envelope.aggregate_type, envelope.aggregate_id, data, envelope.event_type


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
        self._publisher = publisher
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._stopping = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish what is staged now (at most one batch); returns how many were published."""
        reply = await self._redis.xread(
            {self._stream: "0-0"}, count=self._batch_size, block=self._block_ms
        )
        if not reply:
            return 0
        entries: list[tuple[bytes, dict[bytes, bytes]]] = reply[0][1]  # type: ignore[index, assignment]
        if self._publisher.traced:  # each event's producer span needs its envelope
            await self._publisher.publish_many(decode_event(f[b"event"]) for _, f in entries)
        else:
            await self._publisher.publish_staged([_staged(fields) for _, fields in entries])
        await self._redis.xdel(self._stream, *[entry_id for entry_id, _ in entries])
        EVENTS_RELAYED.inc(len(entries))
        return len(entries)

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
