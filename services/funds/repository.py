"""The funds service's records in Redis: the only code that knows their keys.

Records (under ``funds:``):
- ``case:<case id>``: a case's ledger as JSON (its account, payments, holds, notices,
  payouts, deductions, account changes, running counters and history);
- ``court:<code>``: the ids of the cases a court handles (what a court, and the courts
  above it, list and reconcile);
- ``account:<account number>``: the case an account belongs to (money is matched by it);
- ``bank-ref:<reference>``: the payment a bank reference was recorded as (a transfer
  reported twice is one receipt);
- ``totals:<code>``: a court's running sums (received, paid, lodged), changed with every
  act, which reconciliation checks against the sum of the court's cases (each sum in two
  counters, ``zhixing.money``, so no court's years of money overflow a Redis integer);
- ``asset:<asset id>``: what asset control published about an asset (its case, key, kind,
  the amount controlled and who controlled it);
- ``deduction:<id>``: the case a deduction belongs to (the outside systems answer by its
  id);
- ``deductions:due``: deductions to submit to the outside systems, by when (ms);
- ``early-proceeds:<case id>``: sale proceeds read before the case's filing (the topics are
  read side by side), by reference, as JSON: recorded when the filing is read. Not expired:
  it is money; a case that is never filed here keeps them listed, and each is logged.

Every change to a case is one optimistic transaction over its ledger (``change``), with the
keys it also reads (a bank reference) watched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.money import add_fen, fen_of
from zhixing.polling import WorkSignal
from zhixing.records import IndexedRecords
from zhixing.state import KeySpace, as_text, text_hash

T = TypeVar("T")
Record = dict[str, Any]

COUNTERS = ("received_fen", "paid_fen", "lodged_fen")


class FundsRecords(IndexedRecords):
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        super().__init__(redis, keys, "case", index="court")
        self.redis = redis
        self.keys = keys
        # Published with every deduction scheduled: wakes the worker resting after empty rounds.
        self.deductions_signal = WorkSignal(redis, keys.key("deductions", "queued"))

    # --- keys ----------------------------------------------------------------------------

    def account_key(self, account_number: str) -> str:
        return self.keys.key("account", account_number)

    def bank_ref_key(self, reference: str) -> str:
        return self.keys.key("bank-ref", reference)

    def totals_key(self, court: str) -> str:
        return self.keys.key("totals", court)

    def asset_key(self, asset_id: str) -> str:
        return self.keys.key("asset", asset_id)

    def early_proceeds_key(self, case_id: str) -> str:
        return self.keys.key("early-proceeds", case_id)

    def deduction_key(self, deduction_id: str) -> str:
        return self.keys.key("deduction", deduction_id)

    @property
    def due_key(self) -> str:
        return self.keys.key("deductions", "due")

    # --- reading ---------------------------------------------------------------------------

    async def case_of_account(self, account_number: str) -> str | None:
        raw = await self.redis.get(self.account_key(account_number))
        return as_text(raw) if raw is not None else None

    async def payment_of_reference(
        self, reference: str, client: aioredis.Redis | Pipeline | None = None
    ) -> tuple[str, str] | None:
        """(case id, payment id) of the receipt recorded under ``reference``
        (``remember_reference``), or None."""
        raw = await (client or self.redis).get(self.bank_ref_key(reference))
        if raw is None:
            return None
        case_id, _, payment_id = as_text(raw).partition("|")
        return case_id, payment_id

    async def asset(self, asset_id: str, pipe: Pipeline | None = None) -> dict[str, str] | None:
        """What events said of the asset (None if nothing), read through ``pipe`` when given
        (a transaction that watches ``asset_key(asset_id)``)."""
        raw = await (pipe or self.redis).hgetall(self.asset_key(asset_id))
        return text_hash(raw) if raw else None

    async def court_totals(self, court: str) -> dict[str, int]:
        raw = text_hash(await self.redis.hgetall(self.totals_key(court)))
        return {name: fen_of(raw, name) for name in COUNTERS}

    async def due_deductions(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        """(case id, deduction id) of the deductions due by ``now_ms``."""
        members = await self.redis.zrangebyscore(self.due_key, 0, now_ms, start=0, num=limit)
        pairs = [
            as_text(member).split("|", 1) for member in members if isinstance(member, bytes | str)
        ]
        return [(case_id, deduction_id) for case_id, deduction_id in pairs]

    # --- writing ---------------------------------------------------------------------------

    def open(self, pipe: Pipeline, record: Record) -> None:
        self.add(pipe, record["case_id"], record, [record["court_code"]])
        pipe.set(self.account_key(record["account_number"]), record["case_id"])

    def count(self, pipe: Pipeline, court: str, counter: str, amount: int) -> None:
        """Add ``amount`` to the case's court's running sum (the case's own counter is in
        its record)."""
        add_fen(pipe, self.totals_key(court), counter, amount)

    def move(self, pipe: Pipeline, record: Record, from_court: str, to_court: str) -> None:
        pipe.srem(self.index_key(from_court), record["case_id"])
        self.index(pipe, to_court, record["case_id"])
        for counter in COUNTERS:
            amount = int(record["counters"][counter])
            if amount:
                add_fen(pipe, self.totals_key(from_court), counter, -amount)
                add_fen(pipe, self.totals_key(to_court), counter, amount)

    def remember_reference(
        self, pipe: Pipeline, reference: str, case_id: str, payment_id: str
    ) -> None:
        pipe.set(self.bank_ref_key(reference), f"{case_id}|{payment_id}")

    async def keep_assets(self, facts: Mapping[str, Mapping[str, str]]) -> None:
        """Write what events said of assets, by asset, in one round trip (idempotent: a
        field said again is replaced)."""
        if not facts:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for asset_id, said in facts.items():
                mapping: dict[Any, str] = dict(said)
                pipe.hset(self.asset_key(asset_id), mapping=mapping)
            await pipe.execute()

    async def keep_early_proceeds(self, case_id: str, reference: str, proceeds: Record) -> bool:
        """Keep a sale's proceeds for the case's filing, unless the case is kept by now
        (False: record them; ``keep_until_kept``)."""
        early = self.early_proceeds_key(case_id)
        return await self.keep_until_kept(
            case_id, lambda pipe: pipe.hset(early, reference, json.dumps(proceeds))
        )

    async def early_proceeds(self, case_id: str) -> dict[str, Record]:
        """The proceeds kept for the case before its filing, by reference."""
        return (await self.early_proceeds_of([case_id])).get(case_id, {})

    async def early_proceeds_of(self, case_ids: Sequence[str]) -> dict[str, dict[str, Record]]:
        """The proceeds kept for these cases before their filings, by case (those with
        some) and reference; one round trip."""
        if not case_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.hgetall(self.early_proceeds_key(case_id))
            answers = await pipe.execute()
        return {
            case_id: {as_text(ref): json.loads(value) for ref, value in raw.items()}
            for case_id, raw in zip(case_ids, answers, strict=True)
            if raw
        }

    async def drop_early_proceeds(self, case_id: str, references: Sequence[str]) -> None:
        if references:
            await self.redis.hdel(self.early_proceeds_key(case_id), *references)

    async def case_of_deduction(self, deduction_id: str) -> str | None:
        raw = await self.redis.get(self.deduction_key(deduction_id))
        return as_text(raw) if raw is not None else None

    def remember_deduction(self, pipe: Pipeline, deduction_id: str, case_id: str) -> None:
        pipe.set(self.deduction_key(deduction_id), case_id)

    def schedule(self, pipe: Pipeline, case_id: str, deduction_id: str, due_ms: int) -> None:
        pipe.zadd(self.due_key, {f"{case_id}|{deduction_id}": due_ms})
        self.deductions_signal.notify(pipe)

    def unschedule(self, pipe: Pipeline, case_id: str, deduction_id: str) -> None:
        pipe.zrem(self.due_key, f"{case_id}|{deduction_id}")

    async def change_case(
        self, case_id: str, act: Callable[[Pipeline, Record], Awaitable[T]], *,
        watch: Sequence[str] = (), missing: str | None = None,
    ) -> T:  # fmt: skip
        """Run ``act(pipe, ledger)`` in one transaction over the case's ledger and ``watch``
        (``JsonRecords.change``)."""
        return await self.change(
            case_id, act, watch=watch, missing=missing or f"no funds of case {case_id}"
        )
