"""The clocks of an entrusted matter, as the deadline engine opens them from entrustment's
own events: both courts, and the courts above either, read every one of them."""

from __future__ import annotations

from pathlib import Path

from services.deadlines.domain import ClockRules
from services.deadlines.engine import DeadlineEngine
from services.deadlines.http_api import _readable
from tests.fakes import in_memory_context, person, staged
from tests.unit.test_entrustment_handlers import ENTRUSTED, entrust, entrustments
from zhixing.auth import Role
from zhixing.clock import SimulatedClock
from zhixing.periods import PeriodCounter
from zhixing.projection import Transaction
from zhixing.rules import catalogue
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar


async def test_every_clock_of_a_matter_is_read_by_both_courts_and_the_courts_above(
    tmp_path: Path,
) -> None:
    # The handling clock opens on the start, whose event names both courts as observers
    # (it named none before: the entrusting court could not read it).
    handlers = await entrustments()
    entrustment_id = await entrust(handlers)
    await handlers.start(entrustment_id, identity=ENTRUSTED)
    clock = handlers.ctx.clock
    assert isinstance(clock, SimulatedClock)
    deadlines = in_memory_context("deadlines", clock)
    calendar = StatutoryCalendar.load(CalendarSettings(dir=tmp_path))
    engine = DeadlineEngine(
        redis=deadlines.redis, keys=deadlines.keys, outbox=deadlines.outbox, clock=clock,
        rules=ClockRules(catalogue(), PeriodCounter(calendar)),
    )  # fmt: skip
    events = await staged(handlers.ctx)
    async with deadlines.redis.pipeline(transaction=True) as pipe:
        prepared = await engine.prepare(events, pipe)
        pipe.multi()  # type: ignore[no-untyped-call]
        await engine(events, Transaction(deadlines.redis, pipe, deadlines.keys, prepared))
        await pipe.execute()

    opened = {state.rule_id: state for state in await engine.clocks_of(entrustment_id)}
    assert set(opened) == {"entrustment.start", "entrustment.status-report", "entrustment.handle"}
    assert opened["entrustment.handle"].observers == ["苏1283", "浙0102"]
    for who in (
        person(Role.OFFICER, "苏1283"), person(Role.COMMAND, "苏12"), person(Role.COMMAND, "苏"),
        person(Role.OFFICER, "浙0102"), person(Role.COMMAND, "浙01"),
    ):  # fmt: skip
        assert all(_readable(who, state) for state in opened.values()), (who, opened)
    assert not any(_readable(person(Role.OFFICER, "苏1282"), s) for s in opened.values())
