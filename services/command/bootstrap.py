"""Wires the command service."""

from __future__ import annotations

from services.command.access_log import AccessLog
from services.command.actions import CommandActions
from services.command.actions_api import router as actions_router
from services.command.board import Board
from services.command.board_api import router as board_router
from services.command.dashboard import DashboardSettings
from services.command.dashboard import mount as mount_dashboard
from services.command.deadlines.calendar_watch import CalendarWatcher
from services.command.deadlines.engine import DeadlineEngine, DeadlineScheduler
from services.command.deadlines.http_api import router as clocks_router
from services.command.deadlines.model import ClockRules
from services.command.figures import CourtFigures
from services.command.grpc_api import CommandQueries
from services.command.http_api import router
from services.command.projections import CaseOverviews
from services.command.timelines import CaseTimelines
from zhixing import court_directory_grpc
from zhixing.audit import AuditChain
from zhixing.breaches import OnBreach
from zhixing.bus import Projection
from zhixing.clock import Clock, SystemClock
from zhixing.courts import SUPREME_COURT, directory
from zhixing.periods import PeriodCounter
from zhixing.rules import catalogue
from zhixing.service import ServiceContext, ServiceHost, create_http_app
from zhixing.settings import (
    AuthSettings,
    KafkaSettings,
    RedisSettings,
    ServiceSettings,
    service_settings,
)
from zhixing.topics import (
    ACCESS_EVENTS,
    ASSET_EVENTS,
    AUDITED_TOPICS,
    CASE_EVENTS,
    COMMAND_EVENTS,
    DEADLINE_EVENTS,
    DOMAIN_TOPICS,
)
from zhixing.v1 import command_service_pb2_grpc, envelope_pb2
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

NAME = "command"
AUDIT_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:command", role="service"
)
DEFAULT_HTTP_PORT = 8000
DEFAULT_GRPC_PORT = 50051


def bootstrap(
    *,
    clock: Clock | None = None,
    kafka: KafkaSettings | None = None,
    redis: RedisSettings | None = None,
    auth: AuthSettings | None = None,
    ports: ServiceSettings | None = None,
    calendar: CalendarSettings | None = None,
    dashboard: DashboardSettings | None = None,
) -> ServiceHost:
    clock = clock or SystemClock()
    ctx = ServiceContext.build(NAME, clock=clock, kafka=kafka, redis=redis, auth=auth)
    calendar = calendar or CalendarSettings()
    rules = ClockRules(catalogue(), PeriodCounter(StatutoryCalendar.load(calendar)))
    deadlines = DeadlineEngine(
        redis=ctx.redis, keys=ctx.keys, outbox=ctx.outbox, clock=clock, rules=rules
    )
    overviews = CaseOverviews(ctx.redis, ctx.keys)
    audit = AuditChain(
        ctx.redis,
        ctx.keys,
        publish=lambda pipe, records: ctx.stage(
            pipe,
            records,
            aggregate_id=records.chain,
            court_code=SUPREME_COURT,
            actor=AUDIT_ACTOR,
        ),
    )
    app = create_http_app(
        ctx,
        title="Zhixing command (统一指挥)",
        description="The command centre: every court's cases, nodes and figures.",
    )
    actions = CommandActions(ctx, overviews)
    figures = CourtFigures(ctx.redis, ctx.keys, directory())
    timelines = CaseTimelines(ctx.redis, ctx.keys, audit)
    board = Board(ctx.redis, ctx.keys)
    access_log = AccessLog(ctx.redis, ctx.keys)
    app.state.redis = ctx.redis
    app.state.access_log = access_log
    app.state.board = board
    app.state.overviews = overviews
    app.state.deadlines = deadlines
    app.state.actions = actions
    app.state.figures = figures
    app.state.timelines = timelines
    app.include_router(router)
    app.include_router(clocks_router)
    app.include_router(actions_router)
    app.include_router(board_router)
    mount_dashboard(app, dashboard)
    return ServiceHost(
        ctx=ctx,
        http=app,
        ports=ports
        or service_settings(NAME, http_port=DEFAULT_HTTP_PORT, grpc_port=DEFAULT_GRPC_PORT),
        grpc_services=[
            lambda server: command_service_pb2_grpc.add_CommandServiceServicer_to_server(
                CommandQueries(overviews), server
            ),
            court_directory_grpc.register(directory()),
        ],
        # Every projection of the service is fed by one consumer: a batch is fetched and
        # decoded once, and applied to all of them in one transaction.
        consumers=[
            ctx.consumer_of(
                # The audit trail records every event of every topic, in one hash chain.
                Projection("audit", AUDITED_TOPICS, audit),
                Projection("access-log", [ACCESS_EVENTS], access_log),
                Projection("case-overviews", [CASE_EVENTS], overviews),
                Projection(
                    "figures", [CASE_EVENTS, ASSET_EVENTS, DEADLINE_EVENTS, COMMAND_EVENTS], figures
                ),
                Projection("timelines", DOMAIN_TOPICS, timelines),
                # The dashboard's board: open cases by node, open clocks by state, commands.
                Projection("board", DOMAIN_TOPICS, board),
                # Statutory clocks start and stop on events of every service.
                Projection("deadlines", DOMAIN_TOPICS, deadlines),
                # When a command's 5 days to ask for reconsideration pass, it stands.
                Projection(
                    "command-actions",
                    [DEADLINE_EVENTS],
                    OnBreach(
                        {
                            "command.reconsideration": lambda breached, _: (
                                actions.close_reconsideration(breached.clock.subject_id)
                            )
                        }
                    ),
                ),
            )
        ],
        background=[
            DeadlineScheduler(deadlines, clock, reload_calendar=CalendarWatcher(rules, calendar)),
            ctx.outbox_relay(),
        ],
    )
