"""What a projection is to a consumer: a handler of decoded events that queues its Redis
writes on the batch's transaction (``BatchHandler``), optionally reading first
(``PreparingHandler``), named with the topics it reads (``Projection``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from aiokafka.errors import KafkaError
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from zhixing.clock_events import CARRIERS
from zhixing.events import Event, event_type_of
from zhixing.state import KeySpace
from zhixing.topics import Topic, topic_for_aggregate

__all__ = [
    "INFRASTRUCTURE_ERRORS",
    "BatchHandler",
    "PreparingHandler",
    "Projection",
    "SelectiveHandler",
    "Transaction",
    "check_handled",
    "handled_types",
    "prepare",
]

INFRASTRUCTURE_ERRORS = (RedisConnectionError, RedisTimeoutError, KafkaError, OSError)
"""Failures of Redis, Kafka or the network, not of a handler: a batch that meets one is
retried, never dead-lettered."""


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


class SelectiveHandler(BatchHandler, Protocol):
    """A handler that acts on a few of its topics' event types only: ``handles`` names their
    payload classes (the types its ``isinstance`` tests name; a unit test holds the two
    together). The consumer passes it those alone: the others' offsets advance with the
    batch, but they are neither given to it nor remembered as applied, which on the deadline
    topic, read whole by six services for their breaches, is most of what it carries."""

    handles: tuple[type[Message], ...]


def handled_types(handler: BatchHandler) -> frozenset[str] | None:
    """The event type names (``EventType.name``) a handler acts on; None: every one."""
    handles = getattr(handler, "handles", None)
    if handles is None:
        return None
    return frozenset(payload.DESCRIPTOR.full_name for payload in handles)


def check_handled(projection: Projection) -> None:
    """Refuse a ``handles`` that would silently give its handler nothing: a type that is
    not a registered event, one carried by a topic the projection does not read, or one now
    recorded inside another event (a ClockOpened in a ClocksOpened) without that other."""
    read = {topic.name for topic in projection.topics}
    handled = handled_types(projection.handler) or frozenset()
    for name in sorted(handled):
        topic = topic_for_aggregate(event_type_of(name).aggregate_type)
        if topic.name not in read:
            raise ValueError(
                f"projection {projection.name!r} handles {name}, an event of topic "
                f"{topic.name!r}, which it does not read ({', '.join(sorted(read))})"
            )
        carrier = CARRIERS.get(name)
        if carrier is not None and carrier not in handled:
            raise ValueError(
                f"projection {projection.name!r} handles {name} but not {carrier}, which "
                "carries it now: name both (and read it with clock_events.each_payload)"
            )


async def prepare(handler: BatchHandler, events: Sequence[Event[Message]], pipe: Pipeline) -> Any:
    prepare = getattr(handler, "prepare", None)
    return await prepare(events, pipe) if prepare is not None else None


@dataclass(frozen=True)
class Projection:
    """One projection a consumer feeds: its name (the offsets and applied ids it keeps in
    Redis, and its metric and dead-letter label), the topics it reads and its handler.

    ``max_events_per_transaction`` bounds the events of a batch it is given in one
    transaction (None: the whole batch): a consumer applies a larger batch as several
    transactions in order, each with its offsets. A handler whose ``prepare`` WATCHes keys
    for each event sets it, for Redis 7.0 checks each watched key against those the
    transaction already watches (valkey-io/valkey#3360): the time of a WATCH grows with the
    square of its keys, and Redis serves nobody else meanwhile."""

    name: str
    topics: Sequence[Topic]
    handler: BatchHandler
    max_events_per_transaction: int | None = None

    def __post_init__(self) -> None:
        if self.max_events_per_transaction is not None and self.max_events_per_transaction < 1:
            raise ValueError(f"projection {self.name!r}: max_events_per_transaction must be "
                             f"at least 1, not {self.max_events_per_transaction}")  # fmt: skip
