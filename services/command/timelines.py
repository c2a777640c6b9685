"""A case's timeline (案件时间轴): every event about the case, its assets, leads, matters,
disputes and command actions, and every clock event of them, in time order, each with its
audit record.

Each event is kept under its own subject (the aggregate, or the clock's subject); events
that create a subject of a case (AssetFound, LeadReceived, MatterEntrusted, DisputeOpened,
CommandIssued) tie the subject to the case. A timeline merges the case's subjects when it
is read, so it does not depend on the order in which topics are consumed.

A case's funds events (案款: its account, arrivals, holds, notices, payouts, account
changes) have the case as their aggregate, so they are the case's own entries; each gets a
line of Chinese when read (``summary``, ``services.command.funds_text``). So do the 终本
events (the gate's acts, ruling, objection, re-query rounds and resumption:
``services.command.zhongben_text``) and the credit events (限制消费, 失信名单:
``services.command.credit_text``), whose aggregate is the case too. A credit event's debtor
ID number is not kept in the timeline: its line names the debtor.

Supervision events (``services.command.supervision_text``): a petition (信访) is tied to the
cases it names, so its receipt, registration, reply and clocks show on each; the
interference register's records (干预过问案件登记, the case is their aggregate) are the case's
own entries, but only the command centre and discipline inspection are shown them: for
every other reader they are filtered out when the timeline is read, count and all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from google.protobuf.message import Message

from services.command.actors import actor_name
from services.command.credit_text import ID_FIELDS, CreditStory, DebtorNames
from services.command.funds_text import funds_lines
from services.command.supervision_text import supervision_line
from services.command.zhongben_text import ZhongbenStory
from zhixing.audit import AuditChain
from zhixing.auth import Role
from zhixing.clock_events import each_payload
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.protojson import message_fields
from zhixing.rules import catalogue
from zhixing.state import KeySpace, as_text
from zhixing.v1 import (
    asset_events_pb2,
    command_events_pb2,
    dispute_events_pb2,
    entrustment_events_pb2,
    supervision_events_pb2,
)

# Event → the payload field naming the case it ties its subject to ("case_ids" for lists);
# the dashboard's board reads the same ties.
TIES: dict[type[Message], str] = {
    asset_events_pb2.AssetFound: "case_id",
    asset_events_pb2.LeadReceived: "case_id",
    asset_events_pb2.UrgentLeadReceived: "case_id",
    entrustment_events_pb2.MatterEntrusted: "case_id",
    command_events_pb2.CommandIssued: "case_id",
    dispute_events_pb2.DisputeOpened: "case_ids",
    supervision_events_pb2.PetitionReceived: "case_ids",
    supervision_events_pb2.PetitionRegistered: "case_ids",
}
# Of events stamped in the same millisecond and not yet in the audit chain, which comes
# first: an application before its filing, a clock's opening before the rest of its life.
CAUSAL_RANK: dict[str, int] = {
    "ApplicationReceived": -3,
    "CaseFiled": -2,
    "CaseNumberIssued": -1,
    "ClockOpened": -1,
    "ClockCleared": 1,
    "CaseClosed": 2,
}
# Events only some readers of a case's timeline are shown (by event name).
RESTRICTED: dict[str, frozenset[Role]] = {
    "InterferenceRecorded": frozenset({Role.COMMAND, Role.DISCIPLINE}),
}


def shown_to(reader: Role, event: str) -> bool:
    allowed = RESTRICTED.get(event)
    return allowed is None or reader in allowed


class CaseTimelines:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace, audit: AuditChain) -> None:
        self._redis = redis
        self._keys = keys
        self._audit = audit

    def subject_key(self, subject_id: str) -> str:
        return self._keys.key("timeline", subject_id)

    def ties_key(self, case_id: str) -> str:
        return self._keys.key("timeline-subjects", case_id)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        # A ClocksOpened is an entry per clock it opened (named ClockOpened, linked to the
        # event that recorded it), as a clock's entries have always read.
        for event, message in each_payload(events):
            envelope = event.envelope
            if message is event.payload:
                name = envelope.event_type.rsplit(".", 1)[-1]
                payload = event.payload_fields()
            else:
                name = message.DESCRIPTOR.name
                payload = message_fields(message)
            if any(field in payload for field in ID_FIELDS):
                payload = {k: v for k, v in payload.items() if k not in ID_FIELDS}
            clock = payload.get("clock")
            subject = clock["subject_id"] if isinstance(clock, dict) else envelope.aggregate_id
            entry = {
                "event_id": envelope.event_id,
                "event": name,
                "at": event.occurred_text(),
                "court_code": envelope.court_code,
                "actor": envelope.actor.id,
                "actor_role": envelope.actor.role,
                "actor_court": envelope.actor.court_code,
                "payload": payload,
            }
            # orjson: the standard library's encoder was a twentieth of the service's CPU.
            # The payload is plain data (``message_fields``), which orjson writes as JSON.
            tx.pipe.zadd(
                self.subject_key(subject),
                {orjson.dumps(entry): envelope.occurred_at.ToMilliseconds()},
            )
            field = TIES.get(type(message))
            if field is not None:
                cases = payload.get(field) or []
                for case_id in [cases] if isinstance(cases, str) else cases:
                    tx.pipe.sadd(self.ties_key(case_id), envelope.aggregate_id)

    async def timeline(self, case_id: str, reader: Role, limit: int = 2000) -> list[dict[str, Any]]:
        """The case's entries ``reader`` may see (``RESTRICTED``), the latest ``limit``."""
        subjects = [
            case_id,
            *sorted(as_text(s) for s in await self._redis.smembers(self.ties_key(case_id))),
        ]
        entries: list[tuple[float, dict[str, Any]]] = []
        for subject in subjects:
            # With scores, the reply is (member, score) pairs; redis-py types it loosely.
            raw = cast(
                list[tuple[bytes, float]],
                await self._redis.zrange(self.subject_key(subject), 0, -1, withscores=True),
            )
            for member, score in raw:
                entry = orjson.loads(member)
                if shown_to(reader, entry["event"]):
                    entries.append((float(score), entry))
        # In time order; events stamped in the same millisecond (a clock opened and cleared
        # in one batch) in the order the audit chain recorded them, which follows each
        # aggregate's own order, then by what must come first (CAUSAL_RANK).
        ids = [entry["event_id"] for _, entry in entries]
        read = await self._redis.hmget(self._audit.positions_key, ids) if ids else []
        positions = {i: int(p) for i, p in zip(ids, read, strict=True) if p is not None}
        unrecorded = 1 << 62  # after every recorded event of its millisecond
        ranked = [
            ((score, positions.get(entry["event_id"], unrecorded),
              CAUSAL_RANK.get(entry["event"], 0), entry["event_id"]), entry)
            for score, entry in entries
        ]  # fmt: skip
        ranked.sort(key=lambda pair: pair[0])
        chosen = [entry for _, entry in ranked[-limit:]]
        lines = summaries([(entry["event"], entry["payload"]) for entry in chosen])
        for entry, line in zip(chosen, lines, strict=True):
            entry["summary"] = line
            clock = entry["payload"].get("clock")
            rule_id = clock.get("rule_id", "") if clock else ""
            entry["clock_title"] = catalogue().title_of(rule_id) if rule_id else ""
            entry["actor_name"] = actor_name(
                entry["actor"], entry.get("actor_role", ""), entry.get("actor_court", "")
            )
        records = await self._audit.records_of([e["event_id"] for e in chosen])
        for entry in chosen:
            record = records.get(entry["event_id"])
            entry["audit"] = (
                {"seq": record["seq"], "hash": record["hash"], "prev_hash": record["prev_hash"]}
                if record
                else None
            )
        return chosen


def summaries(entries: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each (event name, payload) of a timeline → its line in Chinese ('' where the event's
    name says it all). Debtors' names are learnt from the whole timeline first, so no line
    depends on the order of events stamped in the same millisecond."""
    debtors = DebtorNames()
    for event, payload in entries:
        debtors.learn(event, payload)
    stories = (ZhongbenStory(debtors), CreditStory(debtors))
    return [
        funds
        or next((line for story in stories if (line := story.line(event, payload))), "")
        or supervision_line(event, payload)
        for funds, (event, payload) in zip(funds_lines(entries), entries, strict=True)
    ]
