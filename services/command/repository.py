"""The command actions' records in Redis: the only code that knows their keys.

``command:command-action:<id>`` is a command action (JSON, with its history);
``command:command-actions:<court>`` indexes the actions that concern a court (issued by it,
sent to it, moving a case to it, lending it officers).

The command centre's read models (board, figures, timelines, case overviews, access log)
are projections, each owning its own keys.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from zhixing.records import IndexedRecords
from zhixing.state import KeySpace


class ActionRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "command-action", index="command-actions")
