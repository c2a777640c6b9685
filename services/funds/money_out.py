"""Money out (¶22): the undisputed part is notified to finance and paid; a part held back
needs a legal reason and a leader's approval; payouts go to the receiving account confirmed
at filing (or a changed one a leader approved), approved by someone who neither handles the
case nor controlled the asset (分段办理); never more out than in.

Clocks follow from the events: a payment's notify-finance clock starts when it arrives
(or when a held part is released as a payment of its own), pauses while the whole of it is
deferred, and stops at its notice, or when the whole of it is lodged; the notice's pay
clock stops at the payout.

While a dispute's stop order is in force (rule dispute.stop-enforcement) no notice is
issued and nothing is paid on the case; holds, their release and the receiving account
stay open (they pay nothing out).
"""

from __future__ import annotations

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.funds import domain
from services.funds.domain import HoldStatus, Record
from services.funds.handler import FundsHandler
from zhixing.auth import Identity, Role, require_role
from zhixing.errors import Conflict, NotFound
from zhixing.funds import HoldKind, HoldReason, Source
from zhixing.v1 import funds_events_pb2 as pb


class MoneyOut(FundsHandler):
    # --- holds: defer (延缓发放) or lodge (提存) -----------------------------------------------

    async def request_hold(
        self, case_id: str, *, identity: Identity, payment_id: str, amount: int,
        kind: HoldKind, reason: HoldReason, note: str,
    ) -> Record:  # fmt: skip
        return (await self.request_hold_once(
            case_id, identity=identity, payment_id=payment_id, amount=amount, kind=kind,
            reason=reason, note=note,
        ))[0]  # fmt: skip

    async def request_hold_once(
        self, case_id: str, *, identity: Identity, payment_id: str, amount: int,
        kind: HoldKind, reason: HoldReason, note: str, idempotency_key: str | None = None,
    ) -> tuple[Record, bool]:  # fmt: skip
        """``request_hold``; with an Idempotency-Key, a request sent again holds nothing
        twice and gets the first hold: (the hold, new?)."""
        require_role(identity, Role.OFFICER)
        once = self.once("hold", identity, idempotency_key, case_id=case_id,
                         payment_id=payment_id, amount=amount, kind=kind.value,
                         reason=reason.value, note=note)  # fmt: skip

        async def act(pipe: Pipeline, record: Record) -> tuple[Record, bool]:
            if made := await self.made_before(pipe, once, record, "holds", "hold"):
                return made, False
            domain.check_hold(record, payment_id, amount, kind, reason)
            domain.check_room(record, "holds")
            hold_id = self.new_id()
            hold = {
                "hold_id": hold_id, "payment_id": payment_id, "amount_fen": amount,
                "kind": kind.value, "reason": reason.value, "note": note,
                "status": HoldStatus.REQUESTED.value, "requested_by": identity.subject,
                "requested_at": self.now(),
            }  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["holds"][hold_id] = hold
            self.log(record, "hold_requested", identity.subject, hold_id=hold_id,
                     payment_id=payment_id, amount_fen=amount, kind=kind.value,
                     reason=reason.value)  # fmt: skip
            self.stage(pipe, record, pb.HoldRequested(
                case_id=case_id, hold_id=hold_id, payment_id=payment_id, amount_fen=amount,
                kind=kind.value, reason=reason.value, note=note, requested_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            if once is not None:
                once.remember(pipe, hold_id)
            return hold, True

        return await self.act(case_id, identity, act, watch=(once.key,) if once else ())

    async def decide_hold(
        self, case_id: str, hold_id: str, *, identity: Identity, approve: bool, note: str
    ) -> Record:
        """A leader approves or refuses a hold. Approved, a hold that leaves its payment
        nothing to notify pauses the payment's clock (a deferral) or ends it (a lodging); a
        part leaves the clock running on the rest (rule ``funds.undisputed-first``)."""

        async def act(pipe: Pipeline, record: Record) -> Record:
            hold = domain.require_hold(record, hold_id, HoldStatus.REQUESTED)
            domain.check_approver(identity, record, hold["requested_by"])
            payment_id = hold["payment_id"]
            payment = record["payments"][payment_id]
            pipe.multi()  # type: ignore[no-untyped-call]
            hold.update(decided_by=identity.subject, decided_at=self.now(), decision_note=note)
            if not approve:
                self._return_to_payable(pipe, record, hold, identity, refused=True, note=note)
                return hold
            whole = domain.clock_ends_with(record, payment_id, hold_id)
            fields = {"case_id": case_id, "hold_id": hold_id, "payment_id": payment_id,
                      "amount_fen": hold["amount_fen"], "reason": hold["reason"],
                      "approved_by": identity.subject}  # fmt: skip
            event: Message
            if hold["kind"] == HoldKind.LODGE:
                hold["status"] = HoldStatus.LODGED.value
                record["counters"]["lodged_fen"] += hold["amount_fen"]
                self.records.count(pipe, record["court_code"], "lodged_fen", hold["amount_fen"])
                event = pb.PaymentLodged(**fields) if whole else pb.FundsLodged(**fields)
                if whole:
                    payment["clock_open"] = False
            elif whole:
                hold["status"] = HoldStatus.DEFERRED.value
                payment["paused_by"] = hold_id
                event = pb.PaymentDeferralApproved(**fields)
            else:
                hold["status"] = HoldStatus.HELD.value
                event = pb.FundsHeld(**fields)
            self.log(record, "hold_approved", identity.subject, hold_id=hold_id,
                     status=hold["status"])  # fmt: skip
            self.stage(pipe, record, event, identity.as_actor())
            return hold

        return await self.act(case_id, identity, act)

    async def release_hold(
        self, case_id: str, hold_id: str, *, identity: Identity, note: str
    ) -> Record:
        """The reason of a hold ended (the dispute was decided, the suspension lifted): its
        money is payable again."""
        require_role(identity, Role.OFFICER, Role.LEADER)

        async def act(pipe: Pipeline, record: Record) -> Record:
            hold = domain.require_hold(record, hold_id, HoldStatus.HELD, HoldStatus.DEFERRED)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._return_to_payable(pipe, record, hold, identity, refused=False, note=note)
            return hold

        return await self.act(case_id, identity, act)

    def _return_to_payable(
        self, pipe: Pipeline, record: Record, hold: Record, identity: Identity, *,
        refused: bool, note: str,
    ) -> None:  # fmt: skip
        """A hold's money is payable again: back on its payment if that payment's clock is
        still running and not yet noticed (resuming it if this hold paused it), else as a
        payment of its own, whose clock starts now after an approved hold, and from the
        payment's arrival after a refused one: asking for a hold that is refused gives no
        time (¶22: only an approved legal reason delays the money)."""
        case_id, hold_id = record["case_id"], hold["hold_id"]
        payment = record["payments"][hold["payment_id"]]
        actor = identity.as_actor()
        back_on_payment = not payment.get("notice_id") and payment.get("clock_open", True)
        if back_on_payment:
            hold["status"] = (HoldStatus.REFUSED if refused else HoldStatus.ENDED).value
            if payment.get("paused_by") == hold_id:
                del payment["paused_by"]
                self.stage(pipe, record, pb.PaymentDeferralEnded(
                    case_id=case_id, hold_id=hold_id, payment_id=hold["payment_id"],
                    ended_by=identity.subject, note=note,
                ), actor)  # fmt: skip
            elif refused:
                self.stage(pipe, record, pb.HoldRefused(
                    case_id=case_id, hold_id=hold_id, payment_id=hold["payment_id"],
                    refused_by=identity.subject, note=note,
                ), actor)  # fmt: skip
            self.log(record, "hold_refused" if refused else "hold_ended", identity.subject,
                     hold_id=hold_id)  # fmt: skip
            return
        domain.check_room(record, "payments")
        # Released as a payment of its own (its amount out of its first payment's rest, so
        # "released" whatever the decision); a refusal says so in ``refused`` and the
        # history, not read as an approved hold ended.
        hold["status"] = HoldStatus.RELEASED.value
        if refused:
            hold["refused"] = True
            self.stage(pipe, record, pb.HoldRefused(
                case_id=case_id, hold_id=hold_id, payment_id=hold["payment_id"],
                refused_by=identity.subject, note=note,
            ), actor)  # fmt: skip
        new_id = self.new_id()
        arrived_on = payment["arrived_on"] if refused else self.today()
        record["payments"][new_id] = {
            "payment_id": new_id, "amount_fen": hold["amount_fen"], "source": Source.RELEASE.value,
            "bank_reference": "", "asset_id": payment.get("asset_id", ""), "payer": "",
            "arrived_on": arrived_on, "arrived_at": self.now(),
            "controlled_by": payment.get("controlled_by", []), "clock_open": True,
            "from_payment_id": hold["payment_id"], "from_hold_id": hold_id,
        }  # fmt: skip
        hold["released_as"] = new_id
        self.log(record, "hold_refused" if refused else "hold_released", identity.subject,
                 hold_id=hold_id, payment_id=new_id)  # fmt: skip
        self.stage(pipe, record, pb.FundsReleased(
            case_id=case_id, hold_id=hold_id, payment_id=new_id,
            from_payment_id=hold["payment_id"], amount_fen=hold["amount_fen"],
            released_by=identity.subject, note=note, arrived_on=arrived_on,
        ), actor)  # fmt: skip

    # --- the notice to finance --------------------------------------------------------------

    async def issue_notice(self, case_id: str, payment_id: str, *, identity: Identity) -> Record:
        """Tell finance to pay everything of the payment that is not held (rule
        ``funds.notify-finance``; the undisputed part first, rule ``funds.undisputed-first``)."""
        require_role(identity, Role.OFFICER)

        async def act(pipe: Pipeline, record: Record) -> Record:
            payment = domain.require_payment(record, payment_id)
            await self.refuse_if_stopped(
                pipe, record, f"the payment notice of payment {payment_id}"
            )
            if payment.get("notice_id"):
                raise Conflict(f"payment {payment_id} was notified already "
                               f"(notice {payment['notice_id']})")  # fmt: skip
            if payment.get("paused_by"):
                raise Conflict(f"payment {payment_id} is deferred (hold {payment['paused_by']}); "
                               "release the hold first")  # fmt: skip
            amount = domain.payable_rest(record, payment_id)
            if amount <= 0:
                raise Conflict(f"nothing of payment {payment_id} is payable: it is all held "
                               "or lodged")  # fmt: skip
            domain.check_room(record, "notices")
            notice_id = self.new_id()
            notice = {
                "notice_id": notice_id, "payment_id": payment_id, "amount_fen": amount,
                "to_account": record["receiving_account"], "issued_by": identity.subject,
                "issued_at": self.now(),
            }  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["notices"][notice_id] = notice
            payment["notice_id"] = notice_id
            self.log(record, "payment_noticed", identity.subject, notice_id=notice_id,
                     payment_id=payment_id, amount_fen=amount)  # fmt: skip
            self.stage(pipe, record, pb.PaymentNoticeIssued(
                case_id=case_id, payment_id=payment_id, notice_id=notice_id, amount_fen=amount,
                to_account=record["receiving_account"], issued_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return notice

        return await self.act(case_id, identity, act)

    # --- the payout -----------------------------------------------------------------------

    async def pay(
        self, case_id: str, notice_id: str, *, identity: Identity, amount: int, to_account: str,
        bank_reference: str,
    ) -> Record:  # fmt: skip
        """Finance (or a leader) pays a notice: the amount noticed, to the receiving account,
        by someone who neither handles the case nor controlled the asset (rule
        ``funds.separation-of-duties``). Two payouts racing for one notice: one wins, the
        other is refused (the ledger is watched)."""
        ref_key = self.records.bank_ref_key(f"{domain.PAYOUT_REFERENCE}:{bank_reference}")

        async def act(pipe: Pipeline, record: Record) -> Record:
            notice, payment = domain.check_payout(identity, record, notice_id, amount, to_account)
            await self.refuse_if_stopped(pipe, record, f"the payout of notice {notice_id}")
            if await pipe.exists(ref_key):
                raise Conflict(f"bank reference {bank_reference} was recorded for another payout")
            payout_id = self.new_id()
            payout = {
                "payout_id": payout_id, "notice_id": notice_id, "payment_id": notice["payment_id"],
                "amount_fen": amount, "to_account": record["receiving_account"],
                "approved_by": identity.subject, "bank_reference": bank_reference,
                "paid_on": self.today(), "paid_at": self.now(),
            }  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["payouts"][payout_id] = payout
            notice["payout_id"] = payout_id
            record["counters"]["paid_fen"] += amount
            self.records.count(pipe, record["court_code"], "paid_fen", amount)
            pipe.set(ref_key, f"{case_id}|{payout_id}")
            self.log(record, "paid", identity.subject, payout_id=payout_id, notice_id=notice_id,
                     amount_fen=amount)  # fmt: skip
            self.stage(pipe, record, pb.FundsPaid(
                case_id=case_id, payment_id=payment["payment_id"], notice_id=notice_id,
                payout_id=payout_id, amount_fen=amount, to_account=payout["to_account"],
                approved_by=identity.subject, bank_reference=bank_reference,
                paid_on=payout["paid_on"],
            ), identity.as_actor())  # fmt: skip
            return payout

        return await self.act(case_id, identity, act, watch=(ref_key,))

    # --- the receiving account -------------------------------------------------------------

    async def request_account_change(
        self, case_id: str, *, identity: Identity, new_account: str, reason: str
    ) -> Record:
        require_role(identity, Role.OFFICER)

        async def act(pipe: Pipeline, record: Record) -> Record:
            if domain.normalise_account(new_account) == domain.normalise_account(
                record["receiving_account"]
            ):
                raise Conflict(f"{new_account} is the receiving account already")
            # One change at a time: a second, approved after the first, would move the money
            # again on a request its approver may never have compared with the first.
            if pending := [c for c, change in record["account_changes"].items()
                           if change["status"] == "requested"]:  # fmt: skip
                raise Conflict(
                    f"account change {pending[0]} awaits a leader's decision; a change of the "
                    f"receiving account is requested once that one is decided "
                    f"(rule {domain.RECEIVING_ACCOUNT})"
                )
            domain.check_room(record, "account_changes")
            change_id = self.new_id()
            change = {"change_id": change_id, "new_account": new_account, "reason": reason,
                      "status": "requested", "requested_by": identity.subject,
                      "requested_at": self.now()}  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["account_changes"][change_id] = change
            self.log(record, "account_change_requested", identity.subject, change_id=change_id)
            self.stage(pipe, record, pb.ReceivingAccountChangeRequested(
                case_id=case_id, change_id=change_id, new_account=new_account, reason=reason,
                requested_by=identity.subject,
            ), identity.as_actor())  # fmt: skip
            return change

        return await self.act(case_id, identity, act)

    async def decide_account_change(
        self, case_id: str, change_id: str, *, identity: Identity, approve: bool, note: str
    ) -> Record:
        """A leader approves (payouts go to the new account from now on; notices not yet
        paid follow it) or refuses a change of the receiving account (rule
        ``funds.receiving-account``)."""

        async def act(pipe: Pipeline, record: Record) -> Record:
            change: Record | None = record["account_changes"].get(change_id)
            if change is None:
                raise NotFound(f"case {record['case_number']} has no account change {change_id}")
            if change["status"] != "requested":
                raise Conflict(f"account change {change_id} is {change['status']}, not requested")
            domain.check_approver(identity, record, change["requested_by"])
            pipe.multi()  # type: ignore[no-untyped-call]
            change.update(decided_by=identity.subject, decided_at=self.now(), decision_note=note)
            actor = identity.as_actor()
            if not approve:
                change["status"] = "refused"
                self.log(record, "account_change_refused", identity.subject, change_id=change_id)
                self.stage(pipe, record, pb.ReceivingAccountChangeRefused(
                    case_id=case_id, change_id=change_id, refused_by=identity.subject, note=note,
                ), actor)  # fmt: skip
                return change
            old = record["receiving_account"]
            change.update(status="approved", old_account=old)
            record["receiving_account"] = change["new_account"]
            for notice in record["notices"].values():
                if not notice.get("payout_id"):
                    notice["to_account"] = change["new_account"]
            self.log(record, "account_changed", identity.subject, change_id=change_id,
                     old=old, new=change["new_account"])  # fmt: skip
            self.stage(pipe, record, pb.ReceivingAccountChanged(
                case_id=case_id, change_id=change_id, old_account=old,
                new_account=change["new_account"], approved_by=identity.subject,
                requested_by=change["requested_by"],
            ), actor)  # fmt: skip
            return change

        return await self.act(case_id, identity, act)
