"""The credit service's records in Redis: the only code that knows their keys.

Records (under ``credit:``):
- ``case:<case id>``: a case's credit record as JSON (its court, number and officer, its
  debtors, restrictions, listings, decisions not to list, and history);
- ``court:<code>``: the ids of the cases a court handles;
- ``subject:<id number>``: the ids of the cases on which a debtor with that resident ID or
  unified social credit code was ever restricted or listed (what the query by ID reads);
- ``early-requeries:<case id>``: the numbers of the re-queries after 终本 that found nothing,
  read before the case's filing (the asset and case topics are read side by side): counted
  when the filing is (kept ``EARLY_TTL_S``; a case filed before this service ran has none).

Every change to a case is one optimistic transaction over its record (``change_case``).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.records import IndexedRecords
from zhixing.state import KeySpace, as_text, transact

T = TypeVar("T")
Record = dict[str, Any]

EARLY_TTL_S = 7 * 24 * 3600


class CreditRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "case", index="court")
        self.redis = redis
        self.keys = keys

    def subject_key(self, id_number: str) -> str:
        return self.keys.key("subject", id_number)

    # --- reading ---------------------------------------------------------------------------

    async def cases_of_subject(self, id_number: str) -> list[Record]:
        """The credit records of the cases ``id_number`` was ever restricted or listed on."""
        ids = sorted(as_text(i) for i in await self.redis.smembers(self.subject_key(id_number)))
        return await self.many(ids)

    # --- writing ---------------------------------------------------------------------------

    def open(self, pipe: Pipeline, record: Record) -> None:
        self.add(pipe, record["case_id"], record, [record["court_code"]])

    def move(self, pipe: Pipeline, case_id: str, from_court: str, to_court: str) -> None:
        pipe.srem(self.index_key(from_court), case_id)
        self.index(pipe, to_court, case_id)

    def index_subject(self, pipe: Pipeline, id_number: str, case_id: str) -> None:
        pipe.sadd(self.subject_key(id_number), case_id)

    def early_requeries_key(self, case_id: str) -> str:
        return self.keys.key("early-requeries", case_id)

    async def open_once(
        self, record: Record, with_early: Callable[[Record, list[int]], None] | None = None
    ) -> bool:
        """Keep a new case's record unless it is kept already (idempotent); what was kept
        for it before (``keep_early_requery``) is given to ``with_early`` first, and
        dropped."""
        key = self.key(record["case_id"])
        early = self.early_requeries_key(record["case_id"])

        async def body(pipe: Pipeline) -> bool:
            if await pipe.exists(key):
                return False
            kept = sorted(int(n) for n in await pipe.smembers(early))
            pipe.multi()  # type: ignore[no-untyped-call]
            opened = record
            if kept and with_early is not None:
                opened = copy.deepcopy(record)  # a retry starts again from the record given
                with_early(opened, kept)
            self.open(pipe, opened)
            pipe.delete(early)
            return True

        return await transact(self.redis, [key, early], body)

    async def keep_early_requery(self, case_id: str, requery_number: int) -> bool:
        """Keep a re-query that found nothing for the case's filing, unless the case is kept
        by now (False: count it; ``keep_until_kept``)."""
        early = self.early_requeries_key(case_id)

        def keep(pipe: Pipeline) -> None:
            pipe.sadd(early, requery_number)
            pipe.expire(early, EARLY_TTL_S)

        return await self.keep_until_kept(case_id, keep)

    async def change_case(
        self, case_id: str, act: Callable[[Pipeline, Record], Awaitable[T]], *,
        missing: str | None = None,
    ) -> T:  # fmt: skip
        """Run ``act(pipe, record)`` in one transaction over the case's record
        (``JsonRecords.change``)."""
        return await self.change(
            case_id, act, missing=missing or f"no credit record of case {case_id}"
        )
