"""The dashboard's API (指挥大屏): the jurisdiction tree, a court's nodes and cases, warning and
breach lists, and a stream of changes. Everything answers from the board projection
(``services.command.board``) and the court directory; nothing scans cases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.command.board import BOARD_NODE_IDS, BOARD_NODES, CLOCK_STATES, NODE_IDS, Board
from services.command.domain import REPLY_RULES
from zhixing.auth import READ_ONLY_ROLES, CurrentIdentity, Identity, Role, require_visible
from zhixing.clock_states import ClockCondition
from zhixing.courts import Court, CourtLevel, UnknownCourtCode, court_name, directory
from zhixing.errors import Invalid, NotFound
from zhixing.rules import catalogue
from zhixing.settings import service_settings

router = APIRouter(prefix="/v1", tags=["dashboard"])

# Sent on the event stream when nothing else was, so proxies keep the connection open and
# a client notices a dead one (wall time: this is transport, not a statutory clock).
HEARTBEAT_SECONDS = 15.0
MAX_OFFSET = 10_000
"""How deep a node's list pages (a page of several courts reads each one's list up to
offset + limit; one court's, the page alone): a filter or an export serves further."""


class SupervisionLink(BaseSettings):
    """Where the page finds the supervision service (专人督办, 信访, 干预过问登记), which the
    browser calls itself (the supervision service allows this origin):
    ``ZHIXING_COMMAND_SUPERVISION_URL``; by default this host at the supervision service's
    HTTP port (``ZHIXING_SUPERVISION_HTTP_PORT``, or its default in ``zhixing.ports``)."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_COMMAND_", extra="ignore")

    supervision_url: str = Field(
        default_factory=lambda: f"http://127.0.0.1:{service_settings('supervision').http_port}",
        description="Base URL of the supervision service's HTTP API, as a browser reaches it",
    )


class Me(BaseModel):
    subject: str
    role: str
    court_code: str
    court_name: str
    court_level: str
    read_only: bool
    may_command: bool = Field(description="A command centre above the basic level")
    expires_at: str
    reply_limits: dict[str, int | None] = Field(
        description="The longest reply an order may ask for, per action (its rule's limit)"
    )
    supervision_url: str = Field(
        description="The supervision service's base URL, for the page's 督办 and 登记 views"
    )


class NodeName(BaseModel):
    id: str
    title: str
    open: bool = Field(
        description="Its cases are open (counted in open_cases); the node 终本 holds cases "
        "closed as 终结本次执行 while their re-query lasts"
    )


class CourtNode(BaseModel):
    """A court with its own counts and its subtree's totals (cases per node ``node_<id>``,
    the 终本 node's included; clocks per state ``clocks_<state>``, ``commands_pending``,
    ``open_cases``: the open nodes' cases)."""

    code: str
    name: str
    level: str
    state: str = Field(description="breached, warned or normal: the subtree's worst clock")
    own: dict[str, int]
    total: dict[str, int]
    children: list[CourtNode]


class Tree(BaseModel):
    root: CourtNode


