"""Wires the deadlines service."""

from __future__ import annotations

from services.deadlines.calendar_watch import CalendarWatcher
from services.deadlines.domain import ClockRules
from services.deadlines.engine import EVENTS_PER_TRANSACTION, DeadlineEngine
from services.deadlines.http_api import router
from services.deadlines.scheduler import (
    CalendarFollower,
    DeadlineScheduler,
    ProvisionalRecompute,
)
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.periods import PeriodCounter
from zhixing.projection import Projection
from zhixing.rules import catalogue
from zhixing.service import ServiceHost
from zhixing.topics import CLOCK_SIGNAL_TOPICS
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

ABOUT = About(
    name="deadlines",
    title="Zhixing deadlines (节点管控)",
    description="The statutory clocks of every case, asset, dispute and entrustment: "
    "opened and cleared by events, warned, breached and escalated on time.",
)


def bootstrap(
    infra: Infrastructure | None = None, *, calendar: CalendarSettings | None = None
) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    calendar = calendar or CalendarSettings()
    rules = ClockRules(catalogue(), PeriodCounter(StatutoryCalendar.load(calendar)))
    engine = DeadlineEngine(
        redis=ctx.redis, keys=ctx.keys, outbox=ctx.outbox, clock=ctx.clock, rules=rules
    )
    service.routes(router, deadlines=engine, clock=ctx.clock)
    # Clocks start and stop on the events of every other service.
    clocks = Projection("clocks", CLOCK_SIGNAL_TOPICS, engine,
                        max_events_per_transaction=EVENTS_PER_TRANSACTION)  # fmt: skip
    service.project(clocks)
    # Every replica fires timers (claimed a chunk at a time: a burst is shared); every
    # process counts periods (an extension's route too), and so follows the calendar files;
    # the leader alone recomputes the clocks counted on a calendar that lacked a year.
    service.run(DeadlineScheduler(engine, ctx.clock), every_replica=True)
    service.follow(CalendarFollower(engine, CalendarWatcher(rules, calendar)))
    service.run(ProvisionalRecompute(engine))
    return service.build()
