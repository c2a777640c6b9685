"""The command centre's read models, built from events only."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from google.protobuf.message import Message

from zhixing.closures import closure_of
from zhixing.events import Event
from zhixing.persons import id_number_text
from zhixing.projection import Transaction
from zhixing.state import KeySpace, as_text, read_hashes, text_hash
from zhixing.v1 import case_events_pb2, command_service_pb2

NODE_FILED = "filed"
NODE_RECEIVED = "received"  # an application not yet docketed (收案)


class CaseOverviews:
    """One hash per case: court, type, claim, current node, number of events seen, and its
    closure once closed."""

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, case_id: str) -> str:
        return self._keys.key("case", case_id)

    def court_index_key(self, court_code: str) -> str:
        return self._keys.key("court", court_code, "cases")

    async def cases_in(self, courts: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
        """Every case handled now by one of ``courts`` (id, its hash), ordered by id."""
        pipe = self._redis.pipeline(transaction=False)
        for court in courts:
            pipe.smembers(self.court_index_key(court))
        ids = sorted({as_text(c) for reply in await pipe.execute() for c in reply})
        return list(zip(ids, await read_hashes(self._redis, [self.key(i) for i in ids]),
                        strict=True))  # fmt: skip

    def debtor_key(self, debtor_id: str) -> str:
        return self._keys.key("debtor", debtor_id, "cases")

    @property
    def debtors_key(self) -> str:
        """Debtors scored by their number of cases: those with several are read directly."""
        return self._keys.key("debtors-by-cases")

    async def debtors_with_several_cases(self, limit: int = 1000) -> list[str]:
        raw = await self._redis.zrevrangebyscore(self.debtors_key, "+inf", 2, start=0, num=limit)
        return [as_text(d) for d in raw if isinstance(d, bytes | str)]

    async def cases_of_debtor(self, debtor_id: str) -> list[str]:
        return sorted(as_text(c) for c in await self._redis.smembers(self.debtor_key(debtor_id)))

    def passive_key(self, case_id: str) -> str:
        """Courts the case was taken away from by elevation or designation."""
        return self._keys.key("case", case_id, "passive-courts")

    async def passive_courts(self, case_id: str) -> set[str]:
        return {as_text(c) for c in await self._redis.smembers(self.passive_key(case_id))}

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if event.envelope.aggregate_type != "case":
                continue
            key = self.key(event.aggregate_id)
            if isinstance(received := event.payload, case_events_pb2.ApplicationReceived):
                # An application not yet docketed: a command centre may urge its docketing.
                tx.pipe.hsetnx(key, "court_code", received.court_code)
                tx.pipe.hsetnx(key, "node", NODE_RECEIVED)
            elif isinstance(filed := event.payload, case_events_pb2.CaseFiled):
                tx.pipe.hset(
                    key,
                    mapping={
                        "court_code": filed.court_code,
                        "case_type_code": filed.case_type_code,
                        "claim_amount_fen": filed.claim_amount_fen,
                        "node": NODE_FILED,
                    },
                )
                tx.pipe.sadd(self.court_index_key(filed.court_code), event.aggregate_id)
                # One form (a filing kept before intake kept it so: a full-width digit).
                for debtor in {id_number_text(d.id_number) for d in filed.debtors}:
                    tx.pipe.sadd(self.debtor_key(debtor), event.aggregate_id)
                    tx.pipe.zincrby(self.debtors_key, 1, debtor)
            elif isinstance(moved := event.payload, case_events_pb2.CaseHandlingCourtChanged):
                tx.pipe.hset(key, "court_code", moved.to_court)
                tx.pipe.srem(self.court_index_key(moved.from_court), event.aggregate_id)
                tx.pipe.sadd(self.court_index_key(moved.to_court), event.aggregate_id)
                if moved.kind in ("elevate", "designate"):  # moved away for being passive
                    tx.pipe.sadd(self.passive_key(event.aggregate_id), moved.from_court)
            elif isinstance(closed := event.payload, case_events_pb2.CaseClosed):
                closure = closure_of(closed.method, closed.closed_on)
                tx.pipe.hset(key, mapping=closure)  # type: ignore[arg-type]
            tx.pipe.hincrby(key, "event_count", 1)

    async def get(self, case_id: str) -> command_service_pb2.CaseOverview | None:
        return (await self.read(case_id))[0]

    async def read(
        self, case_id: str
    ) -> tuple[command_service_pb2.CaseOverview | None, dict[str, str]]:
        """The case's overview (None if unknown) and its closure (empty while it is open),
        in one read."""
        raw = text_hash(await self._redis.hgetall(self.key(case_id)))
        if "court_code" not in raw:
            return None, {}
        closure: dict[str, str] = {n: raw[n] for n in ("closed_as", "closed_on") if n in raw}
        overview = command_service_pb2.CaseOverview(
            case_id=case_id,
            court_code=raw["court_code"],
            case_type_code=raw.get("case_type_code", ""),
            claim_amount_fen=int(raw.get("claim_amount_fen") or 0),
            node=raw["node"],
            event_count=int(raw.get("event_count", 0)),
        )
        return overview, closure
