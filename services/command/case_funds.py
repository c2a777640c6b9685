"""A case's money (案款) as the command centre shows it, kept from the funds events.

One hash per case: its account and the applicant's receiving account, and the sums

- received: every arrival in the case's account (``FundsArrived``; a held part released
  later is not new money);
- paid: every payout to the applicant (``FundsPaid``);
- held: held back from payout: a hold asked for and awaiting a leader, or approved as a
  held part (``FundsHeld``) or a whole deferral (``PaymentDeferralApproved``), until it is
  refused, ended, released or lodged;
- lodged: lodged (提存, ``FundsLodged``, ``PaymentLodged``): the money left the account;

and what is still in the account (received − paid − lodged, held included), the ledger the
funds service keeps (``received = paid + in account + lodged``). Each hold remembers what it
keeps (``hold:<id>``), so a refusal or an end, which name no amount, gives back the right
one. A case's funds events share its partition of the funds topic, so they come in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from google.protobuf.message import Message

from zhixing.events import Event
from zhixing.money import add_fen, fen_of
from zhixing.projection import Transaction
from zhixing.state import KeySpace, read_hashes, text_hash
from zhixing.v1 import funds_events_pb2 as pb

SUMS = ("received_fen", "paid_fen", "held_fen", "lodged_fen")

# Hold events (by payload type) → whether the hold keeps the event's amount from payout
# afterwards (True) or nothing (False). A release (FundsReleased) keeps what it did not
# release.
HOLDS_KEEP: dict[type[Message], bool] = {
    pb.HoldRequested: True,
    pb.FundsHeld: True,
    pb.PaymentDeferralApproved: True,
    pb.HoldRefused: False,
    pb.PaymentDeferralEnded: False,
    pb.FundsLodged: False,
    pb.PaymentLodged: False,
}


@dataclass(frozen=True)
class FundsSummary:
    account_number: str
    receiving_account: str
    received_fen: int
    paid_fen: int
    held_fen: int
    lodged_fen: int
    in_account_fen: int
    arrivals: int
    payouts: int


class CaseFunds:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, case_id: str) -> str:
        return self._keys.key("case-funds", case_id)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        cases = sorted({cid for e in events if (cid := getattr(e.payload, "case_id", ""))})
        known = dict(
            zip(cases, await read_hashes(tx.redis, [self.key(c) for c in cases]), strict=True)
        )
        for event in events:
            payload = event.payload
            case_id = getattr(payload, "case_id", "")
            if not case_id:
                continue
            key = self.key(case_id)
            case = known[case_id]
            if isinstance(payload, pb.CaseAccountOpened):
                opened = {"account_number": payload.account_number,
                          "receiving_account": payload.receiving_account}  # fmt: skip
                case.update(opened)
                tx.pipe.hset(key, mapping=opened)  # type: ignore[arg-type]
            elif isinstance(payload, pb.ReceivingAccountChanged):
                case["receiving_account"] = payload.new_account
                tx.pipe.hset(key, "receiving_account", payload.new_account)
            elif isinstance(payload, pb.FundsArrived):
                add_fen(tx.pipe, key, "received_fen", payload.amount_fen)
                tx.pipe.hincrby(key, "arrivals", 1)
            elif isinstance(payload, pb.FundsPaid):
                add_fen(tx.pipe, key, "paid_fen", payload.amount_fen)
                tx.pipe.hincrby(key, "payouts", 1)
            elif isinstance(payload, pb.FundsReleased):
                kept = int(case.get(f"hold:{payload.hold_id}") or 0)
                self._hold(tx, key, case, payload.hold_id, max(0, kept - payload.amount_fen))
            elif (keeps := HOLDS_KEEP.get(type(payload))) is not None:
                hold_id: str = getattr(payload, "hold_id", "")
                amount: int = getattr(payload, "amount_fen", 0)
                self._hold(tx, key, case, hold_id, amount if keeps else 0)
                if isinstance(payload, pb.FundsLodged | pb.PaymentLodged):
                    add_fen(tx.pipe, key, "lodged_fen", payload.amount_fen)

    @staticmethod
    def _hold(tx: Transaction, key: str, case: dict[str, str], hold_id: str, keeps: int) -> None:
        """The hold ``hold_id`` keeps ``keeps`` fen from payout now: the held sum moves by
        the difference."""
        field = f"hold:{hold_id}"
        before = int(case.get(field) or 0)
        case[field] = str(keeps)
        tx.pipe.hset(key, field, keeps)
        add_fen(tx.pipe, key, "held_fen", keeps - before)

    async def get(self, case_id: str) -> FundsSummary:
        """The case's money (zeros, and no accounts, before any funds event of it)."""
        return self._summary(text_hash(await self._redis.hgetall(self.key(case_id))))

    async def many(self, case_ids: Sequence[str]) -> list[FundsSummary]:
        """Several cases' money in one round trip, in the order of ``case_ids``."""
        raws = await read_hashes(self._redis, [self.key(c) for c in case_ids])
        return [self._summary(raw) for raw in raws]

    @staticmethod
    def _summary(raw: dict[str, str]) -> FundsSummary:
        sums = {name: fen_of(raw, name) for name in SUMS}
        return FundsSummary(
            account_number=raw.get("account_number", ""),
            receiving_account=raw.get("receiving_account", ""),
            in_account_fen=sums["received_fen"] - sums["paid_fen"] - sums["lodged_fen"],
            arrivals=int(raw.get("arrivals") or 0),
            payouts=int(raw.get("payouts") or 0),
            **sums,
        )
