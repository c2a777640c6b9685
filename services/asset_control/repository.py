"""Asset control's records in Redis: the only code that knows their keys.

Records (JSON under ``asset_control:``, written with orjson):
- ``case:<case id>``: what the case needs (claim + costs), its debtors, the value reserved
  by controls, and the network query: one unit per debtor and channel;
- ``asset:<asset id>``: an asset of a case (the same outside asset in two cases is two case
  assets with one ``asset_key``), with its control and disposal state;
- ``queue:<asset key>``: the case assets controlling one outside asset, first seizure (首封)
  first, then the waiting seizures (轮候) in order, across courts;
- ``lead:<lead id>``: an asset lead and its verification;
- ``early-controls:<case id>``: controls entrusted courts made for a case whose filing this
  service has not read yet (the entrustment and case topics are read side by side), by asset
  id, each its EntrustmentCompleted event as read; recorded and dropped with the filing;
- ``due``, ``due-cases``, ``due-case:<case id>``: the agency worker's work (controls, and
  query units scheduled fairly across courts and cases): see ``schedule.py``.

Every change is one optimistic transaction (``transact``) over the records it reads: the
handler's body reads with the pipeline in WATCH mode, then queues its writes after
``pipe.multi()``, its events staged in the outbox of the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from services.asset_control.schedule import WorkQueue
from zhixing.state import KeySpace, transact, watch_and_read

T = TypeVar("T")


class AssetRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self.redis = redis
        self.keys = keys
        self.work = WorkQueue(redis, keys)

    # --- keys ------------------------------------------------------------------------------

    def case_key(self, case_id: str) -> str:
        return self.keys.key("case", case_id)

    def asset_key(self, asset_id: str) -> str:
        return self.keys.key("asset", asset_id)

    def queue_key(self, outside_key: str) -> str:
        return self.keys.key("queue", outside_key)

    def lead_key(self, lead_id: str) -> str:
        return self.keys.key("lead", lead_id)

    def early_controls_key(self, case_id: str) -> str:
        return self.keys.key("early-controls", case_id)

    # --- reads -----------------------------------------------------------------------------

    @staticmethod
    async def load(client: Any, key: str) -> dict[str, Any] | None:
        raw = await client.get(key)
        return orjson.loads(raw) if raw is not None else None

    @staticmethod
    async def load_queue(client: Any, key: str) -> list[str]:
        raw = await client.get(key)
        return list(orjson.loads(raw)) if raw is not None else []

    @staticmethod
    def as_queue(loaded: Any) -> list[str]:
        """A queue among records loaded together (``watch_and_load``, ``load_many``):
        ``None`` when there is none yet."""
        return list(loaded) if loaded is not None else []

    @staticmethod
    async def load_many(client: Any, keys: Sequence[str]) -> list[Any]:
        """Several records in one round trip (``None`` for each missing one)."""
        return AssetRecords._records(await client.mget(list(keys)) if keys else [])

    @staticmethod
    def _records(raws: Sequence[Any]) -> list[Any]:
        """Records read with one MGET (``None`` for each missing one)."""
        return [orjson.loads(raw) if raw is not None else None for raw in raws]

    @staticmethod
    async def watch_and_load(pipe: Pipeline, keys: Sequence[str]) -> list[Any]:
        """WATCH ``keys`` and load their records, in one round trip (``None`` for each
        missing one)."""
        (raws,) = await watch_and_read(pipe, keys, [("MGET", *keys)])
        return AssetRecords._records(raws)

    async def case(self, case_id: str) -> dict[str, Any] | None:
        return await self.load(self.redis, self.case_key(case_id))

    async def asset(self, asset_id: str) -> dict[str, Any] | None:
        return await self.load(self.redis, self.asset_key(asset_id))

    async def lead(self, lead_id: str) -> dict[str, Any] | None:
        return await self.load(self.redis, self.lead_key(lead_id))

    async def assets_of(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        found = await self.load_many(self.redis, [self.asset_key(a) for a in case["assets"]])
        return [record for record in found if record is not None]

    # --- writes ----------------------------------------------------------------------------

    @staticmethod
    def put(pipe: Pipeline, key: str, record: Any) -> None:
        # orjson: a national day's profile had a twentieth of this service's CPU in the
        # standard library's JSON. Integer keys are written as text, as json.dumps writes
        # them; what either library wrote, the other reads.
        pipe.set(key, orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS))

    async def transact(self, keys: Sequence[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``body`` in one optimistic transaction watching ``keys`` (retried when one
        of them changed under it)."""
        return await transact(self.redis, list(keys), body)

    async def transact_loaded(
        self, keys: Sequence[str], body: Callable[[Pipeline, list[Any]], Awaitable[T]]
    ) -> T:
        """``transact`` for a body that starts by reading the records it watches: it is given
        them (``None`` for each missing one), watched and read in one round trip instead
        of two."""

        async def loaded(pipe: Pipeline) -> T:
            return await body(pipe, await self.watch_and_load(pipe, keys))

        return await transact(self.redis, [], loaded)
