"""`zhixing audit verify` on a live chain: records keep being appended and signed while it
reads. What it reads first must be what can only be older, or a healthy chain is reported
truncated (the crash campaign saw `TRUNCATED: the chain holds 16345 records; a signed
checkpoint covers 16387` once, with the notification worker still retrying)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import fakeredis
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.factories import case_filed_event
from zhixing import audit_check
from zhixing.anchor import leaves_of, sign_checkpoint
from zhixing.audit import GENESIS_HASH, AuditChain, audit_record, canonical_json
from zhixing.events import Event
from zhixing.merkle import root_of
from zhixing.settings import KafkaSettings
from zhixing.state import KeySpace
from zhixing.v1 import audit_events_pb2

KEYS = KeySpace("t.", "command")
KEY = Ed25519PrivateKey.generate()


class LiveChain:
    """A chain in (in-memory) Redis that grows the way the command service writes it: a
    batch's records and its head in one transaction."""

    def __init__(self) -> None:
        self.redis = fakeredis.FakeAsyncRedis()
        self.chain = AuditChain(self.redis, KEYS)
        self.events: list[Event[Any]] = []
        self.raw: list[bytes] = []
        self.last_hash = GENESIS_HASH

    async def append(self, n: int) -> None:
        encoded: list[bytes] = []
        for _ in range(n):
            event = case_filed_event(f"case-{len(self.events)}")
            record = audit_record(event, seq=len(self.raw) + len(encoded),
                                  prev_hash=self.last_hash)  # fmt: skip
            encoded.append(canonical_json(record))
            self.events.append(event)
            self.last_hash = record["hash"]
        self.raw += encoded
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self.chain.records_key, *encoded)
            pipe.hset(self.chain.head_key,
                      mapping={"length": len(self.raw), "hash": self.last_hash})  # fmt: skip
            await pipe.execute()

    def signed(self) -> audit_events_pb2.AuditCheckpoint:
        return sign_checkpoint(
            KEY, chain="command", size=len(self.raw), root=root_of(leaves_of(self.raw)),
            last_record_hash=self.last_hash, at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
        )  # fmt: skip


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> LiveChain:
    """While verify looks up the latest checkpoint, the platform appends three records and
    the notary signs them; the Kafka log holds every event appended."""
    chain = LiveChain()

    async def latest_checkpoint(kafka: KafkaSettings, name: str) -> Any:
        await chain.append(3)
        return chain.signed()

    async def logged_events(kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
        return {e.event_id: audit_record(e, seq=0, prev_hash="") for e in chain.events}

    monkeypatch.setattr(audit_check, "latest_checkpoint", latest_checkpoint)
    monkeypatch.setattr(audit_check, "logged_events", logged_events)
    return chain


async def test_a_chain_signed_while_verified_is_not_reported_truncated(live: LiveChain) -> None:
    await live.append(5)
    report = await audit_check.verify(live.redis, KEYS, KafkaSettings(), KEY.public_key())
    assert report.ok, report.failures
    assert report.records == 8
    assert any("the first 8 records match" in note for note in report.notes), report.notes


async def test_a_truncated_chain_is_still_reported(live: LiveChain) -> None:
    """The order protects a growing chain, not a cut one: records and head cut back after
    the notary signed them are caught."""
    await live.append(5)
    signed = live.signed()

    async def cut_after_signing(kafka: KafkaSettings, name: str) -> Any:
        return signed

    live.raw = live.raw[:3]
    await live.redis.ltrim(live.chain.records_key, 0, 2)
    third = json.loads(live.raw[2])["hash"]
    await live.redis.hset(live.chain.head_key, mapping={"length": 3, "hash": third})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_check, "latest_checkpoint", cut_after_signing)
        report = await audit_check.verify(live.redis, KEYS, KafkaSettings(), KEY.public_key())
    assert report.failures == ["TRUNCATED: the chain holds 3 records; a signed checkpoint covers 5"]


async def test_records_appended_after_the_head_was_read_are_left_out() -> None:
    chain = LiveChain()
    await chain.append(4)
    head = await chain.chain.read_head()
    # A batch's records land after a reader took the head (as if between its two reads).
    await chain.redis.rpush(chain.chain.records_key, b"{}", b"{}")
    read_head, raw = await chain.chain.snapshot()
    assert read_head == head and raw == chain.raw
    assert (await chain.chain.verify()).intact
