"""Transactional outbox: a command's state change and the events it causes are written to
Redis in one MULTI/EXEC; a relay then publishes the events to Kafka and deletes them.

This avoids the dual write (state saved, event lost; or event sent, state lost). A crash
between publishing and deleting republishes the same events with the same ids, which
consumers drop as duplicates (see ``zhixing.bus``).

An event larger than the producer sends (``producer_max_request_size``), or an entry that
cannot be read, would be refused for ever and stop every event staged after it. The relay
sets it aside (parks it) in a stream of its own, with why, and holds its aggregate: every
later event of that aggregate is set aside behind it, in order, so no consumer sees an
aggregate's events out of order (the audit chain's records among them); the other
aggregates go on. ``zhixing outbox requeue`` asks for an aggregate to be sent again (once
the limit is raised): the relay sends what it set aside, in order, before any later event
of that aggregate, and lets it go. Any other failure (Kafka or Redis away, a timeout, the
producer stopping) sets nothing aside: the events wait, in order. An event of a type this
version does not know is sent as staged (consumers judge it); with tracing on, its batch
goes without spans.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio.client import Pipeline

from zhixing.events import Event, InvalidEvent, decode_event, type_header
from zhixing.publisher import EventPublisher
from zhixing.state import KeySpace, as_text, transact

__all__ = [
    "EVENTS_PARKED",
    "EVENTS_RELAYED",
    "OUTBOX_OLDEST_AGE",
    "OUTBOX_PENDING",
    "Outbox",
    "OutboxRelay",
    "ParkedEvent",
    "Parking",
    "drop_unreadable",
    "forget_backlog",
    "observe_backlog",
    "parking",
    "requeue",
]

log = structlog.get_logger(__name__)

EVENTS_RELAYED = Counter("zhixing_outbox_relayed_total", "Events published from the outbox")
EVENTS_PARKED = Counter(
    "zhixing_outbox_parked_total",
    "Staged events set aside: too large to send, unreadable, or behind one of their aggregate's "
    "set aside (should stay 0)",
)

# Set at each scrape by every process of the service, answering ones too (``observe_backlog``):
# a backlog shows even when no process relays it (none of role ``all`` running).
OUTBOX_PENDING = Gauge(
    "zhixing_outbox_pending_events", "Events staged, not yet published", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "zhixing_outbox_oldest_age_seconds",
    "How long the oldest staged event has waited to be published (0 when none waits)",
    ["service"],
)

Entry = tuple[bytes, dict[bytes, bytes]]
"""A stream entry as the client reads it: its id and its fields."""


async def observe_backlog(redis: aioredis.Redis, outbox: Outbox, service: str) -> None:
    """Set ``service``'s OUTBOX_PENDING and OUTBOX_OLDEST_AGE from its outbox stream: the
    stream's length, and its first entry's id (the instant it was staged, in ms on Redis's
    clock) against Redis's clock now. Events set aside (``Outbox.parked``) are not pending:
    they have a counter of their own."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(outbox.stream)
        pipe.xrange(outbox.stream, count=1)
        pipe.time()
        pending, first, (seconds, micros) = await pipe.execute()
    age = 0.0
    if first:
        staged_ms, _ = _stream_order(first[0][0])
        age = max(0.0, seconds + micros / 1e6 - staged_ms / 1000)
    OUTBOX_PENDING.labels(service).set(pending)
    OUTBOX_OLDEST_AGE.labels(service).set(age)


def forget_backlog(service: str) -> None:
    """Drop ``service``'s outbox gauges (its backlog could not be read): a scrape then has
    no figure rather than a stale one, which would hold an alert on, or off."""
    for gauge in (OUTBOX_PENDING, OUTBOX_OLDEST_AGE):
        with contextlib.suppress(KeyError):  # never set in this process
            gauge.remove(service)


PARKED_REASON = b"parked_reason"
PARKED_ENTRY = b"parked_entry"  # its id in the outbox: when it was staged
PARKED_HOLD = b"parked_hold"  # the aggregate it holds ("type|id"), if it could be read


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
        # What the relay set aside (each with why), the aggregates held behind them, and
        # those asked to be sent again.
        self.parked = keys.key("outbox", "parked")
        self.held = keys.key("outbox", "held")
        self.requeued = keys.key("outbox", "requeue")

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


Staged = tuple[str, str, bytes, str | None]
"""(aggregate type, aggregate id, bytes, event type) of a staged event."""


def _staged(fields: dict[bytes, bytes]) -> Staged:
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


def _readable(fields: dict[bytes, bytes]) -> Staged | str:
    """The staged event, or why it cannot be read (for ever: it was written so)."""
    try:
        return _staged(fields)
    except KeyError:
        return f"an outbox entry without an event (fields {sorted(fields)})"
    except (UnicodeDecodeError, InvalidEvent) as exc:
        return f"an outbox entry that cannot be read: {exc}"


def _stream_order(entry_id: bytes) -> tuple[int, int]:
    """A stream entry id ("<ms>-<seq>") as it sorts in its stream."""
    ms, _, seq = entry_id.decode().partition("-")
    return int(ms), int(seq or 0)


