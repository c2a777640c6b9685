"""The facts the 终本 gate reads, kept from events in intake's own keys.

``intake:zhongben-facts:<case_id>`` is a hash, one field per fact, every write idempotent
(a replayed event writes the same field again, or deletes it again), and no fact depends on
the order of two topics:

- ``query_answered``: a network query round completed (asset control's
  ``NetworkQueryCompleted``: every channel answered);
- ``visited:<debtor_key>``, ``interviewed``: intake's own acts (the dates);
- ``search:<debtor_key>:<date>``, ``punishment:<debtor_key>:<date>``, ``obstruction:<id>``
  (JSON): intake's own acts;
- ``restricted:<debtor_key>``, ``listed:<debtor_key>``, ``declined:<debtor_key>``: the
  credit topic's ``RestrictionOrdered``, ``DebtorListed``, ``ListingDeclined`` (the latest
  restriction's or listing's id); ``lifted:<restriction_id>``, ``deleted:<listing_id>``:
  its ``RestrictionLifted``, ``ListingDeleted``. A restriction lifted or a listing deleted
  no longer counts (a case's credit events are in order on its partition);
- ``asset:<asset_id>``: the state the asset's latest event left it in (``ASSET_STATE``:
  found, a control requested, waiting behind another (轮候), declined with a reason, failed,
  controlled, released, lapsed, sold). An asset's events are in order on its partition, so
  the latest read is its state now, and a control released and taken again is held again.
  What a re-query after 终本 finds is not recorded;
- ``frozen:<asset_id>``: the money its latest freeze holds (``AssetControlled`` with measure
  freeze: "<amount>@<recorded ms>"); ``deducted:<asset_id>:<payment_id>``: money deducted
  from it into the case's account (funds' ``FundsArrived`` with source deduction, or
  ``DeductionReviewed`` moved: the same payment, one field), "<amount>@<recorded ms>".
  Frozen money is disposed of once the deductions recorded since its freeze took all of it
  (a deduction of part leaves the rest frozen). ``deducted:<asset_id>`` (a payment id),
  kept before amounts were: deducted, as it was read then.
  A control requested or in effect and not disposed of is undisposed; an asset found, whose
  control failed, or whose control lapsed unrenewed is property that could pay;
- ``outside:<asset_id>``: a hold found outside after a failed control (asset control's
  ``ControlTookEffectAfterFailure``, the failed request's id), deleted by the acts that
  answer it there (``AssetControlled``, ``ControlReleased``, ``ControlDeclined``). The one
  fact set and deleted: it relies on an asset's events being in order on its partition,
  each applied once. While it stands the asset is undisposed, whatever its latest state,
  deducted or not.

The report-assets order is served with the execution notice (``notice_served_on`` of the
case record) and the debtors are the filing's.
"""

from __future__ import annotations

import datetime as dt
import json

import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.intake.repository import CaseRecord
from services.intake.zhongben_domain import (
    Debtor,
    GateFacts,
    Obstruction,
    ObstructionKind,
    debtor_key,
    is_minor,
)
from zhixing.assets import Measure
from zhixing.state import KeySpace, text_hash
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import credit_events_pb2 as credit
from zhixing.v1 import funds_events_pb2 as funds

DEDUCTION = "deduction"  # FundsArrived.source of frozen money deducted (扣划)
REQUERY = "requery"  # AssetFound.source of what a re-query after 终本 found


