"""The access log (访问日志): refusals and overseers' reads, per court, newest first, from
``AccessRecorded`` events. Court leaders, command centres and overseers read their court's
and their jurisdiction's courts' entries; a refusal with no valid token is kept under the
Supreme People's Court (最高法), whose leaders and overseers read it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.message import Message

from zhixing.auth import Role
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.state import KeySpace
from zhixing.v1 import audit_events_pb2

KEPT_PER_COURT = 10_000
"""Entries kept per court in the log's view; the audit chain keeps every one."""


def of_register(entry: dict[str, Any]) -> bool:
    """An entry that tells what the interference register (干预过问案件登记) holds or who looks
    into what: a request to its routes (the supervision service's ``/v1/interference…`` and
    ``/v1/cases/{id}/interference``), or any read by discipline inspection (纪检监察: the
    case timelines it reads show the register's records, and which cases it reads is its
    own business, not the court's it looks into)."""
    to_register = entry.get("service") == "supervision" and "/interference" in entry.get("path", "")
    return bool(to_register or entry.get("role") == Role.DISCIPLINE.value)


class AccessLog:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, court: str) -> str:
        return self._keys.key("access-log", court)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        by_court: dict[str, list[str]] = {}
        for event in events:
            if not isinstance(access := event.payload, audit_events_pb2.AccessRecorded):
                continue
            entry = {
                "at": event.envelope.occurred_at.ToJsonString(), "event_id": event.event_id,
                "service": access.service, "method": access.method, "path": access.path,
                "status": access.status, "reason": access.reason, "subject": access.subject,
                "role": access.role, "client_address": access.client_address,
            }  # fmt: skip
            court = event.envelope.court_code
            by_court.setdefault(court, []).append(json.dumps(entry, ensure_ascii=False))
        for court, entries in by_court.items():
            tx.pipe.lpush(self.key(court), *entries)
            tx.pipe.ltrim(self.key(court), 0, KEPT_PER_COURT - 1)

    async def recent(
        self, courts: Sequence[str], limit: int, *, register: bool = True
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of these courts together, newest first; without
        ``register``, none of the interference register's nor discipline inspection's
        (``of_register``): a reader who may not read the register is not shown which cases
        it names nor which cases discipline inspection reads (the page may then hold
        fewer)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for court in courts:
                pipe.lrange(self.key(court), 0, limit - 1)
            found = await pipe.execute()
        entries = [json.loads(raw) for rows in found for raw in rows]
        if not register:
            entries = [e for e in entries if not of_register(e)]
        entries.sort(key=lambda e: (e["at"], e["event_id"]), reverse=True)
        return entries[:limit]
