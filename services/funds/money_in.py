"""Money in: every arrival is recorded against exactly one case (一案一账号, rule
``funds.one-case-one-account``), once per bank reference.

- A credit to a case's account (the debtor paid): finance records it from the bank's
  statement; money sent to an account no case has is refused, never parked.
- A deduction (扣划) of frozen money: the handling officer asks, the deduction worker sends
  it to the outside systems, and their answer records the money (or the failure).
- Sale proceeds: asset control records the sale concluded; the money is the case's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.funds import domain
from services.funds.domain import DeductionStatus, Record
from services.funds.handler import SERVICE_ACTOR, FundsHandler
from zhixing.assets import LIQUID_KINDS, AssetKind, Measure
from zhixing.auth import Identity, Role, may_read, require_handling_court, require_role
from zhixing.bounds import MAX_AMOUNT_FEN, MAX_ID
from zhixing.clock import china_today
from zhixing.closures import refuse_if_closed
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.funds import Source
from zhixing.money import yuan
from zhixing.outside_answers import TRANSFER_STATUSES, bounded
from zhixing.projection import INFRASTRUCTURE_ERRORS
from zhixing.v1 import agency_gateway_pb2 as gateway_pb
from zhixing.v1 import funds_events_pb2 as pb

log = structlog.get_logger(__name__)


class MoneyIn(FundsHandler):
    # --- one arrival -----------------------------------------------------------------------

    async def _arrive(
        self, case_id: str, *, amount: int, source: Source, reference: str, payer: str = "",
        asset_id: str = "", arrived_on: str = "", identity: Identity | None = None,
        answers_deduction: str = "",
    ) -> tuple[Record | None, bool]:  # fmt: skip
        """Record an arrival once per bank reference: (the payment, True if new). The same
        reference reported again is the same receipt (same case and amount) and changes
        nothing; for another case or amount it is refused. An outside answer to the
        deduction ``answers_deduction`` records its receipt while the deduction awaits one;
        once it has its receipt (under another reference, or found by finance on the
        statement), the answer records nothing: (None, False). An answer under the reference
        of a receipt recorded already is refused (``StatementReceipt`` when finance recorded
        it from the statement: the review makes it the deduction's), and so, after that, is
        one under another reference: the same transfer, named again."""
        asset = await self.records.asset(asset_id) if asset_id else None
        ref_key = self.records.bank_ref_key(reference)

        async def act(pipe: Pipeline, record: Record) -> tuple[Record | None, bool]:
            if identity is not None:
                require_handling_court(identity, record["court_code"], f"case {case_id}")
            # Read on the transaction's record: a review may have committed since the answer
            # was first looked at.
            deduction = record["deductions"].get(answers_deduction) if answers_deduction else None
            if _has_its_receipt(deduction, record, reference):
                return None, False
            if deduction is not None and deduction["status"] == DeductionStatus.FAILED:
                # Failed (no answer in time, or finance found nothing moved), and the money
                # moved after all: apply_transfer keeps it as taken, unrecorded, for review.
                failure = deduction.get("error", "")
                raise Conflict(
                    f"the outside system answered transferred after it was failed ({failure})"
                )
            if deduction is not None and deduction.get("statement_payment"):
                # Its answer named a receipt finance recorded from the statement: another
                # reference now is that transfer named again, for the review to settle.
                return None, False
            known = await self._known_receipt(pipe, record, reference, amount)
            awaiting = (DeductionStatus.REQUESTED, DeductionStatus.UNRECORDED)
            if known is not None:
                if deduction is not None and deduction["status"] in awaiting:
                    # Left awaiting, the deduction was sent again, then failed, and its
                    # deposit could be deducted a second time: it is unrecorded instead.
                    if why := _not_a_statement_credit(known, record):
                        raise Conflict(f"bank reference {reference} was recorded already, {why}")
                    raise StatementReceipt(reference, known["payment_id"])
                return known, False
            payment = self._stage_arrival(
                pipe, record, amount=amount, source=source, reference=reference, payer=payer,
                asset_id=asset_id, asset=asset, arrived_on=arrived_on, identity=identity,
                deduction_id=answers_deduction if deduction and deduction["status"] in awaiting
                else "",
            )  # fmt: skip
            return payment, True

        return await self.records.change_case(
            case_id, act, watch=(ref_key,), missing=f"no case {case_id} in your jurisdiction"
        )

    async def _known_receipt(
        self, pipe: Pipeline, record: Record, reference: str, amount: int
    ) -> Record | None:
        """The case's receipt recorded already under ``reference`` for ``amount`` (None if
        the reference is new): one transfer is one receipt, so the reference of another
        case's receipt, or of another amount, is refused."""
        known = await self.records.payment_of_reference(reference, pipe)
        if known is None:
            return None
        known_case, payment_id = known
        payment: Record | None = (
            record["payments"].get(payment_id) if known_case == record["case_id"] else None
        )
        if payment is None:
            raise Conflict(
                f"bank reference {reference} was recorded already, for another receipt; one "
                "transfer is one receipt"
            )
        if payment["amount_fen"] != amount:
            raise Conflict(
                f"bank reference {reference} was recorded already for {payment['amount_fen']} "
                f"fen ({yuan(payment['amount_fen'])}), not {amount} fen ({yuan(amount)}); one "
                "transfer is one receipt"
            )
        return payment

    def _stage_arrival(
        self, pipe: Pipeline, record: Record, *, amount: int, source: Source, reference: str,
        payer: str, asset_id: str, asset: dict[str, str] | None, arrived_on: str,
        identity: Identity | None, deduction_id: str,
    ) -> Record:  # fmt: skip
        """Record a new arrival on the case's transaction (MULTI from here): the payment, the
        counters, its bank reference, the deduction it ends (if any), history and event."""
        case_id = record["case_id"]
        if arrived_on and arrived_on < record.get("filed_on", ""):
            raise Invalid(f"arrived_on {arrived_on} is before case {record['case_number']} was "
                          f"filed ({record['filed_on']}), and its account with it",
                          loc=("body", "arrived_on"))  # fmt: skip
        domain.check_room(record, "payments")
        payment_id = self.new_id()
        controlled_by = [asset["controlled_by"]] if asset and asset.get("controlled_by") else []
        payment: Record = {
            "payment_id": payment_id, "amount_fen": amount, "source": source.value,
            "bank_reference": reference, "asset_id": asset_id, "payer": payer,
            "arrived_on": arrived_on or self.today(), "arrived_at": self.now(),
            "controlled_by": controlled_by, "clock_open": True,
        }  # fmt: skip
        pipe.multi()  # type: ignore[no-untyped-call]
        record["payments"][payment_id] = payment
        record["counters"]["received_fen"] += amount
        self.records.count(pipe, record["court_code"], "received_fen", amount)
        self.records.remember_reference(pipe, reference, case_id, payment_id)
        if deduction_id:
            deduction = record["deductions"][deduction_id]
            deduction.update(
                status=DeductionStatus.TRANSFERRED.value,
                payment_id=payment_id,
                transferred_fen=amount,
            )
            self.records.unschedule(pipe, case_id, deduction_id)
        by = identity.subject if identity else SERVICE_ACTOR.id
        self.log(record, "funds_arrived", by, payment_id=payment_id, amount_fen=amount,
                 source=source.value, bank_reference=reference)  # fmt: skip
        actor = identity.as_actor() if identity else SERVICE_ACTOR
        self.stage(pipe, record, pb.FundsArrived(
            case_id=case_id, payment_id=payment_id, amount_fen=amount, source=source.value,
            bank_reference=reference, asset_id=asset_id, payer=payer,
            account_number=record["account_number"], arrived_on=payment["arrived_on"],
            controlled_by=",".join(controlled_by),
        ), actor)  # fmt: skip
        return payment

    def _not_in_future(self, arrived_on: dt.date | None) -> None:
        if arrived_on is not None and arrived_on > china_today(self.ctx.clock):
            raise Invalid("a receipt cannot be dated in the future", loc=("body", "arrived_on"))

    # --- the debtor's payment, from the bank statement ----------------------------------------

    async def record_receipt(
        self, *, identity: Identity, account_number: str, bank_reference: str, amount: int,
        payer: str, arrived_on: dt.date | None,
    ) -> tuple[Record, Record, bool]:  # fmt: skip
        """Finance of the court handling the case records a credit to its account (from the
        bank statement): (case, payment, new?)."""
        require_role(identity, Role.FINANCE)
        self._not_in_future(arrived_on)
        # An account of a case outside the caller's jurisdiction reads as no case's: the
        # answer names neither that case nor tells that it exists (a court above that reads
        # it is told that the court handling it records it: 403).
        no_case = NotFound(
            f"no case has the account {account_number}: money that matches no case is "
            f"refused, never parked; return it to the payer (rule {domain.ONE_ACCOUNT})"
        )
        case_id = await self.records.case_of_account(account_number)
        record = await self.records.get(case_id) if case_id is not None else None
        if case_id is None or record is None or not may_read(identity, record["court_code"]):
            raise no_case
        try:
            payment, new = await self._arrive(
                case_id, amount=amount, source=Source.PAYMENT, reference=bank_reference,
                payer=payer, arrived_on=arrived_on.isoformat() if arrived_on else "",
                identity=identity,
            )  # fmt: skip
        except NotFound:  # the case moved out of the caller's jurisdiction meanwhile
            raise no_case from None
        record = await self.records.get(case_id)
        assert record is not None and payment is not None  # it answers no deduction
        return record, payment, new

    # --- sale proceeds ---------------------------------------------------------------------

    async def record_proceeds(
        self, case_id: str, asset_id: str, amount: int, reference: str, source: Source
    ) -> bool:
        """Asset control recorded a sale concluded (or the debtor's own sale): its proceeds
        are the case's. Idempotent on the sale's reference and asset
        (``domain.proceeds_reference``). Proceeds of a case whose filing this service has
        not read are kept until it does (``record_early_proceeds``): the asset and case
        topics are read side by side, and money must not be dropped."""
        bank_reference = domain.proceeds_reference(source, reference, asset_id)
        if await self._recorded_before_per_asset(case_id, asset_id, f"{source.value}:{reference}"):
            return False
        while True:
            try:
                _, new = await self._arrive(
                    case_id, amount=amount, source=source, reference=bank_reference,
                    asset_id=asset_id,
                )  # fmt: skip
                return new
            except NotFound:
                kept = {"asset_id": asset_id, "amount_fen": amount, "reference": reference,
                        "source": source.value}  # fmt: skip
                if await self.records.keep_early_proceeds(case_id, bank_reference, kept):
                    log.warning("sale proceeds of a case not filed here yet kept for its filing",
                                case_id=case_id, asset_id=asset_id, amount_fen=amount)  # fmt: skip
                    return False
                # The case was kept meanwhile: record them.

    async def _recorded_before_per_asset(self, case_id: str, asset_id: str, old: str) -> bool:
        """Whether these proceeds were recorded under the reference they had before it named
        the asset (``sale:<reference>``): a sale delivered again to this version, or by a
        replica of the one before, is not recorded twice. Nothing is written under that
        reference any more, so it is read outside the recording's transaction."""
        known = await self.records.payment_of_reference(old)
        if known is None:
            return False
        known_case, payment_id = known
        record = await self.records.get(case_id) if known_case == case_id else None
        payment = record["payments"].get(payment_id) if record else None
        return payment is not None and payment.get("asset_id") == asset_id

    async def record_early_proceeds(self, case_ids: Sequence[str]) -> int:
        """Record the sale proceeds kept for these cases before their filings were read
        (looked for at once; run on every delivery of a filing: recording is idempotent on
        the sale's reference, so a crash before they are dropped doubles nothing). How many
        were recorded."""
        recorded = 0
        for case_id, kept in (await self.records.early_proceeds_of(case_ids)).items():
            done = []
            for bank_reference, proceeds in kept.items():
                try:
                    await self.record_proceeds(
                        case_id, proceeds["asset_id"], int(proceeds["amount_fen"]),
                        proceeds["reference"], Source(proceeds["source"]),
                    )  # fmt: skip
                except INFRASTRUCTURE_ERRORS:
                    raise  # the filing is read again, and the proceeds with it
                except Exception:
                    # Refused (another receipt had the reference): left kept and logged, for
                    # the court to see to; the others are recorded.
                    log.exception("kept sale proceeds could not be recorded", case_id=case_id,
                                  reference=bank_reference)  # fmt: skip
                    continue
                done.append(bank_reference)
            await self.records.drop_early_proceeds(case_id, done)
            recorded += len(done)
        return recorded

    # --- deductions (扣划) ------------------------------------------------------------------

    async def request_deduction(
        self, case_id: str, *, identity: Identity, asset_id: str, amount: int
    ) -> Record:
        """The handling officer asks to deduct frozen money into the case's account."""
        return (await self.request_deduction_once(case_id, identity=identity, asset_id=asset_id,
                                                  amount=amount))[0]  # fmt: skip

    async def request_deduction_once(
        self, case_id: str, *, identity: Identity, asset_id: str, amount: int,
        idempotency_key: str | None = None,
    ) -> tuple[Record, bool]:  # fmt: skip
        """``request_deduction``; with an Idempotency-Key, a request sent again deducts
        nothing twice and gets the first deduction: (the deduction, new?)."""
        require_role(identity, Role.OFFICER)
        asset_watch = self.records.asset_key(asset_id)
        once = self.once("deduction", identity, idempotency_key, case_id=case_id,
                         asset_id=asset_id, amount=amount)  # fmt: skip

        async def act(pipe: Pipeline, record: Record) -> tuple[Record, bool]:
            if made := await self.made_before(pipe, once, record, "deductions", "deduction"):
                return made, False
            # Read in the transaction (watched): a release read meanwhile counts.
            asset = await self.records.asset(asset_id, pipe)
            if asset is None or asset.get("case_id") != case_id:
                raise Invalid(f"case {record['case_number']} has no controlled asset {asset_id}",
                              loc=("body", "asset_id"))  # fmt: skip
            refuse_if_closed(record, record["case_number"], f"a deduction from asset {asset_id}")
            # A stopped court deducts no more than it freezes (执行规定 art 68).
            await self.refuse_if_stopped(pipe, record, f"a deduction from asset {asset_id}")
            if asset.get("measure") == domain.CONTROL_ENDED:
                raise Conflict(f"asset {asset_id} is no longer frozen (its control was released "
                               "or lapsed): there is nothing to deduct")  # fmt: skip
            if (
                asset.get("measure") != Measure.FREEZE
                or AssetKind(asset["kind"]) not in LIQUID_KINDS
            ):
                raise Conflict(f"asset {asset_id} is not frozen money: it is priced and sold, "
                               "not deducted")  # fmt: skip
            # What deductions asked under this control took (the 终本 gate counts the same:
            # a freeze released and taken again holds what the new one froze).
            since = dt.datetime.fromisoformat(asset["controlled_at"]) if asset.get(
                "controlled_at") else None  # fmt: skip
            taken = sum(
                d.get("transferred_fen", d["amount_fen"])
                for d in record["deductions"].values()
                if d["asset_id"] == asset_id
                and d["status"] != DeductionStatus.FAILED
                and (since is None or _instant(d["requested_at"]) >= since)
            )
            left = int(asset["amount_fen"]) - taken
            if amount > left:
                raise Conflict(f"deduction of {amount} fen exceeds what is frozen and not yet "
                               f"deducted on asset {asset_id}, {left} fen")  # fmt: skip
            domain.check_room(record, "deductions")
            deduction_id = self.new_id()
            deduction = {
                "deduction_id": deduction_id, "asset_id": asset_id, "asset_key": asset["asset_key"],
                "amount_fen": amount, "status": DeductionStatus.REQUESTED.value,
                "requested_by": identity.subject, "requested_at": self.now(), "attempts": 0,
            }  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["deductions"][deduction_id] = deduction
            self.records.remember_deduction(pipe, deduction_id, case_id)
            self.records.schedule(pipe, case_id, deduction_id, self.now_ms())
            self.log(record, "deduction_requested", identity.subject, deduction_id=deduction_id,
                     asset_id=asset_id, amount_fen=amount)  # fmt: skip
            self.stage(pipe, record, pb.DeductionRequested(
                case_id=case_id, deduction_id=deduction_id, asset_id=asset_id,
                asset_key=asset["asset_key"], amount_fen=amount, requested_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            if once is not None:
                once.remember(pipe, deduction_id)
            return deduction, True

        watch = (asset_watch, once.key) if once else (asset_watch,)
        return await self.act(case_id, identity, act, watch=watch)

    async def transfer_request(
        self, case_id: str, deduction_id: str, retry_after_ms: int
    ) -> gateway_pb.SubmitTransferRequest | None:
        """The request to send for a due deduction (None if it is no longer pending); it is
        rescheduled for ``retry_after_ms`` later, when it is sent again unless answered."""

        async def act(pipe: Pipeline, record: Record) -> gateway_pb.SubmitTransferRequest | None:
            deduction = record["deductions"].get(deduction_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            if deduction is None or deduction["status"] != DeductionStatus.REQUESTED:
                self.records.unschedule(pipe, case_id, deduction_id)
                return None
            deduction["attempts"] += 1
            self.records.schedule(pipe, case_id, deduction_id, self.now_ms() + retry_after_ms)
            return gateway_pb.SubmitTransferRequest(
                request_id=deduction_id, case_id=case_id, court_code=record["court_code"],
                asset_key=deduction["asset_key"], amount_fen=deduction["amount_fen"],
                to_account=record["account_number"],
            )  # fmt: skip

        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return None

    async def deduction_failed(self, case_id: str, deduction_id: str, error: str) -> bool:
        """The deduction failed (refused, or never answered): it may be asked for again."""
        return await self._end_deduction(
            case_id, deduction_id, DeductionStatus.FAILED, (DeductionStatus.REQUESTED,), error,
            lambda deduction: pb.DeductionFailed(
                case_id=case_id, deduction_id=deduction_id, asset_id=deduction["asset_id"],
                error=error,
            ),
        )  # fmt: skip

    async def deduction_unrecorded(
        self, case_id: str, deduction_id: str, reason: str, feedback: gateway_pb.Feedback,
        *, statement_payment: str = "",
    ) -> bool:  # fmt: skip
        """A transfer answered as done that cannot be recorded as a receipt: the deduction
        is not sent again and stays counted against the frozen deposit (the money may have
        moved), for finance to review; DeductionAnswerUnrecorded says why. With
        ``statement_payment``, the answer named that receipt finance recorded from the
        statement: kept on the deduction, so no later answer records the transfer again."""
        within = _transfer_within_bounds(feedback)
        return await self._end_deduction(
            case_id, deduction_id, DeductionStatus.UNRECORDED,
            (DeductionStatus.REQUESTED, DeductionStatus.FAILED), reason,
            lambda deduction: pb.DeductionAnswerUnrecorded(
                case_id=case_id, deduction_id=deduction_id, asset_id=deduction["asset_id"],
                reason=reason,
                reported_amount_fen=feedback.transferred_amount_fen if within else 0,
                bank_reference=feedback.bank_reference if within else "",
            ),
            {"statement_payment": statement_payment} if statement_payment else {},
        )  # fmt: skip

    async def review_deduction(
        self, case_id: str, deduction_id: str, *, identity: Identity, moved: bool,
        bank_reference: str = "", amount: int = 0, arrived_on: dt.date | None = None,
        note: str = "",
    ) -> Record:  # fmt: skip
        """Finance of the court handling the case reviews a deduction left unrecorded (the
        outside system said it transferred, and its answer could not be recorded), against
        the bank statement. ``moved``: the money arrived, ``amount`` fen (at most what was
        asked) under ``bank_reference``: it is recorded as the deduction's receipt, or, when
        that reference was recorded already as a receipt of this case for that amount (finance
        recorded it from the statement first), the deduction is that receipt. Not moved: the
        deduction failed, and what it held of the frozen deposit may be deducted again."""
        require_role(identity, Role.FINANCE)
        self._not_in_future(arrived_on)
        record = await self.records.get(case_id)
        deduction = record["deductions"].get(deduction_id) if record else None
        asset_id = deduction["asset_id"] if deduction else ""
        asset = await self.records.asset(asset_id) if asset_id else None
        watch = (self.records.bank_ref_key(bank_reference),) if moved else ()

        async def act(pipe: Pipeline, record: Record) -> Record:
            deduction: Record | None = record["deductions"].get(deduction_id)
            if deduction is None:
                raise NotFound(f"case {record['case_number']} has no deduction {deduction_id}")
            if deduction["status"] != DeductionStatus.UNRECORDED:
                raise Conflict(
                    f"deduction {deduction_id} is {deduction['status']}: only a deduction "
                    "whose answer could not be recorded (unrecorded) is reviewed"
                )
            if not moved:
                reason = "finance found on the bank statement that nothing moved"
                pipe.multi()  # type: ignore[no-untyped-call]
                deduction.update(status=DeductionStatus.FAILED.value, error=reason)
                payment: Record = {}
            else:
                if amount > deduction["amount_fen"]:
                    raise Invalid(
                        f"the deduction asked for {deduction['amount_fen']} fen; a receipt of "
                        f"{amount} fen is more than that: record the rest as a receipt of its own",
                        loc=("body", "amount_fen"),
                    )
                known = await self._receipt_of_review(pipe, record, bank_reference, amount)
                if known is not None:
                    if arrived_on is not None and arrived_on.isoformat() != known["arrived_on"]:
                        raise Invalid(
                            f"the receipt under bank reference {bank_reference} was recorded "
                            f"as arrived on {known['arrived_on']}, not {arrived_on}",
                            loc=("body", "arrived_on"),
                        )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    payment = known
                    # The receipt is the deduction's: whose control brought it in counts for
                    # who may approve its payout (funds.separation-of-duties).
                    payment["asset_id"] = deduction["asset_id"]
                    if asset and asset.get("controlled_by"):
                        payment["controlled_by"] = [asset["controlled_by"]]
                    deduction.update(
                        status=DeductionStatus.TRANSFERRED.value,
                        payment_id=payment["payment_id"],
                        transferred_fen=amount,
                    )
                else:
                    payment = self._stage_arrival(
                        pipe, record, amount=amount, source=Source.DEDUCTION,
                        reference=bank_reference, payer="", asset_id=deduction["asset_id"],
                        asset=asset, arrived_on=arrived_on.isoformat() if arrived_on else "",
                        identity=identity, deduction_id=deduction_id,
                    )  # fmt: skip
            deduction["reviewed_by"] = identity.subject
            self.log(record, "deduction_reviewed", identity.subject, deduction_id=deduction_id,
                     moved=moved, payment_id=payment.get("payment_id", ""), note=note)  # fmt: skip
            self.stage(pipe, record, pb.DeductionReviewed(
                case_id=case_id, deduction_id=deduction_id, asset_id=deduction["asset_id"],
                moved=moved, payment_id=payment.get("payment_id", ""),
                amount_fen=amount if moved else 0, bank_reference=bank_reference if moved else "",
                reviewed_by=identity.subject, note=note,
            ), identity.as_actor())  # fmt: skip
            return deduction

        return await self.act(case_id, identity, act, watch=watch)

    async def _receipt_of_review(
        self, pipe: Pipeline, record: Record, reference: str, amount: int
    ) -> Record | None:
        """The receipt recorded already under ``reference`` that a reviewed deduction is (None:
        a new one is recorded). One transfer is one receipt: besides ``_known_receipt``'s
        refusals, a receipt another deduction is already is refused."""
        payment = await self._known_receipt(pipe, record, reference, amount)
        if payment is None:
            return None
        if why := _not_a_statement_credit(payment, record):
            raise Conflict(f"bank reference {reference} was recorded already, {why}")
        return payment

    async def _end_deduction(
        self, case_id: str, deduction_id: str, status: DeductionStatus,
        still: tuple[DeductionStatus, ...], reason: str,
        event: Callable[[dict[str, Any]], Message], noted: dict[str, str] | None = None,
    ) -> bool:  # fmt: skip
        """Take a deduction that is still one of ``still`` to ``status`` for ``reason`` (and
        ``noted`` on it): no longer sent, its history and ``event`` written. False when it
        had moved on."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            deduction = record["deductions"].get(deduction_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.unschedule(pipe, case_id, deduction_id)
            if deduction is None or deduction["status"] not in still:
                return False
            deduction.update(status=status.value, error=reason, **(noted or {}))
            self.log(record, f"deduction_{status.value}", SERVICE_ACTOR.id,
                     deduction_id=deduction_id, error=reason)  # fmt: skip
            self.stage(pipe, record, event(deduction))
            return True

        return await self.records.change_case(case_id, act)

    async def apply_transfer(self, feedback: gateway_pb.Feedback, case_id: str) -> str:
        """The outside system's answer to a deduction: the money arrived (once per bank
        reference, however often the answer is delivered) or the deduction failed. A refusal
        out of bounds fails it with the reason. A transfer answered as done is never made a
        failure (which would let the money be deducted again): one that cannot be recorded
        as a receipt as given (``_transfer_fault``, a bank reference of another receipt, of
        a credit finance recorded from the statement, a full ledger), or that comes after the
        deduction was failed for want of an answer, leaves it unrecorded, for finance. None
        stops the answers after it."""
        record = await self.records.get(case_id)
        deduction: dict[str, Any] | None = (
            record["deductions"].get(feedback.request_id) if record else None
        )
        if deduction is None:
            return "unknown"
        if feedback.status != "transferred" or feedback.transferred_amount_fen == 0:
            # Nothing moved: the deduction failed, and may be asked for again.
            refusal = bounded(feedback, TRANSFER_STATUSES)
            reason = refusal.error or refusal.status
            if refusal is feedback and feedback.status == "transferred":
                reason = "the outside system answered transferred, of 0 fen"
            failed = await self.deduction_failed(case_id, feedback.request_id, reason)
            return "failed" if failed else "stale"
        fault = _transfer_fault(feedback, deduction)
        if fault:
            unrecorded = await self.deduction_unrecorded(case_id, feedback.request_id, fault,
                                                         feedback)  # fmt: skip
            return "unrecorded" if unrecorded else "stale"
        try:
            payment, new = await self._arrive(
                case_id, amount=feedback.transferred_amount_fen, source=Source.DEDUCTION,
                reference=feedback.bank_reference, asset_id=deduction["asset_id"],
                answers_deduction=feedback.request_id,
            )  # fmt: skip
        except Conflict as refused:  # another receipt's bank reference; the ledger is full
            statement = refused.payment_id if isinstance(refused, StatementReceipt) else ""
            unrecorded = await self.deduction_unrecorded(
                case_id, feedback.request_id, str(refused), feedback, statement_payment=statement
            )
            if not unrecorded:
                log.warning("an answer to a deduction no longer awaiting one was not recorded",
                            case_id=case_id, deduction_id=feedback.request_id,
                            bank_reference=feedback.bank_reference[:MAX_ID],
                            reason=str(refused))  # fmt: skip
            return "unrecorded" if unrecorded else "stale"
        if payment is None:
            # The deduction has its receipt (recorded from an earlier answer, or by finance from
            # the bank statement): the same transfer reported under another reference must not
            # be counted twice (a second transfer, if one was made, is on the statement too,
            # for finance to record).
            log.warning("a transfer answered after its deduction had its receipt was not "
                        "recorded", case_id=case_id, deduction_id=feedback.request_id,
                        bank_reference=feedback.bank_reference[:MAX_ID],
                        amount_fen=feedback.transferred_amount_fen)  # fmt: skip
            return "stale"
        return "arrived" if new else "duplicate"


class StatementReceipt(Conflict):
    """An answer to a deduction names a receipt finance recorded from the bank statement
    (same case, same amount, a credit of no asset and no deduction): finance's review
    makes it the deduction's receipt."""

    def __init__(self, reference: str, payment_id: str) -> None:
        super().__init__(
            f"bank reference {reference} was recorded already from the bank statement "
            f"(payment {payment_id}): finance's review of the deduction makes it the "
            "deduction's receipt"
        )
        self.payment_id = payment_id


def _not_a_statement_credit(payment: Record, record: Record) -> str:
    """Why ``payment`` is not a credit finance recorded from the statement that no deduction
    is yet ("" when it is): only such a receipt may become a deduction's (its review, or the
    outside system's answer naming it). One transfer is one receipt."""
    if any(d.get("payment_id") == payment["payment_id"] for d in record["deductions"].values()):
        return "as another deduction's receipt; one transfer is one receipt"
    if payment["source"] != Source.PAYMENT or payment.get("asset_id"):
        return (f"as {payment['source']} money, not as a credit from the statement: it is "
                "not this deduction's")  # fmt: skip
    return ""


def _has_its_receipt(deduction: Record | None, record: Record, reference: str) -> bool:
    """The deduction was transferred, and an answer under ``reference`` is not its receipt
    delivered again: one deduction is one transfer, so its money is not counted twice. Its
    receipt is under another reference, or finance found its money on the bank statement
    (its review: the statement is its record now, whatever reference the bank gives)."""
    if deduction is None or deduction["status"] != DeductionStatus.TRANSFERRED:
        return False
    if deduction.get("reviewed_by"):
        return True
    receipt: Record | None = record["payments"].get(deduction.get("payment_id", ""))
    return receipt is None or receipt["bank_reference"] != reference


def _transfer_within_bounds(feedback: gateway_pb.Feedback) -> bool:
    """Whether the figures a transfer answered as done carries can be kept as reported."""
    return (
        0 <= feedback.transferred_amount_fen <= MAX_AMOUNT_FEN
        and len(feedback.bank_reference) <= MAX_ID
    )


def _transfer_fault(feedback: gateway_pb.Feedback, deduction: dict[str, Any]) -> str:
    """Why a transfer answered as done cannot be recorded as a receipt, or "": its amount
    within the bounds and at most what was asked, under a bank reference none of the
    platform's own could be (``domain.reserved_prefix``). What it does not
    use (an error text, assets) is not looked at."""
    amount, asked = feedback.transferred_amount_fen, deduction["amount_fen"]
    if not _transfer_within_bounds(feedback):
        return (
            f"the outside system's answer is out of bounds: transferred {amount} fen (at most "
            f"{MAX_AMOUNT_FEN}) under a bank reference of {len(feedback.bank_reference)} "
            f"characters (at most {MAX_ID})"
        )
    if amount > asked:
        return f"the outside system transferred {amount} fen, more than the {asked} asked"
    if not feedback.bank_reference:
        return "the outside system's answer names no bank reference"
    if prefix := domain.reserved_prefix(feedback.bank_reference):
        return (f"the outside system's answer names bank reference {feedback.bank_reference}, "
                f"beginning {prefix}: as the platform's own references of sale proceeds and "
                "payouts do")  # fmt: skip
    return ""


def _instant(value: str | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def asset_facts(**fields: Any) -> dict[str, str]:
    """An asset's facts as kept (strings; empty ones left out, so a later event does not
    blank what an earlier one said)."""
    return {name: str(value) for name, value in fields.items() if value not in ("", None, 0)}
