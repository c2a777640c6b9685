"""The audit trail checked from outside: its chain in Redis against the notary's latest
signed checkpoint and against the Kafka log it was built from (``zhixing audit verify``),
and watched against the last checkpoint trusted (``zhixing audit watch``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zhixing import kafka_connections as _mends_aiokafka  # noqa: F401  (see the module)
from zhixing.anchor import (
    Trusted,
    check_against_checkpoint,
    check_against_log,
    leaves_of,
    signature_valid,
    watch_once,
)
from zhixing.audit import AuditChain, audit_record, verify_chain
from zhixing.events import InvalidEvent, decode_event
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace
from zhixing.topics import AUDIT_CHECKPOINTS, AUDITED_TOPICS, Topic, physical_name
from zhixing.v1 import audit_events_pb2

__all__ = [
    "Report",
    "latest_checkpoint",
    "logged_events",
    "read_chain",
    "read_topics",
    "verify",
    "watch",
]


async def read_chain(redis: aioredis.Redis, keys: KeySpace) -> list[bytes]:
    return await AuditChain(redis, keys).raw_records()


async def read_topics(kafka: KafkaSettings, topics: Sequence[Topic]) -> list[bytes]:
    """Every message of ``topics`` now in the log, from the beginning (no consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=f"audit-check-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    try:
        # Inside the try: a start that cannot reach Kafka has opened a client all the same,
        # and it is closed before the error goes on.
        await consumer.start()
        existing = await consumer.topics()
        partitions = [
            TopicPartition(physical_name(topic.name, kafka.topic_prefix), number)
            for topic in topics
            if physical_name(topic.name, kafka.topic_prefix) in existing
            for number in range(topic.partitions)  # as declared in zhixing.topics
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in partitions])

        while await behind():
            fetched = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in fetched.values():
                values += [r.value for r in records if r.value is not None]
        return values
    finally:
        await consumer.stop()


async def latest_checkpoint(
    kafka: KafkaSettings, chain: str
) -> audit_events_pb2.AuditCheckpoint | None:
    latest = None
    for value in await read_topics(kafka, [AUDIT_CHECKPOINTS]):
        try:
            event = decode_event(value)
        except InvalidEvent:
            continue
        payload = event.payload
        if not isinstance(payload, audit_events_pb2.AuditCheckpoint) or payload.chain != chain:
            continue
        if latest is None or payload.size >= latest.size:
            latest = payload
    return latest


async def logged_events(kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
    """Every audited event in the log, by id, in the shape of an audit record."""
    logged: dict[str, dict[str, Any]] = {}
    for value in await read_topics(kafka, AUDITED_TOPICS):
        try:
            event = decode_event(value)
        except InvalidEvent:
            continue
        logged[event.event_id] = audit_record(event, seq=0, prev_hash="")
    return logged


@dataclass
class Report:
    records: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


async def verify(
    redis: aioredis.Redis, keys: KeySpace, kafka: KafkaSettings | None,
    public_key: Ed25519PublicKey | None,
) -> Report:  # fmt: skip
    """The chain's links; then, with a public key, the latest signed checkpoint; then, with
    Kafka, every record against the event it was built from.

    On a live platform the chain keeps growing while it is checked, so what can only be
    older is read first: the checkpoint before the chain (a checkpoint read after it may
    cover records appended meanwhile and look like a truncation), the chain's head before
    its records, and the log after them (events not recorded yet are only noted)."""
    checkpoint = None
    if kafka is not None and public_key is not None:
        checkpoint = await latest_checkpoint(kafka, keys.service)
    head, raw = await AuditChain(redis, keys).snapshot()
    report = Report(len(raw))
    verdict = verify_chain(raw, head)
    if not verdict.intact:
        report.failures.append(f"BROKEN at record {verdict.first_bad}: {verdict.reason}")
    if kafka is None:
        return report
    if public_key is not None:
        if checkpoint is None:
            report.notes.append("no signed checkpoint yet: only the links were checked")
        elif not signature_valid(public_key, checkpoint):
            report.failures.append("FORGED: the latest checkpoint's signature is not the "
                                   "notary's")  # fmt: skip
        else:
            problem = check_against_checkpoint(leaves_of(raw), checkpoint)
            if problem is not None:
                report.failures.append(problem)
            else:
                report.notes.append(f"the first {checkpoint.size} records match the checkpoint "
                                    f"signed at {checkpoint.signed_at.ToJsonString()}")  # fmt: skip
    logged = await logged_events(kafka)
    records = [json.loads(r) for r in raw]
    report.failures += check_against_log(records, logged)
    recorded = {r["event_id"] for r in records}
    unrecorded = [event_id for event_id in logged if event_id not in recorded]
    if unrecorded:
        report.notes.append(f"{len(unrecorded)} logged events are not in the chain yet (the "
                            "audit projection may not have caught up)")  # fmt: skip
    return report


async def watch(
    redis: aioredis.Redis, keys: KeySpace, kafka: KafkaSettings, public_key: Ed25519PublicKey,
    state_file: Path,
) -> tuple[Trusted | None, list[str]]:  # fmt: skip
    """One look of the watcher: alarms, and the checkpoint now trusted (saved)."""
    trusted = Trusted.load(state_file)
    checkpoint = await latest_checkpoint(kafka, keys.service)
    raw = await read_chain(redis, keys)
    trusted_now, alarms = watch_once(trusted, checkpoint, public_key, raw)
    if trusted_now is not None and trusted_now != trusted:
        trusted_now.save(state_file)
    return trusted_now, alarms
