"""A service's processes by role (``ServiceSettings.role``): one that only answers requests,
beside one that consumes the events and runs the loops (docs/scaling.md)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from services.deadlines.bootstrap import bootstrap as deadlines
from services.deadlines.scheduler import CalendarFollower
from services.intake.bootstrap import bootstrap as intake
from tests.conftest import Isolated, read_topic
from tests.factories import filing
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.builder import Infrastructure
from zhixing.clock import SystemClock
from zhixing.events import decode_event
from zhixing.lease import LeaderLoops
from zhixing.service import ServiceHost
from zhixing.settings import ServiceSettings, service_settings
from zhixing.topics import CASE_EVENTS

pytestmark = pytest.mark.integration


def infrastructure(isolated: Isolated, role: str) -> Infrastructure:
    return Infrastructure(
        kafka=isolated.kafka,
        redis=isolated.redis_settings,
        auth=isolated.auth,
        ports=ServiceSettings(http_port=0, grpc_port=0, role=role),
    )


@pytest.fixture
async def answering(isolated: Isolated) -> AsyncIterator[ServiceHost]:
    host = intake(infrastructure(isolated, "answer"))
    await host.start()
    yield host
    await host.stop()


async def test_an_answering_process_answers_and_one_of_role_all_relays_its_events(
    isolated: Isolated, answering: ServiceHost
) -> None:
    assert not answering.consumers and not answering.background
    token = TokenAuthority(isolated.auth, SystemClock()).issue(
        subject="t", court_code="苏1283", role=Role.CLERK
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{answering.http_port}") as client:
        response = await client.post(
            "/v1/cases", json=filing(), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201, response.text
        case_id = response.json()["case_id"]
        # Nothing relays yet: its metrics show the events waiting (what an alert watches).
        await asyncio.sleep(0.05)
        pending, waited = await outbox_backlog(client)
        assert pending >= 1 and waited >= 0.05

        # Its events are staged in the outbox; a process of role "all" relays them.
        working = intake(infrastructure(isolated, "all"))
        assert working.consumers and any(isinstance(b, LeaderLoops) for b in working.background)
        await working.start()
        try:

            async def published() -> bool:
                records = await read_topic(isolated, CASE_EVENTS.name)
                return any(decode_event(r.value).aggregate_id == case_id for r in records)

            await eventually(published)

            async def relayed() -> bool:
                return await outbox_backlog(client) == (0, 0.0)

            await eventually(relayed)
        finally:
            await working.stop()


async def outbox_backlog(client: httpx.AsyncClient) -> tuple[int, float]:
    """Intake's outbox gauges, as a scrape of ``client``'s process reads them."""
    text = (await client.get("/metrics")).text
    pending = re.search(r'^zhixing_outbox_pending_events\{service="intake"\} (\S+)$', text, re.M)
    waited = re.search(r'^zhixing_outbox_oldest_age_seconds\{service="intake"\} (\S+)$', text, re.M)
    assert pending and waited, text
    return int(float(pending.group(1))), float(waited.group(1))


async def test_an_answering_process_keeps_only_the_loops_that_keep_its_memory_current(
    isolated: Isolated,
) -> None:
    """The deadlines service counts periods in its routes (an extension's new due date): its
    answering process follows the calendar files, and fires no timer."""
    answering_host = deadlines(infrastructure(isolated, "answer"))
    working = deadlines(infrastructure(isolated, "all"))
    await working.start()  # so that its stop closes its consumers
    try:
        assert not answering_host.consumers
        assert [type(loop) for loop in answering_host.background] == [CalendarFollower]
        assert CalendarFollower in [type(loop) for loop in working.background]
        assert working.consumers
    finally:
        for host in (answering_host, working):
            await host.stop()


async def test_a_process_reads_its_role_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZHIXING_INTAKE_ROLE", "answer")
    assert service_settings("intake").role == "answer"
    assert service_settings("deadlines").role == "all"


async def test_a_role_is_all_or_answer() -> None:
    with pytest.raises(ValueError, match="role"):
        ServiceSettings(role="work")
