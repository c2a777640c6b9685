"""What intake does on events: follow a case to the court a command action moved it to;
triage a case once its centralized query is
complete (繁简分流, ¶7), and convert a simple case to the ordinary track when its period
passes (the deadline engine's breach of ``triage.simple-period`` is the trigger); keep the
facts the 终本 gate reads from asset control's, funds' and credit's events
(``GateFactsReaction``)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog
from google.protobuf.message import Message

from services.intake.domain import TEAM_OF_TRACK, Track, triage
from services.intake.repository import CaseRecords, CaseStatus
from services.intake.zhongben_facts import FACT_EVENTS, ZhongbenFacts
from zhixing.events import (
    Event,
)
from zhixing.projection import Transaction
from zhixing.service import ServiceContext
from zhixing.v1 import asset_events_pb2, case_events_pb2, deadline_events_pb2, envelope_pb2

log = structlog.get_logger(__name__)

SIMPLE_PERIOD_RULE = "triage.simple-period"
TRIAGE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:intake/triage", role="service"
)


class IntakeReactions:
    handles: tuple[type[Message], ...] = (
        case_events_pb2.CaseHandlingCourtChanged,
        asset_events_pb2.NetworkQueryCompleted,
        deadline_events_pb2.ClockBreached,
    )

    def __init__(self, records: CaseRecords, ctx: ServiceContext) -> None:
        self.records = records
        self.ctx = ctx

    def _stage(self, tx: Transaction, payload: Message, cause: Event[Message], court: str) -> None:
        self.ctx.stage(
            tx.pipe, payload,
            aggregate_id=payload.case_id,  # type: ignore[attr-defined]
            court_code=court, actor=TRIAGE_ACTOR,
            correlation_id=cause.envelope.correlation_id, causation_id=cause.event_id,
        )  # fmt: skip

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        tracks: dict[str, str] = {}  # decisions earlier in this batch
        for event in events:
            if isinstance(moved := event.payload, case_events_pb2.CaseHandlingCourtChanged):
                tx.pipe.hset(self.records.case_key(moved.case_id), "court_code", moved.to_court)
            elif isinstance(done := event.payload, asset_events_pb2.NetworkQueryCompleted):
                if done.round != 1:
                    continue  # later rounds re-query; triage happens once
                record = await self.records.read(done.case_id, tx.redis)
                if record is None or record.status is not CaseStatus.FILED:
                    continue
                if record.get("track") or done.case_id in tracks:
                    continue
                track, reasons = triage(
                    needed_fen=done.needed_fen,
                    liquid_value_fen=done.liquid_value_fen,
                    assets_to_dispose=done.assets_to_dispose,
                    asset_count=done.asset_count,
                )
                team = TEAM_OF_TRACK[track]
                tracks[done.case_id] = track
                tx.pipe.hset(
                    self.records.case_key(done.case_id),
                    mapping={
                        "track": track.value,
                        "team": team,
                        "triage_reasons": json.dumps(reasons, ensure_ascii=False),
                    },
                )
                triaged = case_events_pb2.CaseTriaged(
                    case_id=done.case_id,
                    track=track.value,
                    reasons=reasons,
                    team=team,
                    decided_by="auto",
                )
                self._stage(tx, triaged, event, record.court_code)
            elif isinstance(breached := event.payload, deadline_events_pb2.ClockBreached):
                if breached.clock.rule_id != SIMPLE_PERIOD_RULE:
                    continue
                case_id = breached.clock.subject_id
                record = await self.records.read(case_id, tx.redis)
                current = tracks.get(case_id) or (record.get("track") if record else "")
                if record is None or record.status is not CaseStatus.FILED:
                    continue
                if current != Track.SIMPLE:
                    continue
                tracks[case_id] = Track.ORDINARY
                team = TEAM_OF_TRACK[Track.ORDINARY]
                tx.pipe.hset(
                    self.records.case_key(case_id),
                    mapping={"track": Track.ORDINARY.value, "team": team},
                )
                converted = case_events_pb2.CaseConverted(
                    case_id=case_id,
                    from_track=Track.SIMPLE.value,
                    to_track=Track.ORDINARY.value,
                    reason=f"简案未在期限内结案（{breached.effect}）",
                    team=team,
                )
                log.info("simple case converted to ordinary", case_id=case_id)
                self._stage(tx, converted, event, record.court_code)


class GateFactsReaction:
    """Keeps the 终本 gate's facts (``zhongben_facts``): network queries completed, assets
    controlled and disposed of, frozen money deducted, restrictions, listings and listings
    declined. Each fact is one idempotent field, so replays and topic order do not matter
    (a hold found outside, set and deleted, relies on its asset's events being in order on
    one partition and applied once, as they are)."""

    # What the consumer gives it (``SelectiveHandler``): not the queries' answers and
    # other events of its topics that state no fact of the gate.
    handles: tuple[type[Message], ...] = FACT_EVENTS

    def __init__(self, facts: ZhongbenFacts) -> None:
        self.facts = facts

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            recorded = event.envelope.recorded_at
            self.facts.keep(
                tx.pipe, event.payload, recorded.seconds * 1000 + recorded.nanos // 10**6
            )