def _hold(staged: Staged) -> str:
    """The aggregate an event belongs to, as held: its topic's key, so its order."""
    return f"{staged[0]}|{staged[1]}"


def _headers(staged: Staged) -> list[tuple[str, bytes]]:
    return [type_header(staged[3])] if staged[3] else []


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
        self._parked, self._held, self._requeued = outbox.parked, outbox.held, outbox.requeued
        self._publisher = publisher
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._stopping = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish what is staged now (at most one batch), after what was asked to be sent
        again: how many entries left the outbox (sent, or set aside)."""
        held = await self._send_requeued()
        reply = await self._redis.xread(
            {self._stream: "0-0"}, count=self._batch_size, block=self._block_ms
        )
        if not reply:
            return 0
        entries: list[Entry] = reply[0][1]  # type: ignore[index, assignment]
        sending: list[tuple[bytes, Staged]] = []
        parking: list[tuple[bytes, dict[bytes, bytes], str, str]] = []
        for entry_id, fields in entries:
            staged = _readable(fields)
            if isinstance(staged, str):  # holds nothing: whose it is cannot be read
                parking.append((entry_id, fields, "", staged))
                continue
            hold = _hold(staged)
            why = self._unsendable(staged, hold in held)
            if why:
                held.add(hold)
                parking.append((entry_id, fields, hold, why))
            else:
                sending.append((entry_id, staged))
        # Sent first: each sent is staged before any later event of its aggregate set aside
        # here, and if sending fails nothing is set aside (the next pass decides again),
        # so no event is set aside behind a later one of its aggregate.
        if sending:
            await self._send([staged for _, staged in sending])
            await self._redis.xdel(self._stream, *[entry_id for entry_id, _ in sending])
            EVENTS_RELAYED.inc(len(sending))
        if parking:
            await self._park(parking)
        return len(entries)

    def _unsendable(self, staged: Staged, held: bool) -> str:
        """Why the event is set aside, or "": its aggregate is held, or it is larger than
        the producer sends (it would be refused for ever)."""
        if held:
            return "an earlier event of its aggregate is set aside: it waits behind it"
        size = self._publisher.too_large(staged[1], staged[2], _headers(staged))
        if size:
            return (f"{size} bytes, larger than the producer sends "
                    "(ZHIXING_KAFKA_PRODUCER_MAX_REQUEST_SIZE)")  # fmt: skip
        return ""

    async def _send(self, staged: Sequence[Staged]) -> None:
        if self._publisher.traced:  # each event's producer span needs its envelope
            try:
                events = [decode_event(data) for _, _, data, _ in staged]
            except InvalidEvent as exc:
                # Sent as staged, untraced, as without tracing: consumers judge it.
                log.warning("an outbox batch sent without its spans", error=str(exc))
            else:
                await self._publisher.publish_many(events)
                return
        await self._publisher.publish_staged(staged)

    async def _park(self, parking: Sequence[tuple[bytes, dict[bytes, bytes], str, str]]) -> None:
        """Move entries from the outbox to the parked stream, each with why, and hold their
        aggregates, in one transaction: kept, for an operator, and behind them (in order)
        every later event of their aggregates."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for entry_id, fields, hold, why in parking:
                noted = {PARKED_REASON: why.encode(), PARKED_ENTRY: entry_id,
                         PARKED_HOLD: hold.encode()}  # fmt: skip
                parked: dict[Any, Any] = {**fields, **noted}
                pipe.xadd(self._parked, parked)
                if hold:
                    pipe.sadd(self._held, hold)
            pipe.xdel(self._stream, *[entry_id for entry_id, _, _, _ in parking])
            await pipe.execute()
        EVENTS_PARKED.inc(len(parking))
        for entry_id, fields, hold, why in parking:
            log.error(
                "an event was set aside; its aggregate's later events wait behind it, the "
                "other aggregates' go on", outbox=self._stream, entry=entry_id.decode(),
                aggregate=hold or "?", reason=why, size=len(fields.get(b"event", b"")),
            )  # fmt: skip

    async def _send_requeued(self) -> set[str]:
        """Send again, in order, what was set aside of each aggregate asked for, and let the
        aggregate go; one still too large stays set aside (and the ask is dropped). The
        aggregates held after it, as the next batch is read."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self._held)
            pipe.smembers(self._requeued)
            held_raw, asked_raw = await pipe.execute()
        held = {as_text(h) for h in held_raw}
        for hold in sorted(as_text(a) for a in asked_raw):
            if await self._requeue_one(hold):
                held.discard(hold)
        return held

    async def _requeue_one(self, hold: str) -> bool:
        entries: list[Entry] = await self._redis.xrange(self._parked)  # type: ignore[assignment]
        mine = sorted(
            ((entry_id, fields) for entry_id, fields in entries
             if fields.get(PARKED_HOLD, b"").decode() == hold),
            key=lambda entry: _stream_order(entry[1].get(PARKED_ENTRY, b"0-0")),
        )  # fmt: skip  # in the order they were staged
        staged = [_staged(fields) for _, fields in mine]
        still = next((why for s in staged if (why := self._unsendable(s, held=False))), "")
        if still:
            await self._redis.srem(self._requeued, hold)
            log.error("an aggregate asked to be sent again is still set aside",
                      aggregate=hold, reason=still)  # fmt: skip
            return False
        if staged:
            await self._send(staged)
        async with self._redis.pipeline(transaction=True) as pipe:
            if mine:
                pipe.xdel(self._parked, *[entry_id for entry_id, _ in mine])
            pipe.srem(self._held, hold)
            pipe.srem(self._requeued, hold)
            await pipe.execute()
        EVENTS_RELAYED.inc(len(staged))
        log.info("an aggregate set aside was sent again", aggregate=hold, events=len(staged))
        return True

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


# --- what was set aside, for an operator ----------------------------------------------------


@dataclass(frozen=True)
class ParkedEvent:
    parked_id: str  # its entry in the parked stream
    staged_id: str  # its entry in the outbox, when it was staged
    hold: str  # the aggregate it holds, "type|id" ("" if it could not be read)
    event_type: str
    size: int  # the event's bytes
    reason: str


@dataclass(frozen=True)
class Parking:
    events: list[ParkedEvent]  # the first of those set aside, oldest first
    total: int  # how many are set aside
    held: list[str]  # the aggregates held behind them
    requeued: list[str]  # those asked to be sent again, not sent yet


async def parking(redis: aioredis.Redis, outbox: Outbox, limit: int) -> Parking:
    """What the relay set aside: the first ``limit`` events, how many in all, the aggregates
    held, and those asked to be sent again."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xrange(outbox.parked, count=limit)
        pipe.xlen(outbox.parked)
        pipe.smembers(outbox.held)
        pipe.smembers(outbox.requeued)
        entries, total, held, requeued = await pipe.execute()
    return Parking(
        events=[_parked(entry_id, fields) for entry_id, fields in entries],
        total=int(total),
        held=sorted(as_text(h) for h in held),
        requeued=sorted(as_text(r) for r in requeued),
    )


