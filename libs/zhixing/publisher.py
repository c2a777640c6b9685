"""Publishing events to Kafka: each to the topic of its aggregate type, keyed by its
aggregate id (so one aggregate's events keep their order), with idempotent, all-replica
acknowledgements."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from opentelemetry.trace import Span, SpanKind, Tracer

from zhixing import kafka_connections as _mends_aiokafka  # noqa: F401  (see the module)
from zhixing import tracing
from zhixing.events import Event, type_header
from zhixing.settings import KafkaSettings
from zhixing.topics import Topic, physical_name, topic_for_aggregate

__all__ = ["EventPublisher"]


class EventPublisher:
    """Publishes events to the topic of their aggregate type, keyed by aggregate id."""

    def __init__(self, settings: KafkaSettings, *, tracer: Tracer | None = None) -> None:
        self._settings = settings
        self._tracer = tracer
        self._producer = AIOKafkaProducer(
            **settings.client_kwargs(),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=settings.producer_max_request_size,
        )

    async def start(self) -> None:
        await self._producer.start()

    def too_large(self, key: str, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
        """The size of the message (key, value, headers) if it is larger than the producer
        sends (``producer_max_request_size``: the producer would refuse it for ever), else 0.
        The producer's own estimate, so the two agree (worked out only near the limit: a
        message's overhead beside its key, value and headers is under a kilobyte)."""
        limit = self._settings.producer_max_request_size
        if len(value) + 4 * len(key) + sum(len(n) + len(v) for n, v in headers) + 1024 < limit:
            return 0
        size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(
            key.encode(), value, list(headers)
        )
        return size if size > limit else 0

    async def stop(self) -> None:
        await self._producer.stop()

    async def broker_reachable(self, timeout_s: float = 1.0) -> bool:
        """Whether a broker answers now: a connection to one known broker is (re)made, so a
        dead broker reads as unreachable, not as the last state the producer saw."""
        client = self._producer.client
        brokers = [b.nodeId for b in client.cluster.brokers()]
        for node_id in brokers:
            try:
                async with asyncio.timeout(timeout_s):
                    if await client.ready(node_id):
                        return True
            except (TimeoutError, KafkaError, OSError):
                continue
        return False

    async def publish(self, event: Event[Any]) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: Iterable[Event[Any]]) -> None:
        """Send all, then wait for every acknowledgement; order per key is kept."""
        if self._tracer is not None:
            await self._publish_traced(self._tracer, events)
            return
        pending = []
        for event in events:
            envelope = event.envelope
            topic = topic_for_aggregate(envelope.aggregate_type)
            pending.append(await self.send_raw(topic, event.to_bytes(), event.aggregate_id,
                                               [type_header(envelope.event_type)]))  # fmt: skip
        for ack in pending:
            await ack

    @property
    def traced(self) -> bool:
        """Whether each event published gets a producer span (tracing is on)."""
        return self._tracer is not None

    async def publish_staged(self, staged: Sequence[tuple[str, str, bytes, str | None]]) -> None:
        """Send encoded events as they are, each ``(aggregate type, aggregate id, bytes, event
        type)``, then wait for every acknowledgement: the outbox relay's path, which never
        decodes what it sends. The event type (None for an event staged without it) goes
        in the record's header (``zhixing.events.EVENT_TYPE_HEADER``)."""
        pending = [await self.send_raw(topic_for_aggregate(aggregate_type), data, key,
                                       [type_header(event_type)] if event_type else [])
                   for aggregate_type, key, data, event_type in staged]  # fmt: skip
        for ack in pending:
            await ack

    async def _publish_traced(self, tracer: Tracer, events: Iterable[Event[Any]]) -> None:
        """As ``publish_many``, with a PRODUCER span per traced event, from its send to its
        acknowledgement; the envelope sent carries that span's context."""
        pending: list[tuple[asyncio.Future[Any], Span | None]] = []
        try:
            for event in events:
                envelope = event.envelope
                topic = topic_for_aggregate(envelope.aggregate_type)
                span = None
                if envelope.trace_context:
                    span = tracer.start_span(
                        f"publish {envelope.event_type}",
                        context=tracing.context_of(envelope.trace_context),
                        kind=SpanKind.PRODUCER,
                        attributes={
                            "messaging.system": "kafka",
                            "messaging.operation.type": "send",
                            "messaging.destination.name": topic.name,
                            "zhixing.event_id": envelope.event_id,
                            "zhixing.aggregate_id": envelope.aggregate_id,
                            "zhixing.court_code": envelope.court_code,
                        },
                    )
                    envelope.trace_context.clear()
                    tracing.stamp_span(envelope.trace_context, span)
                ack = await self.send_raw(topic, event.to_bytes(), event.aggregate_id,
                                          [type_header(envelope.event_type)])  # fmt: skip
                pending.append((ack, span))
            for ack, span in pending:
                await ack
                if span is not None:
                    span.end()
        finally:
            for _, span in pending:
                if span is not None and span.is_recording():
                    span.end()  # not acknowledged: the span still shows the attempt

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
