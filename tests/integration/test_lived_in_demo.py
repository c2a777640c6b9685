"""The lived-in demo (``make run``'s first load) into a fresh Kafka and Redis: months of 苏12
up to the present, with warnings and breaches, command actions pending and answered,
entrustments, disputes, payouts and 终本 cases on the command centre's board; the platform
started again on that state carries on (nothing replayed, its clocks still fire); and a
second load does nothing.

The history is small (one basic court, about three and a half months: 终本 needs three
since filing) and ends at a fixed present, so the test is the same on any day.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

import pytest
from rich.console import Console

from tests.conftest import Isolated
from tools.progress import Work
from tools.simulator.lived_in import DemoSize, LivedIn, demo_workload, load_lived_in
from tools.simulator.platform import in_process_platform
from tools.simulator.workload import Workload
from zhixing.audit import AuditChain
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.workcalendar import StatutoryCalendar

pytestmark = pytest.mark.integration

PRESENT = dt.datetime(2026, 12, 2, 15, 0, tzinfo=CHINA_TZ)
SIZE = DemoSize(days=103, cases_per_court_per_year=200, courts=1, urges_per_round=2)


async def test_the_lived_in_demo_loads_once_and_the_platform_carries_on(
    isolated: Isolated,
) -> None:
    log = io.StringIO()
    work = Work(Console(file=log, width=100))  # not a terminal: plain lines

    loaded = await load_lived_in(isolated.kafka, isolated.redis_settings, size=SIZE,
                                 work=work, wall=lambda: PRESENT)  # fmt: skip

    assert loaded.state == "loaded" and loaded.report is not None
    report = loaded.report
    assert report.refused == Counter(), report.first_refusals
    for act in ("entrust", "dispute", "payout", "zhongben-approve", "urge", "urge-reply"):
        assert report.acts[act], act
    assert loaded.record["from"] == (PRESENT.date() - dt.timedelta(days=SIZE.days - 1)).isoformat()
    assert "\x1b[" not in log.getvalue() and "waiting for" in log.getvalue()

    clock = SimulatedClock(PRESENT)
    async with in_process_platform(
        clock, kafka=isolated.kafka, redis=isolated.redis_settings, auth=isolated.auth,
        with_entrustment=True, with_disputes=True, with_funds=True, with_credit=True,
        with_notification=True, with_supervision=True,
    ) as platform:  # fmt: skip
        assert platform.command is not None
        tokens = TokenAuthority(isolated.auth, clock)
        settings = demo_workload(PRESENT, SIZE)
        simulation = LivedIn(platform, tokens, Workload(settings, StatutoryCalendar.load()),
                             lambda: PRESENT)  # fmt: skip
        audit = AuditChain(platform.command.ctx.redis, platform.command.ctx.keys)
        before = await audit.read_head()
        await simulation.settle()
        # The services found their offsets and outboxes where the history left them: nothing
        # was consumed twice, nothing new happened at the same instant.
        assert await audit.read_head() == before

        async def command_view(path: str, **params: str) -> Any:
            return await simulation._get(platform.command, path, Role.COMMAND,  # type: ignore[arg-type]
                                         "苏12", params=params or None)  # fmt: skip

        figures = (await command_view("/v1/figures/苏12", jurisdiction="true"))["counts"]
        for name in ("clocks_warned", "clocks_breached", "payouts", "closed_this_round",
                     "commands_received", "commands_acknowledged"):  # fmt: skip
            assert figures[name] > 0, name
        alerts = await command_view("/v1/board/alerts")
        assert alerts["total"] > 0
        assert {"breached"} <= {a["state"] for a in alerts["alerts"]}
        commands = await command_view("/v1/commands")
        statuses = Counter(c["status"] for c in commands)
        assert statuses["answered"] and statuses["issued"], statuses
        total = (await command_view("/v1/board/tree"))["root"]["total"]
        # Cases at the nodes a season's cases stand at, and at 终本; commands pending.
        for name in ("node_querying", "node_controlling", "node_paying", "node_zhongben",
                     "commands_pending", "clocks_breached"):  # fmt: skip
            assert total[name] > 0, (name, total)

        # The deadline engine's clocks carried over: a month on, the open ones fall due.
        breached = figures["clocks_breached"]
        clock.set(PRESENT + dt.timedelta(days=30))
        await simulation.settle()
        later = (await command_view("/v1/figures/苏12", jurisdiction="true"))["counts"]
        assert later["clocks_breached"] > breached
        await simulation.close()

    again = await load_lived_in(isolated.kafka, isolated.redis_settings, size=SIZE, work=work,
                                wall=lambda: PRESENT)  # fmt: skip
    assert again.state == "present" and again.report is None
    assert again.record["filed"] == report.filed
