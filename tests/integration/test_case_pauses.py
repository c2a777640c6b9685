"""Pauses of the case clock through the real stack (intake and the deadline engine on Kafka
and Redis): a non-litigation application docketed runs its own limit and the execution
notice's clock from receipt; a suspension started and ended through the API publishes both
acts with one pause id, one open pause per kind, the days refused that cannot be; the
case's limit moves by the days paused (overlapping pauses counted once)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Isolated, read_topic
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.polling import eventually
from zhixing.auth import Role
from zhixing.events import decode_event
from zhixing.topics import CASE_EVENTS
from zhixing.v1 import case_events_pb2 as cases

pytestmark = pytest.mark.integration

COURT = "苏1283"


async def case_events(isolated: Isolated, case_id: str) -> list[Any]:
    records = await read_topic(isolated, CASE_EVENTS.name)
    payloads = [decode_event(r.value).payload for r in records]
    return [p for p in payloads if getattr(p, "case_id", "") == case_id]


async def clock_of(stack: Stack, case_id: str, rule: str) -> Any:
    """The case's clock of ``rule``, once the engine has it."""
    found: dict[str, Any] = {}

    async def opened() -> bool:
        found.update({c.rule_id: c for c in await stack.engine.clocks_of(case_id)})
        return rule in found

    await eventually(opened)
    return found[rule]


async def test_a_suspension_started_and_ended_publishes_both_acts_of_one_pause(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_command=False, with_deadlines=True) as stack:
        clerk = stack.headers(Role.CLERK, COURT)
        officer = stack.headers(Role.OFFICER, COURT, "officer-1")
        async with stack.client(stack.intake) as http:
            # A non-litigation application, received last Friday and docketed today.
            body = filing(COURT, proceeding="non_litigation", received_on="2026-02-27")
            received = await http.post("/v1/applications", json=body, headers=clerk)
            assert received.status_code == 201, received.text
            case_id = received.json()["case_id"]
            docketed = await http.post(f"/v1/applications/{case_id}/docket", headers=clerk)
            assert docketed.status_code == 200, docketed.text
            case = (await http.get(f"/v1/cases/{case_id}", headers=officer)).json()
            assert (case["proceeding"], case["received_on"]) == ("non_litigation", "2026-02-27")

            # Its own limit (3 CM), not the litigation one; the notice runs from receipt.
            limit = await clock_of(stack, case_id, "case.close-non-litigation")
            notice = await clock_of(stack, case_id, "intake.execution-notice")
            assert notice.last_day == dt.date(2026, 3, 9)  # 10 CD from 2-27, not from 3-2
            assert "case.close" not in {c.rule_id for c in await stack.engine.clocks_of(case_id)}

            pauses = f"/v1/cases/{case_id}/pauses"
            start = {"kind": "suspension", "on": "2026-03-02", "reason": "案外人异议审查",
                     "document_number": "（2026）苏1283执异1号"}  # fmt: skip
            future = await http.post(pauses, headers=officer, json={**start, "on": "2026-03-03"})
            assert future.status_code == 422 and "after today" in future.text
            before = await http.post(pauses, headers=officer, json={**start, "on": "2026-03-01"})
            assert before.status_code == 422 and "before the case was filed" in before.text
            started = await http.post(pauses, headers=officer, json=start)
            assert started.status_code == 201, started.text
            pause_id = started.json()["pause_id"]
            again = await http.post(pauses, headers=officer, json=start)
            assert again.status_code == 409 and pause_id in again.text
            appraisal = await http.post(pauses, headers=officer,
                                        json={**start, "kind": "appraisal"})  # fmt: skip
            assert appraisal.status_code == 201  # kinds may overlap

            stack.clock.advance(dt.timedelta(days=10))
            officer = stack.headers(Role.OFFICER, COURT, "officer-1")  # a fresh token
            end = f"{pauses}/{pause_id}/end"
            early = await http.post(end, headers=officer, json={"on": "2026-03-01"})
            assert early.status_code == 422 and "before the pause started" in early.text
            ended = await http.post(end, headers=officer, json={
                "on": "2026-03-12", "document_number": "（2026）苏1283执异1号之一",
                "reason": "异议驳回，恢复执行"})  # fmt: skip
            assert ended.status_code == 200, ended.text
            assert ended.json()["ended_on"] == "2026-03-12"
            appraisal_end = f"{pauses}/{appraisal.json()['pause_id']}/end"
            done = await http.post(appraisal_end, headers=officer, json={"on": "2026-03-12"})
            assert done.status_code == 200, done.text
            listed = (await http.get(pauses, headers=stack.headers(Role.COMMAND, "苏12"))).json()
            assert [(p["kind"], p.get("ended_on")) for p in listed] == [
                ("suspension", "2026-03-12"), ("appraisal", "2026-03-12")
            ]  # fmt: skip

        # Ten days paused by two overlapping pauses: the limit's last day moves by ten.
        async def moved() -> bool:
            now = await clock_of(stack, case_id, "case.close-non-litigation")
            return bool(now.status == "running" and now.last_day != limit.last_day)

        await eventually(moved)
        now = await clock_of(stack, case_id, "case.close-non-litigation")
        assert now.last_day == limit.last_day + dt.timedelta(days=10)

        events = await case_events(isolated, case_id)
        filed = next(e for e in events if isinstance(e, cases.CaseFiled))
        assert (filed.proceeding, filed.received_on) == ("non_litigation", "2026-02-27")
        suspended = next(e for e in events if isinstance(e, cases.CaseSuspended))
        resumed = next(e for e in events if isinstance(e, cases.CaseResumed))
        assert suspended.pause_id == resumed.pause_id == pause_id
        assert (suspended.on, resumed.on) == ("2026-03-02", "2026-03-12")
        assert resumed.document_number == "（2026）苏1283执异1号之一"
        assert suspended.recorded_by == resumed.recorded_by == "officer-1"
