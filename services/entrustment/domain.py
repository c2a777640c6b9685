"""Matter entrustment (执行事项委托, ¶27; 民诉法 art 240): the vocabulary and the pure rules
(no I/O; today's date is passed in).

A court asks the court where an asset or person is to do one matter for its case. The
entrusted court is found in the court directory from the location; it may not refuse
(委托执行规定 art 2), only start, report, complete, or return the matter with its reasons.
An entrustment is a JSON record (see ``repository``); the checks here raise the refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from zhixing.assets import LIQUID_KINDS, AssetKind, Measure, measures_for
from zhixing.auth import Identity, Role, ScopeError, may_read, require_role, require_scope
from zhixing.closures import refuse_if_closed
from zhixing.courts import Court, CourtDirectory, UnknownCourtCode, covers
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.periods import add_months
from zhixing.rules import catalogue
from zhixing.v1 import entrustment_events_pb2 as pb
from zhixing.v1 import envelope_pb2


class MatterType(StrEnum):
    """The matters the platform lists (local copy of the SPC list; RULES.md: M)."""

    DEPOSIT_FREEZE = "deposit_freeze"  # 冻结存款、理财产品
    DEPOSIT_RENEW = "deposit_renew"  # 续冻
    DEPOSIT_RELEASE = "deposit_release"  # 解冻
    DEPOSIT_DEDUCT = "deposit_deduct"  # 扣划
    EQUITY_FREEZE = "equity_freeze"  # 冻结股权
    REAL_ESTATE_SEIZE = "real_estate_seize"  # 查封不动产
    REAL_ESTATE_RENEW = "real_estate_renew"  # 续封
    REAL_ESTATE_RELEASE = "real_estate_release"  # 解封
    REAL_ESTATE_TRANSFER = "real_estate_transfer"  # 过户
    MOVABLE_SEIZE = "movable_seize"  # 查封、扣押可登记动产
    MOVABLE_RENEW = "movable_renew"
    MOVABLE_RELEASE = "movable_release"
    MOVABLE_TRANSFER = "movable_transfer"
    ASSET_INVESTIGATION = "asset_investigation"  # 调查财产
    SERVICE_OF_DOCUMENTS = "service_of_documents"  # 送达
    OTHER = "other"


# Matters that hand an existing seizure or freeze over to the entrusted court to act on:
# it must have at least the gate's time left, or be renewed first.
HANDOVER = frozenset(
    {MatterType.DEPOSIT_DEDUCT, MatterType.REAL_ESTATE_TRANSFER, MatterType.MOVABLE_TRANSFER}
)

# Matters that control an asset or take it towards its sale: what a court a dispute stops
# may not entrust (执行规定 art 68, as it may not do them itself), nor a closed case.
TAKES_CONTROL = HANDOVER | {
    MatterType.DEPOSIT_FREEZE, MatterType.EQUITY_FREEZE, MatterType.REAL_ESTATE_SEIZE,
    MatterType.MOVABLE_SEIZE,
}  # fmt: skip
# New measures a closed case takes none of (``zhixing.closures``); a renewal, a release, the
# service of a document (the 终本 ruling's, say) stay open to it.
NEW_MEASURES = TAKES_CONTROL | {MatterType.ASSET_INVESTIGATION}

# The matters that control an asset anew, and the kinds of asset each controls: only their
# completion reports a control, which asset control records as an asset of the case (with
# its term running). A handover acts on a control the case holds already, a renewal or a
# release keeps or ends one, and the rest (a document served, an investigation, ``other``)
# control nothing: a control reported with them would bypass the closure and stop checks
# made when the matter was entrusted. The measure follows the kind (``measures_for``): money
# and equity are frozen, real estate seized, a vehicle seized or detained.
CONTROLLED_KINDS: dict[MatterType, frozenset[AssetKind]] = {
    MatterType.DEPOSIT_FREEZE: LIQUID_KINDS,  # 冻结存款、理财产品: money
    # 冻结股权及其他财产权: equity, and the other property rights frozen (securities,
    # insurance), which no other matter names.
    MatterType.EQUITY_FREEZE: frozenset(
        {AssetKind.EQUITY, AssetKind.SECURITIES, AssetKind.INSURANCE}
    ),
    MatterType.REAL_ESTATE_SEIZE: frozenset({AssetKind.REAL_ESTATE}),
    MatterType.MOVABLE_SEIZE: frozenset({AssetKind.VEHICLE}),  # 可登记动产
}
assert set(CONTROLLED_KINDS) == TAKES_CONTROL - HANDOVER


class Status(StrEnum):
    ENTRUSTED = "entrusted"
    STARTED = "started"
    COMPLETED = "completed"
    RETURNED = "returned"


OPEN = (Status.ENTRUSTED, Status.STARTED)


SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:entrustment", role="service"
)


# --- entrusting ----------------------------------------------------------------------------


def check_entrusting(identity: Identity, case_id: str, case: dict[str, Any] | None) -> None:
    """Only the court handling ``case`` (as the known-cases projection has it) entrusts a
    matter of it; a court above sees the case but does not entrust."""
    if case is None or not covers(identity.court_code, case["court_code"]):
        raise NotFound(f"no case {case_id} in your jurisdiction")
    if case["court_code"] != identity.court_code:
        raise ScopeError(f"case {case_id} is handled by {case['court_code']}; only it entrusts")
    require_scope(identity, case["court_code"], write=True)


def check_open_for(case: dict[str, Any], case_id: str, matter: MatterType) -> None:
    """A new measure is entrusted only while the case is open (``zhixing.closures``)."""
    if matter in NEW_MEASURES:
        refuse_if_closed(case, case_id, f"entrusting a {matter.value}")


def entrusted_court(identity: Identity, location_division: str, directory: CourtDirectory) -> Court:
    """The basic court of the division where the asset or person is: another court."""
    try:
        entrusted = directory.basic_court_for_division(location_division)
    except UnknownCourtCode as exc:
        raise Invalid(str(exc), loc=("body", "location_division")) from None
    if entrusted.code == identity.court_code:
        raise Invalid(
            f"division {location_division} is in {entrusted.code}'s own region: nothing to entrust",
            loc=("body", "location_division"),
        )
    return entrusted


def check_time_left(expires_on: dt.date | None, today: dt.date) -> None:
    """A control handed over has at least the gate's time left (rule
    ``entrustment.renew-before-handover``), or is renewed first."""
    gate = catalogue().rule("entrustment.renew-before-handover")
    months = gate.limit or 0
    if expires_on is None:
        raise Invalid(
            "a matter that hands over a seizure or freeze states when it expires "
            "(control_expires_on)",
            loc=("body", "control_expires_on"),
        )
    if expires_on < add_months(today, months):
        raise Conflict(
            f"the control expires on {expires_on}, less than {months} month(s) from today "
            f"({today}): renew it before handing it over ({gate.source})"
        )


def check_control(
    matter: MatterType, control: pb.EntrustedControl, directory: CourtDirectory
) -> None:
    """A control reported with a completion fits the matter entrusted (422 naming the field,
    under ``body.control``): only a matter that controls an asset reports one, of a kind it
    controls, by a measure that fits the kind, in a division the court directory knows,
    holding no more than the asset is worth."""
    at = ("body", "control")
    kinds = CONTROLLED_KINDS.get(matter)
    if kinds is None:
        controlling = ", ".join(m.value for m in CONTROLLED_KINDS)
        hint = "; entrust the measure as its own matter type" if matter is MatterType.OTHER else ""
        raise Invalid(
            f"a {matter.value} matter controls no asset: its completion reports no control "
            f"(only {controlling} do){hint}",
            loc=at,
        )
    kind = AssetKind(control.kind)
    if kind not in kinds:
        fits = ", ".join(sorted(k.value for k in kinds))
        raise Invalid(
            f"a {matter.value} matter controls {fits}, not {kind.value}", loc=(*at, "kind")
        )
    measure = Measure(control.measure)
    if measure not in measures_for(kind):
        allowed = ", ".join(m.value for m in measures_for(kind))
        raise Invalid(
            f"a {kind.value} is controlled by {allowed}, not {measure.value}",
            loc=(*at, "measure"),
        )
    try:
        directory.basic_court_for_division(control.location_division)
    except UnknownCourtCode as exc:
        raise Invalid(str(exc), loc=(*at, "location_division")) from None
    if control.amount_fen > control.value_fen:
        raise Invalid(
            f"amount_fen {control.amount_fen} is more than the asset's value_fen "
            f"{control.value_fen}",
            loc=(*at, "amount_fen"),
        )


def new_entrustment(
    *, entrustment_id: str, case_id: str, identity: Identity, entrusted: Court,
    matter_type: MatterType, description: str, location_division: str,
    documents: Sequence[str], entrusted_at: str,
) -> dict[str, Any]:  # fmt: skip
    """The record of a matter just entrusted."""
    return {
        "entrustment_id": entrustment_id,
        "case_id": case_id,
        "entrusting_court": identity.court_code,
        "entrusted_court": entrusted.code,
        "entrusted_court_name": entrusted.name,
        "matter_type": matter_type.value,
        "description": description,
        "location_division": location_division,
        "documents": list(documents),
        "status": Status.ENTRUSTED.value,
        "entrusted_by": identity.subject,
        "entrusted_at": entrusted_at,
        "start_overdue": False,
        "history": [],
    }


# --- who sees it, who acts on it -------------------------------------------------------------


def visible_to(identity: Identity, record: dict[str, Any]) -> bool:
    """Both courts, and the courts above either, see the matter."""
    return any(
        may_read(identity, court)
        for court in (record["entrusting_court"], record["entrusted_court"])
    )


def require_entrusted_officer(identity: Identity, record: dict[str, Any]) -> None:
    require_role(identity, Role.OFFICER, Role.CLERK)
    if identity.court_code != record["entrusted_court"]:
        raise ScopeError(
            f"only the entrusted court {record['entrusted_court']} acts on this matter"
        )


def require_open(record: dict[str, Any]) -> None:
    if record["status"] not in OPEN:
        raise Conflict(f"entrustment {record['entrustment_id']} is {record['status']}")


def require_status(record: dict[str, Any], status: Status, hint: str = "") -> None:
    if record["status"] != status:
        raise Conflict(f"entrustment {record['entrustment_id']} is {record['status']}{hint}")


def check_may_request_order(identity: Identity, record: dict[str, Any]) -> None:
    """The entrusting court asks for an order once, when the entrusted court did not start
    within the limit (rule ``entrustment.start``)."""
    require_role(identity, Role.OFFICER)
    if identity.court_code != record["entrusting_court"]:
        raise ScopeError("only the entrusting court asks for an order")
    require_status(record, Status.ENTRUSTED)
    if not record["start_overdue"]:
        limit = catalogue().rule("entrustment.start")
        raise Conflict(
            f"the entrusted court still has time to start ({limit.limit} "
            f"{limit.unit.value if limit.unit else ''} from receipt, {limit.source})"
        )
    if record.get("order_requested"):
        raise Conflict(f"an order was asked of {record['order_requested']} already")


def ordering_superior(identity: Identity, record: dict[str, Any], directory: CourtDirectory) -> str:
    """The entrusted court's superior, which ``identity`` must be to order it to act (an
    entrusted court is a basic court: it always has one)."""
    require_role(identity, Role.COMMAND, Role.LEADER)
    superior = directory.lookup(record["entrusted_court"]).superior
    if superior is None or identity.court_code != superior:
        raise ScopeError(f"only {superior}, the entrusted court's superior, orders it")
    require_status(record, Status.ENTRUSTED)
    return superior