def _parked(entry_id: bytes, fields: dict[bytes, bytes]) -> ParkedEvent:
    def text(name: bytes) -> str:
        return fields.get(name, b"").decode(errors="replace")

    return ParkedEvent(
        parked_id=entry_id.decode(), staged_id=text(PARKED_ENTRY), hold=text(PARKED_HOLD),
        event_type=text(b"type"), size=len(fields.get(b"event", b"")),
        reason=text(PARKED_REASON),
    )  # fmt: skip


async def requeue(redis: aioredis.Redis, outbox: Outbox, holds: Sequence[str]) -> list[str]:
    """Ask the relay to send again what it set aside of the aggregates ``holds`` ("type|id",
    as ``parking`` lists them), in order, before their later events: the ones not held
    (none is asked then)."""
    wanted = list(dict.fromkeys(holds))

    async def body(pipe: Pipeline) -> list[str]:
        members = await pipe.smismember(outbox.held, wanted) if wanted else []
        missing = [hold for hold, member in zip(wanted, members, strict=True) if not member]
        if missing or not wanted:
            return missing
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.sadd(outbox.requeued, *wanted)
        return []

    return await transact(redis, [outbox.held], body)


async def drop_unreadable(
    redis: aioredis.Redis,
    outbox: Outbox,
    parked_ids: Sequence[str],
    keep: Callable[[dict[str, dict[str, str]]], None],
) -> dict[str, str]:
    """Drop from the parked stream the entries ``parked_ids`` that could not be read: they
    hold no aggregate (nothing waits behind them) and no requeue can send them. Each is
    given to ``keep`` first, whole (its fields, bytes as latin-1 text, by parked id): if
    ``keep`` raises, nothing is dropped. All or none: returns, by id, why one is refused
    (not set aside, or an event holding its aggregate: requeue that), and then nothing is
    kept or dropped."""
    wanted = list(dict.fromkeys(parked_ids))

    async def body(pipe: Pipeline) -> dict[str, str]:
        entries: dict[str, dict[bytes, bytes]] = {}
        refused: dict[str, str] = {}
        for parked_id in wanted:
            rows: list[Entry] = await pipe.xrange(  # type: ignore[assignment]
                outbox.parked, min=parked_id, max=parked_id
            )
            if not rows:
                refused[parked_id] = "not set aside"
            elif hold := rows[0][1].get(PARKED_HOLD):
                refused[parked_id] = f"it holds {as_text(hold)}: requeue it"
            elif not isinstance(_readable(rows[0][1]), str):  # whatever version set it aside
                refused[parked_id] = "it can be read: requeue its aggregate"
            else:
                entries[parked_id] = rows[0][1]
        if refused or not entries:
            return refused
        keep({i: {k.decode("latin-1"): v.decode("latin-1") for k, v in fields.items()}
              for i, fields in entries.items()})  # fmt: skip
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.xdel(outbox.parked, *entries)
        return {}

    refused = await transact(redis, [outbox.parked], body)
    if not refused:
        log.warning("unreadable entries set aside were dropped", outbox=outbox.parked,
                    entries=wanted)  # fmt: skip
    return refused
