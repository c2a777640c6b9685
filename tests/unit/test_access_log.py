"""The access log's view: newest first per jurisdiction, and the interference register's
entries only for those who read the register."""

from __future__ import annotations

from typing import Any

from services.command.access_log import AccessLog
from tests.factories import ACTOR, START
from tests.fakes import in_memory_context, project
from zhixing.clock import SimulatedClock
from zhixing.events import Event, new_event
from zhixing.v1 import audit_events_pb2


def access(path: str, service: str = "supervision", role: str = "overseer") -> Event[Any]:
    recorded = audit_events_pb2.AccessRecorded(
        service=service, method="GET", path=path, status=200, subject="d-1", role=role
    )
    return new_event(recorded, aggregate_id="access", court_code="苏1283", actor=ACTOR,
                     clock=SimulatedClock(START))  # fmt: skip


async def test_the_registers_entries_are_shown_only_to_those_who_read_it() -> None:
    ctx = in_memory_context("command", SimulatedClock(START))
    log = AccessLog(ctx.redis, ctx.keys)
    paths = ["/v1/cases/c-1/interference", "/v1/interference/r-1", "/v1/petitions/p-1"]
    await project(ctx, log, *(access(path) for path in paths))
    await project(ctx, log, access("/v1/cases/c-1", service="intake"))
    # Discipline inspection reading a case's timeline (which shows the register's records).
    await project(ctx, log, access("/v1/cases/c-2/timeline", "command", role="discipline"))
    every = {e["path"] for e in await log.recent(["苏1283"], 10)}
    assert every == {*paths, "/v1/cases/c-1", "/v1/cases/c-2/timeline"}
    shown = {e["path"] for e in await log.recent(["苏1283"], 10, register=False)}
    assert shown == {"/v1/petitions/p-1", "/v1/cases/c-1"}
