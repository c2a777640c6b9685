"""A projection a service keeps: which cases exist, which court handles each, and which
were closed (``zhixing.closures``).

Services need it to check court scope on their own requests without asking intake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from google.protobuf.message import Message
from pydantic import BaseModel, Field
from redis.asyncio.client import Pipeline

from zhixing.auth import CurrentIdentity, require_visible
from zhixing.closures import closure_of
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.state import KeySpace, text_hash, watch_and_read
from zhixing.v1 import case_events_pb2

__all__ = [
    "KnownCase",
    "KnownCases",
    "OnCaseMoved",
    "known_cases_router",
]


class KnownCases:
    """Batch handler and reader of ``<service>:known-case:<id>`` hashes."""

    handles: tuple[type[Message], ...] = (
        case_events_pb2.CaseFiled,
        case_events_pb2.CaseHandlingCourtChanged,
        case_events_pb2.CaseClosed,
    )

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, case_id: str) -> str:
        return self._keys.key("known-case", case_id)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if isinstance(filed := event.payload, case_events_pb2.CaseFiled):
                tx.pipe.hset(
                    self.key(event.aggregate_id),
                    mapping={
                        "court_code": event.envelope.court_code,
                        "case_type_code": filed.case_type_code,
                        "filed_at": event.envelope.occurred_at.ToJsonString(),
                    },
                )
            elif isinstance(moved := event.payload, case_events_pb2.CaseHandlingCourtChanged):
                tx.pipe.hset(self.key(event.aggregate_id), "court_code", moved.to_court)
            elif isinstance(closed := event.payload, case_events_pb2.CaseClosed):
                # For good (a 终本 case resumes as a new 执恢 case): ``zhixing.closures``.
                closure = closure_of(closed.method, closed.closed_on)
                tx.pipe.hset(self.key(event.aggregate_id), mapping=closure)  # type: ignore[arg-type]

    async def get(self, case_id: str) -> dict[str, str] | None:
        raw = await self._redis.hgetall(self.key(case_id))
        return text_hash(raw) if raw else None

    async def watch_and_get(self, pipe: Pipeline, case_id: str) -> dict[str, str] | None:
        """``get`` in a transaction: the case's hash WATCHed and read in one round trip, so a
        change to it (a closure) before the commit makes the transaction run again."""
        key = self.key(case_id)
        (raw,) = await watch_and_read(pipe, [key], [("HGETALL", key)])
        return text_hash(raw) if raw else None


class OnCaseMoved:
    """Consumer of case events calling ``follow(case_id, from_court, to_court)`` when a
    command action moves a case; ``follow`` runs its own idempotent transaction."""

    handles: tuple[type[Message], ...] = (case_events_pb2.CaseHandlingCourtChanged,)

    def __init__(self, follow: Callable[[str, str, str], Awaitable[object]]) -> None:
        self.follow = follow

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            if isinstance(moved := event.payload, case_events_pb2.CaseHandlingCourtChanged):
                await self.follow(moved.case_id, moved.from_court, moved.to_court)


class KnownCase(BaseModel):
    case_id: str
    court_code: str = Field(description="The court handling it now")
    # A move can be read before the filing (topics are not ordered): empty until then.
    case_type_code: str = ""
    filed_at: str = ""


def known_cases_router(attribute: str = "known_cases") -> APIRouter:
    """``GET /v1/cases/{id}``: what this service knows of a case, within the caller's scope."""
    router = APIRouter(prefix="/v1", tags=["cases"])

    @router.get("/cases/{case_id}", summary="A case as this service knows it")
    async def get_known_case(
        case_id: str, identity: CurrentIdentity, request: Request
    ) -> KnownCase:
        known: KnownCases = getattr(request.app.state, attribute)
        case = await known.get(case_id)
        require_visible(identity, case["court_code"] if case else None, f"case {case_id}")
        assert case is not None
        return KnownCase.model_validate({"case_id": case_id, **case})

    return router
