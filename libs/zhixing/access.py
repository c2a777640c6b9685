"""Accesses that change nothing but are kept in the audit trail (issue 13): every request
refused for its token (401) or its scope (403), and every read by an overseer (检察监督,
纪检监察). Each becomes an ``AccessRecorded`` event on ``zhixing.access.events``, which the
command service records in the audit chain and in the access log that court staff and
discipline inspection read (``GET /v1/access-log``).

The event is published straight to Kafka once the response is sent: a refused request
writes nothing to Redis. At most ``MAX_IN_FLIGHT`` publications wait at once; past that a
flood of refusals is counted (``zhixing_access_records_dropped_total``), not queued without
bound.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import structlog
from prometheus_client import Counter

from zhixing.auth import READ_ONLY_ROLES, Identity
from zhixing.clock import Clock
from zhixing.courts import SUPREME_COURT
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.v1 import audit_events_pb2, envelope_pb2

__all__ = [
    "ANONYMOUS",
    "DROPPED",
    "MAX_IN_FLIGHT",
    "MAX_PATH",
    "AccessRecorder",
]

log = structlog.get_logger(__name__)

MAX_IN_FLIGHT = 256
MAX_PATH = 512

DROPPED = Counter(
    "zhixing_access_records_dropped_total", "Access records not published (too many at once)"
)
ANONYMOUS = envelope_pb2.Actor(kind=envelope_pb2.ACTOR_KIND_UNSPECIFIED, id="anonymous")


class AccessRecorder:
    """ASGI middleware: records refusals and overseers' reads after the response."""

    def __init__(self, app: Any, *, service: str, publisher: EventPublisher, clock: Clock):
        self.app = app
        self.service = service
        self.publisher = publisher
        self.clock = clock
        self._in_flight: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def watched(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            state = scope.get("state") or {}
            identity = state.get("identity")
            overseer_read = (
                isinstance(identity, Identity) and identity.role in READ_ONLY_ROLES
                and scope["method"] == "GET" and 0 < status < 400
            )  # fmt: skip
            if status in (401, 403) or overseer_read:
                self._publish(scope, status, identity, str(state.get("refusal", "")))

    def _publish(self, scope: Any, status: int, identity: Identity | None, reason: str) -> None:
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            DROPPED.inc()
            return
        client = scope.get("client") or ("", 0)
        request_id = str(uuid.uuid4())
        payload = audit_events_pb2.AccessRecorded(
            request_id=request_id, service=self.service, method=scope["method"],
            path=scope["path"][:MAX_PATH], status=status, reason=reason[:500],
            subject=identity.subject if identity else "",
            role=identity.role.value if identity else "",
            court_code=identity.court_code if identity else "",
            client_address=str(client[0]),
        )  # fmt: skip
        event = new_event(
            payload, aggregate_id=request_id,
            court_code=identity.court_code if identity else SUPREME_COURT,
            actor=identity.as_actor() if identity else ANONYMOUS, clock=self.clock,
        )  # fmt: skip
        task = asyncio.get_running_loop().create_task(self._send(event))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, event: Any) -> None:
        try:
            await self.publisher.publish(event)
        except Exception as exc:  # the broker is down: the refusal stands, its record is lost
            DROPPED.inc()
            log.warning("access record not published", error=str(exc))
