"""Enforcement disputes (执行争议协调, ¶27; 执行规定 arts 67–72): the vocabulary and the pure
rules (no I/O).

Between courts: the courts negotiate; if that fails the dispute goes up level by level,
each court between a party and the common superior forwarding it with its opinion; the
common superior issues a binding plan in time (``dispute.superior-resolves``; it may order
disputed money into an account); each party court implements it in time
(``dispute.implement``) or asks for reconsideration (``dispute.plan-reconsideration``).
Conflicting instruments over one relationship stop enforcement in every court at once,
until lifted.

Between a court and an agency: negotiation, then a written report to the same-level
政法委; where the superior court must coordinate with the departments, the court reports
to it (``dispute.report-to-superior``) and it starts (``dispute.superior-starts-coordination``).

Coordination pauses the affected cases' closing clocks (DisputeCoordinationStarted/Ended).
A dispute is a JSON record (see ``repository``); the checks here raise the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from zhixing.auth import Identity, Role, ScopeError, may_read, require_role
from zhixing.courts import CourtDirectory, UnknownCourtCode
from zhixing.errors import Conflict, Invalid
from zhixing.rules import catalogue


class AgencyKind(StrEnum):
    PROCURATORATE = "procuratorate"  # 检察院
    POLICE = "police"  # 公安
    TAX = "tax"  # 税务
    CUSTOMS = "customs"  # 海关
    NATURAL_RESOURCES = "natural_resources"  # 自然资源
    FINANCE = "finance"  # 金融
    MARKET_REGULATION = "market_regulation"  # 市场监管


class Status(StrEnum):
    NEGOTIATING = "negotiating"
    SETTLED = "settled"
    FAILED = "negotiation_failed"
    ESCALATING = "escalating"
    REFERRED = "referred"  # at the common superior
    PLANNED = "planned"
    CLOSED = "closed"  # every court implemented
    REPORTED = "reported_to_superior"  # court vs agency
    DEPARTMENTS = "department_coordination"
    CONCLUDED = "coordination_concluded"  # the superior and the departments agreed


PARTY_ROLES = (Role.COORDINATOR, Role.OFFICER)
SUPERIOR_ROLES = (Role.COORDINATOR, Role.COMMAND, Role.LEADER)

# 执行规定 art 68: conflicting instruments stop enforcement in every party court at once.
STOP_REASON = "对同一法律关系的执行文书冲突，立即停止执行"


# --- opening -------------------------------------------------------------------------------


def check_parties(
    identity: Identity, courts: Sequence[str], agency: dict[str, str] | None,
    directory: CourtDirectory,
) -> list[str]:  # fmt: skip
    """The party courts of a new dispute (each once, in order), or the refusal: known
    courts, two or more between courts, exactly one against an agency, and the opener's
    court among them."""
    require_role(identity, *PARTY_ROLES)
    courts = list(dict.fromkeys(courts))
    for index, court in enumerate(courts):
        try:
            directory.lookup(court)
        except UnknownCourtCode as exc:
            raise Invalid(str(exc), loc=("body", "courts", index)) from None
    if agency is None and len(courts) < 2:
        raise Invalid("a dispute between courts names two or more courts", loc=("body", "courts"))
    if agency is not None and len(courts) != 1:
        raise Invalid("a dispute with an agency names the one court in it", loc=("body", "courts"))
    if identity.court_code not in courts:
        raise ScopeError(f"{identity.court_code} is not a party to this dispute")
    return courts


def check_instruments(instruments: Sequence[dict[str, str]], courts: Sequence[str]) -> None:
    """Every conflicting instrument is one of a party court."""
    for index, instrument in enumerate(instruments):
        if instrument["court_code"] not in courts:
            raise Invalid(
                f"instrument of {instrument['court_code']}: not a party court",
                loc=("body", "conflicting_instruments", index, "court_code"),
            )


def new_dispute(
    *, dispute_id: str, courts: Sequence[str], agency: dict[str, str] | None, subject: str,
    asset_key: str, case_ids: Sequence[str], case_numbers: Sequence[str],
    instruments: Sequence[dict[str, str]], positions: Sequence[dict[str, str]],
    documents: Sequence[str], opened_at: str,
) -> dict[str, Any]:  # fmt: skip
    """The record of a dispute just opened, negotiating."""
    return {
        "dispute_id": dispute_id,
        "kind": "agency" if agency else "courts",
        "courts": list(courts),
        "agency": agency or {},
        "subject": subject,
        "asset_key": asset_key,
        "case_ids": list(case_ids),
        "case_numbers": list(case_numbers),
        "conflicting_instruments": list(instruments),
        "positions": list(positions),
        "documents": list(documents),
        "status": Status.NEGOTIATING.value,
        "stops": {},
        "negotiation": [],
        "history": [],
        "opened_at": opened_at,
    }


# --- who takes part, who sees it ----------------------------------------------------------------


def involved(record: dict[str, Any]) -> list[str]:
    """Every court that takes part: the parties, the forwarders, the common superior."""
    courts = list(record["courts"])
    escalation = record.get("escalation")
    if escalation:
        for branch in escalation["branches"]:
            courts += branch["forwarders"]
        courts.append(escalation["common_superior"])
    if record.get("superior_court"):
        courts.append(record["superior_court"])
    return list(dict.fromkeys(courts))


def visible_to(identity: Identity, record: dict[str, Any]) -> bool:
    """Courts involved and the courts above them; an agency its own disputes only."""
    if identity.role is Role.AGENCY:
        return bool(record.get("agency", {}).get("id") == identity.subject)
    return any(may_read(identity, court) for court in involved(record))


def party_of(identity: Identity, record: dict[str, Any]) -> str:
    """The party ``identity`` speaks for: its court, or its agency."""
    if identity.role is Role.AGENCY:
        return str(record["agency"]["id"])
    require_role(identity, *PARTY_ROLES)
    if identity.court_code not in record["courts"]:
        raise ScopeError(f"{identity.court_code} is not a party to dispute {record['dispute_id']}")
    return identity.court_code


def require_status(record: dict[str, Any], *allowed: Status) -> None:
    if record["status"] not in allowed:
        raise Conflict(f"dispute {record['dispute_id']} is {record['status']}")


def negotiating_party(identity: Identity, record: dict[str, Any], outcome: str) -> str:
    """The party recording a round of negotiation; only a court says how it ended."""
    party = party_of(identity, record)
    require_status(record, Status.NEGOTIATING)
    if outcome != "ongoing" and identity.role is Role.AGENCY:
        raise ScopeError("the court records how the negotiation ended")
    return party


def common_superior_of(
    identity: Identity, record: dict[str, Any], directory: CourtDirectory
) -> str:
    """The common superior, which ``identity`` must be: only it decides the dispute."""
    require_role(identity, *SUPERIOR_ROLES)
    common = (
        record["escalation"]["common_superior"]
        if record.get("escalation")
        else directory.common_superior(*record["courts"]).code
    )
    if identity.court_code != common:
        raise ScopeError(f"only {common}, the common superior, decides this dispute")
    return common


# --- escalation --------------------------------------------------------------------------------


def escalation_paths(
    courts: Sequence[str], directory: CourtDirectory
) -> tuple[str, list[dict[str, Any]]]:
    """The common superior of ``courts`` and one branch per court: the courts between it
    and the common superior, each to forward the dispute in turn."""
    common = directory.common_superior(*courts).code
    branches = []
    for court in courts:
        chain = directory.superiors(court)
        branches.append(
            {"from_court": court, "forwarders": chain[: chain.index(common)], "next": 0}
        )
    return common, branches


def check_may_escalate(identity: Identity, record: dict[str, Any]) -> None:
    """A party court sends a failed negotiation between courts up the levels."""
    party_of(identity, record)
    if record["kind"] != "courts":
        raise Conflict("a dispute with an agency goes to the 政法委 and the superior court")
    require_status(record, Status.FAILED)


def holder(branch: dict[str, Any]) -> str | None:
    """The court a branch of the escalation waits for; None once it reached the top."""
    forwarders: list[str] = branch["forwarders"]
    return forwarders[branch["next"]] if branch["next"] < len(forwarders) else None


def branches_waiting_for(identity: Identity, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The branches of the escalation that wait for ``identity``'s court to forward them."""
    require_role(identity, *SUPERIOR_ROLES)
    require_status(record, Status.ESCALATING)
    waiting = [b for b in record["escalation"]["branches"] if holder(b) == identity.court_code]
    if not waiting:
        raise Conflict(f"dispute {record['dispute_id']} is not waiting for {identity.court_code}")
    return waiting


