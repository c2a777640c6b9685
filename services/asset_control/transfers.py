"""Transfer of disposal (移送处置权) to the priority creditor's court, 法释〔2016〕6号 items 1–2:
the request of the priority creditor's court and the first-seizing court's answer. What the
gate checks and what moves on agreement: ``transfer_domain``."""

from __future__ import annotations

from typing import Any

from redis.asyncio.client import Pipeline

from services.asset_control.domain import SERVICE_ACTOR
from services.asset_control.handler import Handler
from services.asset_control.transfer_domain import (
    REQUEST_GATE,
    TransferRefused,
    TransferStatus,
    check_disposable,
    check_request,
    has_standing,
    pending_transfer,
)
from zhixing.auth import Identity, Role, require_role
from zhixing.clock import CHINA_TZ
from zhixing.errors import Invalid, NotFound
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2 as pb

# Why a request is closed when the first seizure ends before its answer (user-visible).
SEIZURE_ENDED = {
    "released": "首先查封已解除，移送处置权请求终结",
    "lapsed": "首先查封期限届满未续行已失效，移送处置权请求终结",
}


def close_pending(handler: Handler, pipe: Pipeline, record: dict[str, Any], ended: str) -> None:
    """The first seizure of ``record`` ended (``ended``: released or lapsed), in the
    caller's MULTI: a request awaiting the first court's answer is closed by the service
    with a DisposalTransferAnswered (agreed false, the reason saying the seizure ended).

    An answer event rather than a stop of the answer clock on ControlReleased/ControlLapsed:
    the request then ends as every request ends, by its answer, in the asset's audit trail
    and the requesting court's events (which name it), and the record says why it ended;
    a stop in the catalogue would clear the clock but leave the request pending for ever."""
    transfer = record.get("transfer") or {}
    if transfer.get("status") != TransferStatus.PENDING:
        return
    reason = SEIZURE_ENDED[ended]
    transfer.update(
        status=TransferStatus.CLOSED, agreed=False, reason=reason,
        answered_by=SERVICE_ACTOR.id,
        answered_on=handler.ctx.clock.now().astimezone(CHINA_TZ).date().isoformat(),
    )  # fmt: skip
    closed = pb.DisposalTransferAnswered(
        asset_id=record["asset_id"], agreed=False, reason=reason, answered_by=SERVICE_ACTOR.id,
        requesting_court=transfer["requesting_court"],
    )  # fmt: skip
    # At the first court, whose answer clock it stops.
    handler.stage(pipe, closed, record["asset_id"], transfer["first_court"])


