"""The event bus on Kafka: publish typed events keyed by aggregate id, and consume them in
batches into Redis projections, each event applied exactly once.

How a consumer stays exactly-once (see ARCHITECTURE.md, "Flow of data"):

* the last applied offset of every partition is stored in Redis, in the same MULTI/EXEC
  transaction as the state the batch produced, together with the ids of applied events;
  a consumer feeding several projections keeps offsets and ids per projection, and writes
  them all in one transaction;
* the transaction WATCHes the offsets, so if a rebalance let another member apply the same
  partition meanwhile, this member's write is discarded and it re-reads;
* on assignment the consumer seeks to the lowest stored offset + 1 of its projections, or
  to the partition's start when one has none (a wiped Redis, or one wiped projection, is
  rebuilt by replay; the others skip what they applied), so the Kafka group offset
  (committed only after the Redis write) serves monitoring, never as the source of truth;
* a message that cannot be decoded, or that a handler rejects (while reading or writing),
  goes to the topic's dead-letter twin with the reason in its headers, and the consumer
  goes on;
* ``stop()`` lets the batch in flight finish (state written, offsets committed) first.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import redis.asyncio as aioredis
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from google.protobuf.message import Message
from opentelemetry.trace import Span, Tracer
from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from zhixing import kafka_connections as _mends_aiokafka  # noqa: F401  (see the module)
from zhixing import tracing
from zhixing.events import Event, InvalidEvent, decode_event, named_type
from zhixing.folding import fold_writes
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace, watch_and_read
from zhixing.topics import Topic, physical_name

__all__ = [
    "APPLIED_EVENT_TTL_SECONDS",
    "BATCH_SECONDS",
    "CONSUMER_LAG",
    "EVENTS_APPLIED",
    "EVENTS_SKIPPED",
    "EventConsumer",
]

from zhixing.dead_letters import DeadLetters
from zhixing.projection import (
    INFRASTRUCTURE_ERRORS,
    BatchHandler,
    Projection,
    Transaction,
    check_handled,
    handled_types,
    prepare,
)
from zhixing.publisher import EventPublisher

log = structlog.get_logger(__name__)

COMMIT_TIMEOUT_S = 2.0  # a commit to Kafka (monitoring only) waits at most this long
COMMIT_BACKOFF_S = 15.0  # and after one that failed, the next waits this long
APPLIED_EVENT_TTL_SECONDS = 30 * 24 * 3600
"""How long an applied event id is remembered to drop a republished duplicate."""

# Marks a batch's applied event ids in one command: a SET per id would cost the client a
# command packed and a reply parsed each (a tenth of a consumer's time, measured).
_MARK_APPLIED = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, '1', 'EX', ARGV[1])
end
return #KEYS
"""

EVENTS_APPLIED = Counter(
    "zhixing_events_applied_total", "Events applied to a projection", ["group"]
)
EVENTS_SKIPPED = Counter(
    "zhixing_events_skipped_total", "Events already applied (replay or duplicate)", ["group"]
)
BATCH_SECONDS = Histogram("zhixing_batch_apply_seconds", "Time to apply one batch", ["group"])
CONSUMER_LAG = Gauge(
    "zhixing_consumer_lag_messages",
    "Messages on the group's partitions past its last applied batch (the fetch's high "
    "watermark less the next offset; 0 once a fetch finds nothing new)",
    ["group"],
)


@dataclass
class _Part:
    name: str
    topics: frozenset[str]  # physical topic names
    handler: BatchHandler
    offsets_key: str
    applied_prefix: str
    handled: frozenset[str] | None  # event types given to the handler; None: all
    max_events: int | None  # in one transaction (Projection.max_events_per_transaction)

    def applied_key(self, event_id: str) -> str:
        return self.applied_prefix + event_id

    def may_handle(self, record: ConsumerRecord[bytes, bytes], named: str | None) -> bool:
        """Whether the record may reach the handler (by its topic and the type its header
        names; a record naming none may)."""
        return record.topic in self.topics and (
            self.handled is None or named is None or named in self.handled
        )


