"""The command service's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field

from services.command.access_log import AccessLog
from services.command.board import Board, case_label
from services.command.case_credit import CaseCredit
from services.command.case_funds import CaseFunds
from services.command.case_zhongben import CaseZhongben
from services.command.figures import CourtFigures
from services.command.projections import CaseOverviews
from services.command.timelines import CaseTimelines
from zhixing.auth import (
    INTERFERENCE_REGISTER_READERS,
    CurrentIdentity,
    Role,
    readable_court,
    require_role,
    require_visible,
)
from zhixing.courts import UnknownCourtCode, court_name, directory
from zhixing.errors import NotFound

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseFundsView(BaseModel):
    """The case's money (案款), from the funds events; amounts in whole fen (definitions:
    ``services/command/case_funds.py``)."""

    account_number: str = Field(
        description="The case's own account (一案一账号); empty before it is opened"
    )
    receiving_account: str = Field(description="The applicant's receiving account now")
    received_fen: int = Field(description="Every arrival in the case's account")
    paid_fen: int = Field(description="Paid to the applicant")
    held_fen: int = Field(
        description="Held back from payout (延缓发放, or asked for and awaiting a leader)"
    )
    lodged_fen: int = Field(description="Lodged (提存): left the account")
    in_account_fen: int = Field(description="Still in the case's account: received - paid - lodged")
    arrivals: int = Field(description="Arrivals counted")
    payouts: int = Field(description="Payouts counted")


class ObjectionView(BaseModel):
    objection_id: str
    received_on: str
    grounds: str
    decision: str = Field(description="pending, upheld (the 终本 was unlawful) or rejected")


class RequeryView(BaseModel):
    requery_number: int = Field(description="1 for the first re-query after the ruling")
    new_assets: int = Field(
        description="Assets of value held by no control: new ones and known ones available again"
    )
    resumption_proposed: bool


class ZhongbenView(BaseModel):
    """The case's 终本 (终结本次执行), from its 终本 and re-query events (definitions:
    ``services/command/case_zhongben.py``)."""

    state: str = Field(description="none, proposed, refused, ruled, revoked or resumed")
    unmet_rules: list[str] = Field(description="The gate's rules unmet at the last refusal")
    checked_rules: list[str] = Field(description="The gate's rules checked when ruled")
    ruling_number: str
    ruled_on: str
    approved_by: str = Field(description="The leader who approved (not the handling officer)")
    served_on: str = Field(description="The ruling served on the parties; empty until then")
    objections: list[ObjectionView]
    revoked_reason: str
    resumed_case_id: str = Field(description="The 执恢 case enforcement resumed as")
    resumed_case_number: str
    resumed_on: str
    requeries_started: int = Field(description="Re-query rounds started (zhongben.requery)")
    requeries_completed: int
    last_requery: RequeryView | None = Field(description="The last round answered")
    requery_ended: bool = Field(description="The re-query period is over")


class RestrictionView(BaseModel):
    restriction_id: str
    debtor_key: str = Field(description='"d" + the debtor\'s position in the filing')
    debtor_name: str
    ruling_number: str
    ordered_on: str
    effective_on: str
    served_on: str
    state: str = Field(description="ordered, served, lift_due or lifted")
    lift_cause: str = Field(description="performed, security or consent")
    urgent: bool
    lifted_on: str


class ListingView(BaseModel):
    listing_id: str
    debtor_key: str
    debtor_name: str
    ground: int = Field(description="1–6, as 法释〔2017〕7号 art 1 numbers them")
    ground_text: str
    fixed_term: bool
    decision_number: str
    listed_on: str
    effective_on: str
    extension_decided_months: int = Field(
        description="An extension decided, to begin when the term ends (0: none)"
    )
    extended_months: int = Field(description="The extension begun at the term's end")
    state: str = Field(description="listed, ground_ended or deleted")
    end_cause: str
    deleted_on: str


class DeclinedView(BaseModel):
    debtor_key: str
    debtor_name: str
    reason: str = Field(description="only_restriction, no_ground or security_sufficient")
    details: str


class CreditView(BaseModel):
    """The case's credit punishment (限制消费, 失信名单), from the credit events; debtors by
    name, never by ID number (definitions: ``services/command/case_credit.py``)."""

    restrictions: list[RestrictionView]
    listings: list[ListingView]
    declined: list[DeclinedView]


class CaseOverview(BaseModel):
    """A case as the command centre sees it (the gRPC ``CaseOverview``, in JSON), with its
    money (HTTP only)."""

    case_id: str
    case_number: str = Field(description="Its case number; empty before it is docketed")
    label: str = Field(
        description="How pages name it: the case number, or for an application not yet "
        "docketed its receipt number (收件编号): （2026）苏1283收1号（待立案）"
    )
    court_code: str = Field(description="The court handling it now")
    court_name: str
    case_type_code: str = Field(description="Empty for an application not yet docketed")
    claim_amount_fen: int = Field(description="The claim, in whole fen (0 before docketing)")
    node: str = Field(
        description="received (an application not yet docketed) or filed (the board follows "
        "a case through its nodes)"
    )
    event_count: int
    closed_as: str = Field(
        "", description="How it was closed (执行完毕, 终结本次执行, ...); empty while it is open"
    )
    closed_on: str = Field("", description="The day it was closed; empty while it is open")
    funds: CaseFundsView
    zhongben: ZhongbenView
    credit: CreditView


class Figures(BaseModel):
    """A court's figures, or its jurisdiction's (definitions: ``services/command/figures.py``)."""

    court_code: str
    jurisdiction: bool
    courts: int = Field(description="Courts counted")
    counts: dict[str, int] = Field(
        description="The counters summed; claimed_fen and paid_fen are sums of money in fen"
    )
    rates: dict[str, Any] = Field(
        description="结案率, 执行完毕率, 实际执结率, 终本率, 终本合格率, 恢复执行率, "
        "法定期限内结案率, 保全率, 实际到位率, 案款发放及时率 (0 to 1, or null with nothing to "
        "divide), 平均结案用时 (days), clocks running, commands unacknowledged"
    )
    definitions: dict[str, str] = Field(description="Each figure's definition, in Chinese")


class AuditPosition(BaseModel):
    seq: int
    hash: str
    prev_hash: str


class TimelineEntry(BaseModel):
    event_id: str
    event: str = Field(description="The event's type")
    at: str
    court_code: str
    actor: str = Field(description="The actor's id: a person's name, or svc:<service>")
    actor_role: str = Field("", description="The role the actor acted in")
    actor_court: str = Field("", description="The court the actor acted for")
    actor_name: str = Field(
        description="Who, in Chinese: a service by its name (立案系统), a person by name and "
        "post (court and role)"
    )
    clock_title: str = Field(
        "", description="A clock event's limit, in Chinese (its rule's title); empty otherwise"
    )
    payload: dict[str, Any] = Field(
        description="The event's fields in the protobuf JSON form (its int64 as strings, its "
        "enums by their proto names): the record, not an API model"
    )
    summary: str = Field(
        description="What it says, in Chinese (funds events: amount, source, reason, account; "
        "终本, re-query and credit events: the act, the debtor by name, dates and results); "
        "empty where the event's name says it all"
    )
    audit: AuditPosition | None = Field(description="Its record in the audit chain, once there")


class AccessEntry(BaseModel):
    at: str
    event_id: str
    service: str
    method: str
    path: str
    status: int
    reason: str
    subject: str
    role: str
    client_address: str


class AccessLogView(BaseModel):
    court_code: str
    jurisdiction: bool
    entries: list[AccessEntry]


@router.get("/cases/{case_id}", summary="The command centre's view of a case")
async def get_case_overview(
    case_id: str, identity: CurrentIdentity, request: Request
) -> CaseOverview:
    overviews: CaseOverviews = request.app.state.overviews
    overview, closure = await overviews.read(case_id)
    require_visible(identity, overview.court_code if overview else None, f"case {case_id}")
    assert overview is not None
    case_funds: CaseFunds = request.app.state.case_funds
    funds = await case_funds.get(case_id)
    case_zhongben: CaseZhongben = request.app.state.case_zhongben
    case_credit: CaseCredit = request.app.state.case_credit
    board: Board = request.app.state.board
    (known,) = await board.cases([case_id])
    number = known.get("number", "")
    return CaseOverview.model_validate(
        MessageToDict(
            overview, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        | closure
        | {
            "claim_amount_fen": overview.claim_amount_fen,  # a number, not int64's JSON string
            "case_number": number,
            "court_name": court_name(overview.court_code),
            "label": case_label(number, known.get("received_on", ""), known.get("receipt", "")),
            "funds": CaseFundsView.model_validate(funds, from_attributes=True),
            "zhongben": ZhongbenView.model_validate(
                await case_zhongben.get(case_id), from_attributes=True
            ),
            "credit": CreditView.model_validate(
                await case_credit.get(case_id), from_attributes=True
            ),
        }
    )


@router.get("/figures/{court_code}", summary="A court's figures, or its jurisdiction's")
async def get_figures(
    court_code: str, identity: CurrentIdentity, request: Request, jurisdiction: bool = False
) -> Figures:
    """结案率, 实际执结率, 执行完毕率, 法定期限内结案率, 终本率, 终本合格率, 恢复执行率,
    保全率, 平均结案用时, 实际到位率, 案款发放及时率, and the clock and command counts, from
    the figures projection (definitions: ``services/command/figures.py``)."""
    try:
        directory().lookup(court_code)
    except UnknownCourtCode as exc:
        raise NotFound(str(exc)) from None
    require_visible(identity, court_code, f"court {court_code}")
    figures: CourtFigures = request.app.state.figures
    return Figures.model_validate(await figures.figures(court_code, jurisdiction=jurisdiction))


@router.get("/cases/{case_id}/timeline", summary="Every event, clock and command of a case")
async def get_timeline(
    case_id: str, identity: CurrentIdentity, request: Request
) -> list[TimelineEntry]:
    """The case's events in time order, with its assets', leads', matters', disputes',
    command actions' and petitions' events and every clock event, each with its audit
    record. The interference register's records of the case (干预过问) are shown to the
    command centre and discipline inspection only."""
    overviews: CaseOverviews = request.app.state.overviews
    overview = await overviews.get(case_id)
    require_visible(identity, overview.court_code if overview else None, f"case {case_id}")
    timelines: CaseTimelines = request.app.state.timelines
    return [
        TimelineEntry.model_validate(entry)
        for entry in await timelines.timeline(case_id, identity.role)
    ]


LOG_READERS = (Role.LEADER, Role.PRESIDENT, Role.COMMAND, Role.OVERSEER, Role.DISCIPLINE)
"""The court's leaders (院领导 and the president, 院长), command centres and overseers."""


@router.get("/access-log", summary="Refused requests and overseers' reads (访问日志)")
async def access_log(
    identity: CurrentIdentity,
    request: Request,
    court: Annotated[str | None, Query(max_length=20, description="default: yours")] = None,
    jurisdiction: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessLogView:
    """Every request refused for its token (401) or scope (403), and every overseer's read,
    newest first: of ``court`` and, with ``jurisdiction``, every court below it. Court
    leaders, command centres and overseers read it, the interference register's entries only
    those who read the register; each entry is in the audit chain too."""
    require_role(identity, *LOG_READERS)
    code = readable_court(identity, court)
    courts = directory().jurisdiction(code) if jurisdiction else [code]
    log: AccessLog = request.app.state.access_log
    entries = await log.recent(
        courts, limit, register=identity.role in INTERFERENCE_REGISTER_READERS
    )
    return AccessLogView.model_validate(
        {"court_code": code, "jurisdiction": jurisdiction, "entries": entries}
    )
