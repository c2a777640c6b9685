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
from zhixing.bounds import MAX_AMOUNT_FEN, MAX_TEXT
from zhixing.errors import Conflict, Invalid
from zhixing.money import yuan
from zhixing.rules import Catalogue, WarningPoint
from zhixing.v1 import asset_events_pb2, envelope_pb2

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
    """A request id's kind and parts; ``("", [])`` when its parts after the first (a round,
    unit or attempt) are not numbers as this service writes them: ASCII digits, a few of
    them (never a sign, which would index a unit from the end; never thousands of digits,
    which ``int`` refuses)."""
    kind, _, rest = request_id.partition(".")
    parts = rest.split(".")
    if not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts[1:]):
        return "", []
    return kind, parts


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


def held_as_reported(record: dict[str, Any], reported: int) -> tuple[int, str]:
    """What a control the outside system reports as taking effect holds, and why that is
    not what it reported ("" when it is). A freeze of money holds what the balance allowed:
    at most what was asked (more would count money the court never ordered frozen as
    secured), and an amount out of bounds is not taken. Property is held at the value it
    was controlled for: a value reported otherwise (unset, or far above) would move the
    case's ¶15 sums on one outside figure; it is kept beside it (``reported_amount_fen``)."""
    asked = record["amount_fen"]
    if AssetKind(record["kind"]) not in LIQUID_KINDS:
        if reported == asked:
            return asked, ""
        return asked, f"property is held at the {asked} fen it was controlled for"
    if not 0 <= reported <= MAX_AMOUNT_FEN:
        return asked, f"the amount reported, {reported} fen, is not within 0..{MAX_AMOUNT_FEN}"
    if reported > asked:
        return asked, f"the freeze reported {reported} fen, more than the {asked} asked"
    return reported, ""


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


# --- Re-query after 终本 (终本规定 art 9) ---------------------------------------------------

REQUERY_RULE = "zhongben.requery"
"""The clock whose due day starts each re-query (restarted by the re-query's start)."""
REQUERY_SPAN_RULE = "zhongben.requery-span"
"""How long after the ruling the re-queries go on."""
DUE_DAY = WarningPoint(due_day=True).key
"""The warning (``ClockWarned.warning``) the deadline engine sends on a clock's due day."""


class RequeryStatus(StrEnum):
    REQUERYING = "requerying"  # 终本: re-queried on the clock's due days
    PERIOD_ENDED = "period_ended"  # the last re-query of the span started
    RESUMED = "resumed"  # 恢复执行: no more re-queries


def requeries_in_span(rules: Catalogue) -> int:
    """How many re-queries the span holds: the span (zhongben.requery-span) over the step
    of the clock (zhongben.requery), both from the catalogue."""
    span, step = rules.rule(REQUERY_SPAN_RULE).period, rules.rule(REQUERY_RULE).period
    if span.unit is not step.unit or step.limit == 0:
        raise ValueError(f"{REQUERY_SPAN_RULE} is not a whole number of {REQUERY_RULE} steps")
    return span.limit // step.limit


def zhongben_state(ruling_number: str = "", ruled_on: str = "") -> dict[str, Any]:
    """A case's re-query state, kept on its record (``case["zhongben"]``)."""
    return {
        "ruling_number": ruling_number,
        "ruled_on": ruled_on,
        "status": RequeryStatus.REQUERYING.value,
        "requeries": [],
        "resumed_on": "",
        "resumed_as": "",
    }


@dataclass(frozen=True)
class RequeryDue:
    """A re-query to start now: its number (1 for the first after the ruling), and whether
    it is the last of the span (the duty then ends)."""

    number: int
    last: bool


def requery_due(state: dict[str, Any] | None, cycle: int, allowed: int) -> RequeryDue | None:
    """Whether the due day of the re-query clock's ``cycle`` starts a re-query: not for a
    resumed case, not after the span's last, not twice for one cycle (a redelivered
    warning). The clock's first cycle runs from the ruling, each next one from the
    re-query before; a case whose ruling asset control has not read yet is in 终本 all the
    same (the clock runs only after a ruling)."""
    current = state or zhongben_state()
    if current["status"] != RequeryStatus.REQUERYING:
        return None
    done = current["requeries"]
    if any(requery["cycle"] >= cycle for requery in done) or len(done) >= allowed:
        return None
    number = len(done) + 1
    return RequeryDue(number, number >= allowed)


def applicant_notice(case_number: str, number: int, new_assets: int) -> str:
    """What the applicant is told when a re-query has answered on every channel."""
    done = f"{case_number}：第{number}次终本后财产查询已完成："
    if new_assets:
        return f"{done}发现{new_assets}项可供执行的财产，已建议恢复执行。"
    return f"{done}未发现可供执行的财产。"


def requery_completed(case: dict[str, Any]) -> asset_events_pb2.ZhongbenRequeryCompleted | None:
    """When the case's current query round, answered on every channel, is a re-query: its
    result recorded on the case, and the event telling it (None for any other round)."""
    query = case["query"]
    number = query.get("requery")
    if not number:
        return None
    new_assets = int(query.get("new_assets", 0))
    notice = applicant_notice(case["case_number"], number, new_assets)
    for requery in case["zhongben"]["requeries"]:
        if requery["number"] == number:
            requery.update(status="completed", new_assets=new_assets, notice=notice)
    return asset_events_pb2.ZhongbenRequeryCompleted(
        case_id=case["case_id"],
        round=query["round"],
        requery_number=number,
        new_assets=new_assets,
        resumption_proposed="yes" if new_assets else "no",
        applicant_notice=notice,
    )


MAX_FAILED_REQUESTS_KEPT = 5
"""Failed control requests an asset keeps, and holds found outside after them (an
engineering bound on a record's size: more failures than that on one asset are its
officer's business anyway)."""


MAX_OUTSIDE_HOLDS_KEPT = 20
"""Holds found outside an asset keeps (each needs a failed control and its answer)."""


def resolve_outside_holds(record: dict[str, Any], answer: str) -> None:
    """An act on the asset answers the holds found outside after a failed control
    (ControlTookEffectAfterFailure): each is kept, with what answered it."""
    for hold in record.get("outside_holds", []):
        if not hold["answered"]:
            hold["answered"] = answer[:MAX_TEXT]
