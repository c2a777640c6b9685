"""Asset control's vocabulary and pure rules (no I/O): the statuses of a case asset, the
ids of assets and outside requests, and the checks a control or a disposal must pass.

A case and its assets are JSON records (see ``repository``): a case holds what it needs
(claim + costs), its debtors, the value reserved by controls and its network query (one
unit per debtor and channel); an asset holds its control and disposal state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from zhixing.assets import KINDS_OF_CHANNEL, LIQUID_KINDS, AssetKind, Measure, measures_for
from zhixing.auth import Identity, ScopeError
from zhixing.errors import Conflict, Invalid
from zhixing.v1 import envelope_pb2

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
    """One try of one query unit (a debtor on a channel) of a case's query round."""

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


def summary(case: dict[str, Any]) -> dict[str, int]:
    """The case's running totals: money secured, non-liquid assets found."""
    totals: dict[str, int] = case.setdefault("summary", {})
    totals.setdefault("liquid_fen", 0)
    totals.setdefault("found_nonliquid", 0)
    return totals


def channel_of(kind: AssetKind) -> str:
    for channel, kinds in KINDS_OF_CHANNEL.items():
        if kind in kinds:
            return channel.value
    raise ValueError(kind)


def control_amount(
    case: dict[str, Any], record: dict[str, Any], amount_fen: int | None,
    measure: Measure | None, control_ref: str, behind_others: bool,
) -> int:  # fmt: skip
    """What a control of ``record`` may hold, or the refusal: money names an exact amount
    within its balance, other assets are controlled whole, the measure fits the kind, a
    control by hand names its ruling, and nothing beyond what the claim needs (¶15)
    without a leader's exception."""
    if record["status"] in HOLDING:
        raise Conflict(f"asset {record['asset_id']} is {record['status']} already")
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
    if by_hand and not behind_others and not control_ref:
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
    return amount


def disposable(record: dict[str, Any]) -> None:
    """Only a controlled asset that is not money is priced and sold."""
    if record["status"] != AssetStatus.CONTROLLED:
        raise Conflict(f"asset {record['asset_id']} is {record['status']}, not controlled")
    if AssetKind(record["kind"]) in LIQUID_KINDS:
        raise Conflict("money is deducted, not priced and sold")


def not_the_controller(record: dict[str, Any], identity: Identity) -> None:
    """Separation of duties (分段办理): who controlled an asset does not approve its disposal."""
    if record.get("controlled_by") == identity.subject:
        raise ScopeError(
            f"{identity.subject} controlled asset {record['asset_id']} and may not approve "
            "its disposal (分段办理)"
        )
