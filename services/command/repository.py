"""The command actions' records in Redis: the only code that knows their keys.

``command:command-action:<id>`` is a command action (JSON, with its history);
``command:command-actions:<court>`` indexes the actions that concern a court (issued by it,
sent to it, moving a case to it, lending it officers).

The command centre's read models (board, figures, timelines, case overviews, access log)
are projections, each owning its own keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.records import JsonRecords, ids_in_jurisdiction
from zhixing.state import KeySpace, transact

T = TypeVar("T")


class ActionRecords(JsonRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "command-action")

    def index(self, court: str) -> str:
        return self._keys.key("command-actions", court)

    def add(self, pipe: Pipeline, record: dict[str, Any], *, courts: Sequence[str]) -> None:
        """Queue a new action and its place in the index of every court it concerns."""
        self.put(pipe, record["command_id"], record)
        for court in courts:
            pipe.sadd(self.index(court), record["command_id"])

    async def in_jurisdiction(self, court: str) -> list[dict[str, Any]]:
        """The actions of ``court`` and of every court below it."""
        return await self.many(await ids_in_jurisdiction(self._redis, self.index, court))

    async def transact(self, body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """One transaction that reads nothing it must watch (new records only)."""
        return await transact(self._redis, [], body)
