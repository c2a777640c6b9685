"""The event bus against the real broker and Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from google.protobuf.message import Message

from tests.conftest import Isolated, read_topic
from tests.factories import ACTOR, START, case_filed_event
from tests.integration.counting import POISON_AMOUNT, CountingProjection
from tests.polling import eventually
from tools.devinfra import ROOT
from zhixing.bus import EventConsumer
from zhixing.clock import SimulatedClock
from zhixing.events import EVENT_TYPE_HEADER, Event, named_type, new_event, type_header
from zhixing.outbox import Outbox, OutboxRelay, parking
from zhixing.projection import BatchHandler, Projection, Transaction
from zhixing.publisher import EventPublisher
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace, as_text, text_hash
from zhixing.topics import CASE_EVENTS, physical_name
from zhixing.v1 import case_events_pb2

pytestmark = pytest.mark.integration


def consumer_for(
    isolated: Isolated, publisher: EventPublisher, handler: BatchHandler, service: str = "worker",
    kafka: KafkaSettings | None = None,
) -> EventConsumer:  # fmt: skip
    return EventConsumer(
        group="bus-test",
        topics=[CASE_EVENTS],
        handler=handler,
        kafka=kafka or isolated.kafka,
        redis=isolated.redis,
        keys=KeySpace(isolated.prefix, service),
        publisher=publisher,
    )


async def applied_counts(isolated: Isolated, *label: str) -> dict[str, int]:
    raw = await isolated.redis.hgetall(KeySpace(isolated.prefix, "worker").key(*label, "applied"))
    return {key: int(value) for key, value in text_hash(raw).items()}


async def run_until(consumer: EventConsumer, check: Callable[[], Awaitable[bool]]) -> None:
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(check)
    finally:
        await consumer.stop()
        await task


async def test_events_of_one_aggregate_are_applied_in_the_order_published(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    aggregates = [f"case-{n}" for n in range(20)]
    events = [case_filed_event(a, amount=seq) for seq in range(25) for a in aggregates]
    await publisher.publish_many(events)

    async def all_applied() -> bool:
        return len(await applied_counts(isolated)) == len(events)

    await run_until(consumer_for(isolated, publisher, CountingProjection()), all_applied)
    keys = KeySpace(isolated.prefix, "worker")
    for aggregate in aggregates:
        order = await isolated.redis.lrange(keys.key("order", aggregate), 0, -1)
        assert [int(x) for x in order] == list(range(25)), aggregate


async def committed(isolated: Isolated, group: str) -> dict[int, int]:
    """The offsets the consumer group has committed to Kafka, by partition of the case topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=isolated.kafka.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{isolated.prefix}{group}")
    finally:
        await admin.close()
    topic = physical_name(CASE_EVENTS.name, isolated.prefix)
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset >= 0}  # fmt: skip


