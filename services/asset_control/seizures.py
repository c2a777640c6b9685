"""Holding an asset for a case: an asset found is recorded (money found online is frozen
at once, up to what the case needs); a control takes effect at once, or waits behind the
first seizure of the same outside asset (轮候), which takes effect by itself when the first
goes (查封规定 art 26)."""

from __future__ import annotations

from typing import Any

import structlog
from redis.asyncio.client import Pipeline

from services.asset_control.domain import (
    SERVICE_ACTOR,
    AssetStatus,
    Promotion,
    asset_id_for,
    channel_of,
    resolve_outside_holds,
    summary,
)
from services.asset_control.handler import Handler
from zhixing.assets import LIQUID_KINDS, TERM_CLASS, AssetKind, Measure, measure_for
from zhixing.clock import CHINA_TZ
from zhixing.closures import ENDED_THIS_ROUND
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import envelope_pb2

log = structlog.get_logger(__name__)


class Seizures(Handler):
    def record_found(
        self, pipe: Pipeline, case: dict[str, Any], asset: agency_pb.AgencyAsset, source: str,
        queue: list[str], actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> dict[str, Any]:  # fmt: skip
        """Record an asset found for ``case``; money found online is frozen at once, except
        by a re-query after 终本 (source "requery"), which controls nothing by itself, and
        for a case closed since (``decline_if_closed``)."""
        kind = AssetKind(asset.kind)
        asset_id = asset_id_for(case["case_id"], asset.asset_key)
        record: dict[str, Any] = {
            "asset_id": asset_id,
            "case_id": case["case_id"],
            "court_code": case["court_code"],
            "channel": channel_of(kind),
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
            summary(case)["found_nonliquid"] += 1
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
        self.stage(pipe, found, asset_id, case["court_code"], actor)
        declined = self.decline_if_closed(pipe, case, record)  # found after the closure
        # ¶13: money found online is frozen at once, an exact amount, up to what is needed.
        if not declined and source != "requery" and kind in LIQUID_KINDS and asset.online_control:
            remaining = case["needed_fen"] - case["reserved_fen"]
            if remaining > 0:
                amount = min(asset.value_fen, remaining)
                self.hold(pipe, case, record, amount, "svc:asset_control", queue, actor)
        self.records.put(pipe, self.records.asset_key(asset_id), record)
        return record

    def decline_if_closed(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any]
    ) -> bool:
        """An asset found and not controlled, of a case closed (``zhixing.closures``), is
        declined by the service, saying why: nothing is controlled in a closed case, and its
        clock (rule asset.offline-control) asks for nothing. One a re-query after 终本 found
        stays found (it controls nothing by itself, and tells the applicant, who may resume
        enforcement), and one an entrusted court controlled is held as it is (the control
        was made: it is released, not declined). True if declined; the caller writes
        ``record``."""
        method = case.get("closed_as")
        if (
            not method
            or record["status"] != AssetStatus.FOUND
            or record["source"] in ("requery", "entrustment")
        ):
            return False
        reason = (
            f"案件已于{case.get('closed_on', '')}以{method}方式结案，不再控制 / the case was closed"
        )
        if method == ENDED_THIS_ROUND:
            reason += ": property found is controlled in the 执恢 case that resumes it"
        else:
            reason += f" as {method}: nothing is controlled in it"
        record.update(status=AssetStatus.DECLINED.value, declined_reason=reason)
        declined = pb.ControlDeclined(asset_id=record["asset_id"], case_id=case["case_id"],
                                      reason=reason, declined_by=SERVICE_ACTOR.id)  # fmt: skip
        self.stage(pipe, declined, record["asset_id"], record["court_code"])
        return True

    def push_to_parties(self, pipe: Pipeline, case: dict[str, Any], asset_ids: list[str]) -> None:
        pushed = pb.AssetsPushedToParties(
            case_id=case["case_id"],
            asset_ids=asset_ids,
            recipients=case["parties"],
            summary=f"{case['case_number']}：新查控到财产{len(asset_ids)}项",
        )
        self.stage(pipe, pushed, case["case_id"], case["court_code"])

    def hold(
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
        totals = summary(case)
        queue_key = self.records.queue_key(record["asset_key"])
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
            self.stage(pipe, waiting, record["asset_id"], record["court_code"], actor)
        else:
            queue.append(record["asset_id"])
            if not by_hand:
                record["status"] = AssetStatus.CONTROL_PENDING.value
                record["control_attempt"] += 1
                request_id = f"c.{record['asset_id']}.{record['control_attempt']}"
                record["control_request"] = request_id
                record["control_tries"] = 0
                self.records.work.schedule_control(pipe, record["asset_id"], self.now_ms())
                requested = pb.ControlRequested(
                    asset_id=record["asset_id"],
                    case_id=case["case_id"],
                    measure=measure_name,
                    amount_fen=amount,
                    request_id=request_id,
                    requested_by=requested_by,
                )
                self.stage(pipe, requested, record["asset_id"], record["court_code"], actor)
            else:
                self.controlled(pipe, case, record, amount, control_ref, "first", actor)
        if kind in LIQUID_KINDS and record["status"] != AssetStatus.WAITING:
            totals["liquid_fen"] += amount  # a waiting freeze secures nothing yet
        self.records.put(pipe, queue_key, queue)

    def controlled(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any], amount: int,
        control_ref: str, rank: str, actor: envelope_pb2.Actor,
    ) -> None:  # fmt: skip
        kind = AssetKind(record["kind"])
        resolve_outside_holds(
            record, f"a control took effect since ({control_ref}): check that the outside "
            "system holds the asset once"
        )  # fmt: skip
        record.update(
            status=AssetStatus.CONTROLLED.value,
            amount_fen=amount,
            control_ref=control_ref,
            controlled_by=record.get("requested_by", ""),
            rank=rank,
            # The day the control took effect (China time): a priority creditor's court
            # counts its wait for a transfer of the disposal from the first seizure's day
            # (disposal.transfer-request-gate).
            controlled_on=self.ctx.clock.now().astimezone(CHINA_TZ).date().isoformat(),
        )
        # At the asset's court, not the case's: after a transfer of the disposal the asset's
        # court renews its control, so the control's clocks must run there.
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
        self.stage(pipe, controlled, record["asset_id"], record["court_code"], actor)

    def end_control(
        self, case: dict[str, Any], record: dict[str, Any], status: AssetStatus
    ) -> None:
        case["reserved_fen"] -= record["amount_fen"]
        counted = record["status"] != AssetStatus.WAITING
        if AssetKind(record["kind"]) in LIQUID_KINDS and counted:
            summary(case)["liquid_fen"] -= record["amount_fen"]
        record.update(status=status.value, amount_fen=0)

    async def next_in_line(
        self, pipe: Pipeline, queue: list[str], leaving: str
    ) -> Promotion | None:
        """The waiting seizure that takes effect when ``leaving`` (the first) goes; its
        records are watched by the caller's transaction."""
        if len(queue) < 2 or queue[0] != leaving:
            return None
        record_key = self.records.asset_key(queue[1])
        record = await self.records.load(pipe, record_key)
        if record is None:
            return None
        case_key = self.records.case_key(record["case_id"])
        await pipe.watch(record_key, case_key)
        record = await self.records.load(pipe, record_key)
        case = await self.records.load(pipe, case_key)
        if record is None or case is None or record["status"] != AssetStatus.WAITING:
            return None
        return Promotion(record, case)

    def leave_queue(
        self, pipe: Pipeline, record: dict[str, Any], queue: list[str], promoted: Promotion | None
    ) -> None:
        if record["asset_id"] in queue:
            queue.remove(record["asset_id"])
        self.records.put(pipe, self.records.queue_key(record["asset_key"]), queue)
        self.records.work.unschedule_control(pipe, record["asset_id"])
        if promoted is not None:
            # 轮候查封 takes effect by itself when the first seizure goes (查封规定 art 26).
            self.controlled(
                pipe, promoted.case, promoted.record, promoted.record["amount_fen"],
                "轮候查封自动生效", "from_waiting", SERVICE_ACTOR,
            )  # fmt: skip
            if AssetKind(promoted.record["kind"]) in LIQUID_KINDS:
                summary(promoted.case)["liquid_fen"] += promoted.record["amount_fen"]
            self.records.put(
                pipe, self.records.asset_key(promoted.record["asset_id"]), promoted.record
            )
            self.records.put(pipe, self.records.case_key(promoted.case["case_id"]), promoted.case)
