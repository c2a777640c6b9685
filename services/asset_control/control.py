"""Controls (冻结、查封、扣押) and their end: asked by an officer within what the claim
needs (¶15), sent to the outside systems by the agency worker or recorded as done by hand,
renewed (续行), released (解除), lapsed when a term runs out, and done for the case by an
entrusted court (事项委托)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import (
    HOLDING,
    MAX_FAILED_REQUESTS_KEPT,
    MAX_OUTSIDE_HOLDS_KEPT,
    SERVICE_ACTOR,
    AssetStatus,
    Promotion,
    asset_id_for,
    control_amount,
    held_as_reported,
    resolve_outside_holds,
    summary,
)
from services.asset_control.handler import Handler
from services.asset_control.repository import AssetRecords
from services.asset_control.seizures import Seizures
from services.asset_control.transfers import close_pending
from zhixing.assets import LIQUID_KINDS, TERM_CLASS, AssetKind, Measure
from zhixing.auth import Identity, Role
from zhixing.bounds import MAX_AMOUNT_FEN, MAX_ID
from zhixing.clock import CHINA_TZ
from zhixing.errors import Conflict, Invalid
from zhixing.events import Event, InvalidEvent, decode_event
from zhixing.service import ServiceContext
from zhixing.state import as_bytes, as_text
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import entrustment_events_pb2 as entrustment_pb
from zhixing.v1 import envelope_pb2

log = structlog.get_logger(__name__)


class Controls(Handler):
    def __init__(
        self, ctx: ServiceContext, records: AssetRecords, settings: AgencySettings,
        seizures: Seizures,
    ) -> None:  # fmt: skip
        super().__init__(ctx, records, settings)
        self.seizures = seizures

    async def control_requests(
        self, asset_ids: Sequence[str]
    ) -> list[tuple[str, agency_pb.SubmitControlRequest]]:
        """The requests to send for these due controls (their records read at once);
        controls no longer pending leave the due set."""
        records = await self.records.load_many(
            self.records.redis, [self.records.asset_key(a) for a in asset_ids]
        )
        wanted, dropped = [], []
        for asset_id, record in zip(asset_ids, records, strict=True):
            if record is None or record["status"] != AssetStatus.CONTROL_PENDING:
                dropped.append(asset_id)
                continue
            wanted.append((asset_id, agency_pb.SubmitControlRequest(
                request_id=record["control_request"], case_id=record["case_id"],
                court_code=record["court_code"], channel=record["channel"],
                asset_key=record["asset_key"], measure=record["measure"],
                amount_fen=record["amount_fen"],
            )))  # fmt: skip
        if dropped:
            async with self.records.redis.pipeline(transaction=True) as pipe:
                for asset_id in dropped:
                    self.records.work.unschedule_control(pipe, asset_id)
                await pipe.execute()
        return wanted

    async def controls_submitted(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        """After submitting controls — (asset id, request id, error or None) each —: wait for
        their feedback, or retry with backoff, in one transaction for them all. A control
        whose last allowed try failed is failed on its own afterwards (``control_submitted``:
        it reads its case and queue to hand the outside asset to the next in line)."""
        by_asset = {asset_id: (request_id, error) for asset_id, request_id, error in results}
        keys = [self.records.asset_key(asset_id) for asset_id in by_asset]
        spent: list[tuple[str, str, str]] = []

        async def body(pipe: Pipeline, loaded: list[Any]) -> None:
            spent.clear()
            waiting: list[tuple[str, dict[str, Any], float]] = []
            gone: list[str] = []
            for (asset_id, (request_id, error)), record in zip(
                by_asset.items(), loaded, strict=True
            ):
                if record is None or record.get("control_request") != request_id:
                    continue
                if record["status"] != AssetStatus.CONTROL_PENDING:
                    gone.append(asset_id)
                    continue
                tries = record["control_tries"] + 1
                if error is not None and tries >= self.settings.max_attempts:
                    spent.append((asset_id, request_id, error))
                    continue
                record["control_tries"] = tries
                wait = (
                    self.settings.feedback_timeout_s
                    if error is None
                    else self.settings.backoff_s(tries)
                )
                waiting.append((asset_id, record, wait))
            pipe.multi()  # type: ignore[no-untyped-call]
            for asset_id in gone:
                self.records.work.unschedule_control(pipe, asset_id)
            for asset_id, record, wait in waiting:
                at_ms = self.now_ms() + int(wait * 1000)
                self.records.work.schedule_control(pipe, asset_id, at_ms)
                self.records.put(pipe, self.records.asset_key(asset_id), record)

        if keys:
            await self.records.transact_loaded(keys, body)
        for asset_id, request_id, error in spent:
            await self.control_submitted(asset_id, request_id, error)

    async def control_submitted(self, asset_id: str, request_id: str, error: str | None) -> None:
        key = self.records.asset_key(asset_id)

        async def body(pipe: Pipeline, loaded: list[Any]) -> None:
            (record,) = loaded
            if record is None or record.get("control_request") != request_id:
                return
            if record["status"] != AssetStatus.CONTROL_PENDING:
                pipe.multi()  # type: ignore[no-untyped-call]
                self.records.work.unschedule_control(pipe, asset_id)
                return
            record["control_tries"] += 1
            if error is not None and record["control_tries"] >= self.settings.max_attempts:
                case_key = self.records.case_key(record["case_id"])
                await pipe.watch(case_key, self.records.queue_key(record["asset_key"]))
                case = await self.records.load(pipe, case_key)
                queue = await self.records.load_queue(
                    pipe, self.records.queue_key(record["asset_key"])
                )
                assert case is not None
                promoted = await self.seizures.next_in_line(pipe, queue, asset_id)
                pipe.multi()  # type: ignore[no-untyped-call]
                self._control_failed(pipe, case, record, queue, error, promoted)
                self.records.put(pipe, case_key, case)
                self.records.put(pipe, key, record)
                return
            wait = (
                self.settings.feedback_timeout_s
                if error is None
                else self.settings.backoff_s(record["control_tries"])
            )
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.work.schedule_control(pipe, asset_id, self.now_ms() + int(wait * 1000))
            self.records.put(pipe, key, record)

        await self.records.transact_loaded([key], body)

    def _control_failed(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any], queue: list[str],
        reason: str, promoted: Promotion | None,
    ) -> None:  # fmt: skip
        self.seizures.end_control(case, record, AssetStatus.FOUND)  # open to control again
        record["failure"] = reason
        # Its request is kept (the last few): an answer that it took effect after all is
        # known for what it is, whatever the asset has become since.
        requests = [*record.get("failed_requests", []), record.get("control_request", "")]
        record["failed_requests"] = requests[-MAX_FAILED_REQUESTS_KEPT:]
        self.seizures.leave_queue(pipe, record, queue, promoted)
        failed = pb.ControlFailed(
            asset_id=record["asset_id"],
            case_id=case["case_id"],
            request_id=record.get("control_request", ""),
            reason=reason,
        )
        self.stage(pipe, failed, record["asset_id"], record["court_code"])

    async def apply_feedback_batch(
        self, batch: Sequence[tuple[agency_pb.Feedback, str, int]]
    ) -> list[str]:
        """Apply feedback on controls — (feedback, asset id, attempt) each —; what happened
        to each, in the order given. Controls that took effect are applied first, in one
        transaction over their assets and cases (two round trips, after one read of the
        assets); a refusal or failure is applied on its own afterwards (``_apply_refusal``:
        it reads the outside asset's queue to hand it to the next in line). Feedback on
        different controls does not depend on its order; two answers to one request (taken
        effect, then refused) would be applied in that order, the second a duplicate."""
        heads = await self.records.load_many(
            self.records.redis, [self.records.asset_key(a) for _, a, _ in batch]
        )
        outcomes: dict[int, str] = {}
        controlled: list[tuple[int, agency_pb.Feedback, str]] = []
        refused: list[tuple[int, agency_pb.Feedback, str, dict[str, Any]]] = []
        for n, ((feedback, asset_id, _), head) in enumerate(zip(batch, heads, strict=True)):
            if head is None:
                outcomes[n] = "unknown"
            elif feedback.status == "controlled":
                controlled.append((n, feedback, asset_id))
            else:
                refused.append((n, feedback, asset_id, head))
        keys = list(dict.fromkeys(
            key for n, _, asset_id in controlled
            for key in (self.records.asset_key(asset_id),
                        self.records.case_key(heads[n]["case_id"]))
        ))  # fmt: skip

        async def body(pipe: Pipeline, loaded: list[Any]) -> dict[int, str]:
            records = dict(zip(keys, loaded, strict=True))
            applied: dict[int, str] = {}
            changed: list[str] = []
            pipe.multi()  # type: ignore[no-untyped-call]
            for n, feedback, asset_id in controlled:
                record = records[self.records.asset_key(asset_id)]
                case_key = self.records.case_key(heads[n]["case_id"])
                case = records[case_key]
                assert record is not None and case is not None
                if (
                    record["status"] != AssetStatus.CONTROL_PENDING
                    or record.get("control_request") != feedback.request_id
                ):
                    if self._took_effect_after_failure(pipe, record, feedback):
                        changed.append(self.records.asset_key(asset_id))
                        applied[n] = "held_outside"
                    else:
                        applied[n] = "duplicate"
                    continue
                self._controlled(pipe, case, record, feedback)
                changed += [self.records.asset_key(asset_id), case_key]
                applied[n] = feedback.status
            for key in dict.fromkeys(changed):
                self.records.put(pipe, key, records[key])
            return applied

        if controlled:
            outcomes.update(await self.records.transact_loaded(keys, body))
        for n, feedback, asset_id, head in refused:
            outcomes[n] = await self._apply_refusal(feedback, asset_id, head)
        return [outcomes[n] for n in range(len(batch))]

    def _took_effect_after_failure(
        self, pipe: Pipeline, record: dict[str, Any], feedback: agency_pb.Feedback
    ) -> bool:
        """A control failed here (refused, or sent too often unanswered) that the outside
        system answers as taken effect, whatever the asset has become since: it may be held
        there with no control on record. Kept on the asset (``outside_holds``) and told
        (ControlTookEffectAfterFailure), once per request; nothing is counted as held. The
        officer's next act on the asset answers it (``resolve_outside_holds``). False for
        any other stale answer."""
        request_id = feedback.request_id
        # A record that failed before its failed requests were kept: its open control
        # request is the one that failed.
        failed_before = (
            "failed_requests" not in record
            and record["status"] in (AssetStatus.FOUND, AssetStatus.DECLINED)
            and record.get("control_request") == request_id
        )
        if not (failed_before or request_id in record.get("failed_requests", [])):
            return False
        holds: list[dict[str, Any]] = record.setdefault("outside_holds", [])
        if any(hold["request_id"] == request_id for hold in holds):
            return False  # told already
        reported = feedback.controlled_amount_fen
        hold: dict[str, Any] = {
            "request_id": request_id, "control_ref": feedback.control_ref[:MAX_ID],
            "reported_amount_fen": reported if 0 <= reported <= MAX_AMOUNT_FEN else 0,
            "reported_at": self.ctx.clock.now().isoformat(), "answered": "",
        }  # fmt: skip
        holds.append(hold)
        # Kept until answered, and after while its request is (an answer to it is known as
        # told already); the most recent MAX_OUTSIDE_HOLDS_KEPT at most.
        kept = {*record.get("failed_requests", []), record.get("control_request")}
        record["outside_holds"] = [
            h for h in holds if not h["answered"] or h["request_id"] in kept
        ][-MAX_OUTSIDE_HOLDS_KEPT:]
        log.warning("a control took effect after it was recorded as failed; kept on the "
                    "asset for an officer", asset_id=record["asset_id"])  # fmt: skip
        took = pb.ControlTookEffectAfterFailure(
            asset_id=record["asset_id"], case_id=record["case_id"], request_id=request_id,
            control_ref=hold["control_ref"], reported_amount_fen=hold["reported_amount_fen"],
            asset_key=record["asset_key"],
        )  # fmt: skip
        self.stage(pipe, took, record["asset_id"], record["court_code"])
        return True

    def _controlled(
        self, pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
        feedback: agency_pb.Feedback,
    ) -> None:  # fmt: skip
        """The outside system controlled the asset: money for what the balance allowed (at
        most what was asked), property for what it was controlled for
        (``held_as_reported``). The case's sums move by what a freeze holds less than was
        asked, so that ending the control takes off what it holds."""
        asked = record["amount_fen"]
        actual, fault = held_as_reported(record, feedback.controlled_amount_fen)
        record.pop("reported_amount_fen", None)  # an earlier control's, if any
        if fault:
            # The control took effect all the same: recorded, never failed (failing it
            # would let the asset be controlled a second time).
            record["reported_amount_fen"] = feedback.controlled_amount_fen
            log.warning(
                "a control's reported amount is not what it holds",
                asset_id=record["asset_id"],
                reported=feedback.controlled_amount_fen,
                recorded=actual,
                error=fault,
            )
        case["reserved_fen"] += actual - asked
        if AssetKind(record["kind"]) in LIQUID_KINDS:
            summary(case)["liquid_fen"] += actual - asked
        self.records.work.unschedule_control(pipe, record["asset_id"])
        self.seizures.controlled(
            pipe, case, record, actual, feedback.control_ref[:MAX_ID], "first", SERVICE_ACTOR
        )

    async def _apply_refusal(
        self, feedback: agency_pb.Feedback, asset_id: str, head: dict[str, Any]
    ) -> str:
        """The outside system did not control the asset (refused, failed): the control
        fails and the outside asset goes to the next in line. ``head``: the asset's record
        as read before, for its case and outside asset."""
        key = self.records.asset_key(asset_id)
        case_key = self.records.case_key(head["case_id"])
        queue_key = self.records.queue_key(head["asset_key"])

        async def body(pipe: Pipeline, loaded: list[Any]) -> str:
            # The asset, its case and its queue, watched and read in one round trip.
            record, case, queue_or_none = loaded
            queue = self.records.as_queue(queue_or_none)
            assert record is not None and case is not None
            if (
                record["status"] != AssetStatus.CONTROL_PENDING
                or record.get("control_request") != feedback.request_id
            ):
                return "duplicate"
            promoted = await self.seizures.next_in_line(pipe, queue, asset_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._control_failed(pipe, case, record, queue, feedback.error or feedback.status,
                                 promoted)  # fmt: skip
            self.records.put(pipe, key, record)
            self.records.put(pipe, case_key, case)
            return feedback.status

        return await self.records.transact_loaded([key, case_key, queue_key], body)

    async def control(
        self, asset_id: str, *, identity: Identity, amount_fen: int | None, control_ref: str,
        measure: Measure | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Control an asset (冻结、查封、扣押) within what the claim needs (¶15)."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> dict[str, Any]:  # fmt: skip
            self.refuse_if_closed(case, f"controlling asset {asset_id}")
            await self.refuse_if_stopped(pipe, case, f"controlling asset {asset_id}")
            amount = control_amount(case, record, amount_fen, measure, control_ref, bool(queue))
            pipe.multi()  # type: ignore[no-untyped-call]
            self.seizures.hold(pipe, case, record, amount, identity.subject, queue,
                               identity.as_actor(), control_ref, measure)  # fmt: skip
            return {"asset_id": asset_id, "status": record["status"], "amount_fen": amount}

        result: dict[str, Any] = await self.asset_command(asset_id, identity, act, with_queue=True)
        return result

    async def approve_exception(self, asset_id: str, reason: str, *, identity: Identity) -> None:
        """A leader approves controlling an indivisible asset worth more than the need."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            self.refuse_if_closed(case, f"an over-seizure exception for asset {asset_id}")
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
            self.stage(pipe, approved, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act, Role.LEADER)

    async def decline(self, asset_id: str, reason: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            # A hold found outside after a failed control is answered by a decline too,
            # whatever the asset has become since (released, lapsed), unless it is held.
            answers_a_hold = any(not hold["answered"] for hold in record.get("outside_holds", []))
            if record["status"] != AssetStatus.FOUND and (
                not answers_a_hold or record["status"] in HOLDING
            ):
                raise Conflict(f"asset {asset_id} is {record['status']}, not found and open")
            pipe.multi()  # type: ignore[no-untyped-call]
            resolve_outside_holds(record, f"declined: {reason}")
            record.update(status=AssetStatus.DECLINED.value, declined_reason=reason)
            declined = pb.ControlDeclined(
                asset_id=asset_id, case_id=case["case_id"], reason=reason,
                declined_by=identity.subject,
            )  # fmt: skip
            self.stage(pipe, declined, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act)

    async def renew(self, asset_id: str, *, identity: Identity) -> None:
        """Renew a control before it expires (续行): its term starts again. Refused once the
        term is due, when its due time is known here (``note_terms``): a control is renewed
        before its term ends, or it lapses (the control-term rules)."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if record["status"] != AssetStatus.CONTROLLED:
                raise Conflict(f"asset {asset_id} is {record['status']}; only a control in "
                               "effect can be renewed")  # fmt: skip
            if is_current_term_due(record, self.now_ms()):
                term = record["term"]
                due = dt.datetime.fromtimestamp(term["due_at_ms"] / 1000, CHINA_TZ)
                raise Conflict(
                    f"asset {asset_id}: its control's term ended at {due:%Y-%m-%d %H:%M} "
                    f"(rule {term['rule_id']}); a control is renewed before its term ends "
                    "(届满前续行), this one lapses"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            record["renewals"] = record.get("renewals", 0) + 1
            record["renewed_at_ms"] = self.now_ms()  # a breach of the term it ended is not one
            renewed = pb.ControlRenewed(
                asset_id=asset_id, case_id=case["case_id"], term_class=record["term_class"],
                renewed_by=identity.subject,
            )  # fmt: skip
            self.stage(pipe, renewed, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act)

    async def release(self, asset_id: str, reason: str, *, identity: Identity) -> None:
        """Release a control (解除); the next waiting seizure takes effect."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if record["status"] not in (AssetStatus.CONTROLLED, AssetStatus.WAITING):
                raise Conflict(f"asset {asset_id} is {record['status']}; nothing to release")
            promoted = await self.seizures.next_in_line(pipe, queue, asset_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self.seizures.end_control(case, record, AssetStatus.RELEASED)
            resolve_outside_holds(record, f"released: {reason}")
            released = pb.ControlReleased(
                asset_id=asset_id, case_id=case["case_id"], reason=reason,
                released_by=identity.subject, asset_key=record["asset_key"],
            )  # fmt: skip
            self.stage(pipe, released, asset_id, record["court_code"], identity.as_actor())
            close_pending(self, pipe, record, "released")  # no seizure, nothing to transfer
            self.seizures.leave_queue(pipe, record, queue, promoted)

        await self.asset_command(asset_id, identity, act, with_queue=True)

    async def note_terms(self, notes: Sequence[TermNote]) -> int:
        """The deadline engine set the due time of controls' terms (the clock of a
        control-term rule opened, at ``started_at_ms``, or its due time moved): kept on each
        asset, for ``renew``. A later cycle's is not replaced by an earlier one's (read
        again). Idempotent; one transaction for all of them, applied in order. Returns how
        many assets changed."""
        keys = list(dict.fromkeys(self.records.asset_key(n.asset_id) for n in notes))

        async def body(pipe: Pipeline, loaded: list[Any]) -> int:
            records = dict(zip(keys, loaded, strict=True))
            changed: set[str] = set()
            for note in notes:
                key = self.records.asset_key(note.asset_id)
                record = records[key]
                if record is not None and noted_term(record, note):
                    changed.add(key)
            if changed:
                pipe.multi()  # type: ignore[no-untyped-call]
                for key in changed:
                    self.records.put(pipe, key, records[key])
            return len(changed)

        if not notes:
            return 0
        result: int = await self.records.transact_loaded(keys, body)
        return result

    async def lapse(
        self, asset_id: str, clock_id: str, effect: str, causation_id: str, *,
        cycle: int = 0, due_at_ms: int | None = None,
    ) -> bool:  # fmt: skip
        """A control term ran out without renewal: the control lapses (失效), loudly.

        Not when the breach is of a term (``cycle``, due at ``due_at_ms``) that a renewal
        made before it was due had already ended: the deadline engine fires a term's expiry
        on its own timer, and may not yet have read a renewal made in its last moments
        (each renewal opens the next cycle: the first renewal ends the first term)."""
        head = await self.records.asset(asset_id)
        if head is None or head["status"] != AssetStatus.CONTROLLED:
            return False
        if renewed_in_time(head, cycle, due_at_ms):
            log.info("term breached after its renewal; the control stands",
                     asset_id=asset_id, clock_id=clock_id, cycle=cycle)  # fmt: skip
            return False
        key = self.records.asset_key(asset_id)
        case_key = self.records.case_key(head["case_id"])
        queue_key = self.records.queue_key(head["asset_key"])

        async def body(pipe: Pipeline) -> bool:
            record = await self.records.load(pipe, key)
            case = await self.records.load(pipe, case_key)
            queue = await self.records.load_queue(pipe, queue_key)
            if record is None or case is None or record["status"] != AssetStatus.CONTROLLED:
                return False
            if renewed_in_time(record, cycle, due_at_ms):
                return False
            promoted = await self.seizures.next_in_line(pipe, queue, asset_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self.seizures.end_control(case, record, AssetStatus.LAPSED)
            lapsed = pb.ControlLapsed(
                asset_id=asset_id, case_id=case["case_id"], clock_id=clock_id, effect=effect,
                asset_key=record["asset_key"],
            )  # fmt: skip
            self.stage(pipe, lapsed, asset_id, record["court_code"], causation_id=causation_id)
            close_pending(self, pipe, record, "lapsed")  # no seizure, nothing to transfer
            self.seizures.leave_queue(pipe, record, queue, promoted)
            self.records.put(pipe, key, record)
            self.records.put(pipe, case_key, case)
            return True

        lapsed: bool = await self.records.transact([key, case_key, queue_key], body)
        if lapsed:
            log.error(
                "CONTROL LAPSED: the term ran out without renewal",
                asset_id=asset_id, case_id=head["case_id"], court=head["court_code"],
                asset=head["description"], effect=effect,
            )  # fmt: skip
        return lapsed

    async def record_entrusted_control(
        self, completed: entrustment_pb.EntrustmentCompleted, event: Event[Message]
    ) -> bool:
        """An entrusted court controlled an asset for the case (事项委托): it becomes an
        asset of the case, controlled under the entrusted court's ruling (``event``, the
        EntrustmentCompleted read). Idempotent. True when recorded now.

        The entrustment and case topics are read side by side, so the control can come
        before the case's filing (a rebuild, a lagging partition): it is then kept for the
        filing, which records it (``kept_controls``), not dropped. The case's key is
        watched: a filing written meanwhile makes this look again."""
        check_entrusted(completed)  # a control that cannot be recorded is not kept either
        control = completed.control
        case_key = self.records.case_key(completed.case_id)
        asset_id = asset_id_for(completed.case_id, control.asset_key)
        record_key = self.records.asset_key(asset_id)
        queue_key = self.records.queue_key(control.asset_key)

        async def body(pipe: Pipeline) -> bool:
            case = await self.records.load(pipe, case_key)
            if case is None:
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(self.records.early_controls_key(completed.case_id), asset_id,
                          event.to_bytes())  # fmt: skip
                log.warning("a control entrusted for a case not filed here yet kept for its "
                            "filing", case_id=completed.case_id, asset_id=asset_id)  # fmt: skip
                return False
            if await self.records.load(pipe, record_key) is not None:
                return False
            queue = await self.records.load_queue(pipe, queue_key)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._stage_entrusted(pipe, case, completed, event.envelope.actor, queue)
            self.records.put(pipe, case_key, case)
            return True

        result: bool = await self.records.transact([case_key, record_key, queue_key], body)
        return result

    def _stage_entrusted(
        self, pipe: Pipeline, case: dict[str, Any], completed: entrustment_pb.EntrustmentCompleted,
        actor: envelope_pb2.Actor, queue: list[str],
    ) -> None:  # fmt: skip
        """Queue the entrusted control's asset and control on ``pipe`` (in MULTI mode); the
        caller writes ``case``."""
        control = completed.control
        asset = agency_pb.AgencyAsset(
            asset_key=control.asset_key,
            kind=control.kind,
            description=control.description,
            value_fen=control.value_fen,
            online_control=False,
            location_division=control.location_division,
        )
        record = self.seizures.record_found(pipe, case, asset, "entrustment", queue, actor)
        self.seizures.hold(pipe, case, record, control.amount_fen, actor.id, queue, actor,
                           control.control_ref, Measure(control.measure))  # fmt: skip
        self.records.put(pipe, self.records.asset_key(record["asset_id"]), record)
        self.seizures.push_to_parties(pipe, case, [record["asset_id"]])

    async def kept_controls(self, pipe: Pipeline, case_ids: Sequence[str]) -> KeptControls:
        """Before a batch's filings are written (the consumer's ``prepare``, ``pipe`` in
        WATCH mode): the controls kept for these cases (``record_entrusted_control``), with
        the queues of their outside assets, all watched, so a control kept meanwhile makes
        the batch retry. One EXISTS for the batch when none is kept, as is usual."""
        if not case_ids:
            return KeptControls({}, {}, {})
        keys = [self.records.early_controls_key(case_id) for case_id in case_ids]
        await pipe.watch(*keys)
        if not await pipe.exists(*keys):
            return KeptControls({}, {}, {})
        by_case: dict[str, dict[str, entrustment_pb.EntrustmentCompleted]] = {}
        actors: dict[str, envelope_pb2.Actor] = {}
        for case_id, key in zip(case_ids, keys, strict=True):
            for field, raw in (await pipe.hgetall(key)).items():
                try:
                    event = decode_event(as_bytes(raw))
                    if not isinstance(event.payload, entrustment_pb.EntrustmentCompleted):
                        raise InvalidEvent(f"{type(event.payload).__name__} kept as a control")
                    check_entrusted(event.payload)
                except (InvalidEvent, Invalid):
                    # Left kept and logged, for the court to see to: the filing and the
                    # case's other controls are recorded.
                    log.exception("a kept entrusted control cannot be recorded: left kept",
                                  case_id=case_id, asset_id=as_text(field))  # fmt: skip
                    continue
                by_case.setdefault(case_id, {})[as_text(field)] = event.payload
                actors[as_text(field)] = event.envelope.actor
        queue_keys = sorted(
            {self.records.queue_key(completed.control.asset_key)
             for kept in by_case.values() for completed in kept.values()}
        )  # fmt: skip
        loaded = await self.records.watch_and_load(pipe, queue_keys) if queue_keys else []
        queues = {
            key: self.records.as_queue(queue) for key, queue in zip(queue_keys, loaded, strict=True)
        }
        return KeptControls(by_case, queues, actors)

    def record_kept_controls(self, pipe: Pipeline, case: dict[str, Any], kept: KeptControls) -> int:
        """With the case's filing (``case`` just built, ``pipe`` in MULTI mode): record the
        controls kept for it, write the case and drop them. How many were recorded."""
        for_case = kept.by_case.get(case["case_id"], {})
        for asset_id, completed in for_case.items():
            queue = kept.queues[self.records.queue_key(completed.control.asset_key)]
            self._stage_entrusted(pipe, case, completed, kept.actors[asset_id], queue)
        if for_case:
            self.records.put(pipe, self.records.case_key(case["case_id"]), case)
            pipe.hdel(self.records.early_controls_key(case["case_id"]), *for_case)
        return len(for_case)


@dataclass(frozen=True)
class TermNote:
    """The due time the deadline engine set for cycle ``cycle`` of a control's term (the
    clock of ``rule_id``, a control-term rule), and when that term began if the note is of
    its opening (None when only its due time moved)."""

    asset_id: str
    rule_id: str
    cycle: int
    due_at_ms: int
    started_at_ms: int | None = None


def noted_term(record: dict[str, Any], note: TermNote) -> bool:
    """Keep ``note`` on the asset's ``record``; False if it changes nothing (read again, or
    of a cycle before the one noted)."""
    term = record.get("term") or {"cycle": 0, "due_at_ms": None, "started_at_ms": None}
    if term["cycle"] > note.cycle:
        return False
    started = note.started_at_ms
    if started is None and term["cycle"] == note.cycle:
        started = term["started_at_ms"]  # a due time moved: the term began as noted
    noted = {"rule_id": note.rule_id, "cycle": note.cycle, "due_at_ms": note.due_at_ms,
             "started_at_ms": started}  # fmt: skip
    if term == noted:
        return False
    record["term"] = noted
    return True


def is_current_term_due(record: dict[str, Any], now_ms: int) -> bool:
    """Whether the control's current term is known to be due at ``now_ms``: the term noted
    (``Controls.note_terms``) began at or after the last renewal (a renewal whose own term
    is not noted yet leaves it unknown), and its due time has come."""
    term = record.get("term")
    if not term or term.get("started_at_ms") is None:
        return False
    current = term["started_at_ms"] >= int(record.get("renewed_at_ms") or 0)
    return bool(current and now_ms >= term["due_at_ms"])


def check_entrusted(completed: entrustment_pb.EntrustmentCompleted) -> None:
    """Refuse (``Invalid``) an entrusted control whose kind or measure this service does not
    know: what ``Controls._stage_entrusted`` would fail on."""
    control = completed.control
    try:
        kind = AssetKind(control.kind)
        Measure(control.measure)
    except ValueError as exc:
        raise Invalid(f"entrustment {completed.entrustment_id}: control: {exc}") from None
    if kind not in TERM_CLASS:
        raise Invalid(f"entrustment {completed.entrustment_id}: no control term for {kind}")


@dataclass(frozen=True)
class KeptControls:
    """Controls kept for cases not filed when they were read (``Controls.kept_controls``):
    by case and asset id, the actor of each by asset id, and the queues of their outside
    assets by queue key (shared: two kept controls of one outside asset queue in order)."""

    by_case: Mapping[str, Mapping[str, entrustment_pb.EntrustmentCompleted]]
    queues: Mapping[str, list[str]]
    actors: Mapping[str, envelope_pb2.Actor]


def renewed_in_time(record: dict[str, Any], cycle: int, due_at_ms: int | None) -> bool:
    """Whether the term ``cycle`` of a control was ended by a renewal made before it was due
    (``due_at_ms``): the control has been renewed ``cycle`` times or more, the last time
    before then. A breach without its cycle or due time is taken as it comes."""
    renewed_at = record.get("renewed_at_ms")
    return bool(
        cycle > 0
        and due_at_ms is not None
        and renewed_at is not None
        and int(record.get("renewals", 0)) >= cycle
        and int(renewed_at) < due_at_ms
    )