async def test_the_groups_progress_reaches_kafka_at_its_interval_and_at_stop(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    """Redis holds what was applied; Kafka's committed offsets (what Kafka's own tools show)
    follow at most every consumer_commit_interval_ms, and in full when the consumer stops."""
    events = [case_filed_event(f"case-{n}") for n in range(12)]
    await publisher.publish_many(events)
    ends: dict[int, int] = {}
    for record in await read_topic(isolated, CASE_EVENTS.name):
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    slow = isolated.kafka.model_copy(update={"consumer_commit_interval_ms": 60_000})
    consumer = consumer_for(isolated, publisher, CountingProjection(), kafka=slow)
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:

        async def all_applied() -> bool:
            return len(await applied_counts(isolated)) == len(events)

        await eventually(all_applied)
        assert await committed(isolated, "bus-test") == {}  # within the interval: not yet
    finally:
        await consumer.stop()
        await task
    assert await committed(isolated, "bus-test") == ends


async def dead_letters(isolated: Isolated) -> list[tuple[bytes, dict[str, bytes]]]:
    records = await read_topic(isolated, CASE_EVENTS.dead_letter_name)
    return [(r.value or b"", dict(r.headers)) for r in records]


async def test_a_poison_message_is_dead_lettered_and_the_consumer_goes_on(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    before = [case_filed_event(f"case-{n}") for n in range(5)]
    after = [case_filed_event(f"case-{n}") for n in range(5, 10)]
    await publisher.publish_many(before)
    ack = await publisher.send_raw(CASE_EVENTS, b"\x00not protobuf at all\xff", "case-poison")
    await ack
    await publisher.publish_many(after)

    async def valid_applied() -> bool:
        return len(await applied_counts(isolated)) == 10

    await run_until(consumer_for(isolated, publisher, CountingProjection()), valid_applied)
    letters = await dead_letters(isolated)
    assert len(letters) == 1
    value, headers = letters[0]
    assert value == b"\x00not protobuf at all\xff"
    assert headers["dlq.reason"].startswith(b"invalid:")
    assert headers["dlq.group"] == b"bus-test"
    assert EVENT_TYPE_HEADER not in headers  # its source named no type


async def test_an_event_the_handler_rejects_is_dead_lettered_alone(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    events = [case_filed_event(f"case-{n}", amount=n + 1) for n in range(10)]
    events[4] = case_filed_event("case-4", amount=POISON_AMOUNT)
    await publisher.publish_many(events)

    async def others_applied() -> bool:
        return len(await applied_counts(isolated)) == 9

    await run_until(consumer_for(isolated, publisher, CountingProjection()), others_applied)
    assert events[4].event_id not in await applied_counts(isolated)
    letters = await dead_letters(isolated)
    assert [headers["dlq.reason"] for _, headers in letters] == [
        b"rejected by handler: ValueError: claim of 666 fen is refused by this projection"
    ]
    # It keeps the type its source named, to be read (or replayed) as the original was.
    assert [headers[EVENT_TYPE_HEADER] for _, headers in letters] == [b"zhixing.v1.CaseFiled"]


class RefusesWhileReading(CountingProjection):
    """Rejects the poison in ``prepare``, before anything is queued (as the deadline engine
    would reject an event it cannot read)."""

    async def prepare(self, events: Sequence[Event[Message]], pipe: Any) -> int:
        for event in events:
            payload = event.payload
            assert isinstance(payload, case_events_pb2.CaseFiled)
            if payload.claim_amount_fen == POISON_AMOUNT:
                raise ValueError("refused while reading")
        return len(events)


async def test_an_event_rejected_while_reading_is_dead_lettered_alone(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    events = [case_filed_event(f"case-{n}", amount=n + 1) for n in range(10)]
    events[7] = case_filed_event("case-7", amount=POISON_AMOUNT)
    await publisher.publish_many(events)

    async def others_applied() -> bool:
        return len(await applied_counts(isolated)) == 9

    await run_until(consumer_for(isolated, publisher, RefusesWhileReading()), others_applied)
    assert events[7].event_id not in await applied_counts(isolated)
    letters = await dead_letters(isolated)
    assert [headers["dlq.reason"] for _, headers in letters] == [
        b"rejected by handler: ValueError: refused while reading"
    ]


async def test_a_republished_event_is_applied_once(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    event = case_filed_event("case-1")
    await publisher.publish_many([event, case_filed_event("case-2"), event])

    async def both_seen() -> bool:
        return len(await applied_counts(isolated)) == 2

    await run_until(consumer_for(isolated, publisher, CountingProjection()), both_seen)
    await asyncio.sleep(0.5)
    assert (await applied_counts(isolated))[event.event_id] == 1


async def test_stop_lets_the_batch_in_flight_finish(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    in_batch = asyncio.Event()
    counting = CountingProjection()

    async def slow(events: Sequence[Event[Message]], tx: Transaction) -> None:
        await counting(events, tx)
        in_batch.set()
        await asyncio.sleep(0.5)

    events = [case_filed_event(f"case-{n}") for n in range(50)]
    await publisher.publish_many(events)
    consumer = consumer_for(isolated, publisher, slow)
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(in_batch.wait(), 30)
    await consumer.stop()
    await task
    applied_before_stop = await applied_counts(isolated)
    assert applied_before_stop, "the batch in flight was written before stopping"

    async def all_applied() -> bool:
        return len(await applied_counts(isolated)) == 50

    await run_until(consumer_for(isolated, publisher, CountingProjection()), all_applied)
    assert set((await applied_counts(isolated)).values()) == {1}


def start_worker(isolated: Isolated, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.consumer_worker"],
        cwd=ROOT,
        env={**isolated.env(), **extra},
    )


async def test_a_consumer_killed_mid_batch_applies_every_event_exactly_once(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    events = [case_filed_event(f"case-{n % 40}", amount=1000 + n) for n in range(1500)]
    await publisher.publish_many(events)

    # 1. Dies after writing its 3rd batch to Redis, before committing the offset to Kafka.
    worker = start_worker(isolated, CRASH_AFTER_WRITES="3")
    assert await asyncio.to_thread(worker.wait, 60) == 9
    after_crash = await applied_counts(isolated)
    assert 0 < len(after_crash) < len(events)

    # 2. Killed with SIGKILL at an arbitrary point while batches are slow.
    worker = start_worker(isolated, SLOW_BATCH_S="0.05")

    async def progressed() -> bool:
        return len(await applied_counts(isolated)) > len(after_crash) + 100

    await eventually(progressed)
    os.kill(worker.pid, signal.SIGKILL)
    await asyncio.to_thread(worker.wait, 30)

    # 3. Restarted, it finishes the rest.
    worker = start_worker(isolated)
    try:

        async def all_applied() -> bool:
            return len(await applied_counts(isolated)) == len(events)

        await eventually(all_applied)
        await asyncio.sleep(1)  # anything applied twice would show up now
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
    counts = await applied_counts(isolated)
    assert set(counts) == {e.event_id for e in events}
    assert set(counts.values()) == {1}
    # And every aggregate still saw its events in order.
    keys = KeySpace(isolated.prefix, "worker")
    for n in range(40):
        order = [int(x) for x in await isolated.redis.lrange(keys.key("order", f"case-{n}"), 0, -1)]
        assert order == sorted(order)


async def test_a_wiped_projection_is_rebuilt_by_replaying_the_topic(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    events = [case_filed_event(f"case-{n}") for n in range(30)]
    await publisher.publish_many(events)

    async def all_applied() -> bool:
        return len(await applied_counts(isolated)) == 30

    await run_until(consumer_for(isolated, publisher, CountingProjection()), all_applied)
    # Redis loses everything of this service; Kafka still has the group's committed offsets.
    keys = [k async for k in isolated.redis.scan_iter(match=f"{isolated.prefix}worker:*")]
    await isolated.redis.delete(*keys)
    assert await applied_counts(isolated) == {}

    await run_until(consumer_for(isolated, publisher, CountingProjection()), all_applied)
    assert set((await applied_counts(isolated)).values()) == {1}


async def test_projections_sharing_a_consumer_keep_their_own_offsets_and_rejections(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    events = [case_filed_event(f"case-{n}", amount=n + 1) for n in range(30)]
    events[4] = case_filed_event("case-4", amount=POISON_AMOUNT)
    await publisher.publish_many(events)

    def shared() -> EventConsumer:
        return EventConsumer(
            group="bus-test-shared",
            projections=[
                Projection("lenient", [CASE_EVENTS], CountingProjection("a", refuses_poison=False)),
                Projection("strict", [CASE_EVENTS], CountingProjection("b")),
            ],
            kafka=isolated.kafka, redis=isolated.redis,
            keys=KeySpace(isolated.prefix, "worker"), publisher=publisher,
        )  # fmt: skip

    async def both_applied() -> bool:
        return (
            len(await applied_counts(isolated, "a")) == 30
            and len(await applied_counts(isolated, "b")) == 29
        )

    consumer = shared()
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(both_applied)
        assert await consumer.lag() == 0  # both caught up, the dead-lettered event included
    finally:
        await consumer.stop()
        await task
    # Only the projection that refuses the event lost it, and the dead letter says which.
    assert events[4].event_id in await applied_counts(isolated, "a")
    letters = await dead_letters(isolated)
    assert [headers["dlq.group"] for _, headers in letters] == [b"strict"]

    # One projection is wiped with its offsets: it alone is rebuilt by the replay, and the
    # other applies nothing twice.
    worker = KeySpace(isolated.prefix, "worker")
    doomed = [k async for k in isolated.redis.scan_iter(match=worker.key("b") + "*")]
    doomed += [
        k async for k in isolated.redis.scan_iter(match=worker.key("consumer", "strict") + "*")
    ]
    await isolated.redis.delete(*doomed)
    assert await applied_counts(isolated, "b") == {}
    await run_until(shared(), both_applied)
    await asyncio.sleep(0.5)  # anything applied twice would show up now
    assert set((await applied_counts(isolated, "a")).values()) == {1}
    assert set((await applied_counts(isolated, "b")).values()) == {1}
    assert set(await applied_counts(isolated, "b")) == {e.event_id for e in events} - {
        events[4].event_id
    }


async def test_the_outbox_relay_sends_what_was_staged_in_order_and_empties_the_outbox(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    """Staged with their topic and key, events go out as the bytes staged (never decoded);
    one staged by an earlier version (bytes only) is decoded for its topic and key."""
    outbox = Outbox(KeySpace(isolated.prefix, "intake"))
    events = [case_filed_event(f"relay-{n}") for n in range(4)]
    async with isolated.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for event in events[:3]:
            outbox.stage(pipe, event)
        pipe.xadd(outbox.stream, {b"event": events[3].to_bytes()})  # as staged before
        await pipe.execute()
    sent = await relayed(isolated, publisher, outbox, staged=4, sent=4)
    by_key = {record.key.decode(): record.value for record in sent}
    assert by_key == {event.aggregate_id: event.to_bytes() for event in events}
    # Each names its type in a header, the one staged before included (it was decoded).
    assert [named_type(record.headers) for record in sent] == ["zhixing.v1.CaseFiled"] * 4


async def relayed(
    isolated: Isolated,
    publisher: EventPublisher,
    outbox: Outbox,
    *,
    staged: int,
    sent: int,
    relay: OutboxRelay | None = None,
) -> list[Any]:
    """One pass of the relay over the ``staged`` entries (the outbox empty after), and the
    case topic's records once ``sent`` are there."""
    relay = relay or OutboxRelay(redis=isolated.redis, outbox=outbox, publisher=publisher)
    assert await relay.relay_once() == staged
    assert await isolated.redis.xlen(outbox.stream) == 0
    records: list[Any] = []

    async def all_there() -> bool:
        records[:] = await read_topic(isolated, CASE_EVENTS.name)
        return len(records) >= sent

    await eventually(all_there)
    return records


def outbox_command(isolated: Isolated, *args: str) -> Any:
    """``zhixing outbox ...`` on the test's Redis."""
    from typer.testing import CliRunner

    from tools.cli import app

    env = {"ZHIXING_REDIS_URL": isolated.redis_settings.url,
           "ZHIXING_REDIS_KEY_PREFIX": isolated.prefix}  # fmt: skip
    return CliRunner().invoke(app, ["outbox", *args], env=env)


async def test_an_event_too_large_to_send_is_set_aside_with_its_aggregate_the_rest_go_on(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    """An event larger than a message may be would be refused for ever and stop the outbox:
    it is set aside with its aggregate's later events (in order), and the other events are
    sent. An operator lists what was set aside and asks for an aggregate to be sent again;
    still too large, it stays set aside. (The rest: tests/unit/test_outbox_parking.py.)"""
    outbox = Outbox(KeySpace(isolated.prefix, "intake"))
    huge = new_event(  # 1.2 MB: past the 1 MiB a message may be
        case_events_pb2.CaseFiled(case_id="relay-huge", case_type_code="执" * 400_000),
        aggregate_id="relay-huge", court_code="苏1283", actor=ACTOR, clock=SimulatedClock(START),
    )  # fmt: skip
    staged = [case_filed_event("relay-0"), huge, case_filed_event("relay-2"),
              case_filed_event("relay-huge")]  # fmt: skip
    async with isolated.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for event in staged:
            outbox.stage(pipe, event)
        await pipe.execute()
    relay = OutboxRelay(redis=isolated.redis, outbox=outbox, publisher=publisher)
    sent = await relayed(isolated, publisher, outbox, staged=4, sent=2, relay=relay)
    assert sorted(record.key.decode() for record in sent) == ["relay-0", "relay-2"]
    parked = await parking(isolated.redis, outbox, limit=10)
    assert parked.held == ["case|relay-huge"] and parked.total == 2
    assert parked.events[0].size == len(huge.to_bytes())
    assert "larger than the producer sends" in parked.events[0].reason
    # An operator lists them (exit 1: something is set aside), on the service's Redis.
    listed = await asyncio.to_thread(outbox_command, isolated, "parked", "--service", "intake")
    assert listed.exit_code == 1, listed.output
    assert "case|relay-huge" in listed.stdout and "2 events set aside" in listed.stdout
    unknown = await asyncio.to_thread(outbox_command, isolated, "parked", "--service", "nobody")
    assert unknown.exit_code == 2 and "no service 'nobody'" in unknown.stderr
    refused = await asyncio.to_thread(outbox_command, isolated, "requeue", "--service", "intake",
                                      "case|relay-huge", "case|nobody")  # fmt: skip
    assert refused.exit_code == 1 and "not held in intake's outbox: case|nobody" in refused.stderr
    asked = await asyncio.to_thread(outbox_command, isolated, "requeue", "--service", "intake",
                                    "case|relay-huge")  # fmt: skip
    assert asked.exit_code == 0, asked.output
    # The producer's limit unchanged, it is still too large: it stays set aside, in order.
    await relay.relay_once()
    parked = await parking(isolated.redis, outbox, limit=10)
    assert (parked.total, parked.held, parked.requeued) == (2, ["case|relay-huge"], [])
    assert [event.staged_id for event in parked.events] == sorted(
        event.staged_id for event in parked.events
    )


class Closures:
    """A projection acting on closures only: it says so (``handles``)."""

    handles = (case_events_pb2.CaseClosed,)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:  # counts whatever it is given: a filing would show
            tx.pipe.hincrby(tx.keys.key("closures", "applied"), event.event_id, 1)


class Filings(CountingProjection):
    """The counting projection, which takes filings only (a closure would fail it)."""

    handles = (case_events_pb2.CaseFiled,)


async def test_a_projection_is_given_only_the_event_types_it_handles(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    filings = [case_filed_event(f"case-{n}") for n in range(8)]
    closures = [
        new_event(case_events_pb2.CaseClosed(case_id=f"case-{n}", method="执行完毕"),
                  aggregate_id=f"case-{n}", court_code="苏1283", actor=ACTOR,
                  clock=SimulatedClock(START))
        for n in range(0, 8, 3)
    ]  # fmt: skip
    await publisher.publish_many([*filings, *closures])
    keys = KeySpace(isolated.prefix, "worker")
    consumer = EventConsumer(
        group="bus-test-selective",
        projections=[
            Projection("closures", [CASE_EVENTS], Closures()),
            Projection("filings", [CASE_EVENTS], Filings("filings")),
        ],
        kafka=isolated.kafka, redis=isolated.redis, keys=keys, publisher=publisher,
    )  # fmt: skip

    async def both_applied() -> bool:
        return (
            len(await applied_counts(isolated, "closures")) == len(closures)
            and len(await applied_counts(isolated, "filings")) == len(filings)
            and await consumer.lag() == 0
        )

    await run_until(consumer, both_applied)
    assert set(await applied_counts(isolated, "closures")) == {e.event_id for e in closures}
    assert await dead_letters(isolated) == []  # the filings' counter was given no closure
    # The filings passed over were not remembered as applied; the offsets went past them.
    marks = [k async for k in isolated.redis.scan_iter(
        match=keys.key("consumer", "closures", "applied") + ":*")]  # fmt: skip
    assert sorted(as_text(k).rsplit(":", 1)[-1] for k in marks) == sorted(
        e.event_id for e in closures
    )


async def test_a_record_whose_header_names_a_type_no_projection_handles_is_not_decoded(
    isolated: Isolated, publisher: EventPublisher
) -> None:
    """A consumer passes over, undecoded, a record whose header names a type its projection
    does not handle: bytes that are no event, under a closure's name, are not dead-lettered
    by a consumer of filings. Under a filing's name they are decoded, found invalid and
    dead-lettered: the header only spares work, the envelope decides."""
    filings = [case_filed_event(f"case-{n}") for n in range(3)]
    garbage = b"\x00not protobuf at all\xff"
    await publisher.publish_many(filings[:1])
    await (await publisher.send_raw(CASE_EVENTS, garbage + b" closure", "case-x",
                                    [type_header("zhixing.v1.CaseClosed")]))  # fmt: skip
    await publisher.publish_many(filings[1:2])
    await (await publisher.send_raw(CASE_EVENTS, garbage + b" filing", "case-y",
                                    [type_header("zhixing.v1.CaseFiled")]))  # fmt: skip
    await publisher.publish_many(filings[2:])
    keys = KeySpace(isolated.prefix, "worker")
    consumer = EventConsumer(
        group="bus-test",
        projections=[Projection("filings", [CASE_EVENTS], Filings("filings"))],
        kafka=isolated.kafka, redis=isolated.redis, keys=keys, publisher=publisher,
    )  # fmt: skip

    async def applied() -> bool:
        return len(await applied_counts(isolated, "filings")) == 3 and await consumer.lag() == 0

    await run_until(consumer, applied)
    letters = await dead_letters(isolated)
    assert [value for value, _ in letters] == [garbage + b" filing"]


async def test_an_unreadable_entry_set_aside_is_dropped_only_once_kept_in_a_file(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    """An outbox entry that cannot be read is set aside holding no aggregate, and no requeue
    can send it: an operator drops it, written whole to a new file first. An event set aside
    holding its aggregate is never dropped (requeued instead); all or none."""
    outbox = Outbox(KeySpace(isolated.prefix, "intake"))
    huge = new_event(
        case_events_pb2.CaseFiled(case_id="drop-huge", case_type_code="执" * 400_000),
        aggregate_id="drop-huge", court_code="苏1283", actor=ACTOR, clock=SimulatedClock(START),
    )  # fmt: skip
    async with isolated.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.xadd(outbox.stream, {b"junk": "无法读取".encode()})
        outbox.stage(pipe, huge)
        await pipe.execute()
    relay = OutboxRelay(redis=isolated.redis, outbox=outbox, publisher=publisher)
    assert await relay.relay_once() == 2
    unreadable, too_large = (await parking(isolated.redis, outbox, limit=10)).events
    assert (unreadable.hold, too_large.hold) == ("", "case|drop-huge")
    kept = tmp_path / "dropped.json"

    async def drop(*ids: str) -> Any:
        return await asyncio.to_thread(
            outbox_command, isolated, "drop", "--service", "intake", "--to", str(kept), *ids
        )

    refused = await drop(unreadable.parked_id, too_large.parked_id)
    assert refused.exit_code == 1, refused.output
    assert f"{too_large.parked_id}: it holds case|drop-huge: requeue it" in refused.stderr
    assert not kept.exists() and (await parking(isolated.redis, outbox, limit=10)).total == 2
    malformed = await drop("junk")
    assert malformed.exit_code == 2 and "not a parked id" in malformed.stderr
    dropped = await drop(unreadable.parked_id)
    assert dropped.exit_code == 0, dropped.output
    written = json.loads(kept.read_text(encoding="utf-8"))
    assert written[unreadable.parked_id]["junk"].encode("latin-1").decode() == "无法读取"
    assert "without an event" in written[unreadable.parked_id]["parked_reason"]
    (left,) = (await parking(isolated.redis, outbox, limit=10)).events
    assert left.parked_id == too_large.parked_id
    again = await drop(unreadable.parked_id)  # the file exists now
    assert again.exit_code == 2 and "exists" in again.stderr
    kept.unlink()
    gone = await drop(unreadable.parked_id)
    assert gone.exit_code == 1 and "not set aside" in gone.stderr
