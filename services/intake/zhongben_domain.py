"""The 终本 gate (终结本次执行, 终本规定 法〔2016〕373号): the conditions a case must meet before
its enforcement may end for this round, each a rule of the catalogue, evaluated from the
case's facts as a pure function of those facts and today.

The facts come from events (``zhongben_facts`` keeps them); nothing here reads Redis or a
clock. Every number (the minimum period) is the catalogue's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from zhixing.periods import add_months
from zhixing.persons import is_minor_on
from zhixing.rules import catalogue
from zhixing.v1 import case_events_pb2

MIN_PERIOD = "zhongben.min-period"
NETWORK_QUERY = "zhongben.network-query"
DEBTOR_VISITED = "zhongben.debtor-visited"
APPLICANT_INTERVIEWED = "zhongben.applicant-interviewed"
REPORT_ORDER = "zhongben.report-order"
RESTRICTION = "zhongben.restriction"
LISTING = "zhongben.listing"
ASSETS_DISPOSED = "zhongben.assets-disposed"
PROPERTY_AVAILABLE = "zhongben.property-available"
SEARCH_PUNISHMENT = "zhongben.search-punishment"
MONEY_PAID_OUT = "case.money-paid-out"
LEADER_APPROVAL = "zhongben.leader-approval"
REQUERY = "zhongben.requery"
AFTER_RULING = "zhongben.after-ruling"

GATE_RULES: tuple[str, ...] = (
    MIN_PERIOD, NETWORK_QUERY, DEBTOR_VISITED, APPLICANT_INTERVIEWED, REPORT_ORDER,
    RESTRICTION, LISTING, ASSETS_DISPOSED, PROPERTY_AVAILABLE, SEARCH_PUNISHMENT,
    MONEY_PAID_OUT,
)  # fmt: skip
"""The gate's conditions, in the order they are shown; ``ZhongbenRuled.checked_rules``."""


class VisitKind(StrEnum):
    VISIT = "visit"  # 约谈
    SUMMONS = "summons"  # 传唤


class ObstructionKind(StrEnum):
    CONCEALMENT = "concealment"  # 隐匿财产、账簿拒不交出: a search is due
    REPORT_VIOLATION = "report_violation"  # 违反报告财产令: a fine or detention is due


class PunishmentKind(StrEnum):
    FINE = "fine"  # 罚款
    DETENTION = "detention"  # 拘留


class ResumptionCause(StrEnum):
    APPLICANT_REQUEST = "applicant_request"
    ASSETS_FOUND = "assets_found"
    OBJECTION_UPHELD = "objection_upheld"


def debtor_key(index: int) -> str:
    """A debtor's key within its case: "d" and its position in ``CaseFiled.debtors``."""
    return f"d{index}"


def is_minor(party: case_events_pb2.Party, on: dt.date) -> bool:
    """Whether a natural-person party is a minor on ``on``: never put on the 失信 list
    (法释〔2017〕7号 art 4)."""
    if party.kind != case_events_pb2.PARTY_KIND_NATURAL_PERSON:
        return False
    return is_minor_on(party.id_number, on)


@dataclass(frozen=True, slots=True)
class Debtor:
    key: str
    name: str
    minor: bool = False


@dataclass(frozen=True, slots=True)
class Obstruction:
    obstruction_id: str
    debtor_key: str
    kind: ObstructionKind
    on: dt.date


@dataclass(frozen=True)
class GateFacts:
    """What the gate reads about one case."""

    filed_on: dt.date
    debtors: tuple[Debtor, ...]
    network_query_answered: bool = False
    visited: frozenset[str] = frozenset()
    applicant_interviewed: bool = False
    report_order_served: bool = False
    restricted: frozenset[str] = frozenset()
    listed_or_declined: frozenset[str] = frozenset()
    # Debtors with a standing 失信 listing, and debtors with a listing ground on record: an
    # obstruction (concealment: 法释〔2017〕7号 art 1(3); a report violation: art 1(4)). A
    # decision not to list does not answer for a debtor with a ground on record.
    listed: frozenset[str] = frozenset()
    grounds_on_record: frozenset[str] = frozenset()
    undisposed_assets: tuple[str, ...] = ()
    # Of those, the assets held outside after a failed control, unanswered: named apart, as
    # what answers them is a control, a release or a decline (not a sale or a deduction).
    held_outside_assets: tuple[str, ...] = ()
    # Found by the network query, a lead or an entrusted court, and neither controlled (or
    # waiting behind another control) nor declined with a reason: property that could pay.
    uncontrolled_assets: tuple[str, ...] = ()
    obstructions: tuple[Obstruction, ...] = ()
    last_search: Mapping[str, dt.date] = field(default_factory=dict)
    last_punishment: Mapping[str, dt.date] = field(default_factory=dict)
    # Money in the case's account neither paid out nor lodged (``unpaid_fen``), in fen.
    unpaid_fen: int = 0