class ZhongbenFacts:
    """The gate's facts: written by intake's acts and by the reactions below, read by the
    gate."""

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    def key(self, case_id: str) -> str:
        return self._keys.key("zhongben-facts", case_id)

    # --- intake's own acts, queued on the act's transaction ---------------------------------

    def visited(self, pipe: Pipeline, case_id: str, debtor: str, on: dt.date) -> None:
        pipe.hset(self.key(case_id), f"visited:{debtor}", on.isoformat())

    def interviewed(self, pipe: Pipeline, case_id: str, on: dt.date) -> None:
        pipe.hset(self.key(case_id), "interviewed", on.isoformat())

    def obstruction(self, pipe: Pipeline, case_id: str, found: Obstruction) -> None:
        pipe.hset(self.key(case_id), f"obstruction:{found.obstruction_id}", json.dumps(
            {"debtor_key": found.debtor_key, "kind": found.kind.value, "on": found.on.isoformat()}
        ))  # fmt: skip

    def searched(self, pipe: Pipeline, case_id: str, debtor: str, on: dt.date) -> None:
        pipe.hset(self.key(case_id), f"search:{debtor}:{on.isoformat()}", "1")

    def punished(self, pipe: Pipeline, case_id: str, debtor: str, on: dt.date) -> None:
        pipe.hset(self.key(case_id), f"punishment:{debtor}:{on.isoformat()}", "1")

    # --- other services' events ----------------------------------------------------------------

    def keep(self, pipe: Pipeline, payload: Message, recorded_ms: int = 0) -> None:
        """Record the fact ``payload`` states, if it is one the gate reads (``recorded_ms``:
        when its event was recorded, ms since the epoch)."""
        fact = _fact_of(payload)
        if fact is not None:
            case_id, name, value = fact
            pipe.hset(self.key(case_id), name, value)
        # Money frozen, and what deductions took of it: the asset is disposed of once they
        # took all of it (a deduction of part leaves the rest frozen). A hold found outside
        # stands apart from the asset's state until an act answers it.
        match payload:
            case funds.FundsArrived() | funds.DeductionReviewed() if _deduction(payload):
                pipe.hset(self.key(payload.case_id),
                          f"deducted:{payload.asset_id}:{payload.payment_id or '-'}",
                          f"{payload.amount_fen}@{recorded_ms}")  # fmt: skip
            case assets.ControlTookEffectAfterFailure():
                pipe.hset(self.key(payload.case_id), f"{OUTSIDE}:{payload.asset_id}",
                          payload.request_id or "1")  # fmt: skip
            case assets.AssetControlled():
                if payload.measure == Measure.FREEZE:
                    pipe.hset(self.key(payload.case_id), f"frozen:{payload.asset_id}",
                              f"{payload.amount_fen}@{recorded_ms}")  # fmt: skip
                pipe.hdel(self.key(payload.case_id), f"{OUTSIDE}:{payload.asset_id}")
            case assets.ControlReleased() | assets.ControlDeclined():
                pipe.hdel(self.key(payload.case_id), f"{OUTSIDE}:{payload.asset_id}")
        # The case's money (rule case.money-paid-out): each arrival in, each payout and
        # each lodging (提存) out with the payment it comes from, one field each (an event
        # read twice writes its own again). A hold's release re-enters no money (the held
        # part never left the account): it says which payment the released one was part of.
        match payload:
            case funds.FundsArrived():
                pipe.hset(self.key(payload.case_id), f"{MONEY_IN}:{payload.payment_id}",
                          payload.amount_fen)  # fmt: skip
            case funds.FundsReleased():
                pipe.hset(self.key(payload.case_id), f"{MONEY_FROM}:{payload.payment_id}",
                          payload.from_payment_id)  # fmt: skip
            case funds.FundsPaid():
                pipe.hset(self.key(payload.case_id), f"{MONEY_OUT}:{PAYOUT}:{payload.payout_id}",
                          f"{payload.payment_id}:{payload.amount_fen}")  # fmt: skip
            case funds.FundsLodged() | funds.PaymentLodged():
                pipe.hset(self.key(payload.case_id), f"{MONEY_OUT}:{LODGED}:{payload.hold_id}",
                          f"{payload.payment_id}:{payload.amount_fen}")  # fmt: skip

    # --- reading ------------------------------------------------------------------------------

    async def read(
        self, case_id: str, client: aioredis.Redis | Pipeline | None = None
    ) -> dict[str, str]:
        return text_hash(await (client or self._redis).hgetall(self.key(case_id)))


