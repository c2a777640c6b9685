"""A case's 终本 (终结本次执行) as the command centre shows it, kept from events: where the
proposal stands, the ruling and its service, objections and their decisions, revocation,
resumption (as which case number), and the re-query rounds after it.

One hash per case. The case's 终本 events come in order (one partition of the case topic);
the re-query events come on the asset topic, not ordered with them, so they keep fields of
their own (``requery_*``) and no field is written by both. An objection is a JSON field
of its own (``objection:<id>``), so several can be pending at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from services.command.case_hash import CaseHashProjection
from zhixing.v1 import asset_events_pb2, case_events_pb2

# The 终本 events of the case topic and the state each leaves the case's 终本 in.
STATES: dict[type[Message], str] = {
    case_events_pb2.ZhongbenProposed: "proposed",
    case_events_pb2.ZhongbenRefused: "refused",
    case_events_pb2.ZhongbenRuled: "ruled",
    case_events_pb2.ZhongbenRevoked: "revoked",
    case_events_pb2.ExecutionResumed: "resumed",
}
REQUERY_EVENTS = (
    asset_events_pb2.ZhongbenRequeryStarted,
    asset_events_pb2.ZhongbenRequeryCompleted,
    asset_events_pb2.ZhongbenRequeryPeriodEnded,
)
FOLLOWED = (
    *STATES,
    case_events_pb2.ZhongbenRulingServed,
    case_events_pb2.ZhongbenObjected,
    case_events_pb2.ZhongbenObjectionDecided,
    *REQUERY_EVENTS,
)


@dataclass(frozen=True)
class Objection:
    objection_id: str
    received_on: str
    grounds: str
    decision: str  # pending, upheld or rejected


@dataclass(frozen=True)
class Requery:
    requery_number: int
    new_assets: int
    resumption_proposed: bool


@dataclass(frozen=True)
class ZhongbenSummary:
    state: str  # none, proposed, refused, ruled, revoked or resumed
    unmet_rules: list[str]
    ruling_number: str
    ruled_on: str
    approved_by: str
    served_on: str
    objections: list[Objection]
    revoked_reason: str
    resumed_case_id: str
    resumed_case_number: str
    resumed_on: str
    requeries_started: int
    requeries_completed: int
    last_requery: Requery | None
    requery_ended: bool
    checked_rules: list[str] = field(default_factory=list)


class CaseZhongben(CaseHashProjection):
    FOLLOWED = FOLLOWED
    KEY = "case-zhongben"

    @staticmethod
    def _changes(p: Any, case: dict[str, str]) -> dict[str, str]:
        """The fields ``p`` sets in the case's hash (``case``: what is known so far)."""
        changes: dict[str, str] = {}
        if (state := STATES.get(type(p))) is not None:
            changes["state"] = state
        if isinstance(p, case_events_pb2.ZhongbenRefused):
            changes["unmet_rules"] = json.dumps(list(p.unmet_rules))
        elif isinstance(p, case_events_pb2.ZhongbenRuled):
            changes.update(ruling_number=p.ruling_number, ruled_on=p.ruled_on,
                           approved_by=p.approved_by, unmet_rules="[]",
                           checked_rules=json.dumps(list(p.checked_rules)))  # fmt: skip
        elif isinstance(p, case_events_pb2.ZhongbenRulingServed):
            changes["served_on"] = p.served_on
        elif isinstance(p, case_events_pb2.ZhongbenObjected):
            changes[f"objection:{p.objection_id}"] = json.dumps(
                {"received_on": p.received_on, "grounds": p.grounds, "decision": "pending"},
                ensure_ascii=False,
            )
        elif isinstance(p, case_events_pb2.ZhongbenObjectionDecided):
            objection = json.loads(case.get(f"objection:{p.objection_id}") or "{}")
            objection["decision"] = "upheld" if p.upheld == "yes" else "rejected"
            changes[f"objection:{p.objection_id}"] = json.dumps(objection, ensure_ascii=False)
        elif isinstance(p, case_events_pb2.ZhongbenRevoked):
            changes["revoked_reason"] = p.reason
        elif isinstance(p, case_events_pb2.ExecutionResumed):
            changes.update(resumed_case_id=p.new_case_id, resumed_case_number=p.new_case_number,
                           resumed_on=p.resumed_on)  # fmt: skip
        elif isinstance(p, asset_events_pb2.ZhongbenRequeryStarted):
            started = max(p.requery_number, int(case.get("requery_started") or 0))
            changes["requery_started"] = str(started)
        elif isinstance(p, asset_events_pb2.ZhongbenRequeryCompleted):
            if p.requery_number >= int(case.get("requery_completed") or 0):
                changes.update(requery_completed=str(p.requery_number),
                               requery_new_assets=str(p.new_assets),
                               requery_resumption=p.resumption_proposed)  # fmt: skip
        elif isinstance(p, asset_events_pb2.ZhongbenRequeryPeriodEnded):
            changes["requery_ended"] = "1"
        return changes

    async def get(self, case_id: str) -> ZhongbenSummary:
        """The case's 终本 (state ``none``, and nothing else, before any 终本 event of it)."""
        raw = await self.read(case_id)
        objections = []
        for name, value in sorted(raw.items()):
            if name.startswith("objection:"):
                o = json.loads(value)
                objections.append(Objection(objection_id=name.removeprefix("objection:"),
                                            received_on=o.get("received_on", ""),
                                            grounds=o.get("grounds", ""),
                                            decision=o.get("decision", "pending")))  # fmt: skip
        completed = int(raw.get("requery_completed") or 0)
        last = (
            Requery(requery_number=completed,
                    new_assets=int(raw.get("requery_new_assets") or 0),
                    resumption_proposed=raw.get("requery_resumption") == "yes")
            if completed else None
        )  # fmt: skip
        return ZhongbenSummary(
            state=raw.get("state", "none"),
            unmet_rules=json.loads(raw.get("unmet_rules") or "[]"),
            checked_rules=json.loads(raw.get("checked_rules") or "[]"),
            ruling_number=raw.get("ruling_number", ""),
            ruled_on=raw.get("ruled_on", ""),
            approved_by=raw.get("approved_by", ""),
            served_on=raw.get("served_on", ""),
            objections=objections,
            revoked_reason=raw.get("revoked_reason", ""),
            resumed_case_id=raw.get("resumed_case_id", ""),
            resumed_case_number=raw.get("resumed_case_number", ""),
            resumed_on=raw.get("resumed_on", ""),
            requeries_started=int(raw.get("requery_started") or 0),
            requeries_completed=completed,
            last_requery=last,
            requery_ended=bool(raw.get("requery_ended")),
        )
