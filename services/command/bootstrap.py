"""Wires the command service."""

from __future__ import annotations

from services.command.access_log import AccessLog
from services.command.actions_api import router as actions_router
from services.command.board import Board
from services.command.board_api import SupervisionLink
from services.command.board_api import router as board_router
from services.command.breaches import BreachRegister
from services.command.case_credit import CaseCredit
from services.command.case_funds import CaseFunds
from services.command.case_zhongben import CaseZhongben
from services.command.clocks_api import DeadlinesLink
from services.command.clocks_api import router as clocks_router
from services.command.dashboard import DashboardSettings
from services.command.dashboard import mount as mount_dashboard
from services.command.export_api import router as export_router
from services.command.figures import CourtFigures
from services.command.grpc_api import CommandQueries
from services.command.handlers import CommandActions
from services.command.http_api import router
from services.command.projections import CaseOverviews
from services.command.reactions import reconsideration_lapses
from services.command.reports import Reports
from services.command.reports_api import router as reports_router
from services.command.timelines import CaseTimelines
from zhixing import court_directory_grpc
from zhixing.audit import AuditChain
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.courts import SUPREME_COURT, directory
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import (
    ACCESS_EVENTS,
    ASSET_EVENTS,
    AUDITED_TOPICS,
    CASE_EVENTS,
    COMMAND_EVENTS,
    COMMAND_TOPICS,
    CREDIT_EVENTS,
    DEADLINE_EVENTS,
    FUNDS_EVENTS,
)
from zhixing.v1 import command_service_pb2_grpc, envelope_pb2

ABOUT = About(
    name="command",
    title="Zhixing command (统一指挥)",
    description="The command centre: every court's cases, nodes and figures.",
)
AUDIT_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:command", role="service"
)


def bootstrap(
    infra: Infrastructure | None = None,
    *,
    dashboard: DashboardSettings | None = None,
    deadlines: DeadlinesLink | None = None,
    supervision: SupervisionLink | None = None,
) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    overviews = CaseOverviews(ctx.redis, ctx.keys)
    case_funds = CaseFunds(ctx.redis, ctx.keys)
    case_zhongben = CaseZhongben(ctx.redis, ctx.keys)
    case_credit = CaseCredit(ctx.redis, ctx.keys)
    audit = AuditChain(
        ctx.redis,
        ctx.keys,
        publish=lambda pipe, records: ctx.stage(
            pipe, records, aggregate_id=records.chain, court_code=SUPREME_COURT, actor=AUDIT_ACTOR
        ),
    )
    actions = CommandActions(ctx, overviews)
    figures = CourtFigures(ctx.redis, ctx.keys, directory())
    timelines = CaseTimelines(ctx.redis, ctx.keys, audit)
    board = Board(ctx.redis, ctx.keys)
    access_log = AccessLog(ctx.redis, ctx.keys)
    breaches = BreachRegister(ctx.redis, ctx.keys)
    reports = Reports(ctx.redis, ctx.keys, directory(), ctx.clock)
    service.routes(
        router, clocks_router, actions_router, board_router, export_router, reports_router,
        redis=ctx.redis, access_log=access_log, board=board, overviews=overviews,
        case_funds=case_funds, case_zhongben=case_zhongben, case_credit=case_credit,
        actions=actions, figures=figures, timelines=timelines, breaches=breaches,
        reports=reports,
        deadlines_link=deadlines or DeadlinesLink(),
        supervision_link=supervision or SupervisionLink(),
    )  # fmt: skip
    mount_dashboard(service.http, dashboard)
    service.grpc(
        lambda server: command_service_pb2_grpc.add_CommandServiceServicer_to_server(
            CommandQueries(overviews), server
        ),
        court_directory_grpc.register(directory()),
    )
    # Every projection of the service is fed by one consumer: a batch is fetched and decoded
    # once, and applied to all of them in one transaction.
    service.project(
        # The audit trail records every event of every topic, in one hash chain.
        Projection("audit", AUDITED_TOPICS, audit),
        Projection("access-log", [ACCESS_EVENTS], access_log),
        Projection("case-overviews", [CASE_EVENTS], overviews),
        # A case's money: received, paid, held, lodged.
        Projection("case-funds", [FUNDS_EVENTS], case_funds),
        # A case's 终本 (ruling, objections, resumption; re-query rounds on the asset topic)
        # and its credit punishment (restrictions and listings of its debtors).
        Projection("case-zhongben", [CASE_EVENTS, ASSET_EVENTS], case_zhongben),
        Projection("case-credit", [CASE_EVENTS, CREDIT_EVENTS], case_credit),
        Projection(
            "figures",
            [CASE_EVENTS, ASSET_EVENTS, DEADLINE_EVENTS, COMMAND_EVENTS, FUNDS_EVENTS],
            figures,
        ),
        Projection("timelines", COMMAND_TOPICS, timelines),
        # Every breach, kept after its clock is cleared: what overseers export.
        Projection("breaches", [DEADLINE_EVENTS], breaches),
        # The dashboard's board: open cases by node, open clocks by state, commands.
        Projection("board", COMMAND_TOPICS, board),
        Projection("command-actions", [DEADLINE_EVENTS], reconsideration_lapses(actions)),
    )
    return service.build()