class OpenCase(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    court_name: str
    node: str
    filed_at: int = Field(description="Epoch ms")
    closed_at: int = Field(description="Epoch ms of its closure (终本 cases); 0 when open")
    requeries: int = Field(description="Re-query rounds started after 终本 (zhongben.requery)")


class CasesAtNode(BaseModel):
    court_code: str
    jurisdiction: bool = Field(description="The court's and every court's below it")
    node: str
    total: int
    cases: list[OpenCase]


class Alert(BaseModel):
    clock_id: str
    rule_id: str
    subject_id: str
    case_id: str = Field(
        description="The case (or application not yet docketed) the subject belongs to, when known"
    )
    case_number: str = Field(
        description="The case's number; for an application not yet docketed, its receipt "
        "number (收件编号) as its label: （2026）苏1283收1号（待立案）"
    )
    court_code: str
    state: ClockCondition
    due_at: int = Field(description="Epoch ms")
    last_day: str
    warning: str
    level: int = Field(description="Escalation level reached (0: none)")
    escalated_to: str
    title: str
    source: str
    court_name: str


class Alerts(BaseModel):
    court_code: str
    total: int
    alerts: list[Alert]


class PendingCommand(BaseModel):
    """A command action waiting at a court, as the board keeps it."""

    model_config = ConfigDict(extra="allow")

    command_id: str
    case_number: str = Field(
        description="The case's number, or an application's receipt number as its label "
        "(（2026）苏1283收1号（待立案）); empty for a command about no case"
    )
    court: str = Field(description="The court it waits at")
    court_name: str


def _board(request: Request) -> Board:
    board: Board = request.app.state.board
    return board


def _court(code: str, identity: Identity) -> Court:
    try:
        court = directory().lookup(code)
    except UnknownCourtCode:
        raise NotFound(f"no court {code} in your jurisdiction") from None
    require_visible(identity, court.code, f"court {code}")
    return court


def _state(counts: dict[str, int]) -> str:
    if counts["clocks_breached"]:
        return "breached"
    if counts["clocks_warned"]:
        return "warned"
    return "normal"


@router.get("/me", summary="Who the token says you are, and what the dashboard may offer you")
async def me(identity: CurrentIdentity, request: Request) -> Me:
    try:
        court = directory().lookup(identity.court_code)
        court_name, level = court.name, court.level.value
    except UnknownCourtCode:
        court_name, level = "", ""
    return Me.model_validate({
        "subject": identity.subject,
        "role": identity.role.value,
        "court_code": identity.court_code,
        "court_name": court_name,
        "court_level": level,
        "read_only": identity.role in READ_ONLY_ROLES,
        # Command actions are issued by a command centre above the basic level.
        "may_command": identity.role is Role.COMMAND
        and level in (CourtLevel.INTERMEDIATE.value, CourtLevel.HIGH.value),
        "expires_at": identity.expires_at.isoformat(),
        # The longest reply an order may ask for, per action (the catalogue's rule).
        "reply_limits": {
            action.value: catalogue().rule(rule_id).limit for action, rule_id in REPLY_RULES.items()
        },
        "supervision_url": request.app.state.supervision_link.supervision_url.rstrip("/"),
    })  # fmt: skip


@router.get("/board/nodes", summary="The nodes (执行节点) the board counts cases by")
async def nodes() -> list[NodeName]:
    return [NodeName(id=n.id, title=n.title, open=n.id in NODE_IDS) for n in BOARD_NODES]


@router.get("/board/tree", summary="The jurisdiction as a tree of courts, coloured by state")
async def tree(identity: CurrentIdentity, request: Request, root: str | None = None) -> Tree:
    """Each court with its own counts and its subtree's totals; ``state`` is ``breached``
    when a clock of the subtree is past due, ``warned`` when one is warned, else
    ``normal``."""
    top = _court(root or identity.court_code, identity)
    codes = directory().jurisdiction(top.code)
    counts = await _board(request).counts(codes)

    def node(court: Court) -> dict[str, Any]:
        children = [node(c) for c in directory().children(court.code)]
        own = counts[court.code]
        total = dict(own)
        for child in children:
            for key, value in child["total"].items():
                total[key] += value
        return {"code": court.code, "name": court.name, "level": court.level.value,
                "state": _state(total), "own": own, "total": total,
                "children": children}  # fmt: skip

    return Tree.model_validate({"root": node(top)})


@router.get("/board/courts/{court_code}/cases", summary="A court's cases at a node")
async def cases_at_node(
    court_code: str,
    identity: CurrentIdentity,
    request: Request,
    node: Annotated[str, Query(description=f"one of {', '.join(BOARD_NODE_IDS)}")],
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    jurisdiction: Annotated[
        bool, Query(description="the court's cases and those of every court below it")
    ] = False,
) -> CasesAtNode:
    """The court's own cases at ``node``; with ``jurisdiction``, its subtree's (the scope
    of the tree's ``total``)."""
    court = _court(court_code, identity)
    if node not in BOARD_NODE_IDS:
        raise Invalid(f"unknown node {node!r}; one of {', '.join(BOARD_NODE_IDS)}",
                      loc=("query", "node"))  # fmt: skip
    courts = directory().jurisdiction(court.code) if jurisdiction else [court.code]
    total, rows = await _board(request).cases_at(courts, node, offset=offset, limit=limit)
    for row in rows:
        row["court_name"] = court_name(row["court_code"]) if row["court_code"] else ""
    return CasesAtNode.model_validate({"court_code": court.code, "jurisdiction": jurisdiction,
                                       "node": node, "total": total, "cases": rows})  # fmt: skip


SORT_KEYS = ("due_at", "court_code", "rule_id", "state", "level")
SORT_HELP = f"one of {', '.join(SORT_KEYS)}; a - before it sorts descending"
STATE_HELP = f"any of {', '.join(CLOCK_STATES)} (default: warned and breached)"


@router.get("/board/alerts", summary="Warned and breached clocks, sortable and filterable")
async def alerts(
    identity: CurrentIdentity,
    request: Request,
    court: str | None = None,
    jurisdiction: bool = True,
    state: Annotated[list[str] | None, Query(description=STATE_HELP)] = None,
    rule: Annotated[str | None, Query(description="a rule id, or its beginning: asset.")] = None,
    sort: Annotated[str, Query(description=SORT_HELP)] = "due_at",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Alerts:
    """Clocks of ``court`` (default: yours) and, with ``jurisdiction``, of every court below
    it; the most urgent first unless ``sort`` says otherwise (``-`` for descending)."""
    if sort.lstrip("-") not in SORT_KEYS:
        raise Invalid(f"cannot sort by {sort!r}; one of {', '.join(SORT_KEYS)}",
                      loc=("query", "sort"))  # fmt: skip
    top = _court(court or identity.court_code, identity)
    states = state or ["warned", "breached"]
    unknown = [s for s in states if s not in CLOCK_STATES]
    if unknown:
        raise Invalid(f"unknown state {unknown[0]!r}; one of {', '.join(CLOCK_STATES)}",
                      loc=("query", "state"))  # fmt: skip
    courts = directory().jurisdiction(top.code) if jurisdiction else [top.code]
    # Sorted by due time, the page is the most urgent of all: only those are read.
    first = limit if sort == "due_at" and not rule else None
    total, rows = await _board(request).alerts(courts, states, per_court=limit, first=first)
    if rule:
        rows = [r for r in rows if r["rule_id"] == rule or r["rule_id"].startswith(rule)]
        total = len(rows)
    rules = catalogue()
    for row in rows:
        row["title"], row["source"] = (
            rules.title_of(row["rule_id"]),
            rules.source_of(row["rule_id"]),
        )
        row["court_name"] = court_name(row["court_code"])
    key = sort.lstrip("-")
    rows.sort(key=lambda r: (r[key], r["due_at"], r["clock_id"]), reverse=sort.startswith("-"))
    return Alerts.model_validate({"court_code": top.code, "total": total, "alerts": rows[:limit]})


@router.get("/board/courts/{court_code}/commands", summary="Command actions pending at a court")
async def pending_commands(
    court_code: str,
    identity: CurrentIdentity,
    request: Request,
    jurisdiction: Annotated[
        bool, Query(description="those pending at every court below it too")
    ] = False,
) -> list[PendingCommand]:
    """Pending at the court; with ``jurisdiction``, at its subtree's courts (the scope of
    the tree's ``total.commands_pending``), the longest waiting first."""
    court = _court(court_code, identity)
    courts = directory().jurisdiction(court.code) if jurisdiction else [court.code]
    rows = await _board(request).pending_commands(courts)
    return [PendingCommand.model_validate(c | {"court_name": court_name(c["court"])})
            for c in rows]  # fmt: skip


@router.get("/board/stream", summary="Server-sent events: which courts' figures changed")
async def stream(identity: CurrentIdentity, request: Request) -> StreamingResponse:
    """``event: board`` with the changed courts of your jurisdiction, as they change; a
    comment line every 15 s otherwise. The client re-reads what it shows."""
    board = _board(request)
    redis = request.app.state.redis
    pubsub = redis.pubsub()
    await pubsub.subscribe(board.channel)
    mine = set(directory().jurisdiction(identity.court_code))

    async def events() -> AsyncIterator[str]:
        try:
            yield f"event: hello\ndata: {json.dumps({'court_code': identity.court_code})}\n\n"
            quiet = 0.0
            # A stopping service ends its streams (clients reconnect to another replica).
            while request.app.state.ready and not await request.is_disconnected():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    quiet += 1.0
                    if quiet >= HEARTBEAT_SECONDS:
                        quiet = 0.0
                        yield ": still here\n\n"
                    continue
                quiet = 0.0
                courts = [c for c in json.loads(message["data"]) if c in mine]
                if courts:
                    yield f"event: board\ndata: {json.dumps({'courts': courts})}\n\n"
        finally:
            await pubsub.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