def next_court(branch: dict[str, Any], escalation: dict[str, Any]) -> str:
    """Where a branch goes next: its next forwarder, or the common superior."""
    forwarders: list[str] = branch["forwarders"]
    common: str = escalation["common_superior"]
    return forwarders[branch["next"]] if branch["next"] < len(forwarders) else common


def arrived(escalation: dict[str, Any]) -> bool:
    """Every branch reached the common superior."""
    return all(b["next"] >= len(b["forwarders"]) for b in escalation["branches"])


# --- the plan ----------------------------------------------------------------------------------


def court_implementing(identity: Identity, record: dict[str, Any]) -> str:
    """The party court reporting the plan implemented, once."""
    court = party_of(identity, record)
    require_status(record, Status.PLANNED)
    if record["deliveries"].get(court) == "implemented":
        raise Conflict(f"{court} reported the plan implemented already")
    return court


def court_asking_reconsideration(identity: Identity, record: dict[str, Any]) -> str:
    """A party court asks once, within the period, for a plan delivered to it."""
    court = party_of(identity, record)
    require_status(record, Status.PLANNED)
    if court in record["reconsideration_closed"]:
        raise Conflict(
            f"the period to ask for reconsideration, "
            f"{catalogue().period_text('dispute.plan-reconsideration')}, has passed for "
            f"{court}: the plan binds"
        )
    if record["deliveries"].get(court) != "delivered":
        raise Conflict(f"{court} has {record['deliveries'].get(court)} the plan")
    return court


