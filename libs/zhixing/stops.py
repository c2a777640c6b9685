"""Stop orders (停止执行, 执行规定 art 68, rule ``dispute.stop-enforcement``): the stops in
force per case, kept from the dispute coordinator's events, and the check that refuses a
stopped court's acts on a stopped case.

When conflicting instruments over one relationship open a dispute, the coordinator orders
each party court to stop (``EnforcementStopOrdered``: the court and its cases in the
dispute) and later lifts each court's stop on its own (``EnforcementStopLifted``: the
dispute and the court only). A case may be stopped by several disputes; the lift of one
ends only that one. Acts that would move the case towards its end or the asset towards
its sale are refused while a stop is in force (a control, a disposal act, a payout, a
closure); acts that keep things as they are (a release, a renewal: a control lapsing
would harm the applicant) and reads stay allowed. Which acts are refused is each
service's call; this module only says whether a stop is in force and refuses with the
dispute named.

Keys (in the keyspace of the service that keeps them): ``stops:case:<case_id>`` is the set
of ``<dispute_id>|<court>`` stops ever ordered on the case; ``stops:order:<dispute_id>|<court>``
is the stop's hash (its cases, reason, and ``lifted_by`` once lifted);
``stops:dispute:<dispute_id>`` holds the dispute's subject. Every write is idempotent and
none reads first, so a batch holding both an order and its lift, a replay, or a lift
applied before its order (topic order is kept per dispute, but nothing here relies on it)
all end in the same state: a stop is in force while it was ordered and not lifted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from zhixing.errors import Conflict
from zhixing.events import Event
from zhixing.projection import Projection, Transaction
from zhixing.state import KeySpace, as_text, text_hash
from zhixing.topics import DISPUTE_EVENTS
from zhixing.v1 import dispute_events_pb2 as pb

__all__ = ["STOP_RULE", "Stop", "StopInForce", "StopOrders"]

STOP_RULE = "dispute.stop-enforcement"


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop in force on a case: the dispute that ordered it and the court it stops."""

    dispute_id: str
    court_code: str
    reason: str = ""
    subject: str = ""

    def describe(self) -> str:
        about = f" ({self.subject})" if self.subject else ""
        return f"dispute {self.dispute_id}{about}"


class StopInForce(Conflict):
    """The act is refused: the case's court is stopped by one or more disputes."""

    def __init__(self, case_id: str, case_number: str, act: str, stops: Sequence[Stop]) -> None:
        number = f" ({case_number})" if case_number else ""
        by = "; ".join(s.describe() for s in stops)
        super().__init__(
            f"enforcement of case {case_id}{number} in {stops[0].court_code} is stopped by "
            f"{by} until the stop is lifted: {act} is refused (rule {STOP_RULE})"
        )
        self.stops = list(stops)


class StopOrders:
    """The stops in force per case, as a projection of DISPUTE_EVENTS (``projection()``)
    and the check services make before a stoppable act (``check``)."""

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self.redis = redis
        self.keys = keys

    # --- keys --------------------------------------------------------------------------------

    def case_key(self, case_id: str) -> str:
        return self.keys.key("stops", "case", case_id)

    def order_key(self, dispute_id: str, court_code: str) -> str:
        return self.keys.key("stops", "order", f"{dispute_id}|{court_code}")

    def dispute_key(self, dispute_id: str) -> str:
        return self.keys.key("stops", "dispute", dispute_id)

    # --- the projection ----------------------------------------------------------------------

    def projection(self) -> Projection:
        return Projection("stop-orders", [DISPUTE_EVENTS], self)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            self.keep(tx.pipe, event.payload)

    def keep(self, pipe: Pipeline, payload: Message) -> None:
        """Queue what ``payload`` changes on ``pipe`` (in MULTI); other events change nothing."""
        if isinstance(opened := payload, pb.DisputeOpened):
            pipe.hset(self.dispute_key(opened.dispute_id), "subject", opened.subject)
        elif isinstance(ordered := payload, pb.EnforcementStopOrdered):
            member = f"{ordered.dispute_id}|{ordered.court_code}"
            pipe.hset(
                self.order_key(ordered.dispute_id, ordered.court_code),
                mapping={
                    "dispute_id": ordered.dispute_id,
                    "court_code": ordered.court_code,
                    "case_ids": json.dumps(list(ordered.case_ids)),
                    "reason": ordered.reason,
                    "ordered": "1",
                },
            )
            for case_id in ordered.case_ids:
                pipe.sadd(self.case_key(case_id), member)
        elif isinstance(lifted := payload, pb.EnforcementStopLifted):
            pipe.hset(
                self.order_key(lifted.dispute_id, lifted.court_code),
                mapping={"lifted": "1", "lifted_by": lifted.lifted_by},
            )

    # --- reading and checking ----------------------------------------------------------------

    async def in_force(
        self, case_id: str, court_code: str | None = None,
        client: aioredis.Redis | Pipeline | None = None,
    ) -> list[Stop]:  # fmt: skip
        """The stops in force on ``case_id`` (of ``court_code`` only, if given), oldest
        dispute id first. ``client`` is a transaction's pipeline in immediate mode (WATCH
        already issued) or, by default, the service's Redis."""
        reader = client if client is not None else self.redis
        members = sorted(as_text(m) for m in await reader.smembers(self.case_key(case_id)))
        stops = []
        for member in members:
            dispute_id, _, court = member.partition("|")
            if court_code is not None and court != court_code:
                continue
            order = text_hash(await reader.hgetall(self.order_key(dispute_id, court)))
            if order.get("ordered") != "1" or order.get("lifted") == "1":
                continue
            dispute = text_hash(await reader.hgetall(self.dispute_key(dispute_id)))
            stops.append(Stop(dispute_id, court, order.get("reason", ""),
                              dispute.get("subject", "")))  # fmt: skip
        return stops

    async def check(
        self, pipe: Pipeline, case_id: str, court_code: str, act: str, *, case_number: str = ""
    ) -> None:
        """Refuse ``act`` (StopInForce, a 409 naming each dispute and the rule) if a stop of
        ``court_code`` is in force on the case. ``pipe`` is the act's transaction before its
        MULTI: the case's stops are WATCHed, so a stop ordered meanwhile makes it retry."""
        await pipe.watch(self.case_key(case_id))
        stops = await self.in_force(case_id, court_code, pipe)
        if stops:
            raise StopInForce(case_id, case_number, act, stops)
