"""Dead letters: a message that cannot be decoded, or that a projection's handler rejects,
goes to its topic's dead-letter twin (``<topic>.dlq``) with the reason, the group and its
source in the headers, once per (group, message), and the consumer goes on."""

from __future__ import annotations

from collections.abc import Mapping

import redis.asyncio as aioredis
import structlog
from aiokafka import ConsumerRecord
from google.protobuf.message import Message
from prometheus_client import Counter
from redis.exceptions import WatchError

from zhixing.events import EVENT_TYPE_HEADER, Event
from zhixing.projection import INFRASTRUCTURE_ERRORS, BatchHandler, Transaction, prepare
from zhixing.publisher import EventPublisher
from zhixing.state import KeySpace
from zhixing.topics import Topic

__all__ = ["EVENTS_DEAD_LETTERED", "DeadLetters"]

log = structlog.get_logger(__name__)

EVENTS_DEAD_LETTERED = Counter(
    "zhixing_events_dead_lettered_total", "Messages sent to a dead-letter topic", ["group", "topic"]
)


class DeadLetters:
    def __init__(
        self, redis: aioredis.Redis, keys: KeySpace, publisher: EventPublisher,
        topics: Mapping[str, Topic],
    ) -> None:  # fmt: skip
        self._redis = redis
        self._keys = keys
        self._publisher = publisher
        self._topics = topics  # physical name → topic

    async def isolate(
        self,
        name: str,
        handler: BatchHandler,
        valid: list[tuple[ConsumerRecord[bytes, bytes], Event[Message]]],
        dead: set[tuple[str, tuple[str, int, int]]],
    ) -> set[str]:
        """The handler failed on the batch: try each event alone to find and dead-letter the
        ones it rejects. Only this failure path pays for the extra handler runs."""
        log.warning("handler rejected a batch; isolating the bad events", group=name)
        rejected = set()
        for record, event in valid:
            scratch = Transaction(self._redis, self._redis.pipeline(transaction=True), self._keys)
            try:
                scratch.prepared = await prepare(handler, [event], scratch.pipe)
                scratch.pipe.multi()  # type: ignore[no-untyped-call]
                await handler([event], scratch)
            except (*INFRASTRUCTURE_ERRORS, WatchError):
                raise
            except Exception as exc:
                rejected.add(event.event_id)
                reason = f"rejected by handler: {type(exc).__name__}: {exc}"
                await self.send(name, record, reason, dead)
            finally:
                await scratch.pipe.reset()  # type: ignore[no-untyped-call]
        return rejected

    async def send(
        self,
        label: str,
        record: ConsumerRecord[bytes, bytes],
        reason: str,
        dead: set[tuple[str, tuple[str, int, int]]],
    ) -> None:
        where = (record.topic, record.partition, record.offset)
        if (label, where) in dead:
            return  # already sent while retrying this batch
        dead.add((label, where))
        topic = self._topics[record.topic]
        headers = [
            ("dlq.reason", reason.encode()),
            ("dlq.group", label.encode()),
            ("dlq.source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
            # The record's event type, as its source carried it: a dead letter read back (to
            # replay it, or by type) is read as the original was.
            *(
                (key, value)
                for key, value in record.headers
                if key == EVENT_TYPE_HEADER and value is not None
            ),
        ]
        key = record.key.decode(errors="replace") if record.key else ""
        ack = await self._publisher.send_raw(
            topic, record.value or b"", key, headers, dead_letter=True
        )
        await ack
        EVENTS_DEAD_LETTERED.labels(label, topic.name).inc()
        log.warning(
            "message dead-lettered", group=label, source=headers[2][1].decode(), reason=reason
        )