# The state an asset's events leave it in, for the gate: an asset's events are in order on
# its partition, so the latest one read is its state now.
ASSET_STATE: dict[type[Message], str] = {
    assets.ControlRequested: "requested",  # a control under way: not yet disposed of
    assets.WaitingSeizureRegistered: "waiting",  # behind another court's control (轮候)
    assets.ControlDeclined: "declined",  # not controlled, with a reason
    assets.ControlFailed: "failed",  # the outside system refused: open again
    # Failed here, taken effect outside: held with no control on record until controlled again.
    assets.ControlTookEffectAfterFailure: "held_outside",
    assets.AssetControlled: "controlled",
    assets.ControlReleased: "released",  # with a reason, by an officer
    assets.ControlLapsed: "lapsed",  # the term ran out unrenewed: the property is still there
    assets.SaleCompleted: "sold",
    assets.SelfDisposalCompleted: "self_disposed",
}
# Every event ``_fact_of`` may take a fact from: the gate's projection is given these alone.
FACT_EVENTS: tuple[type[Message], ...] = (
    assets.NetworkQueryCompleted,
    assets.AssetFound,
    funds.FundsArrived,
    funds.DeductionReviewed,
    funds.FundsReleased,
    funds.FundsPaid,
    funds.FundsLodged,
    funds.PaymentLodged,
    credit.RestrictionOrdered,
    credit.RestrictionLifted,
    credit.DebtorListed,
    credit.ListingDeleted,
    credit.ListingDeclined,
    *ASSET_STATE,
)
UNDISPOSED = frozenset({"requested", "controlled", "held_outside"})
OUTSIDE = "outside"
"""The field (``outside:<asset>``) of a hold found outside after a failed control
(ControlTookEffectAfterFailure), kept until an act of the officer answers it, as asset
control answers it: a control taking effect, a release, a decline. The asset's other
events leave it standing (a control requested again that fails, a waiting seizure, a
lapse: none says what became of what the outside holds), and the gate counts the asset as
not disposed of meanwhile, whatever its latest state."""
AVAILABLE = frozenset({"found", "failed", "lapsed"})
MONEY_IN, MONEY_FROM, MONEY_OUT = "money_in", "money_from", "money_out"
PAYOUT, LODGED = "payout", "lodged"  # the kinds of money out


def _money_out(raw: dict[str, str]) -> list[tuple[str, int]]:
    """(payment, amount) of each payout and lodging in the facts ``raw``."""
    outs = []
    for name, value in raw.items():
        if name.startswith(f"{MONEY_OUT}:"):
            payment, _, amount = value.rpartition(":")
            outs.append((payment, int(amount)))
    return outs


def unpaid_fen(raw: dict[str, str]) -> int:
    """Money in the case's account neither paid out nor lodged, from the facts ``raw``:
    what arrived less what left of it. Money that arrived before these facts were kept is
    not known (operations.md: a replay makes it known): what leaves of it is not counted
    against money that arrived since, which the gate must see."""
    arrived = {
        name.partition(":")[2]: int(value)
        for name, value in raw.items() if name.startswith(f"{MONEY_IN}:")
    }  # fmt: skip
    part_of = {
        name.partition(":")[2]: value
        for name, value in raw.items() if name.startswith(f"{MONEY_FROM}:")
    }  # fmt: skip

    def arrival_of(payment: str) -> str:
        """The arrival a payment is part of (a released part of a held part of …)."""
        for _ in range(len(part_of) + 1):  # a chain no longer than the releases
            if payment in arrived or payment not in part_of:
                break
            payment = part_of[payment]
        return payment

    left = sum(amount for payment, amount in _money_out(raw) if arrival_of(payment) in arrived)
    return max(0, sum(arrived.values()) - left)


def discharged_fen(raw: dict[str, str]) -> int:
    """Money paid out of the case's account to the applicant or lodged for them (提存
    discharges the debtor as far as it goes), from the facts ``raw``: what a resumption's
    claim no longer includes."""
    return sum(amount for _, amount in _money_out(raw))


def _deduction(payload: funds.FundsArrived | funds.DeductionReviewed) -> bool:
    """Whether ``payload`` is frozen money deducted from an asset: funds' arrival of it, or
    finance finding it on the statement (perhaps as a receipt recorded first, whose
    FundsArrived names no asset). Each is keyed by its payment: one payment, one field."""
    if not payload.asset_id:
        return False
    if isinstance(payload, funds.FundsArrived):
        return payload.source == DEDUCTION
    return payload.moved


def _fact_of(payload: Message) -> tuple[str, str, str] | None:
    """(case id, field, value) of a fact the gate reads, else None."""
    match payload:
        case assets.NetworkQueryCompleted():
            return payload.case_id, "query_answered", str(payload.round)
        case assets.AssetFound():
            if payload.source == REQUERY:
                return None  # found after 终本: not the gate's business
            return payload.case_id, f"asset:{payload.asset_id}", "found"
        case credit.RestrictionOrdered():
            return payload.case_id, f"restricted:{payload.debtor_key}", payload.restriction_id
        case credit.RestrictionLifted():
            return payload.case_id, f"lifted:{payload.restriction_id}", payload.cause or "1"
        case credit.DebtorListed():
            return payload.case_id, f"listed:{payload.debtor_key}", payload.listing_id
        case credit.ListingDeleted():
            return payload.case_id, f"deleted:{payload.listing_id}", payload.cause or "1"
        case credit.ListingDeclined():
            return payload.case_id, f"declined:{payload.debtor_key}", payload.reason
    state = ASSET_STATE.get(type(payload))
    if state is not None:
        case_id, asset_id = payload.case_id, payload.asset_id  # type: ignore[attr-defined]
        return case_id, f"asset:{asset_id}", state
    return None