_PRODUCED_AT = operator.attrgetter("timestamp")


@dataclass
class _Batch:
    records: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    last_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    first_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    decoded: dict[tuple[str, int, int], Event[Message] | InvalidEvent] = field(default_factory=dict)


def _partition_field(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


# A record of a projection's topics: its decoding (None: passed over undecoded, its header
# naming a type the projection does not handle), and whether the projection acts on it.
_Sorted = tuple[ConsumerRecord[bytes, bytes], Event[Message] | InvalidEvent | None, bool]


def _where(record: ConsumerRecord[bytes, bytes]) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._consumer._commit_pending()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._consumer._seek_to_stored(list(assigned))


class EventConsumer:
    """Consumes as consumer group ``group`` into one or more Redis projections.

    Either ``topics`` and ``handler`` (one projection named after the group), or
    ``projections``: then every batch is fetched and decoded once and applied to all of
    them in one transaction, while each keeps its own offsets and applied ids. So one
    projection can still be rebuilt alone (wipe its keys and offsets: the consumer seeks
    back to the earliest offset any projection needs, and the others skip what they
    applied), and an event one projection rejects is dead-lettered for that one only.
    """

    def __init__(
        self,
        *,
        group: str,
        kafka: KafkaSettings,
        redis: aioredis.Redis,
        keys: KeySpace,
        publisher: EventPublisher,
        topics: Sequence[Topic] = (),
        handler: BatchHandler | None = None,
        projections: Sequence[Projection] = (),
        retry_backoff_s: float = 0.5,
        tracer: Tracer | None = None,
    ) -> None:
        if handler is not None:
            projections = [Projection(group, topics, handler), *projections]
        if not projections:
            raise ValueError(f"consumer {group!r} feeds no projection")
        for projection in projections:
            check_handled(projection)
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"consumer {group!r}: projection names repeat: {names}")
        self.group = group
        self._topics = {
            physical_name(t.name, kafka.topic_prefix): t for p in projections for t in p.topics
        }
        self._parts = [
            _Part(
                name=p.name,
                topics=frozenset(physical_name(t.name, kafka.topic_prefix) for t in p.topics),
                handler=p.handler,
                offsets_key=keys.key("consumer", p.name, "offsets"),
                applied_prefix=keys.key("consumer", p.name, "applied") + ":",
                handled=handled_types(p.handler),
                max_events=p.max_events_per_transaction,
            )
            for p in projections
        ]
        self._kafka = kafka
        self._redis = redis
        self._keys = keys
        self._publisher = publisher
        self._dead_letters = DeadLetters(redis, keys, publisher, self._topics)
        self._retry_backoff_s = retry_backoff_s
        self._tracer = tracer
        self._lag: dict[TopicPartition, int] = {}
        # Applied (in Redis) but not yet committed to Kafka: committed at most every
        # consumer_commit_interval_ms, when partitions are revoked, and at stop.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._next_commit_at = time.monotonic()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False
        self._consumer = AIOKafkaConsumer(
            **kafka.client_kwargs(),
            group_id=f"{kafka.topic_prefix}{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_min_bytes=kafka.consumer_fetch_min_bytes,
            fetch_max_wait_ms=kafka.consumer_fetch_max_wait_ms,
        )

    @property
    def projections(self) -> list[str]:
        return [part.name for part in self._parts]

    @property
    def partitions(self) -> list[TopicPartition]:
        """Every partition of the topics this consumer reads, as the topic catalogue
        declares them (``zhixing.topics``; ``create_topics`` makes them so)."""
        return [TopicPartition(name, p) for name, topic in self._topics.items()
                for p in range(topic.partitions)]  # fmt: skip

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(topics=list(self._topics), listener=_SeekToStoredOffsets(self))

    async def run(self) -> None:
        """Consume until ``stop()``; the batch in flight always completes."""
        self._running = True
        try:
            while not self._stopping.is_set():
                fetched = await self._consumer.getmany(
                    timeout_ms=self._kafka.consumer_batch_timeout_ms,
                    max_records=self._kafka.consumer_batch_max_records,
                )
                if not fetched:
                    if self._lag:
                        self._lag.clear()
                        CONSUMER_LAG.labels(self.group).set(0)
                    if self._commit_due():
                        await self._commit_pending()
                    continue
                try:
                    await self._process(fetched)
                except Exception:
                    # A bug must not end consumption silently: log it, re-read the batch
                    # (what its pieces wrote before is skipped by their stored offsets) and
                    # try again after a pause.
                    log.exception("batch failed; it will be read again", group=self.group)
                    assigned = self._consumer.assignment()
                    for tp, records in fetched.items():
                        if tp in assigned:  # a revoked one is read by its new owner
                            self._consumer.seek(tp, records[0].offset)
                    await asyncio.sleep(self._retry_backoff_s)
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        """Stop consuming (a consumer that never ran only closes its client)."""
        self._stopping.set()
        if self._running:
            await self._stopped.wait()
        await self._commit_pending()
        await self._consumer.stop()

    async def needed_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Per partition, the next offset some projection still needs: the lowest of their
        stored offsets + 1, or 0 where one of them has stored none."""
        fields = [_partition_field(tp) for tp in partitions]
        pipe = self._redis.pipeline(transaction=False)
        for part in self._parts:
            pipe.hmget(part.offsets_key, fields)
        replies = await pipe.execute()
        needed: dict[TopicPartition, int] = {}
        for part, stored in zip(self._parts, replies, strict=True):
            for tp, offset in zip(partitions, stored, strict=True):
                if tp.topic in part.topics:
                    next_offset = int(offset) + 1 if offset is not None else 0
                    needed[tp] = min(needed.get(tp, next_offset), next_offset)
        return needed

    async def lag(self) -> int | None:
        """Messages on this consumer's topics not yet applied by all its projections: the
        broker's end offsets less the offsets stored with the projections (so a batch being
        applied still counts). None while the consumer does not know its partitions yet."""
        partitions = []
        for name in self._topics:
            known = self._consumer.partitions_for_topic(name)
            if not known:
                return None
            partitions += [TopicPartition(name, p) for p in sorted(known)]
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        needed = await self.needed_offsets(partitions)
        return sum(max(0, ends[tp] - needed.get(tp, 0)) for tp in partitions)

    async def _seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        # Redis holds what was applied: no stored offset means nothing was, so a wiped
        # Redis (or one wiped projection) is rebuilt by replaying from the partition's start
        # (Kafka's committed offset only serves lag monitoring).
        if not partitions:
            return
        for tp, offset in (await self.needed_offsets(partitions)).items():
            self._consumer.seek(tp, offset)

    async def _process(
        self, fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        started = time.perf_counter()
        batch = _Batch()
        for tp, records in fetched.items():
            batch.first_offsets[tp] = records[0].offset
            batch.last_offsets[tp] = records[-1].offset
        # Kafka orders a partition, not the partitions and topics between them: the fetched
        # partitions are applied interleaved by when each record was produced (a case's
        # filing before the asset events that came of it, however the fetch grouped them),
        # each partition's records still in their order. Handlers must still tolerate the
        # other order (a later fetch can bring an older record of another partition).
        if len(fetched) == 1:
            (batch.records,) = fetched.values()
        else:
            batch.records = list(heapq.merge(*fetched.values(), key=_PRODUCED_AT))
        spans = self._event_spans(batch) if self._tracer is not None else {}
        try:
            with tracing.applying(spans):
                for piece in self._pieces(batch):
                    if not await self._apply_until_written(piece):
                        return  # what the pieces before wrote stays, with its offsets
        finally:
            for span in spans.values():
                span.end()
        BATCH_SECONDS.labels(self.group).observe(time.perf_counter() - started)
        self._note_lag(batch)
        await self._commit(batch.last_offsets)

    def _pieces(self, batch: _Batch) -> list[_Batch]:
        """The batch as the transactions it is applied in, in order: one, unless a
        projection bounds the events it is given in one (``max_events_per_transaction``);
        then each piece ends at the record that brings one such projection to its bound,
        with the offsets of its own records."""
        bounds = [(part, part.max_events) for part in self._parts if part.max_events]
        if not bounds or len(batch.records) <= min(bound for _, bound in bounds):
            return [batch]
        pieces: list[_Batch] = []
        piece = _Batch(decoded=batch.decoded)  # decoded once, whichever piece reads it
        counts = [0] * len(bounds)
        for record in batch.records:
            tp = TopicPartition(record.topic, record.partition)
            piece.records.append(record)
            piece.first_offsets.setdefault(tp, record.offset)
            piece.last_offsets[tp] = record.offset
            named = named_type(record.headers)
            full = False
            for at, (part, bound) in enumerate(bounds):
                if part.may_handle(record, named):
                    counts[at] += 1
                    full |= counts[at] == bound
            if full:
                pieces.append(piece)
                piece = _Batch(decoded=batch.decoded)
                counts = [0] * len(bounds)
        if piece.records:
            pieces.append(piece)
        return pieces

    async def _apply_until_written(self, batch: _Batch) -> bool:
        """Apply the batch, retrying while Redis or Kafka is away; False if a stop came
        first (nothing of the batch was written; the next owner re-reads it)."""
        while True:
            try:
                await self._apply_batch(batch)
                return True
            except INFRASTRUCTURE_ERRORS as exc:
                log.warning(
                    "batch failed on infrastructure; retrying", group=self.group, error=str(exc)
                )
                await asyncio.sleep(self._retry_backoff_s)
                if self._stopping.is_set():
                    return False

    def _note_lag(self, batch: _Batch) -> None:
        assigned = self._consumer.assignment()
        for tp, last in batch.last_offsets.items():
            if tp not in assigned:  # revoked while the batch was applied (a rebalance)
                self._lag.pop(tp, None)
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                self._lag[tp] = max(0, highwater - last - 1)
        CONSUMER_LAG.labels(self.group).set(sum(self._lag.values()))

    def _event_spans(self, batch: _Batch) -> dict[str, Span]:
        """A CONSUMER span per traced event of the batch (tracing on only)."""
        assert self._tracer is not None
        spans: dict[str, Span] = {}
        for record in batch.records:
            event = self._decode(batch, record)
            if isinstance(event, InvalidEvent) or not event.envelope.trace_context:
                continue
            if event.event_id not in spans:
                spans[event.event_id] = tracing.consumer_span(
                    self._tracer, self.group, record.topic, record.partition, record.offset,
                    event.envelope,
                )  # fmt: skip
        return spans

    def _decode(
        self, batch: _Batch, record: ConsumerRecord[bytes, bytes]
    ) -> Event[Message] | InvalidEvent:
        where = _where(record)
        if where not in batch.decoded:
            try:
                batch.decoded[where] = decode_event(record.value)
            except InvalidEvent as exc:
                batch.decoded[where] = exc
        return batch.decoded[where]

    async def _apply_batch(self, batch: _Batch) -> None:
        """Decode once, dead-letter what is invalid, and write what each projection has not
        applied yet with its offsets, all in one transaction."""
        dead: set[tuple[str, tuple[str, int, int]]] = set()
        rejected: dict[str, set[str]] = {part.name: set() for part in self._parts}
        partitions = sorted(batch.last_offsets)
        fields = [_partition_field(tp) for tp in partitions]
        while True:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    todo = await self._unapplied(pipe, batch, partitions, fields, dead)
                    for part, valid in todo:
                        valid[:] = [
                            (r, e) for r, e in valid if e.event_id not in rejected[part.name]
                        ]
                    # Each projection's reads before MULTI (they may WATCH more keys), then
                    # its writes after; a projection that fails on the batch has the events it
                    # rejects found and dead-lettered, and the batch is applied again without.
                    prepared: list[Any] = []
                    retry = False
                    for part, valid in todo:
                        try:
                            events = [e for _, e in valid]
                            prepared.append(
                                await prepare(part.handler, events, pipe) if events else None
                            )
                        except (*INFRASTRUCTURE_ERRORS, WatchError):
                            raise
                        except Exception as exc:
                            await self._reject(part, valid, dead, rejected, exc)
                            retry = True
                            break
                    if retry:
                        continue
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for (part, valid), ready in zip(todo, prepared, strict=True):
                        events = [e for _, e in valid]
                        if not events:
                            continue
                        try:
                            await part.handler(
                                events, Transaction(self._redis, pipe, self._keys, ready)
                            )
                        except (*INFRASTRUCTURE_ERRORS, WatchError):
                            raise
                        except Exception as exc:
                            await self._reject(part, valid, dead, rejected, exc)
                            retry = True
                            break
                    if retry:
                        continue  # discard what was queued; apply again without the culprits
                    for part, _ in todo:
                        if any(tp.topic in part.topics for tp in batch.last_offsets):
                            pipe.hset(
                                part.offsets_key,
                                mapping={
                                    _partition_field(tp): off
                                    for tp, off in batch.last_offsets.items()
                                    if tp.topic in part.topics
                                },
                            )
                    # The projections' writes and the offsets as one script call (its
                    # replies are not read), then the applied ids' script.
                    fold_writes(pipe)
                    applied = [
                        part.applied_key(event.event_id)
                        for part, valid in todo
                        for _, event in valid
                    ]
                    if applied:  # EVAL, not EVALSHA: see zhixing.folding
                        pipe.eval(_MARK_APPLIED, len(applied), *applied, APPLIED_EVENT_TTL_SECONDS)
                    await pipe.execute()
                for part, valid in todo:
                    EVENTS_APPLIED.labels(part.name).inc(len(valid))
                return
            except WatchError:
                # Another member of the group wrote these partitions meanwhile (rebalance):
                # re-read the stored offsets and apply only what is still unapplied.
                log.info("offsets changed under the batch; re-reading", group=self.group)
            except INFRASTRUCTURE_ERRORS:
                for tp, offset in batch.first_offsets.items():
                    with contextlib.suppress(Exception):
                        self._consumer.seek(tp, offset)
                raise

    async def _unapplied(
        self,
        pipe: Pipeline,
        batch: _Batch,
        partitions: list[TopicPartition],
        fields: list[str],
        dead: set[tuple[str, tuple[str, int, int]]],
    ) -> list[tuple[_Part, list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]]]]:
        """Per projection, the batch's records it has not applied: past its stored offsets,
        decodable (the rest are dead-lettered), of a type it handles, and not applied before
        by event id (a republish) nor repeated in this batch. A record whose header names a
        type the projection does not handle is passed over without being decoded. WATCHes
        the offsets and reads, in the same round trip: the stored offsets and the applied
        marks of every such record of the batch (those at or before the offsets too: in a
        batch past a restart, there are few)."""
        # Per projection, its topics' records with their decoding and whether it acts on
        # them (one walk: the reads below and the choice after both use it).
        relevant: list[list[_Sorted]] = []
        readable: list[list[str]] = []  # per projection, the applied keys to read
        names = [named_type(record.headers) for record in batch.records]  # once per record
        for part in self._parts:
            mine: list[_Sorted] = []
            keys: list[str] = []
            for record, named in zip(batch.records, names, strict=True):
                if record.topic in part.topics:
                    if not part.may_handle(record, named):
                        mine.append((record, None, False))  # no decoding needed
                        continue
                    event = self._decode(batch, record)
                    if self._wanted(event, part):
                        keys.append(part.applied_key(event.event_id))
                        mine.append((record, event, True))
                    else:
                        mine.append((record, event, False))
            relevant.append(mine)
            readable.append(keys)
        reads: list[tuple[str, ...]] = []
        for part, applied_keys in zip(self._parts, readable, strict=True):
            reads.append(("HMGET", part.offsets_key, *fields))
            if applied_keys:
                reads.append(("MGET", *applied_keys))
        offsets_keys = [part.offsets_key for part in self._parts]
        replies = iter(await watch_and_read(pipe, offsets_keys, reads))
        todo = []
        for part, applied_keys, mine in zip(self._parts, readable, relevant, strict=True):
            stored = next(replies)
            was_applied = iter(next(replies) if applied_keys else [])
            applied = {
                tp: int(v) for tp, v in zip(partitions, stored, strict=True) if v is not None
            }
            kept, skipped = [], 0
            in_batch: set[str] = set()
            for record, decoded, wanted in mine:
                seen = next(was_applied) if wanted else None
                if record.offset <= applied.get(TopicPartition(record.topic, record.partition), -1):
                    skipped += 1
                elif isinstance(decoded, InvalidEvent):
                    # Undecodable for every projection: dead-lettered once, for the group.
                    await self._dead_letters.send(self.group, record, f"invalid: {decoded}", dead)
                elif (
                    wanted
                    and isinstance(decoded, Event)
                    and seen is None
                    and decoded.event_id not in in_batch
                ):
                    in_batch.add(decoded.event_id)
                    kept.append((record, decoded))
            todo.append((part, kept))
            if skipped:
                EVENTS_SKIPPED.labels(part.name).inc(skipped)
        return todo

    @staticmethod
    def _wanted(decoded: Event[Message] | InvalidEvent, part: _Part) -> TypeGuard[Event[Message]]:
        """A decoded event of a type the projection's handler acts on."""
        if isinstance(decoded, InvalidEvent):
            return False
        return part.handled is None or decoded.event_type in part.handled

    async def _reject(
        self,
        part: _Part,
        valid: list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]],
        dead: set[tuple[str, tuple[str, int, int]]],
        rejected: dict[str, set[str]],
        failure: Exception,
    ) -> None:
        culprits = await self._dead_letters.isolate(part.name, part.handler, valid, dead)
        if not culprits:
            # Only the combination fails: a handler bug, not bad data. Fail loudly; the run
            # loop logs it and retries after a pause.
            raise RuntimeError(f"{part.name}: batch fails but no event alone does") from failure
        rejected[part.name] |= culprits

    async def _commit(self, last_offsets: dict[TopicPartition, int]) -> None:
        self._uncommitted.update(last_offsets)
        if self._commit_due():
            await self._commit_pending()

    def _commit_due(self) -> bool:
        return bool(self._uncommitted) and time.monotonic() >= self._next_commit_at

    async def _commit_pending(self) -> None:
        """Commit the offsets applied since the last commit (of partitions still assigned).
        One that fails is kept for the next, which waits COMMIT_BACKOFF_S."""
        assigned = self._consumer.assignment()
        offsets = {tp: off + 1 for tp, off in self._uncommitted.items() if tp in assigned}
        self._uncommitted.clear()
        pause_s = self._kafka.consumer_commit_interval_ms / 1000
        try:
            if offsets:
                # aiokafka retries a commit until Kafka is back: bounded, so an outage
                # cannot hold the loop or a stop for what only monitoring reads.
                async with asyncio.timeout(COMMIT_TIMEOUT_S):
                    await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # Redis holds the truth; the next owner seeks from it.
            log.info("offset commit skipped", group=self.group, error=str(exc) or "timed out")
            for tp, next_offset in offsets.items():  # a later batch's offset wins
                self._uncommitted.setdefault(tp, next_offset - 1)
            pause_s = max(pause_s, COMMIT_BACKOFF_S)
        finally:
            self._next_commit_at = time.monotonic() + pause_s
