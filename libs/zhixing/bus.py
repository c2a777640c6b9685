"""The event bus on Kafka: publish typed events keyed by aggregate id, and consume them in
batches into Redis projections, each event applied exactly once.

How a consumer stays exactly-once (see ARCHITECTURE.md, "Flow of data"):

* the last applied offset of every partition is stored in Redis, in the same MULTI/EXEC
  transaction as the state the batch produced, together with the ids of applied events;
* the transaction WATCHes the offsets, so if a rebalance let another member apply the same
  partition meanwhile, this member's write is discarded and it re-reads;
* on assignment the consumer seeks to the stored offset + 1, or to the partition's start
  when Redis holds none (a wiped Redis is rebuilt by replay), so the Kafka group offset
  (committed only after the Redis write) serves monitoring, never as the source of truth;
* a message that cannot be decoded, or that the handler rejects, goes to the topic's
  dead-letter twin with the reason in its headers, and the consumer goes on;
* ``stop()`` lets the batch in flight finish (state written, offsets committed) first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from google.protobuf.message import Message
from prometheus_client import Counter, Histogram
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from zhixing.events import Event, InvalidEvent, decode_event
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace
from zhixing.topics import Topic, physical_name, topic_for_aggregate

log = structlog.get_logger(__name__)

APPLIED_EVENT_TTL_SECONDS = 30 * 24 * 3600
"""How long an applied event id is remembered to drop a republished duplicate."""

EVENTS_APPLIED = Counter(
    "zhixing_events_applied_total", "Events applied to a projection", ["group"]
)
EVENTS_SKIPPED = Counter(
    "zhixing_events_skipped_total", "Events already applied (replay or duplicate)", ["group"]
)
EVENTS_DEAD_LETTERED = Counter(
    "zhixing_events_dead_lettered_total", "Messages sent to a dead-letter topic", ["group", "topic"]
)
BATCH_SECONDS = Histogram("zhixing_batch_apply_seconds", "Time to apply one batch", ["group"])

_INFRASTRUCTURE_ERRORS = (RedisConnectionError, RedisTimeoutError, KafkaError, OSError)


class EventPublisher:
    """Publishes events to the topic of their aggregate type, keyed by aggregate id."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer = AIOKafkaProducer(
            **settings.client_kwargs(),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, event: Event[Any]) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: Iterable[Event[Any]]) -> None:
        """Send all, then wait for every acknowledgement; order per key is kept."""
        pending = []
        for event in events:
            topic = topic_for_aggregate(event.envelope.aggregate_type)
            pending.append(await self.send_raw(topic, event.to_bytes(), event.aggregate_id))
        for ack in pending:
            await ack

    async def send_raw(
        self,
        topic: Topic,
        value: bytes,
        key: str,
        headers: Sequence[tuple[str, bytes]] = (),
        *,
        dead_letter: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue raw bytes; returns the future of the broker's acknowledgement."""
        name = topic.dead_letter_name if dead_letter else topic.name
        ack: asyncio.Future[Any] = await self._producer.send(
            physical_name(name, self._settings.topic_prefix),
            value=value,
            key=key.encode(),
            headers=list(headers),
        )
        return ack


class Transaction:
    """What a handler gets to record a batch's effects.

    ``pipe`` is a Redis pipeline in MULTI mode: commands queued on it are written atomically
    with the consumer's offsets. ``redis`` is for reads made before anything is queued.
    """

    def __init__(
        self, redis: aioredis.Redis, pipe: Pipeline, keys: KeySpace, prepared: Any = None
    ) -> None:
        self.redis = redis
        self.pipe = pipe
        self.keys = keys
        self.prepared = prepared


class BatchHandler(Protocol):
    """A projection: applies decoded events by queueing Redis writes on the transaction.

    Raising ``InvalidEvent`` (or any error that is not an infrastructure failure) sends the
    offending event to the dead-letter topic; the rest of the batch is applied. A handler may
    be called again for the same events (retries), so it keeps its state in Redis only.
    """

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None: ...


class PreparingHandler(BatchHandler, Protocol):
    """A handler that must read state consistently before writing it.

    ``prepare`` runs before MULTI on the batch's pipeline: it may WATCH the keys it reads
    (a concurrent writer then makes the batch retry) and read them; what it returns is
    ``tx.prepared`` in the call that follows.
    """

    async def prepare(self, events: Sequence[Event[Message]], pipe: Pipeline) -> Any: ...


async def _prepare(handler: BatchHandler, events: Sequence[Event[Message]], pipe: Pipeline) -> Any:
    prepare = getattr(handler, "prepare", None)
    return await prepare(events, pipe) if prepare is not None else None


@dataclass
class _Batch:
    events: list[Event[Message]] = field(default_factory=list)
    records: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    last_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    first_offsets: dict[TopicPartition, int] = field(default_factory=dict)


def _partition_field(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._consumer._seek_to_stored(list(assigned))


class EventConsumer:
    """Consumes ``topics`` as consumer group ``group`` into a Redis projection."""

    def __init__(
        self,
        *,
        group: str,
        topics: Sequence[Topic],
        handler: BatchHandler,
        kafka: KafkaSettings,
        redis: aioredis.Redis,
        keys: KeySpace,
        publisher: EventPublisher,
        retry_backoff_s: float = 0.5,
    ) -> None:
        self.group = group
        self._topics = {physical_name(t.name, kafka.topic_prefix): t for t in topics}
        self._handler = handler
        self._kafka = kafka
        self._redis = redis
        self._keys = keys
        self._publisher = publisher
        self._retry_backoff_s = retry_backoff_s
        self._offsets_key = keys.key("consumer", group, "offsets")
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            **kafka.client_kwargs(),
            group_id=f"{kafka.topic_prefix}{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

    def applied_key(self, event_id: str) -> str:
        return self._keys.key("consumer", self.group, "applied", event_id)

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(topics=list(self._topics), listener=_SeekToStoredOffsets(self))

    async def run(self) -> None:
        """Consume until ``stop()``; the batch in flight always completes."""
        try:
            while not self._stopping.is_set():
                fetched = await self._consumer.getmany(
                    timeout_ms=self._kafka.consumer_batch_timeout_ms,
                    max_records=self._kafka.consumer_batch_max_records,
                )
                if not fetched:
                    continue
                try:
                    await self._process(fetched)
                except Exception:
                    # A bug must not end consumption silently: log it, re-read the batch
                    # (nothing of it was written) and try again after a pause.
                    log.exception("batch failed; it will be read again", group=self.group)
                    for tp, records in fetched.items():
                        self._consumer.seek(tp, records[0].offset)
                    await asyncio.sleep(self._retry_backoff_s)
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        self._stopping.set()
        await self._stopped.wait()
        await self._consumer.stop()

    async def _seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        stored = await self._redis.hmget(
            self._offsets_key, [_partition_field(tp) for tp in partitions]
        )
        unapplied = []
        for tp, offset in zip(partitions, stored, strict=True):
            if offset is not None:
                self._consumer.seek(tp, int(offset) + 1)
            else:
                unapplied.append(tp)
        if unapplied:
            # Redis holds what was applied: no stored offset means nothing was, so a wiped
            # Redis is rebuilt by replaying the partition from its start (Kafka's committed
            # offset only serves lag monitoring).
            await self._consumer.seek_to_beginning(*unapplied)

    async def _process(
        self, fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        started = time.perf_counter()
        batch = _Batch()
        for tp, records in fetched.items():
            batch.first_offsets[tp] = records[0].offset
            batch.last_offsets[tp] = records[-1].offset
            batch.records.extend(records)
        while True:
            try:
                await self._apply_batch(batch)
                break
            except _INFRASTRUCTURE_ERRORS as exc:
                log.warning(
                    "batch failed on infrastructure; retrying", group=self.group, error=str(exc)
                )
                await asyncio.sleep(self._retry_backoff_s)
                if self._stopping.is_set():
                    # Nothing of this batch was written; the next owner re-reads it.
                    return
        await self._commit(batch.last_offsets)
        BATCH_SECONDS.labels(self.group).observe(time.perf_counter() - started)

    async def _apply_batch(self, batch: _Batch) -> None:
        """Decode, dead-letter what is invalid, and write the rest with the offsets."""
        dead: set[tuple[str, int, int]] = set()
        rejected: set[str] = set()
        while True:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(self._offsets_key)
                    fresh = await self._unapplied(pipe, batch.records)
                    valid: list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]] = []
                    for record in fresh:
                        try:
                            valid.append((record, decode_event(record.value)))
                        except InvalidEvent as exc:
                            await self._dead_letter(record, f"invalid: {exc}", dead)
                    valid = [
                        (r, e)
                        for r, e in await self._drop_duplicates(valid)
                        if e.event_id not in rejected
                    ]
                    events = [e for _, e in valid]
                    tx = Transaction(self._redis, pipe, self._keys)
                    if events:
                        try:
                            tx.prepared = await _prepare(self._handler, events, pipe)
                            pipe.multi()  # type: ignore[no-untyped-call]
                            await self._handler(events, tx)
                        except (*_INFRASTRUCTURE_ERRORS, WatchError):
                            raise
                        except Exception as exc:
                            culprits = await self._isolate_rejected(valid, dead)
                            if not culprits:
                                # Only the combination fails: a handler bug, not bad data.
                                # Fail loudly; the run loop logs it and retries after a pause.
                                raise RuntimeError(
                                    f"{self.group}: batch fails but no event alone does"
                                ) from exc
                            rejected |= culprits
                            continue
                    else:
                        pipe.multi()  # type: ignore[no-untyped-call]
                    for event in events:
                        pipe.set(
                            self.applied_key(event.event_id), b"1", ex=APPLIED_EVENT_TTL_SECONDS
                        )
                    pipe.hset(
                        self._offsets_key,
                        mapping={
                            _partition_field(tp): off for tp, off in batch.last_offsets.items()
                        },
                    )
                    await pipe.execute()
                EVENTS_APPLIED.labels(self.group).inc(len(events))
                EVENTS_SKIPPED.labels(self.group).inc(len(batch.records) - len(fresh))
                return
            except WatchError:
                # Another member of the group wrote these partitions meanwhile (rebalance):
                # re-read the stored offsets and apply only what is still unapplied.
                log.info("offsets changed under the batch; re-reading", group=self.group)
            except _INFRASTRUCTURE_ERRORS:
                for tp, offset in batch.first_offsets.items():
                    with contextlib.suppress(Exception):
                        self._consumer.seek(tp, offset)
                raise

    async def _unapplied(
        self, pipe: Pipeline, records: list[ConsumerRecord[bytes, bytes]]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        partitions = sorted({TopicPartition(r.topic, r.partition) for r in records})
        stored = await pipe.hmget(self._offsets_key, [_partition_field(tp) for tp in partitions])
        applied = {tp: int(v) for tp, v in zip(partitions, stored, strict=True) if v is not None}
        return [
            r for r in records if r.offset > applied.get(TopicPartition(r.topic, r.partition), -1)
        ]

    async def _drop_duplicates(
        self, valid: list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]]
    ) -> list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]]:
        """Drop events whose id was applied before (a republish) or repeats in this batch."""
        if not valid:
            return valid
        seen = await self._redis.mget([self.applied_key(e.event_id) for _, e in valid])
        kept = []
        in_batch: set[str] = set()
        for (record, event), was_applied in zip(valid, seen, strict=True):
            if was_applied is None and event.event_id not in in_batch:
                in_batch.add(event.event_id)
                kept.append((record, event))
        return kept

    async def _isolate_rejected(
        self,
        valid: list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]],
        dead: set[tuple[str, int, int]],
    ) -> set[str]:
        """The handler failed on the batch: try each event alone to find and dead-letter the
        ones it rejects. Only this failure path pays for the extra handler runs."""
        log.warning("handler rejected a batch; isolating the bad events", group=self.group)
        rejected = set()
        for record, event in valid:
            scratch = Transaction(self._redis, self._redis.pipeline(transaction=True), self._keys)
            try:
                scratch.prepared = await _prepare(self._handler, [event], scratch.pipe)
                scratch.pipe.multi()  # type: ignore[no-untyped-call]
                await self._handler([event], scratch)
            except (*_INFRASTRUCTURE_ERRORS, WatchError):
                raise
            except Exception as exc:
                rejected.add(event.event_id)
                reason = f"rejected by handler: {type(exc).__name__}: {exc}"
                await self._dead_letter(record, reason, dead)
            finally:
                await scratch.pipe.reset()  # type: ignore[no-untyped-call]
        return rejected

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], reason: str, dead: set[tuple[str, int, int]]
    ) -> None:
        where = (record.topic, record.partition, record.offset)
        if where in dead:
            return  # already sent while retrying this batch
        dead.add(where)
        topic = self._topics[record.topic]
        headers = [
            ("dlq.reason", reason.encode()),
            ("dlq.group", self.group.encode()),
            ("dlq.source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
        ]
        key = record.key.decode(errors="replace") if record.key else ""
        ack = await self._publisher.send_raw(
            topic, record.value or b"", key, headers, dead_letter=True
        )
        await ack
        EVENTS_DEAD_LETTERED.labels(self.group, topic.name).inc()
        log.warning(
            "message dead-lettered", group=self.group, source=headers[2][1].decode(), reason=reason
        )

    async def _commit(self, last_offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit({tp: off + 1 for tp, off in last_offsets.items()})
        except (CommitFailedError, KafkaError) as exc:
            # Redis holds the truth; the next owner seeks from it.
            log.info("offset commit skipped", group=self.group, error=str(exc))
