"""A projection keeping one Redis hash per case from the events it follows: the command
centre's views of a case's 终本 and credit punishment (``case_zhongben``, ``case_credit``).

A subclass names the events it follows and, for each, the fields the event sets given what
the hash holds so far; the batch reads each case's hash once and writes only what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import redis.asyncio as aioredis
from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.state import KeySpace, read_hashes, text_hash


class CaseHashProjection:
    FOLLOWED: ClassVar[tuple[type[Message], ...]]
    KEY: ClassVar[str]  # the key space's name for the hashes

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, case_id: str) -> str:
        return self._keys.key(self.KEY, case_id)

    async def read(self, case_id: str) -> dict[str, str]:
        return text_hash(await self._redis.hgetall(self.key(case_id)))

    async def read_many(self, case_ids: Sequence[str]) -> list[dict[str, str]]:
        return await read_hashes(self._redis, [self.key(c) for c in case_ids])

    @property
    def handles(self) -> tuple[type[Message], ...]:
        """What the consumer gives it (``SelectiveHandler``): the events it follows."""
        return self.FOLLOWED

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        followed = [e for e in events if isinstance(e.payload, self.FOLLOWED)]
        cases = sorted({e.payload.case_id for e in followed})  # type: ignore[attr-defined]
        known = dict(
            zip(cases, await read_hashes(tx.redis, [self.key(c) for c in cases]), strict=True)
        )
        for event in followed:
            payload: Any = event.payload
            case = known[payload.case_id]
            changes = self._changes(payload, case)
            if changes:
                case.update(changes)
                tx.pipe.hset(self.key(payload.case_id), mapping=changes)  # type: ignore[arg-type]

    @staticmethod
    def _changes(p: Any, case: dict[str, str]) -> dict[str, str]:
        """The fields ``p`` sets in the case's hash (``case``: what is known so far)."""
        raise NotImplementedError
