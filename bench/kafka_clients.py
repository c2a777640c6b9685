"""The Kafka clients side by side (issue 19: "try confluent-kafka against aiokafka"): the
same consume→produce loop, no decoding, no state, with

* ``aiokafka``: the client the platform runs on (the bench's raw loop);
* ``confluent_aio``: confluent-kafka's asyncio client (``confluent_kafka.aio``, librdkafka
  behind a thread pool), each batch's deliveries awaited at the end only, as aiokafka's;
* ``confluent_sync``: confluent-kafka's plain client in a thread of its own: librdkafka's
  cost without an asyncio bridge, the floor a rewrite of the bus on it could approach.

and the reading half alone, which is five times the writing half in the platform (about
125 records read and 25 written a case), as a bus on each client would read:

* ``aiokafka_read``: aiokafka's consumer, each record's bytes and position taken;
* ``confluent_bridged_read``: librdkafka's plain consumer on a thread of its own, each
  batch handed to the event loop and read there (the bridge a bus on it would need);
* ``confluent_sync_read``: the same consumer read on its thread: the floor.

Each reports events per second and the bench process's CPU time per event (all its
threads: librdkafka's I/O threads too), so the clients compare by what they cost, not
only by how fast one loop runs on two cores. The loops are timed from the first batch
received to the last delivery acknowledged: a client's start, its group join and its close
are not counted. The readers are timed from before their start (``READ_EVENTS``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

READERS = ("aiokafka_read", "confluent_bridged_read", "confluent_sync_read")
CLIENTS = ("aiokafka", "confluent_aio", "confluent_sync", *READERS)
READ_EVENTS = 500_000  # a multiple of the bench's fills (``bench.__main__.EVENTS``)
"""Records a reader reads: its start and group join are counted (it fetches ahead of its
first batch, so a span from there would leave much of its work out), over enough records
to make them small."""
# One fetch or consume call takes up to this many records, as the raw loop's getmany.
BATCH = 1000
Loop = Callable[[str, str, str, int], Awaitable["Span"]]


class Span:
    """The wall and CPU time from ``begin`` (the first batch received; a reader's start) to
    ``end``."""

    def __init__(self) -> None:
        self.started: tuple[float, float] | None = None
        self.elapsed = self.cpu = 0.0

    def begin(self) -> None:
        if self.started is None:
            self.started = (time.perf_counter(), time.process_time())

    def end(self) -> Span:
        assert self.started is not None, "no batch was received"
        self.elapsed = time.perf_counter() - self.started[0]
        self.cpu = time.process_time() - self.started[1]
        return self


async def _aiokafka(bootstrap: str, source: str, sink: str, events: int) -> Span:
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id="clients-aiokafka",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    span = Span()
    try:
        await consumer.start()
        await producer.start()
        done = 0
        while done < events:
            fetched = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            if fetched:
                span.begin()
            for records in fetched.values():
                for record in records:
                    await producer.send(sink, record.value, key=record.key)
                done += len(records)
            await consumer.commit()
        await producer.flush()
        return span.end()
    finally:
        await consumer.stop()
        await producer.stop()


def _confluent_consumer(bootstrap: str, group: str) -> dict[str, Any]:
    """A confluent-kafka consumer's settings, as the aiokafka loop's: from the start, offsets
    committed by the loop."""
    return {"bootstrap.servers": bootstrap, "group.id": group,
            "auto.offset.reset": "earliest", "enable.auto.commit": False}  # fmt: skip


async def _confluent_aio(bootstrap: str, source: str, sink: str, events: int) -> Span:
    from confluent_kafka.aio import AIOConsumer, AIOProducer

    consumer = AIOConsumer(_confluent_consumer(bootstrap, "clients-confluent-aio"))
    span = Span()
    try:
        producer = AIOProducer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    except BaseException:
        await consumer.close()
        raise
    try:
        await consumer.subscribe([source])
        done = 0
        while done < events:
            messages = await consumer.consume(num_messages=BATCH, timeout=0.2)
            if messages:
                span.begin()
            for message in messages:
                if message.error() is None:
                    await producer.produce(sink, message.value(), key=message.key())
                    done += 1
            if messages:
                await consumer.commit(asynchronous=False)
        await producer.flush()
        return span.end()
    finally:
        await consumer.close()
        await producer.close()


def _confluent_sync_thread(bootstrap: str, source: str, sink: str, events: int) -> Span:
    from confluent_kafka import Consumer, Producer

    consumer = Consumer(_confluent_consumer(bootstrap, "clients-confluent-sync"))
    span = Span()
    try:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        consumer.subscribe([source])
        done = 0
        while done < events:
            messages = consumer.consume(num_messages=BATCH, timeout=0.2)
            if messages:
                span.begin()
            for message in messages:
                if message.error() is None:
                    producer.produce(sink, message.value(), key=message.key())
                    done += 1
            producer.poll(0)  # delivery reports, as they come
            if messages:
                consumer.commit(asynchronous=False)
        producer.flush()
        return span.end()
    finally:
        consumer.close()


async def _confluent_sync(bootstrap: str, source: str, sink: str, events: int) -> Span:
    # Not cancellable once started: the thread runs its loop to the end (seconds).
    return await asyncio.to_thread(_confluent_sync_thread, bootstrap, source, sink, events)


def _touch(value: Any, key: Any, offset: int | None, partition: int | None) -> int:
    """What a reader does with each record at least: take its bytes and position."""
    position = (offset or 0) + (partition or 0)
    return position + (len(value) if value else 0) + (len(key) if key else 0)


def _read_messages(messages: list[Any]) -> int:
    """Read a batch of librdkafka's messages as a bus would: how many were records (not
    errors)."""
    read = 0
    for message in messages:
        if message.error() is None:
            _touch(message.value(), message.key(), message.offset(), message.partition())
            read += 1
    return read


async def _aiokafka_read(bootstrap: str, source: str, sink: str, events: int) -> Span:
    """aiokafka reading only, as the bus reads (it keeps its offsets in Redis, not Kafka)."""
    span = Span()
    span.begin()  # before the start: a reader fetches ahead of its first batch
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id="clients-aiokafka-read",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    try:
        await consumer.start()
        done = 0
        while done < events:
            fetched = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            for records in fetched.values():
                for record in records:
                    _touch(record.value, record.key, record.offset, record.partition)
                done += len(records)
        return span.end()
    finally:
        await consumer.stop()


async def _confluent_bridged_read(bootstrap: str, source: str, sink: str, events: int) -> Span:
    """librdkafka's plain consumer on a thread of its own, each batch it takes handed to the
    event loop (one ``call_soon_threadsafe`` a batch), where its records are read: the
    reading half of a bus on librdkafka, bridge included."""
    from confluent_kafka import Consumer

    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[list[Any]] = asyncio.Queue()
    stop = threading.Event()

    def pump() -> None:
        consumer = Consumer(_confluent_consumer(bootstrap, "clients-confluent-bridged-read"))
        try:
            consumer.subscribe([source])
            while not stop.is_set():
                messages = consumer.consume(num_messages=BATCH, timeout=0.2)
                if messages:
                    loop.call_soon_threadsafe(batches.put_nowait, messages)
        finally:
            consumer.close()

    span = Span()
    span.begin()  # before the start: a reader fetches ahead of its first batch
    pumping = asyncio.ensure_future(asyncio.to_thread(pump))
    try:
        done = 0
        while done < events:
            taking = asyncio.ensure_future(batches.get())
            await asyncio.wait({taking, pumping}, return_when=asyncio.FIRST_COMPLETED)
            if not taking.done():  # the pump stopped: its error, not a wait for ever
                taking.cancel()
                await pumping
                raise RuntimeError("the consumer's thread stopped before the records were read")
            done += _read_messages(taking.result())
        return span.end()
    finally:
        stop.set()
        await pumping


def _confluent_sync_read_thread(bootstrap: str, source: str, events: int) -> Span:
    from confluent_kafka import Consumer

    span = Span()
    span.begin()  # before the start: a reader fetches ahead of its first batch
    consumer = Consumer(_confluent_consumer(bootstrap, "clients-confluent-sync-read"))
    try:
        consumer.subscribe([source])
        done = 0
        while done < events:
            done += _read_messages(consumer.consume(num_messages=BATCH, timeout=0.2))
        return span.end()
    finally:
        consumer.close()


async def _confluent_sync_read(bootstrap: str, source: str, sink: str, events: int) -> Span:
    return await asyncio.to_thread(_confluent_sync_read_thread, bootstrap, source, events)


LOOPS: dict[str, Loop] = {
    "aiokafka": _aiokafka,
    "confluent_aio": _confluent_aio,
    "confluent_sync": _confluent_sync,
    "aiokafka_read": _aiokafka_read,
    "confluent_bridged_read": _confluent_bridged_read,
    "confluent_sync_read": _confluent_sync_read,
}


async def client_loop(
    client: str, bootstrap: str, source: str, sink: str, events: int
) -> dict[str, Any]:
    """One client's loop over ``events`` records of ``source`` (filled already): events per
    second and the process's CPU microseconds per event."""
    span = await LOOPS[client](bootstrap, source, sink, events)
    return {"events_per_s": events / span.elapsed, "cpu_us_per_event": span.cpu / events * 1e6}