def _amount_at(value: str) -> tuple[int, int]:
    """A kept "<amount>@<recorded ms>"."""
    amount, _, at = value.partition("@")
    return int(amount), int(at or 0)


def _standing(raw: dict[str, str], kind: str, debtor: str, undone: str) -> bool:
    """Whether the debtor's latest restriction (or listing) stands: ordered and not lifted
    (listed and not deleted)."""
    measure = raw.get(f"{kind}:{debtor}")
    return bool(measure) and f"{undone}:{measure}" not in raw


def gate_facts(record: CaseRecord, raw: dict[str, str], today: dt.date) -> GateFacts:
    """The gate's view of a filed case: its record, its kept facts, minors as of today."""
    assert record.filed is not None
    debtors = tuple(
        Debtor(debtor_key(i), party.name, is_minor(party, today))
        for i, party in enumerate(record.filed.debtors)
    )
    searches: dict[str, dt.date] = {}
    punishments: dict[str, dt.date] = {}
    obstructions = []
    asset_states: dict[str, str] = {}
    frozen: dict[str, tuple[int, int]] = {}  # asset → (amount, recorded ms) of its freeze
    deducted: dict[str, list[tuple[int, int]]] = {}  # asset → (amount, recorded ms) each
    deducted_before: set[str] = set()  # deducted, recorded before amounts were kept
    for name, value in raw.items():
        kind, _, rest = name.partition(":")
        if kind in ("search", "punishment"):
            key, _, on = rest.partition(":")
            latest = searches if kind == "search" else punishments
            day = dt.date.fromisoformat(on)
            latest[key] = max(latest.get(key, day), day)
        elif kind == "obstruction":
            found = json.loads(value)
            obstructions.append(Obstruction(
                rest, found["debtor_key"], ObstructionKind(found["kind"]),
                dt.date.fromisoformat(found["on"]),
            ))  # fmt: skip
        elif kind == "asset":
            asset_states[rest] = value
        elif kind == "frozen":
            frozen[rest] = _amount_at(value)
        elif kind == "deducted":
            asset, per_payment, _ = rest.partition(":")
            if per_payment:
                deducted.setdefault(asset, []).append(_amount_at(value))
            else:
                deducted_before.add(asset)

    def deducted_in_full(asset: str) -> bool:
        """Whether deductions took all the money of the asset's latest freeze (those of an
        earlier freeze, released since, do not count), or, for a freeze recorded before its
        amount was kept, any deduction at all (as the gate read it then)."""
        if asset in deducted_before:
            return True
        taken = deducted.get(asset, [])
        if asset not in frozen:
            return bool(taken)
        amount, since = frozen[asset]
        return bool(taken) and sum(part for part, at in taken if at >= since) >= amount

    keys = [d.key for d in debtors]
    listed = frozenset(k for k in keys if _standing(raw, "listed", k, "deleted"))
    return GateFacts(
        filed_on=dt.date.fromisoformat(record.get("filed_on") or record.filed.filed_on),
        debtors=debtors,
        network_query_answered="query_answered" in raw,
        visited=frozenset(k for k in keys if f"visited:{k}" in raw),
        applicant_interviewed="interviewed" in raw,
        report_order_served=bool(record.get("notice_served_on")),
        restricted=frozenset(k for k in keys if _standing(raw, "restricted", k, "lifted")),
        listed_or_declined=frozenset(k for k in keys if k in listed or f"declined:{k}" in raw),
        listed=listed,
        grounds_on_record=frozenset(o.debtor_key for o in obstructions),
        undisposed_assets=tuple(
            sorted(
                a
                for a, state in asset_states.items()
                # A deduction disposes of a control's money, not of a hold found outside:
                # the outside may hold it twice (the failed request's, and the control's).
                if f"{OUTSIDE}:{a}" in raw or (state in UNDISPOSED and not deducted_in_full(a))
            )
        ),
        held_outside_assets=tuple(sorted(a for a in asset_states if f"{OUTSIDE}:{a}" in raw)),
        uncontrolled_assets=tuple(
            sorted(a for a, state in asset_states.items() if state in AVAILABLE)
        ),
        obstructions=tuple(sorted(obstructions, key=lambda o: (o.on, o.obstruction_id))),
        last_search=searches,
        last_punishment=punishments,
        unpaid_fen=unpaid_fen(raw),
    )
