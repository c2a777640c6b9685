"""Asset control (财产查控): the case's network query, its assets, their control and
disposal. Every change is one optimistic Redis transaction over the records it reads, with
its events staged in the outbox of the same transaction.

Records (JSON strings under ``asset_control:``):
- ``case:<case id>``: what the case needs (claim + costs), its debtors, the value reserved
  by controls, and the network query: one unit per debtor and channel;
- ``asset:<asset id>``: an asset of a case (the same outside asset in two cases is two case
  assets with one ``asset_key``), with its control and disposal state;
- ``queue:<asset key>``: the case assets controlling one outside asset, first seizure (首封)
  first, then the waiting seizures (轮候) in order, across courts;
- ``lead:<lead id>``: an asset lead and its verification;
- ``due``, ``due-cases``, ``due-case:<case id>``: the agency worker's work (controls, and
  query units scheduled fairly across courts and cases): see ``schedule.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.schedule import WorkQueue
from zhixing.assets import (
    CHANNELS,
    KINDS_OF_CHANNEL,
    LIQUID_KINDS,
    TERM_CLASS,
    AssetKind,
    Measure,
    PriceMethod,
    SaleMode,
    measure_for,
    measures_for,
)
from zhixing.auth import Identity, Role, ScopeError, require_handling_court, require_role
from zhixing.bounds import MAX_LEADS_PER_CASE
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.rules import catalogue
from zhixing.service import ServiceContext
from zhixing.state import transact
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import case_events_pb2, envelope_pb2
from zhixing.v1 import entrustment_events_pb2 as entrustment_pb

log = structlog.get_logger(__name__)

SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:asset_control", role="service"
)
ASSET_NAMESPACE = uuid.UUID("6f1c7c8e-3f0e-4b59-9a43-6f3f2f8b2d11")


class AssetStatus(StrEnum):
    FOUND = "found"
    CONTROL_PENDING = "control_pending"  # asked of the outside system
    CONTROLLED = "controlled"
    WAITING = "waiting"  # 轮候
    DECLINED = "declined"
    RELEASED = "released"
    LAPSED = "lapsed"


HOLDING = (AssetStatus.CONTROL_PENDING, AssetStatus.CONTROLLED, AssetStatus.WAITING)


class OverSeizure(Conflict):
    """A control beyond what the claim needs (¶15)."""


def asset_id_for(case_id: str, asset_key: str) -> str:
    """One case asset per case and outside asset, however often it is reported."""
    return str(uuid.uuid5(ASSET_NAMESPACE, f"{case_id}|{asset_key}"))


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f} 元"


@dataclass(frozen=True)
class QueryRef:
    case_id: str
    round: int
    unit: int
    attempt: int

    @property
    def request_id(self) -> str:
        return f"q.{self.case_id}.{self.round}.{self.unit}.{self.attempt}"

    @property
    def member(self) -> str:
        return f"q|{self.case_id}|{self.round}|{self.unit}"


@dataclass
class Promotion:
    """A waiting seizure about to take effect, and its case."""

    record: dict[str, Any]
    case: dict[str, Any]


def parse_request_id(request_id: str) -> tuple[str, list[str]]:
    kind, _, rest = request_id.partition(".")
    return kind, rest.split(".")


class AssetControl:
    def __init__(self, ctx: ServiceContext, settings: AgencySettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.keys = ctx.keys
        self.redis = ctx.redis
        self.work = WorkQueue(ctx.redis, ctx.keys)

    # --- keys and records ------------------------------------------------------------------

    def case_key(self, case_id: str) -> str:
        return self.keys.key("case", case_id)

    def asset_record_key(self, asset_id: str) -> str:
        return self.keys.key("asset", asset_id)

    def queue_key(self, outside_key: str) -> str:
        return self.keys.key("queue", outside_key)

    def lead_key(self, lead_id: str) -> str:
        return self.keys.key("lead", lead_id)

    async def _load(self, client: Any, key: str) -> dict[str, Any] | None:
        raw = await client.get(key)
        return json.loads(raw) if raw is not None else None

    async def case(self, case_id: str) -> dict[str, Any] | None:
        return await self._load(self.redis, self.case_key(case_id))

    async def asset(self, asset_id: str) -> dict[str, Any] | None:
        return await self._load(self.redis, self.asset_record_key(asset_id))

    async def lead(self, lead_id: str) -> dict[str, Any] | None:
        return await self._load(self.redis, self.lead_key(lead_id))

    async def assets_of(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        keys = [self.asset_record_key(a) for a in case["assets"]]
        raws = await self.redis.mget(keys) if keys else []
        return [json.loads(r) for r in raws if r is not None]

    @staticmethod
    def _put(pipe: Pipeline, key: str, record: Any) -> None:
        pipe.set(key, json.dumps(record, ensure_ascii=False))

    def _stage(
        self, pipe: Pipeline, payload: Message, aggregate_id: str, court_code: str,
        actor: envelope_pb2.Actor = SERVICE_ACTOR, causation_id: str = "",
    ) -> None:  # fmt: skip
        self.ctx.stage(pipe, payload, aggregate_id=aggregate_id, court_code=court_code,
                       actor=actor, causation_id=causation_id)  # fmt: skip

    def _now_ms(self) -> int:
        return int(self.ctx.clock.now().timestamp() * 1000)

    # --- a filed case: the network query starts ----------------------------------------------

    def on_case_filed(
        self, pipe: Pipeline, filed: case_events_pb2.CaseFiled, event_id: str
    ) -> None:
        """Queue the network query on every channel for every debtor, and the leads.

        Called from the consumer inside its transaction (``pipe`` is in MULTI mode); the
        event is applied once, so no read is needed.
        """
        debtors = [{"name": d.name, "id_number": d.id_number} for d in filed.debtors]
        units = [
            {"debtor": i, "channel": channel.value, "status": "pending", "attempts": 1,
             "tries": 0, "error": "", "asset_count": 0}
            for i in range(len(debtors))
            for channel in CHANNELS
        ]  # fmt: skip
        case = {
            "case_id": filed.case_id,
            "court_code": filed.court_code,
            "case_number": filed.case_number,
            "claim_fen": filed.claim_amount_fen,
            "costs_fen": filed.costs_fen,
            "needed_fen": filed.claim_amount_fen + filed.costs_fen,
            "debtors": debtors,
            "parties": [p.name for p in filed.applicants] + [d["name"] for d in debtors],
            "reserved_fen": 0,
            "query": {"round": 1, "status": "running", "units": units},
            "assets": [],
            "leads": [],
        }
        now = self._now_ms()
        for unit in range(len(units)):
            self.work.schedule_query(
                pipe, QueryRef(filed.case_id, 1, unit, 1).member, filed.court_code, now
            )
        started = pb.NetworkQueryStarted(
            case_id=filed.case_id, round=1, channels=[c.value for c in CHANNELS]
        )
        self._stage(pipe, started, filed.case_id, filed.court_code, causation_id=event_id)
        for lead in filed.asset_leads:
            self._add_lead(pipe, case, lead.lead_id, lead.description, lead.channel, lead.urgent)
        self._put(pipe, self.case_key(filed.case_id), case)

    def _add_lead(
        self, pipe: Pipeline, case: dict[str, Any], lead_id: str, description: str,
        channel: str, urgent: bool, actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> None:  # fmt: skip
        record = {
            "lead_id": lead_id,
            "case_id": case["case_id"],
            "court_code": case["court_code"],
            "description": description,
            "channel": channel,
            "urgent": urgent,
            "status": "received",
        }
        case["leads"].append(lead_id)
        self._put(pipe, self.lead_key(lead_id), record)
        message_class = pb.UrgentLeadReceived if urgent else pb.LeadReceived
        payload = message_class(
            lead_id=lead_id, case_id=case["case_id"], description=description, channel=channel
        )
        self._stage(pipe, payload, lead_id, case["court_code"], actor)

    # --- the agency worker's side ------------------------------------------------------------

    async def due_count(self) -> int:
        """Submissions due now (a query or control to send, or to resend)."""
        return await self.work.count(self._now_ms())

    async def due_work(self, limit: int = 200) -> list[str]:
        """Work due now, fairly shared across courts and cases (``schedule.py``)."""
        return await self.work.due(self._now_ms(), limit)

    async def ask_again_for_outstanding(self) -> int:
        """At start: every query and control sent and still awaiting its answer is due
        again now, not at its feedback timeout. The outside systems keep what they accepted,
        and a request sent again under its id is answered once; one they lost is answered
        anew (issue 13: after a restart, answers waited out the whole timeout)."""
        now = self._now_ms()
        outstanding = 0
        for case_id in await self.work.queued_cases():
            case = await self.case(case_id)
            if case is None:
                continue
            query = case["query"]
            members = [
                QueryRef(case_id, query["round"], unit, 0).member
                for unit, state in enumerate(query["units"])
                if state["status"] == "submitted"
            ]
            if members:
                outstanding += len(members)
                async with self.redis.pipeline(transaction=False) as pipe:
                    for member in members:
                        self.work.hasten_query(pipe, member, case["court_code"], now)
                    await pipe.execute()
        for asset_id in await self.work.queued_controls():
            record = await self.asset(asset_id)
            if record is not None and record["status"] == AssetStatus.CONTROL_PENDING:
                outstanding += 1
                await self.work.hasten_control(asset_id, now)
        return outstanding

    async def query_requests(
        self, case_id: str, members: Sequence[str]
    ) -> list[tuple[str, agency_pb.SubmitQueryRequest]]:
        """The requests to send for these due query units of one case (read once); units
        no longer waiting for an answer leave the due set."""
        case = await self.case(case_id)
        wanted, dropped = [], []
        for member in members:
            _, _, round_, unit = member.split("|")
            if case is None or case["query"]["round"] != int(round_):
                dropped.append(member)
                continue
            state = case["query"]["units"][int(unit)]
            if state["status"] not in ("pending", "submitted"):
                dropped.append(member)
                continue
            debtor = case["debtors"][state["debtor"]]
            ref = QueryRef(case_id, int(round_), int(unit), state["attempts"])
            wanted.append((member, agency_pb.SubmitQueryRequest(
                request_id=ref.request_id, case_id=case_id, court_code=case["court_code"],
                channel=state["channel"], debtor_name=debtor["name"],
                debtor_id_number=debtor["id_number"],
            )))  # fmt: skip
        if dropped:
            async with self.redis.pipeline(transaction=True) as pipe:
                self.work.unschedule_query(pipe, *dropped)
                await pipe.execute()
        return wanted

    async def queries_submitted(
        self, case_id: str, results: Sequence[tuple[str, str, str | None]]
    ) -> None:
        """After submitting query units of one case — (member, request id, error or None)
        each —: wait for feedback, or retry with backoff, or report failure. One
        transaction for them all, so units of one case never contend for its record."""
        key = self.case_key(case_id)

        async def body(pipe: Pipeline) -> None:
            case = await self._load(pipe, key)
            if case is None:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            changed = False
            for member, request_id, error in results:
                _, _, round_, unit_text = member.split("|")
                unit = int(unit_text)
                if case["query"]["round"] != int(round_):
                    continue
                state = case["query"]["units"][unit]
                if state["status"] not in ("pending", "submitted"):
                    self.work.unschedule_query(pipe, member)
                    continue
                if QueryRef(case_id, int(round_), unit, state["attempts"]).request_id != request_id:
                    continue  # a newer attempt superseded this one
                # Sent before and still unanswered after the feedback timeout: the outside
                # system may have lost it. Such tries count too, or a request it never
                # answers would be sent again for ever and never reported.
                unanswered = state["status"] == "submitted"
                state["tries"] += 1
                changed = True
                if error is None:
                    state["status"] = "submitted"
                    wait = self.settings.feedback_timeout_s
                else:
                    state["error"] = error
                    wait = self.settings.backoff_s(state["tries"])
                if unanswered and error is None:
                    state["error"] = f"no answer after {state['tries'] - 1} submissions"
                if state["tries"] >= self.settings.max_attempts and (error or unanswered):
                    self._fail_unit(pipe, case, unit, member)
                else:
                    at = self._now_ms() + int(wait * 1000)
                    self.work.schedule_query(pipe, member, case["court_code"], at)
            if changed:
                self._put(pipe, key, case)

        await transact(self.redis, [key], body)

    def _fail_unit(self, pipe: Pipeline, case: dict[str, Any], unit: int, member: str) -> None:
        state = case["query"]["units"][unit]
        state["status"] = "failed"
        self.work.unschedule_query(pipe, member)
        failed = pb.ChannelQueryFailed(
            case_id=case["case_id"],
            round=case["query"]["round"],
            channel=state["channel"],
            attempts=state["tries"],
            last_error=state["error"],
        )
        log.warning(
            "channel query keeps failing",
            case_id=case["case_id"],
            channel=state["channel"],
            attempts=state["tries"],
            error=state["error"],
        )
        self._stage(pipe, failed, case["case_id"], case["court_code"])

    async def apply_feedback(self, feedback: agency_pb.Feedback) -> str:
        """Apply one feedback; duplicates and stale answers change nothing. Returns what
        happened (for logs and tests)."""
        return (await self.apply_feedback_batch([feedback]))[0]

    async def apply_feedback_batch(self, batch: Sequence[agency_pb.Feedback]) -> list[str]:
        """Apply feedback in the order given; what happened to each, in that order. The
        answers to one case's queries are applied in one transaction."""
        outcomes: dict[int, str] = {}
        by_case: dict[str, list[tuple[int, agency_pb.Feedback, QueryRef]]] = {}
        for n, feedback in enumerate(batch):
            kind, parts = parse_request_id(feedback.request_id)
            if kind == "q" and len(parts) == 4:
                ref = QueryRef(parts[0], int(parts[1]), int(parts[2]), int(parts[3]))
                by_case.setdefault(ref.case_id, []).append((n, feedback, ref))
            elif kind == "c" and len(parts) == 2:
                outcomes[n] = await self._apply_control_feedback(feedback, parts[0], int(parts[1]))
            else:
                log.warning("feedback for an unknown request", request_id=feedback.request_id)
                outcomes[n] = "unknown"
        for case_id, answers in by_case.items():
            applied = await self._apply_query_feedback(case_id, [(f, r) for _, f, r in answers])
            outcomes.update(zip((n for n, _, _ in answers), applied, strict=True))
        return [outcomes[n] for n in range(len(batch))]

    async def _apply_query_feedback(
        self, case_id: str, answers: Sequence[tuple[agency_pb.Feedback, QueryRef]]
    ) -> list[str]:
        key = self.case_key(case_id)
        asset_keys = sorted({
            self.asset_record_key(asset_id_for(case_id, a.asset_key))
            for feedback, _ in answers for a in feedback.assets
        })  # fmt: skip
        queue_keys = sorted({self.queue_key(a.asset_key) for f, _ in answers for a in f.assets})

        async def body(pipe: Pipeline) -> list[str]:
            # One round trip for the case, the assets reported and their queues.
            raws = await pipe.mget([key, *asset_keys, *queue_keys])
            case = json.loads(raws[0]) if raws[0] is not None else None
            if case is None:
                return ["stale"] * len(answers)
            records: dict[str, Any] = {
                k: json.loads(raw) if raw is not None else None
                for k, raw in zip(asset_keys, raws[1 : 1 + len(asset_keys)], strict=True)
            }
            queues: dict[str, list[str]] = {
                k: list(json.loads(raw)) if raw is not None else []
                for k, raw in zip(queue_keys, raws[1 + len(asset_keys) :], strict=True)
            }
            pipe.multi()  # type: ignore[no-untyped-call]
            outcomes = [self._answer(pipe, case, f, ref, records, queues) for f, ref in answers]
            if any(outcome in ("failed", "answered") for outcome in outcomes):
                self._put(pipe, key, case)
            return outcomes

        return await transact(self.redis, [key, *asset_keys, *queue_keys], body)

    def _answer(
        self, pipe: Pipeline, case: dict[str, Any], feedback: agency_pb.Feedback, ref: QueryRef,
        records: dict[str, Any], queues: dict[str, list[str]],
    ) -> str:  # fmt: skip
        """One channel's answer, applied to ``case`` in memory with its writes queued;
        ``records`` and ``queues`` (by key) are updated with what it records."""
        if case["query"]["round"] != ref.round:
            return "stale"
        state = case["query"]["units"][ref.unit]
        if state["status"] not in ("pending", "submitted") or state["attempts"] != ref.attempt:
            return "duplicate"
        if feedback.status == "failed":
            # A failed answer ends this request id; the next try is a new request.
            state["error"] = feedback.error
            state["attempts"] += 1
            state["status"] = "pending"
            if state["tries"] >= self.settings.max_attempts:
                self._fail_unit(pipe, case, ref.unit, ref.member)
            else:
                delay = int(self.settings.backoff_s(state["tries"]) * 1000)
                at = self._now_ms() + delay
                self.work.schedule_query(pipe, ref.member, case["court_code"], at)
            return "failed"
        state["status"] = "answered"
        state["outcome"] = feedback.status
        state["asset_count"] = len(feedback.assets)
        state["error"] = ""
        self.work.unschedule_query(pipe, ref.member)
        new_ids = []
        for asset in feedback.assets:
            record_key = self.asset_record_key(asset_id_for(case["case_id"], asset.asset_key))
            if records[record_key] is not None:
                continue  # reported by another channel or debtor already
            queue = queues[self.queue_key(asset.asset_key)]
            records[record_key] = self._record_found(pipe, case, asset, "query", queue)
            new_ids.append(records[record_key]["asset_id"])
        answered = pb.ChannelQueryAnswered(
            case_id=case["case_id"],
            round=ref.round,
            channel=state["channel"],
            outcome=feedback.status,
            asset_count=len(feedback.assets),
            attempts=state["tries"],
        )
        self._stage(pipe, answered, case["case_id"], case["court_code"])
        if new_ids:
            self._push_to_parties(pipe, case, new_ids)
        if all(u["status"] == "answered" for u in case["query"]["units"]):
            self._complete_query(pipe, case)
        return "answered"

    async def _load_queue(self, client: Any, key: str) -> list[str]:
        raw = await client.get(key)
        return list(json.loads(raw)) if raw is not None else []

    def _record_found(
        self, pipe: Pipeline, case: dict[str, Any], asset: agency_pb.AgencyAsset, source: str,
        queue: list[str], actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> dict[str, Any]:  # fmt: skip
        kind = AssetKind(asset.kind)
        asset_id = asset_id_for(case["case_id"], asset.asset_key)
        record: dict[str, Any] = {
            "asset_id": asset_id,
            "case_id": case["case_id"],
            "court_code": case["court_code"],
            "channel": _channel_of(kind),
            "kind": kind.value,
            "asset_key": asset.asset_key,
            "description": asset.description,
            "holder_id": asset.holder_id,
            "value_fen": asset.value_fen,
            "control_mode": "online" if asset.online_control else "offline",
            "term_class": TERM_CLASS[kind].value,
            "location_division": asset.location_division,
            "source": source,
            "status": AssetStatus.FOUND.value,
            "amount_fen": 0,
            "control_attempt": 0,
        }
        case["assets"].append(asset_id)
        if kind not in LIQUID_KINDS:
            _summary(case)["found_nonliquid"] += 1
        found = pb.AssetFound(
            asset_id=asset_id,
            case_id=case["case_id"],
            channel=record["channel"],
            kind=kind.value,
            asset_key=asset.asset_key,
            description=asset.description,
            holder_id=asset.holder_id,
            value_fen=asset.value_fen,
            control_mode=record["control_mode"],
            term_class=record["term_class"],
            location_division=asset.location_division,
            source=source,
        )
        self._stage(pipe, found, asset_id, case["court_code"], actor)
        # ¶13: money found online is frozen at once, an exact amount, up to what is needed.
        if kind in LIQUID_KINDS and asset.online_control:
            remaining = case["needed_fen"] - case["reserved_fen"]
            if remaining > 0:
                amount = min(asset.value_fen, remaining)
                self._hold(pipe, case, record, amount, "svc:asset_control", queue, actor)
        self._put(pipe, self.asset_record_key(asset_id), record)
        return record

    def _push_to_parties(self, pipe: Pipeline, case: dict[str, Any], asset_ids: list[str]) -> None:
        pushed = pb.AssetsPushedToParties(
            case_id=case["case_id"],
            asset_ids=asset_ids,
            recipients=case["parties"],
            summary=f"{case['case_number']}：新查控到财产{len(asset_ids)}项",
        )
        self._stage(pipe, pushed, case["case_id"], case["court_code"])

    def _complete_query(self, pipe: Pipeline, case: dict[str, Any]) -> None:
        case["query"]["status"] = "completed"
        summary = _summary(case)
        liquid = summary["liquid_fen"]
        # Property to price and sell matters only when the money does not cover the need.
        to_dispose = summary["found_nonliquid"] if liquid < case["needed_fen"] else 0
        completed = pb.NetworkQueryCompleted(
            case_id=case["case_id"],
            round=case["query"]["round"],
            asset_count=len(case["assets"]),
            liquid_value_fen=liquid,
            assets_to_dispose=to_dispose,
            needed_fen=case["needed_fen"],
        )
        self._stage(pipe, completed, case["case_id"], case["court_code"])

    # --- control ------------------------------------------------------------------------------

    def _hold(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any], amount: int,
        requested_by: str, queue: list[str], actor: envelope_pb2.Actor,
        control_ref: str = "", measure: Measure | None = None,
    ) -> None:  # fmt: skip
        """Put a control on ``record`` for ``amount``: behind others (轮候) if the outside
        asset is held already, else online through the outside system, else recorded as
        done by hand (offline, with the ruling's reference). Detention (扣押) is a
        physical act: always by hand."""
        kind = AssetKind(record["kind"])
        chosen = measure or measure_for(kind)
        by_hand = record["control_mode"] == "offline" or chosen is Measure.DETAIN
        measure_name = chosen.value
        record.update(amount_fen=amount, measure=measure_name, requested_by=requested_by)
        case["reserved_fen"] += amount
        summary = _summary(case)
        queue_key = self.queue_key(record["asset_key"])
        if queue:
            record["status"] = AssetStatus.WAITING.value
            queue.append(record["asset_id"])
            waiting = pb.WaitingSeizureRegistered(
                asset_id=record["asset_id"],
                case_id=case["case_id"],
                asset_key=record["asset_key"],
                position=len(queue) - 1,
                measure=measure_name,
                amount_fen=amount,
                requested_by=requested_by,
            )
            self._stage(pipe, waiting, record["asset_id"], case["court_code"], actor)
        else:
            queue.append(record["asset_id"])
            if not by_hand:
                record["status"] = AssetStatus.CONTROL_PENDING.value
                record["control_attempt"] += 1
                request_id = f"c.{record['asset_id']}.{record['control_attempt']}"
                record["control_request"] = request_id
                record["control_tries"] = 0
                self.work.schedule_control(pipe, record["asset_id"], self._now_ms())
                requested = pb.ControlRequested(
                    asset_id=record["asset_id"],
                    case_id=case["case_id"],
                    measure=measure_name,
                    amount_fen=amount,
                    request_id=request_id,
                    requested_by=requested_by,
                )
                self._stage(pipe, requested, record["asset_id"], case["court_code"], actor)
            else:
                self._controlled(pipe, case, record, amount, control_ref, "first", actor)
        if kind in LIQUID_KINDS and record["status"] != AssetStatus.WAITING:
            summary["liquid_fen"] += amount  # a waiting freeze secures nothing yet
        self._put(pipe, queue_key, queue)

    def _controlled(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any], amount: int,
        control_ref: str, rank: str, actor: envelope_pb2.Actor,
    ) -> None:  # fmt: skip
        kind = AssetKind(record["kind"])
        record.update(
            status=AssetStatus.CONTROLLED.value,
            amount_fen=amount,
            control_ref=control_ref,
            controlled_by=record.get("requested_by", ""),
            rank=rank,
        )
        controlled = pb.AssetControlled(
            asset_id=record["asset_id"],
            case_id=case["case_id"],
            measure=record["measure"],
            amount_fen=amount,
            control_mode=record["control_mode"],
            term_class=record["term_class"],
            disposal_needed="no" if kind in LIQUID_KINDS else "yes",
            controlled_by=record["controlled_by"],
            rank=rank,
            control_ref=control_ref,
            asset_key=record["asset_key"],
        )
        self._stage(pipe, controlled, record["asset_id"], case["court_code"], actor)

    async def control_request(self, asset_id: str) -> agency_pb.SubmitControlRequest | None:
        record = await self.asset(asset_id)
        if record is None or record["status"] != AssetStatus.CONTROL_PENDING:
            await self.work.unschedule_control(self.redis, asset_id)
            return None
        return agency_pb.SubmitControlRequest(
            request_id=record["control_request"],
            case_id=record["case_id"],
            court_code=record["court_code"],
            channel=record["channel"],
            asset_key=record["asset_key"],
            measure=record["measure"],
            amount_fen=record["amount_fen"],
        )

    async def control_submitted(self, asset_id: str, request_id: str, error: str | None) -> None:
        key = self.asset_record_key(asset_id)

        async def body(pipe: Pipeline) -> None:
            record = await self._load(pipe, key)
            if record is None or record.get("control_request") != request_id:
                return
            if record["status"] != AssetStatus.CONTROL_PENDING:
                pipe.multi()  # type: ignore[no-untyped-call]
                self.work.unschedule_control(pipe, asset_id)
                return
            record["control_tries"] += 1
            if error is not None and record["control_tries"] >= self.settings.max_attempts:
                case_key = self.case_key(record["case_id"])
                await pipe.watch(case_key, self.queue_key(record["asset_key"]))
                case = await self._load(pipe, case_key)
                queue = await self._load_queue(pipe, self.queue_key(record["asset_key"]))
                assert case is not None
                promoted = await self._next_in_line(pipe, queue, asset_id)
                pipe.multi()  # type: ignore[no-untyped-call]
                self._control_failed(pipe, case, record, queue, error, promoted)
                self._put(pipe, case_key, case)
                self._put(pipe, key, record)
                return
            wait = (
                self.settings.feedback_timeout_s
                if error is None
                else self.settings.backoff_s(record["control_tries"])
            )
            pipe.multi()  # type: ignore[no-untyped-call]
            self.work.schedule_control(pipe, asset_id, self._now_ms() + int(wait * 1000))
            self._put(pipe, key, record)

        await transact(self.redis, [key], body)

    def _control_failed(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any], queue: list[str],
        reason: str, promoted: Promotion | None,
    ) -> None:  # fmt: skip
        self._end_control(case, record, AssetStatus.FOUND)  # open to control again
        record["failure"] = reason
        self._leave_queue(pipe, record, queue, promoted)
        failed = pb.ControlFailed(
            asset_id=record["asset_id"],
            case_id=case["case_id"],
            request_id=record.get("control_request", ""),
            reason=reason,
        )
        self._stage(pipe, failed, record["asset_id"], case["court_code"])

    async def _apply_control_feedback(
        self, feedback: agency_pb.Feedback, asset_id: str, attempt: int
    ) -> str:
        key = self.asset_record_key(asset_id)
        head = await self.asset(asset_id)
        if head is None:
            return "unknown"
        case_key = self.case_key(head["case_id"])
        queue_key = self.queue_key(head["asset_key"])

        async def body(pipe: Pipeline) -> str:
            record = await self._load(pipe, key)
            case = await self._load(pipe, case_key)
            queue = await self._load_queue(pipe, queue_key)
            assert record is not None and case is not None
            if (
                record["status"] != AssetStatus.CONTROL_PENDING
                or record.get("control_request") != feedback.request_id
            ):
                return "duplicate"
            promoted = (
                await self._next_in_line(pipe, queue, asset_id)
                if feedback.status != "controlled"
                else None
            )
            pipe.multi()  # type: ignore[no-untyped-call]
            if feedback.status != "controlled":
                reason = feedback.error or feedback.status
                self._control_failed(pipe, case, record, queue, reason, promoted)
            else:
                actual = feedback.controlled_amount_fen
                if actual < record["amount_fen"]:  # the balance was lower than asked
                    case["reserved_fen"] -= record["amount_fen"] - actual
                    if AssetKind(record["kind"]) in LIQUID_KINDS:
                        _summary(case)["liquid_fen"] -= record["amount_fen"] - actual
                self.work.unschedule_control(pipe, asset_id)
                self._controlled(
                    pipe, case, record, actual, feedback.control_ref, "first", SERVICE_ACTOR
                )
            self._put(pipe, key, record)
            self._put(pipe, case_key, case)
            return feedback.status

        return await transact(self.redis, [key, case_key, queue_key], body)

    # --- the seizure queue -----------------------------------------------------------------------

    async def _next_in_line(
        self, pipe: Pipeline, queue: list[str], leaving: str
    ) -> Promotion | None:
        """The waiting seizure that takes effect when ``leaving`` (the first) goes; its
        records are watched by the caller's transaction."""
        if len(queue) < 2 or queue[0] != leaving:
            return None
        record_key = self.asset_record_key(queue[1])
        record = await self._load(pipe, record_key)
        if record is None:
            return None
        case_key = self.case_key(record["case_id"])
        await pipe.watch(record_key, case_key)
        record = await self._load(pipe, record_key)
        case = await self._load(pipe, case_key)
        if record is None or case is None or record["status"] != AssetStatus.WAITING:
            return None
        return Promotion(record, case)

    def _leave_queue(
        self, pipe: Pipeline, record: dict[str, Any], queue: list[str], promoted: Promotion | None
    ) -> None:
        if record["asset_id"] in queue:
            queue.remove(record["asset_id"])
        self._put(pipe, self.queue_key(record["asset_key"]), queue)
        self.work.unschedule_control(pipe, record["asset_id"])
        if promoted is not None:
            # 轮候查封 takes effect by itself when the first seizure goes (查封规定 art 26).
            self._controlled(
                pipe, promoted.case, promoted.record, promoted.record["amount_fen"],
                "轮候查封自动生效", "from_waiting", SERVICE_ACTOR,
            )  # fmt: skip
            if AssetKind(promoted.record["kind"]) in LIQUID_KINDS:
                _summary(promoted.case)["liquid_fen"] += promoted.record["amount_fen"]
            self._put(pipe, self.asset_record_key(promoted.record["asset_id"]), promoted.record)
            self._put(pipe, self.case_key(promoted.case["case_id"]), promoted.case)

    # --- commands from people ----------------------------------------------------------------

    def _check_officer(self, identity: Identity, court_code: str, what: str, *roles: Role) -> None:
        require_role(identity, *(roles or (Role.OFFICER,)))
        require_handling_court(identity, court_code, what)

    async def _asset_command(
        self, asset_id: str, identity: Identity, act: Any, *roles: Role, with_queue: bool = False,
    ) -> Any:  # fmt: skip
        """Run ``act(pipe, case, record, queue)`` (queue only if asked) in one transaction."""
        head = await self.asset(asset_id)
        if head is None:
            raise NotFound(f"no asset {asset_id}")
        self._check_officer(identity, head["court_code"], f"asset {asset_id}", *roles)
        key = self.asset_record_key(asset_id)
        case_key = self.case_key(head["case_id"])
        queue_key = self.queue_key(head["asset_key"])

        async def body(pipe: Pipeline) -> Any:
            record = await self._load(pipe, key)
            case = await self._load(pipe, case_key)
            assert record is not None and case is not None
            queue = await self._load_queue(pipe, queue_key) if with_queue else []
            result = await act(pipe, case, record, queue)
            self._put(pipe, key, record)
            self._put(pipe, case_key, case)
            return result

        return await transact(self.redis, [key, case_key, queue_key], body)

    async def control(
        self, asset_id: str, *, identity: Identity, amount_fen: int | None, control_ref: str,
        measure: Measure | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Control an asset (冻结、查封、扣押) within what the claim needs (¶15)."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> dict[str, Any]:  # fmt: skip
            if record["status"] in HOLDING:
                raise Conflict(f"asset {asset_id} is {record['status']} already")
            liquid = AssetKind(record["kind"]) in LIQUID_KINDS
            if liquid:
                if amount_fen is None:
                    raise Invalid(
                        "a freeze of money names its exact amount (amount_fen)",
                        loc=("body", "amount_fen"),
                    )
                if amount_fen > record["value_fen"]:
                    raise Invalid(
                        f"amount_fen {amount_fen} is more than the balance "
                        f"{record['value_fen']} ({yuan(record['value_fen'])})",
                        loc=("body", "amount_fen"),
                    )
                amount = amount_fen
            else:
                if amount_fen is not None and amount_fen != record["value_fen"]:
                    raise Invalid(
                        "an asset that is not money is controlled whole; leave amount_fen out",
                        loc=("body", "amount_fen"),
                    )
                amount = record["value_fen"]
            kind = AssetKind(record["kind"])
            if measure is not None and measure not in measures_for(kind):
                allowed = ", ".join(m.value for m in measures_for(kind))
                raise Invalid(
                    f"a {kind.value} is controlled by {allowed}, not {measure.value}",
                    loc=("body", "measure"),
                )
            by_hand = record["control_mode"] == "offline" or measure is Measure.DETAIN
            if by_hand and not queue and not control_ref:
                raise Invalid(
                    "this control is done by hand, offline: record the ruling or notice "
                    "number it was done under (control_ref)",
                    loc=("body", "control_ref"),
                )
            needed, reserved = case["needed_fen"], case["reserved_fen"]
            if reserved + amount > needed and not record.get("exception_by"):
                hint = (
                    f"; at most {needed - reserved} fen can still be frozen"
                    if liquid
                    else "; a leader may approve an exception for an indivisible asset"
                )
                raise OverSeizure(
                    f"over-seizure (¶15): already controlled {reserved} fen ({yuan(reserved)}) "
                    f"+ this {amount} fen ({yuan(amount)}) = {reserved + amount} fen, more than "
                    f"the claim needs: {needed} fen ({yuan(needed)}; claim {case['claim_fen']} "
                    f"+ costs {case['costs_fen']}){hint}"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            self._hold(pipe, case, record, amount, identity.subject, queue, identity.as_actor(),
                       control_ref, measure)  # fmt: skip
            return {"asset_id": asset_id, "status": record["status"], "amount_fen": amount}

        result: dict[str, Any] = await self._asset_command(asset_id, identity, act, with_queue=True)
        return result

    async def approve_exception(self, asset_id: str, reason: str, *, identity: Identity) -> None:
        """A leader approves controlling an indivisible asset worth more than the need."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if AssetKind(record["kind"]) in LIQUID_KINDS:
                raise Conflict("money is divisible: freeze an exact amount instead of an exception")
            if record["status"] not in (AssetStatus.FOUND, AssetStatus.DECLINED):
                raise Conflict(f"asset {asset_id} is {record['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(exception_by=identity.subject, exception_reason=reason)
            approved = pb.OverSeizureExceptionApproved(
                asset_id=asset_id, case_id=case["case_id"], reason=reason,
                approved_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, approved, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act, Role.LEADER)

    async def decline(self, asset_id: str, reason: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if record["status"] != AssetStatus.FOUND:
                raise Conflict(f"asset {asset_id} is {record['status']}, not found and open")
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status=AssetStatus.DECLINED.value, declined_reason=reason)
            declined = pb.ControlDeclined(
                asset_id=asset_id, case_id=case["case_id"], reason=reason,
                declined_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, declined, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act)

    async def renew(self, asset_id: str, *, identity: Identity) -> None:
        """Renew a control before it expires (续行): its term starts again."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if record["status"] != AssetStatus.CONTROLLED:
                raise Conflict(f"asset {asset_id} is {record['status']}; only a control in "
                               "effect can be renewed")  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["renewals"] = record.get("renewals", 0) + 1
            renewed = pb.ControlRenewed(
                asset_id=asset_id, case_id=case["case_id"], term_class=record["term_class"],
                renewed_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, renewed, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act)

    async def release(self, asset_id: str, reason: str, *, identity: Identity) -> None:
        """Release a control (解除); the next waiting seizure takes effect."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if record["status"] not in (AssetStatus.CONTROLLED, AssetStatus.WAITING):
                raise Conflict(f"asset {asset_id} is {record['status']}; nothing to release")
            promoted = await self._next_in_line(pipe, queue, asset_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._end_control(case, record, AssetStatus.RELEASED)
            released = pb.ControlReleased(
                asset_id=asset_id, case_id=case["case_id"], reason=reason,
                released_by=identity.subject, asset_key=record["asset_key"],
            )  # fmt: skip
            self._stage(pipe, released, asset_id, case["court_code"], identity.as_actor())
            self._leave_queue(pipe, record, queue, promoted)

        await self._asset_command(asset_id, identity, act, with_queue=True)

    def _end_control(
        self, case: dict[str, Any], record: dict[str, Any], status: AssetStatus
    ) -> None:
        case["reserved_fen"] -= record["amount_fen"]
        counted = record["status"] != AssetStatus.WAITING
        if AssetKind(record["kind"]) in LIQUID_KINDS and counted:
            _summary(case)["liquid_fen"] -= record["amount_fen"]
        record.update(status=status.value, amount_fen=0)

    async def lapse(self, asset_id: str, clock_id: str, effect: str, causation_id: str) -> bool:
        """A control term ran out without renewal: the control lapses (失效), loudly."""
        head = await self.asset(asset_id)
        if head is None or head["status"] != AssetStatus.CONTROLLED:
            return False
        key = self.asset_record_key(asset_id)
        case_key = self.case_key(head["case_id"])
        queue_key = self.queue_key(head["asset_key"])

        async def body(pipe: Pipeline) -> bool:
            record = await self._load(pipe, key)
            case = await self._load(pipe, case_key)
            queue = await self._load_queue(pipe, queue_key)
            if record is None or case is None or record["status"] != AssetStatus.CONTROLLED:
                return False
            promoted = await self._next_in_line(pipe, queue, asset_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._end_control(case, record, AssetStatus.LAPSED)
            lapsed = pb.ControlLapsed(
                asset_id=asset_id, case_id=case["case_id"], clock_id=clock_id, effect=effect,
                asset_key=record["asset_key"],
            )  # fmt: skip
            self._stage(pipe, lapsed, asset_id, case["court_code"], causation_id=causation_id)
            self._leave_queue(pipe, record, queue, promoted)
            self._put(pipe, key, record)
            self._put(pipe, case_key, case)
            return True

        lapsed: bool = await transact(self.redis, [key, case_key, queue_key], body)
        if lapsed:
            log.error(
                "CONTROL LAPSED: the term ran out without renewal",
                asset_id=asset_id, case_id=head["case_id"], court=head["court_code"],
                asset=head["description"], effect=effect,
            )  # fmt: skip
        return lapsed

    # --- disposal ------------------------------------------------------------------------------

    async def start_reference_price(
        self, asset_id: str, method: PriceMethod, *, identity: Identity
    ) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            self._disposable(record)
            if record.get("price_method"):
                raise Conflict(f"the reference price of asset {asset_id} is already being fixed "
                               f"({record['price_method']})")  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["price_method"] = method.value
            started = pb.ReferencePriceStarted(
                asset_id=asset_id, case_id=case["case_id"], method=method.value
            )
            self._stage(pipe, started, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act)

    async def fix_reference_price(
        self, asset_id: str, price_fen: int, *, identity: Identity
    ) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            self._disposable(record)
            if not record.get("price_method"):
                raise Conflict(f"start fixing the reference price of asset {asset_id} first")
            if record.get("price_fen"):
                raise Conflict(f"the reference price of asset {asset_id} is fixed already")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["price_fen"] = price_fen
            fixed = pb.ReferencePriceFixed(
                asset_id=asset_id, case_id=case["case_id"], method=record["price_method"],
                price_fen=price_fen,
            )  # fmt: skip
            self._stage(pipe, fixed, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act)

    def _disposable(self, record: dict[str, Any]) -> None:
        if record["status"] != AssetStatus.CONTROLLED:
            raise Conflict(f"asset {record['asset_id']} is {record['status']}, not controlled")
        if AssetKind(record["kind"]) in LIQUID_KINDS:
            raise Conflict("money is deducted, not priced and sold")

    def _not_the_controller(self, record: dict[str, Any], identity: Identity) -> None:
        if record.get("controlled_by") == identity.subject:
            raise ScopeError(
                f"{identity.subject} controlled asset {record['asset_id']} and may not approve "
                "its disposal (分段办理)"
            )

    async def start_sale(
        self, asset_id: str, mode: SaleMode, reason: str, *, identity: Identity
    ) -> None:
        """Approve and start the sale: online judicial auction first (¶18)."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            self._disposable(record)
            self._not_the_controller(record, identity)
            if not record.get("price_fen"):
                raise Conflict(f"fix the reference price of asset {asset_id} before the sale")
            if record.get("sale_mode"):
                raise Conflict(f"the sale of asset {asset_id} started already")
            if mode is not SaleMode.ONLINE_AUCTION and not reason:
                raise Invalid(
                    "online judicial auction comes first (¶18): another mode needs its reason",
                    loc=("body", "reason"),
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(sale_mode=mode.value, sale_approved_by=identity.subject)
            sale = pb.SaleStarted(
                asset_id=asset_id, case_id=case["case_id"], mode=mode.value, reason=reason,
                approved_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, sale, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act, Role.OFFICER, Role.LEADER)

    async def permit_self_disposal(self, asset_id: str, days: int, *, identity: Identity) -> None:
        limit = catalogue().rule("disposal.self-disposal").limit or 0

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            self._disposable(record)
            self._not_the_controller(record, identity)
            if days > limit:
                raise Invalid(f"self-disposal is at most {limit} days (¶17), not {days}",
                              loc=("body", "days"))  # fmt: skip
            if record.get("sale_mode") or record.get("self_disposal_days"):
                raise Conflict(f"asset {asset_id} is being disposed of already")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["self_disposal_days"] = days
            permitted = pb.SelfDisposalPermitted(
                asset_id=asset_id, case_id=case["case_id"], days=days,
                approved_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, permitted, asset_id, case["court_code"], identity.as_actor())

        await self._asset_command(asset_id, identity, act, Role.OFFICER, Role.LEADER)

    # --- a case moved to another court (提级执行, 指令执行) ------------------------------------

    async def move_case(self, case_id: str, from_court: str, to_court: str) -> bool:
        """The case, its assets and leads follow it to ``to_court``; their clocks follow
        through AssetCourtChanged. Idempotent."""
        case_key = self.case_key(case_id)
        head = await self.case(case_id)
        if head is None:
            return False
        keys = [self.asset_record_key(a) for a in head["assets"]]
        keys += [self.lead_key(lead) for lead in head["leads"]]

        async def body(pipe: Pipeline) -> bool:
            case = await self._load(pipe, case_key)
            if case is None or case["court_code"] != from_court:
                return False
            records = [(key, await self._load(pipe, key)) for key in keys]
            pipe.multi()  # type: ignore[no-untyped-call]
            case["court_code"] = to_court
            self._put(pipe, case_key, case)
            for key, record in records:
                if record is None:
                    continue
                record["court_code"] = to_court
                self._put(pipe, key, record)
                subject = record.get("asset_id") or record["lead_id"]
                moved = pb.AssetCourtChanged(
                    subject_id=subject, case_id=case_id, from_court=from_court, to_court=to_court
                )
                self._stage(pipe, moved, subject, to_court)
            return True

        result: bool = await transact(self.redis, [case_key, *keys], body)
        return result

    # --- controls done for the case by an entrusted court --------------------------------------

    async def record_entrusted_control(
        self, completed: entrustment_pb.EntrustmentCompleted, actor: envelope_pb2.Actor
    ) -> bool:
        """An entrusted court controlled an asset for the case (事项委托): it becomes an
        asset of the case, controlled under the entrusted court's ruling. Idempotent."""
        control = completed.control
        case_key = self.case_key(completed.case_id)
        asset_id = asset_id_for(completed.case_id, control.asset_key)
        record_key = self.asset_record_key(asset_id)
        queue_key = self.queue_key(control.asset_key)

        async def body(pipe: Pipeline) -> bool:
            case = await self._load(pipe, case_key)
            if case is None or await self._load(pipe, record_key) is not None:
                return False
            queue = await self._load_queue(pipe, queue_key)
            asset = agency_pb.AgencyAsset(
                asset_key=control.asset_key,
                kind=control.kind,
                description=control.description,
                value_fen=control.value_fen,
                online_control=False,
                location_division=control.location_division,
            )
            pipe.multi()  # type: ignore[no-untyped-call]
            record = self._record_found(pipe, case, asset, "entrustment", queue, actor)
            self._hold(pipe, case, record, control.amount_fen, actor.id, queue, actor,
                       control.control_ref, Measure(control.measure))  # fmt: skip
            self._put(pipe, record_key, record)
            self._push_to_parties(pipe, case, [asset_id])
            self._put(pipe, case_key, case)
            return True

        result: bool = await transact(self.redis, [case_key, record_key, queue_key], body)
        return result

    # --- leads ---------------------------------------------------------------------------------

    async def add_lead(
        self, case_id: str, description: str, channel: str, urgent: bool, *, identity: Identity
    ) -> str:
        head = await self.case(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        self._check_officer(identity, head["court_code"], f"case {case_id}",
                            Role.OFFICER, Role.CLERK)  # fmt: skip
        lead_id = str(uuid.uuid4())
        key = self.case_key(case_id)

        async def body(pipe: Pipeline) -> str:
            case = await self._load(pipe, key)
            assert case is not None
            if len(case["leads"]) >= MAX_LEADS_PER_CASE:
                raise Conflict(
                    f"case {case_id} already has {len(case['leads'])} leads, the most one case "
                    f"holds ({MAX_LEADS_PER_CASE}); verify or add to the ones recorded"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            self._add_lead(pipe, case, lead_id, description, channel, urgent, identity.as_actor())
            self._put(pipe, key, case)
            return lead_id

        result: str = await transact(self.redis, [key], body)
        return result

    async def _lead_command(self, lead_id: str, identity: Identity, act: Any) -> Any:
        head = await self.lead(lead_id)
        if head is None:
            raise NotFound(f"no lead {lead_id}")
        self._check_officer(identity, head["court_code"], f"lead {lead_id}")
        key = self.lead_key(lead_id)
        case_key = self.case_key(head["case_id"])

        async def body(pipe: Pipeline) -> Any:
            lead = await self._load(pipe, key)
            case = await self._load(pipe, case_key)
            assert lead is not None and case is not None
            result = await act(pipe, case, lead)
            self._put(pipe, key, lead)
            self._put(pipe, case_key, case)
            return result

        return await transact(self.redis, [key, case_key], body)

    async def start_lead_verification(self, lead_id: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], lead: dict[str, Any]) -> None:
            if lead["status"] != "received":
                raise Conflict(f"verification of lead {lead_id} is already {lead['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            lead["status"] = "verifying"
            started = pb.LeadVerificationStarted(
                lead_id=lead_id, case_id=case["case_id"], started_by=identity.subject
            )
            self._stage(pipe, started, lead_id, case["court_code"], identity.as_actor())

        await self._lead_command(lead_id, identity, act)

    async def verify_lead(
        self, lead_id: str, asset: agency_pb.AgencyAsset | None, *, identity: Identity
    ) -> str:
        """Record a lead's verification; an asset found is recorded in the case."""
        queue_key = self.queue_key(asset.asset_key) if asset is not None else None

        async def act(pipe: Pipeline, case: dict[str, Any], lead: dict[str, Any]) -> str:
            if lead["status"] == "verified":
                raise Conflict(f"lead {lead_id} is verified already")
            asset_id = ""
            queue: list[str] = []
            if asset is not None:
                assert queue_key is not None
                asset_id = asset_id_for(case["case_id"], asset.asset_key)
                await pipe.watch(queue_key, self.asset_record_key(asset_id))
                if await self._load(pipe, self.asset_record_key(asset_id)) is not None:
                    raise Conflict(f"asset {asset.asset_key} is recorded in the case already")
                queue = await self._load_queue(pipe, queue_key)
            pipe.multi()  # type: ignore[no-untyped-call]
            if lead["status"] == "received":  # verification started and ended in one act
                started = pb.LeadVerificationStarted(
                    lead_id=lead_id, case_id=case["case_id"], started_by=identity.subject
                )
                self._stage(pipe, started, lead_id, case["court_code"], identity.as_actor())
            lead.update(status="verified", asset_id=asset_id)
            if asset is not None:
                self._record_found(pipe, case, asset, "lead", queue, identity.as_actor())
                self._push_to_parties(pipe, case, [asset_id])
            verified = pb.LeadVerified(
                lead_id=lead_id, case_id=case["case_id"],
                outcome="found" if asset is not None else "not_found", asset_id=asset_id,
            )  # fmt: skip
            self._stage(pipe, verified, lead_id, case["court_code"], identity.as_actor())
            return asset_id

        result: str = await self._lead_command(lead_id, identity, act)
        return result

    async def retry_failed_channels(self, case_id: str, *, identity: Identity) -> int:
        """Put the channels that kept failing back in the queue for a new series of tries."""
        head = await self.case(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        self._check_officer(identity, head["court_code"], f"case {case_id}")
        key = self.case_key(case_id)

        async def body(pipe: Pipeline) -> int:
            case = await self._load(pipe, key)
            assert case is not None
            failed = [i for i, u in enumerate(case["query"]["units"]) if u["status"] == "failed"]
            if not failed:
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]
            for unit in failed:
                state = case["query"]["units"][unit]
                state.update(status="pending", attempts=state["attempts"] + 1, tries=0)
                member = QueryRef(case_id, case["query"]["round"], unit, 0).member
                self.work.schedule_query(pipe, member, case["court_code"], self._now_ms())
            self._put(pipe, key, case)
            return len(failed)

        result: int = await transact(self.redis, [key], body)
        return result


def _summary(case: dict[str, Any]) -> dict[str, int]:
    summary: dict[str, int] = case.setdefault("summary", {})
    summary.setdefault("liquid_fen", 0)
    summary.setdefault("found_nonliquid", 0)
    return summary


def _channel_of(kind: AssetKind) -> str:
    for channel, kinds in KINDS_OF_CHANNEL.items():
        if kind in kinds:
            return channel.value
    raise ValueError(kind)