def money_waiting(unpaid_fen: int) -> str:
    """What rule ``case.money-paid-out`` finds missing, or "" when nothing waits."""
    if unpaid_fen <= 0:
        return ""
    return (
        f"本案账户尚有案款{unpaid_fen}分未发放、未提存 / {unpaid_fen} fen in the case's account "
        f"neither paid out nor lodged: pay it to the applicant, or lodge it (提存) with approval "
        f"(a payout made just now is read here within seconds)"
    )


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of the gate: its rule, whether it is met, and what is missing."""

    rule_id: str
    title: str
    met: bool
    missing: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"rule_id": self.rule_id, "title": self.title, "met": self.met,
                "missing": self.missing}  # fmt: skip


def _held_outside(assets: tuple[str, ...]) -> str:
    if not assets:
        return ""
    return (f"（其中控制失败后外部答复已生效、待控制、解除或不予控制 / of which held outside "
            f"after a failed control, to be answered by a control, a release or a decline: "
            f"{', '.join(assets)}）")  # fmt: skip


def _names(debtors: list[Debtor]) -> str:
    return "、".join(f"{d.name}（{d.key}）" for d in debtors)


def _min_period(facts: GateFacts, today: dt.date) -> str:
    """已满: the months have passed once their last day has (RULES.md, "Counting periods":
    the filing day is not counted, and a month period ends at 24:00 of the corresponding
    day), so a case filed on 12-06 may end this round from 03-07."""
    period = catalogue().rule(MIN_PERIOD).period
    last_day = add_months(facts.filed_on, period.limit)
    if today > last_day:
        return ""
    earliest = last_day + dt.timedelta(days=1)
    return (
        f"立案于{facts.filed_on}，至{last_day}24时方满{period.limit}个月，{earliest}起方可终本 / "
        f"filed on {facts.filed_on}: {period.describe()} have passed only at the end of "
        f"{last_day}"
    )


def _listing(not_listed: list[Debtor], grounds_unlisted: list[Debtor]) -> str:
    missing = []
    if not_listed:
        missing.append(
            f"未纳入失信名单且未记录不予纳入的理由 / neither listed nor declined: "
            f"{_names(not_listed)}"
        )
    if grounds_unlisted:
        missing.append(
            f"有妨碍执行的失信情形却未纳入失信名单 / a listing ground (obstruction) is on "
            f"record but the debtor is not listed: {_names(grounds_unlisted)}"
        )
    return "; ".join(missing)


def _search_punishment(facts: GateFacts) -> str:
    missing = []
    for obstruction in facts.obstructions:
        if obstruction.kind is ObstructionKind.CONCEALMENT:
            done = facts.last_search.get(obstruction.debtor_key)
            act = "搜查 / a search"
        else:
            done = facts.last_punishment.get(obstruction.debtor_key)
            act = "罚款或拘留 / a fine or detention"
        if done is None or done < obstruction.on:
            missing.append(
                f"{obstruction.debtor_key} {obstruction.kind.value} {obstruction.on}: {act}"
            )
    if not missing:
        return ""
    return "妨碍执行行为未经处理 / obstruction not acted on: " + "; ".join(missing)


def evaluate_gate(facts: GateFacts, today: dt.date) -> list[Condition]:
    """Every condition of the 终本 gate, met or not, in ``GATE_RULES`` order."""
    debtors = list(facts.debtors)
    not_visited = [d for d in debtors if d.key not in facts.visited]
    adults = [d for d in debtors if not d.minor]
    # A minor is neither restricted nor listed (credit refuses both: RULES.md's "never
    # minors"), so neither holds the gate: requiring the restriction held a case with a
    # minor debtor at the gate until the debtor came of age.
    not_restricted = [d for d in adults if d.key not in facts.restricted]
    not_listed = [d for d in adults if d.key not in facts.listed_or_declined]
    grounds_unlisted = [d for d in adults if d.key in facts.grounds_on_record
                        and d.key not in facts.listed and d not in not_listed]  # fmt: skip
    missing = {
        MIN_PERIOD: _min_period(facts, today),
        NETWORK_QUERY: "" if facts.network_query_answered else
        "网络查控尚未在各渠道反馈完毕 / the network query has not been answered on every channel",
        DEBTOR_VISITED: "" if not not_visited else
        f"未约谈或传唤 / not visited or summoned: {_names(not_visited)}",
        APPLICANT_INTERVIEWED: "" if facts.applicant_interviewed else
        "未约谈申请执行人 / the applicant has not been interviewed",
        REPORT_ORDER: "" if facts.report_order_served else
        "未送达执行通知书及报告财产令 / the report-assets order has not been served",
        RESTRICTION: "" if not not_restricted else
        f"未限制消费 / no consumption restriction: {_names(not_restricted)}",
        LISTING: _listing(not_listed, grounds_unlisted),
        ASSETS_DISPOSED: "" if not facts.undisposed_assets else
        f"已控制财产未处置完毕 / controlled assets not disposed of: "
        f"{', '.join(facts.undisposed_assets)}" + _held_outside(facts.held_outside_assets),
        PROPERTY_AVAILABLE: "" if not facts.uncontrolled_assets else
        f"查控到的财产既未控制也未记录不予控制的理由 / assets found neither controlled nor "
        f"declined with a reason: {', '.join(facts.uncontrolled_assets)}",
        SEARCH_PUNISHMENT: _search_punishment(facts),
        MONEY_PAID_OUT: money_waiting(facts.unpaid_fen),
    }  # fmt: skip
    rules = catalogue()
    return [
        Condition(rule_id, rules.rule(rule_id).title, not missing[rule_id], missing[rule_id])
        for rule_id in GATE_RULES
    ]


def unmet(conditions: list[Condition]) -> list[Condition]:
    return [c for c in conditions if not c.met]


def refusal_text(failed: list[Condition]) -> str:
    """A refusal naming every unmet condition with its rule id."""
    lines = "; ".join(f"{c.rule_id}: {c.missing}" for c in failed)
    return f"终本条件未满足，不得终结本次执行 / the 终本 gate is not met ({lines})"