class Transfers(Handler):
    async def request(
        self, asset_id: str, requesting_case_number: str, priority_claim: str, *,
        identity: Identity,
    ) -> dict[str, Any]:  # fmt: skip
        """The priority creditor's court asks for the disposal of a first seizure. It has
        standing only with a waiting seizure (轮候) of its own on the same outside asset; any
        other court is answered 404, the same as for an unknown asset, before anything about
        the asset is said. The first-seizing court must answer (its clock, observed by the
        requesting court)."""
        require_role(identity, Role.OFFICER, Role.LEADER)
        unknown = NotFound(f"no asset {asset_id}")
        head = await self.records.asset(asset_id)
        if head is None:
            raise unknown
        key = self.records.asset_key(asset_id)
        queue_key = self.records.queue_key(head["asset_key"])
        period = catalogue().rule(REQUEST_GATE).period

        async def body(pipe: Pipeline) -> dict[str, Any]:
            record = await self.records.load(pipe, key)
            queue = await self.records.load_queue(pipe, queue_key)
            assert record is not None
            if identity.court_code == record["court_code"]:  # it reads the asset already
                raise TransferRefused(
                    f"court {identity.court_code} disposes of asset {asset_id} itself: a "
                    "transfer is asked by another court"
                )
            others = [self.records.asset_key(a) for a in queue if a != asset_id]
            if others:
                await pipe.watch(*others)  # the standing is part of what the request reads
            waiting = await self.records.load_many(pipe, others)
            if not has_standing(record, [w for w in waiting if w], identity.court_code):
                raise unknown
            now = self.ctx.clock.now()
            today = now.astimezone(CHINA_TZ).date()
            seized_on = check_request(record, queue, identity.court_code, today, period)
            pipe.multi()  # type: ignore[no-untyped-call]
            first_court = record["court_code"]
            record["transfer"] = {
                "status": TransferStatus.PENDING,
                "first_court": first_court,
                "requesting_court": identity.court_code,
                "requesting_case_number": requesting_case_number,
                "priority_claim": priority_claim,
                "first_seized_on": seized_on,
                "requested_by": identity.subject,
                "requested_on": today.isoformat(),
                "agreed": None,
                "reason": "",
                "answered_by": "",
                "answered_on": "",
            }
            requested = pb.DisposalTransferRequested(
                asset_id=asset_id, case_id=record["case_id"],
                requesting_court=identity.court_code,
                requesting_case_number=requesting_case_number, priority_claim=priority_claim,
                first_seized_on=seized_on, requested_by=identity.subject,
                observer_courts=[identity.court_code],
            )  # fmt: skip
            # The first-seizing court must answer: the clock is its.
            self.stage(pipe, requested, asset_id, first_court, identity.as_actor())
            self.records.put(pipe, key, record)
            return dict(record["transfer"])

        result: dict[str, Any] = await self.records.transact([key, queue_key], body)
        return result

    async def answer(
        self, asset_id: str, agreed: bool, reason: str, *, identity: Identity
    ) -> dict[str, Any]:
        """The first-seizing court agrees (the asset's disposal moves to the requesting
        court, its clocks with it) or refuses with its reason."""
        if not agreed and not reason:
            raise Invalid("a refusal states its reason", loc=("body", "reason"))
        head = await self.records.asset(asset_id)
        if head is None:
            raise NotFound(f"no asset {asset_id}")
        transfer = head.get("transfer") or {}
        # Before a request, or after an agreement, the asset's own court stands here.
        first_court = transfer.get("first_court") or head["court_code"]
        self.check_officer(identity, first_court, f"asset {asset_id}", Role.OFFICER, Role.LEADER)
        key = self.records.asset_key(asset_id)
        queue_key = self.records.queue_key(head["asset_key"])

        async def body(pipe: Pipeline) -> dict[str, Any]:
            record = await self.records.load(pipe, key)
            queue = await self.records.load_queue(pipe, queue_key)
            assert record is not None
            pending = pending_transfer(record, identity.court_code)
            if agreed:
                # The seizure may have ended, or a sale started, since the request.
                check_disposable(record, queue)
            pipe.multi()  # type: ignore[no-untyped-call]
            requesting = pending["requesting_court"]
            pending.update(
                status=TransferStatus.AGREED if agreed else TransferStatus.REFUSED,
                agreed=agreed, reason=reason, answered_by=identity.subject,
                answered_on=self.ctx.clock.now().astimezone(CHINA_TZ).date().isoformat(),
            )  # fmt: skip
            answered = pb.DisposalTransferAnswered(
                asset_id=asset_id, agreed=agreed, reason=reason, answered_by=identity.subject,
                requesting_court=requesting,
            )  # fmt: skip
            self.stage(pipe, answered, asset_id, first_court, identity.as_actor())
            if agreed:
                # The right to dispose moves; the first seizure's case stays with its court.
                record["court_code"] = requesting
                moved = pb.AssetCourtChanged(
                    subject_id=asset_id, case_id=record["case_id"], from_court=first_court,
                    to_court=requesting,
                )  # fmt: skip
                self.stage(pipe, moved, asset_id, requesting, identity.as_actor())
            self.records.put(pipe, key, record)
            return dict(pending)

        result: dict[str, Any] = await self.records.transact([key, queue_key], body)
        return result