def check_may_answer_reconsideration(
    identity: Identity, record: dict[str, Any], court: str, directory: CourtDirectory
) -> None:
    """The common superior answers a reconsideration ``court`` asked for."""
    common_superior_of(identity, record, directory)
    require_status(record, Status.PLANNED)
    if record["deliveries"].get(court) != "reconsideration_requested":
        raise Conflict(f"{court} has not asked for reconsideration")


def check_may_lift_stop(
    identity: Identity, record: dict[str, Any], court: str, directory: CourtDirectory
) -> None:
    """The common superior lifts a stop this dispute ordered in ``court``."""
    common_superior_of(identity, record, directory)
    if record["stops"].get(court) != "stopped":
        raise Conflict(f"enforcement in {court} is not stopped by this dispute")


# --- court against agency ----------------------------------------------------------------------


def check_may_report_to_committee(identity: Identity, record: dict[str, Any]) -> None:
    """The court, not the agency, reports a failed negotiation to the 政法委."""
    party_of(identity, record)
    if identity.role is Role.AGENCY:  # who may act, before the dispute's state
        raise ScopeError("the court, not the agency, reports the dispute to the 政法委")
    if record["kind"] != "agency":
        raise Conflict("the court reports a dispute with an agency to the 政法委")
    require_status(record, Status.FAILED, Status.REPORTED, Status.DEPARTMENTS)


def court_reporting_to_superior(identity: Identity, record: dict[str, Any]) -> str:
    """The party court reporting to its superior a dispute the superior must coordinate."""
    court = party_of(identity, record)
    if identity.role is Role.AGENCY or not record.get("superior_must_coordinate"):
        raise Conflict("only a dispute the superior must coordinate is reported to it")
    require_status(record, Status.FAILED)
    return court


def check_coordinates_departments(
    identity: Identity, record: dict[str, Any], status: Status = Status.REPORTED
) -> None:
    """Only the superior court the dispute was reported to coordinates with departments
    (starts, from ``REPORTED``, and concludes, from ``DEPARTMENTS``)."""
    require_role(identity, *SUPERIOR_ROLES)
    require_status(record, status)
    if identity.court_code != record["superior_court"]:
        raise ScopeError(f"only {record['superior_court']} coordinates with the departments")
