"""The notary's records in Redis: the only code that knows their keys.

Keys (under ``audit_notary:``): ``leaves:<chain>`` (list of 32-byte RFC 6962 leaf hashes),
``state:<chain>`` (size, last record hash, alarm), ``checkpoint:<chain>`` (the latest
signed checkpoint, serialized).
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.audit import GENESIS_HASH
from zhixing.state import KeySpace, as_bytes, text_hash
from zhixing.v1 import audit_events_pb2


class NotaryRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace, chain: str) -> None:
        self.redis = redis
        self.leaves_key = keys.key("leaves", chain)
        self.state_key = keys.key("state", chain)
        self.checkpoint_key = keys.key("checkpoint", chain)

    async def state(self) -> tuple[int, str, str]:
        """How far the chain was followed: its size, the last record's hash, any alarm."""
        stored = text_hash(await self.redis.hgetall(self.state_key))
        return (int(stored.get("size", 0)), stored.get("last_hash", GENESIS_HASH),
                stored.get("alarm", ""))  # fmt: skip

    def followed(
        self, pipe: Pipeline, leaves: list[bytes], size: int, last_hash: str, alarm: str
    ) -> None:
        """Queue the leaves of the records just followed, and where the following stands."""
        if leaves:
            pipe.rpush(self.leaves_key, *leaves)
        state: dict[str, str | int] = {"size": size, "last_hash": last_hash}
        if alarm:
            state["alarm"] = alarm
        pipe.hset(self.state_key, mapping=state)  # type: ignore[arg-type]

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``start`` to ``end`` (inclusive)."""
        return [as_bytes(leaf) for leaf in await self.redis.lrange(self.leaves_key, start, end)]

    async def latest(self) -> audit_events_pb2.AuditCheckpoint | None:
        raw = await self.redis.get(self.checkpoint_key)
        return audit_events_pb2.AuditCheckpoint.FromString(as_bytes(raw)) if raw else None

    def save_checkpoint(self, pipe: Pipeline, signed: audit_events_pb2.AuditCheckpoint) -> None:
        pipe.set(self.checkpoint_key, signed.SerializeToString())
