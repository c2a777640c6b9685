"""Supervision through the real stack (intake, deadlines, supervision on Kafka and Redis):
a petition left unregistered breaches its clock, whose escalation becomes the supervisor's
task, then (unanswered) the leader's; the leader's answer stops the escalation; a petition
entered late breaches at its clearing; registrations count repeat petitions per case; the
interference register is append-only (no edit or delete route), corrected by new records
and read by discipline inspection, with its report and export; an officer's posting opens
the rotation clock, whose warning reminds the leader."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated, read_topic
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.polling import eventually
from tools.demo import DEMO_BASIC_COURTS, load_demo, load_demo_supervision
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ
from zhixing.clock_events import each_payload
from zhixing.events import decode_event
from zhixing.topics import DEADLINE_EVENTS, SUPERVISION_EVENTS
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb

pytestmark = pytest.mark.integration

COURT = "苏1283"
TODAY = dt.date(2026, 3, 2)  # platform_stack's Monday


async def call(
    stack: Stack, method: str, path: str, role: Role, court: str = COURT,
    json: dict[str, Any] | None = None, subject: str = "u1", key: str | None = None,
) -> httpx.Response:  # fmt: skip
    assert stack.supervision is not None
    headers = stack.headers(role, court, subject)
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    async with stack.client(stack.supervision) as http:
        return await http.request(method, path, json=json, headers=headers)


async def filed_case(stack: Stack) -> tuple[str, str]:
    """A case of 苏1283, once the supervision service knows it: (id, number)."""
    async with stack.client(stack.intake) as http:
        response = await http.post("/v1/cases", json=filing(COURT),
                                   headers=stack.headers(Role.CLERK, COURT))  # fmt: skip
    assert response.status_code == 201, response.text
    case_id, number = response.json()["case_id"], response.json()["case_number"]

    async def known() -> bool:
        found = await call(stack, "GET", f"/v1/cases/{case_id}/interference", Role.DISCIPLINE)
        return found.status_code == 200

    await eventually(known)
    return case_id, number


def petition(number: str, received_on: dt.date = TODAY, **more: Any) -> dict[str, Any]:
    return {"received_on": received_on.isoformat(), "channel": "visit",
            "petitioner_name": "张三", "petitioner_role": "applicant",
            "summary": "申请执行人反映执行拖延", "case_numbers": [number], **more}  # fmt: skip


async def deadline_events(isolated: Isolated) -> list[Any]:
    """Each clock event's payload, a ClocksOpened giving each ClockOpened it carries."""
    events = [decode_event(r.value) for r in await read_topic(isolated, DEADLINE_EVENTS.name)]
    return [payload for _, payload in each_payload(events)]


async def queue(stack: Stack, role: Role, court: str = COURT) -> list[dict[str, Any]]:
    response = await call(stack, "GET", "/v1/supervision/tasks?status=all", role, court)
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


async def task_at(stack: Stack, role: Role, clock_id: str, level: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def queued() -> bool:
        found[:] = [t for t in await queue(stack, role)
                    if t["clock_id"] == clock_id and t["level"] == level]  # fmt: skip
        return bool(found)

    await eventually(queued)
    return found[0]


async def test_an_unanswered_task_escalates_and_an_answer_stops_the_escalation(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_supervision=True) as stack:
        case_id, number = await filed_case(stack)
        # The case's officer (承办人) is a leader of the court: "leader-9".
        async with stack.client(stack.intake) as http:
            assigned = await http.post(f"/v1/cases/{case_id}/assignment",
                                       json={"officer_id": "leader-9", "team": "法官团队"},
                                       headers=stack.headers(Role.LEADER, COURT))  # fmt: skip
        assert assigned.status_code == 204, assigned.text
        assert stack.supervision is not None
        records = stack.supervision.http.state.task_queue.records

        async def officer_known() -> bool:
            return ((await records.case(case_id)) or {}).get("officer_id") == "leader-9"

        await eventually(officer_known)
        received = await call(stack, "POST", "/v1/petitions", Role.CLERK, json=petition(number))
        assert received.status_code == 201, received.text
        petition_id = received.json()["petition_id"]
        clock_id = f"petition.enter:{petition_id}"

        # Not entered within its 5 working days: breached, escalated to the supervisor.
        stack.clock.set(dt.datetime(2026, 3, 10, 9, 0, tzinfo=CHINA_TZ))
        first = await task_at(stack, Role.SUPERVISOR, clock_id, 1)
        assert first["case_number"] == number and first["rule_title"] == "执行信访录入系统"
        assert first["assignee_role"] == "supervisor" and first["status"] == "open"

        # Unanswered past its response time: the court's leaders take it over.
        stack.clock.set(dt.datetime(2026, 3, 12, 9, 0, tzinfo=CHINA_TZ))
        second = await task_at(stack, Role.LEADER, clock_id, 2)
        assert second["supersedes_task_id"] == first["task_id"]
        (superseded,) = [t for t in await queue(stack, Role.SUPERVISOR)
                         if t["task_id"] == first["task_id"]]  # fmt: skip
        assert superseded["status"] == "escalated"
        late = await call(
            stack, "POST", f"/v1/supervision/tasks/{first['task_id']}/answer", Role.SUPERVISOR,
            json={"outcome": "corrected", "text": "已录入"},
        )  # fmt: skip
        assert late.status_code == 409, late.text

        answer = {"outcome": "ordered", "text": "责令立即录入"}
        # The leader who is the case's officer does not answer the supervision of its breach.
        own = await call(stack, "POST", f"/v1/supervision/tasks/{second['task_id']}/answer",
                         Role.LEADER, json={"outcome": "explained", "text": "本人承办…"},
                         subject="leader-9")  # fmt: skip
        assert own.status_code == 403 and "oversight.no-self-supervision" in own.text, own.text
        answered = await call(stack, "POST", f"/v1/supervision/tasks/{second['task_id']}/answer",
                              Role.LEADER, json=answer, subject="leader-1")  # fmt: skip
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "answered"

        async def escalation_stopped() -> bool:
            state = await stack.engine.get(clock_id)
            return state is not None and any(k.startswith("escalate:3") for k in state.fired)

        await eventually(escalation_stopped)
        # Long after the superior command centre's turn would have come: nothing more.
        stack.clock.set(dt.datetime(2026, 3, 25, 9, 0, tzinfo=CHINA_TZ))
        await stack.engine.drain()
        registered = await call(stack, "POST", f"/v1/petitions/{petition_id}/registration",
                                Role.CLERK, json={"handler": "王法官"})  # fmt: skip
        assert registered.status_code == 200, registered.text

        async def cleared() -> bool:
            return any(isinstance(p, clocks.ClockCleared) and p.clock.clock_id == clock_id
                       for p in await deadline_events(isolated))  # fmt: skip

        await eventually(cleared)
        levels = [
            p.level for p in await deadline_events(isolated)
            if isinstance(p, clocks.ClockEscalated) and p.clock.clock_id == clock_id
        ]  # fmt: skip
        assert levels == [1, 2]
        (kept,) = [t for t in await queue(stack, Role.LEADER) if t["task_id"] == second["task_id"]]
        assert kept["status"] == "answered" and kept["answer"]["outcome"] == "ordered"


async def test_petition_clocks_late_entry_and_repeat_counts(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_supervision=True) as stack:
        case_id, number = await filed_case(stack)
        unknown = await call(stack, "POST", "/v1/petitions", Role.CLERK,
                             json=petition("（2026）苏1283执99999号"))  # fmt: skip
        assert unknown.status_code == 422 and "苏1283执99999" in unknown.text
        # Received the day the case was filed, entered two weeks later: the entry clock
        # breaches as it clears.
        later = TODAY + dt.timedelta(days=14)
        stack.clock.set(dt.datetime.combine(later, dt.time(9, 0), tzinfo=CHINA_TZ))
        old = await call(stack, "POST", "/v1/petitions", Role.CLERK, json=petition(
            number, TODAY, register=True, handler="王法官"))  # fmt: skip
        assert old.status_code == 201, old.text
        assert old.json()["registration"]["repeat_counts"] == [1]
        # Not before the case it names was filed (1949 breached and escalated at once).
        for day in ("0001-01-01", "1949-10-01", (TODAY - dt.timedelta(days=1)).isoformat()):
            backdated = {**petition(number), "received_on": day}
            refused = await call(stack, "POST", "/v1/petitions", Role.OFFICER, json=backdated)
            assert refused.status_code == 422 and "received_on" in refused.text, refused.text
        again = await call(stack, "POST", "/v1/petitions", Role.OFFICER,
                           json=petition(number, later), key="pet-1")  # fmt: skip
        assert again.status_code == 201
        petition_id = again.json()["petition_id"]
        retried = await call(stack, "POST", "/v1/petitions", Role.OFFICER,
                             json=petition(number, later), key="pet-1")  # fmt: skip
        assert retried.status_code == 200 and retried.json()["petition_id"] == petition_id
        registered = await call(stack, "POST", f"/v1/petitions/{petition_id}/registration",
                                Role.OFFICER, json={"handler": "王法官"})  # fmt: skip
        assert registered.json()["cases"] == [
            {"case_id": case_id, "case_number": number, "petitions": 2}]  # fmt: skip
        replied = await call(stack, "POST", f"/v1/petitions/{petition_id}/reply", Role.OFFICER,
                             json={"reply": "已依法处理", "replied_on": later.isoformat(),
                                   "reply_channel": "sms"})  # fmt: skip
        assert replied.status_code == 200 and replied.json()["status"] == "answered"
        listed = await call(stack, "GET", f"/v1/petitions?case_id={case_id}", Role.COMMAND, "苏12")
        assert len(listed.json()) == 2
        # Another jurisdiction's court reads as missing; an unknown one is bad input (both 403).
        missing = await call(stack, "GET", f"/v1/petitions?court={COURT}", Role.CLERK, "苏1282")
        assert missing.status_code == 404, missing.text
        unknown = await call(stack, "GET", "/v1/petitions?court=XX99", Role.CLERK, "苏1282")
        assert unknown.status_code == 422 and "court" in unknown.json()["detail"][0]["loc"]

        old_id = old.json()["petition_id"]

        async def clocks_ran() -> bool:
            events = await deadline_events(isolated)
            late_entry = any(
                isinstance(p, clocks.ClockBreached) and p.found_at_clearing
                and p.clock.clock_id == f"petition.enter:{old_id}" for p in events
            )  # fmt: skip
            resolved = any(isinstance(p, clocks.ClockCleared)
                           and p.clock.clock_id == f"petition.resolve:{petition_id}"
                           and not p.late for p in events)  # fmt: skip
            return late_entry and resolved

        await eventually(clocks_ran)


async def test_the_register_is_append_only_and_discipline_reads_it(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_supervision=True) as stack:
        case_id, number = await filed_case(stack)
        body = {
            "person_name": "某某", "person_position": "副局长", "person_organisation": "某局",
            "inside_court": False, "occurred_at": "2026-03-02T08:30:00+08:00",
            "manner": "phone", "content": "询问案件何时执行", "handling": "告知依法办理",
        }  # fmt: skip
        year_one = await call(stack, "POST", f"/v1/cases/{case_id}/interference", Role.OFFICER,
                              json={**body, "occurred_at": "0001-01-01T00:00:00"})  # fmt: skip
        assert year_one.status_code == 422 and "occurred_at" in year_one.text
        recorded = await call(stack, "POST", f"/v1/cases/{case_id}/interference", Role.OFFICER,
                              json=body, key="rec-1")  # fmt: skip
        assert recorded.status_code == 201, recorded.text
        record = recorded.json()
        assert record["case_number"] == number
        # The client retries (its answer was lost): the same record, nothing new recorded.
        retried = await call(stack, "POST", f"/v1/cases/{case_id}/interference", Role.OFFICER,
                             json=body, key="rec-1")  # fmt: skip
        assert retried.status_code == 200 and retried.json() == record
        path = f"/v1/interference/{record['record_id']}"
        for method in ("PUT", "PATCH", "DELETE"):
            refused = await call(stack, method, path, Role.COMMAND, json=body)
            assert refused.status_code == 405, (method, refused.text)
        corrected = await call(stack, "POST", f"{path}/corrections", Role.OFFICER,
                               json={**body, "person_position": "局长"})  # fmt: skip
        assert corrected.status_code == 201
        assert corrected.json()["corrects_record_id"] == record["record_id"]
        # A leader reads no record of the register: he corrects none, nor learns its case.
        planted = await call(stack, "POST", f"{path}/corrections", Role.LEADER,
                             json=body, subject="leader-1")  # fmt: skip
        assert planted.status_code == 404, planted.text
        assert case_id not in planted.text and number not in planted.text
        overseer = await call(stack, "POST", f"/v1/cases/{case_id}/interference", Role.OVERSEER,
                              json=body)  # fmt: skip
        assert overseer.status_code == 403

        original = await call(stack, "GET", path, Role.DISCIPLINE, "苏12")
        assert original.json() == record  # as recorded
        of_case = await call(stack, "GET", f"/v1/cases/{case_id}/interference", Role.DISCIPLINE)
        assert len(of_case.json()) == 2 and "X-Next-Cursor" not in of_case.headers
        first_page = await call(stack, "GET", "/v1/interference?limit=1", Role.DISCIPLINE)
        cursor = first_page.headers["X-Next-Cursor"]
        rest = await call(stack, "GET", f"/v1/interference?limit=1&after={cursor}",
                          Role.DISCIPLINE)  # fmt: skip
        assert [r["record_id"] for r in first_page.json() + rest.json()] == [
            r["record_id"] for r in of_case.json()]  # fmt: skip
        report = await call(
            stack, "GET", "/v1/interference/report?from=2026-03-01", Role.DISCIPLINE, "苏12"
        )
        assert report.json() == [{"court_code": COURT, "records": 2, "inside_court": 0,
                                  "outside_court": 2, "corrections": 1,
                                  "by_manner": {"phone": 2}}]  # fmt: skip
        assert (
            await call(stack, "GET", "/v1/interference", Role.OVERSEER, "苏12")
        ).status_code == 403
        csv = await call(stack, "GET", "/v1/interference/export?format=csv", Role.DISCIPLINE)
        assert csv.status_code == 200 and number in csv.content.decode("utf-8-sig")
        xlsx = await call(stack, "GET", "/v1/interference/export?format=xlsx", Role.COMMAND, "苏12")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        for court, status in (("苏01", 404), ("XX99", 422)):  # both were 403
            export = await call(stack, "GET", f"/v1/interference/export?court={court}",
                                Role.COMMAND, "苏12")  # fmt: skip
            assert export.status_code == status, export.text

        async def published() -> bool:
            events = [decode_event(r.value) for r in
                      await read_topic(isolated, SUPERVISION_EVENTS.name)]  # fmt: skip
            recorded_events = [e for e in events if isinstance(e.payload, pb.InterferenceRecorded)]
            return len(recorded_events) == 2 and all(
                e.envelope.aggregate_id == case_id for e in recorded_events
            )

        await eventually(published)


async def test_a_posting_opens_the_rotation_clock_and_the_leader_is_reminded(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_supervision=True) as stack:
        assert stack.supervision is not None
        # The dashboard, served by the command service at another origin, calls from the
        # browser: its origin is allowed (with the Authorization header), another is not.
        preflight = {"Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"}  # fmt: skip
        async with stack.client(stack.supervision) as http:
            allowed = await http.options("/v1/supervision/tasks", headers={
                **preflight, "Origin": "http://127.0.0.1:8000"})  # fmt: skip
            foreign = await http.options("/v1/supervision/tasks", headers={
                **preflight, "Origin": "http://evil.example"})  # fmt: skip
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-origin" not in foreign.headers
        # Posted as a leader almost 5 years ago: the 30-day reminder is due at once.
        posting = {"officer_name": "王五", "post": "执行局局长", "post_kind": "leader",
                   "since": "2021-03-20"}  # fmt: skip
        posted = await call(stack, "POST", "/v1/officers/officer-1/postings", Role.LEADER,
                            json=posting)  # fmt: skip
        assert posted.status_code == 201, posted.text
        again = await call(stack, "POST", "/v1/officers/officer-1/postings", Role.PRESIDENT,
                           json=posting)  # fmt: skip
        assert again.status_code == 409 and "rotation first" in again.text

        clock_id = "officer.rotation-leader:officer-1"

        async def opened() -> bool:
            return any(isinstance(p, clocks.ClockOpened) and p.clock.clock_id == clock_id
                       for p in await deadline_events(isolated))  # fmt: skip

        await eventually(opened)
        reminder = await task_at(stack, Role.LEADER, clock_id, 2)
        assert reminder["kind"] == "reminder" and reminder["court_code"] == COURT

        async def due_from_clock() -> bool:
            listed = await call(stack, "GET", "/v1/officers", Role.COMMAND, "苏12")
            (officer,) = listed.json()
            return bool(officer["rotation_due_from"] == "clock")

        await eventually(due_from_clock)
        rotated = await call(
            stack, "POST", "/v1/officers/officer-1/rotation", Role.LEADER,
            json={"to_post": "执行法官", "rotated_on": TODAY.isoformat()},
        )  # fmt: skip
        assert rotated.status_code == 200, rotated.text
        # Another jurisdiction neither takes the officer over nor learns where they are.
        taken = await call(stack, "POST", "/v1/officers/officer-1/postings", Role.LEADER,
                           "苏0102", json={**posting, "since": "2024-01-01"})  # fmt: skip
        assert taken.status_code == 409, taken.text
        assert COURT not in taken.text and "执行局局长" not in taken.text
        (still,) = (await call(stack, "GET", "/v1/officers", Role.LEADER)).json()
        assert still["court_code"] == COURT and still["past"][0]["post"] == "执行局局长"
        for court, status in (("苏1283", 404), ("XX99", 422)):
            listed = await call(stack, "GET", f"/v1/officers?court={court}", Role.LEADER, "苏1282")
            assert listed.status_code == status, listed.text

        async def reminder_closed() -> bool:
            (task,) = [t for t in await queue(stack, Role.LEADER)
                       if t["task_id"] == reminder["task_id"]]  # fmt: skip
            return bool(task["status"] == "closed")

        await eventually(reminder_closed)


async def test_the_demo_loads_petitions_a_record_and_postings_once(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_supervision=True) as stack:
        assert stack.supervision is not None
        intake_url = f"http://127.0.0.1:{stack.intake.http_port}"
        url = f"http://127.0.0.1:{stack.supervision.http_port}"
        # The demo's judgments are of June 2026: load it when they are in the past.
        stack.clock.set(dt.datetime(2026, 7, 1, 9, 0, tzinfo=CHINA_TZ))
        for _ in range(2):
            case_ids = await asyncio.to_thread(load_demo, intake_url, stack.tokens)
            petitions = await asyncio.to_thread(
                load_demo_supervision, url, intake_url, stack.tokens, case_ids,
                today=dt.date(2026, 7, 1),
            )  # fmt: skip
            assert petitions == len(DEMO_BASIC_COURTS)
        listed = await call(stack, "GET", "/v1/petitions", Role.COMMAND, "苏12")
        assert len(listed.json()) == len(DEMO_BASIC_COURTS)
        officers = await call(stack, "GET", "/v1/officers", Role.COMMAND, "苏12")
        assert len(officers.json()) == 2 * len(DEMO_BASIC_COURTS)
        register = await call(stack, "GET", "/v1/interference", Role.DISCIPLINE, "苏12")
        assert len(register.json()) == 1


async def build_supervision(stack: Stack, ids: dict[str, str], secrets: list[str]) -> None:
    """The authorization matrix's supervision fixture, about its case of 苏1283: a task at
    the supervisor (from an escalation handed to the service's own handler), a petition
    received and not registered, an interference record, an officer posted."""
    assert stack.supervision is not None
    case_id = ids["case_id"]
    async with stack.client(stack.intake) as http:
        case = await http.get(f"/v1/cases/{case_id}", headers=stack.headers(Role.CLERK, COURT))
    ids["case_number"] = case.json()["case_number"]

    async def known() -> bool:
        found = await call(stack, "GET", f"/v1/cases/{case_id}/interference", Role.DISCIPLINE)
        return found.status_code == 200

    await eventually(known)
    tasks = stack.supervision.http.state.task_queue
    respond_by = clocks.ClockEscalated().respond_by
    respond_by.FromDatetime(dt.datetime(2026, 3, 3, 9, 0, tzinfo=CHINA_TZ))
    task_id = await tasks.escalated(clocks.ClockEscalated(
        clock=clocks.ClockRef(clock_id=f"matrix.fixture:{case_id}", rule_id="matrix.fixture",
                              subject_id=case_id, court_code=COURT, cycle=1),
        level=1, escalated_to="supervisor", to_court_code=COURT, respond_by=respond_by,
    ))  # fmt: skip
    received = await call(stack, "POST", "/v1/petitions", Role.CLERK,
                          json=petition(ids["case_number"]))  # fmt: skip
    assert received.status_code == 201, received.text
    recorded = await call(stack, "POST", f"/v1/cases/{case_id}/interference", Role.OFFICER, json={
        "person_name": "某某", "person_position": "科长", "person_organisation": "某局",
        "inside_court": False, "occurred_at": "2026-03-02T08:00:00+08:00", "manner": "visit",
        "content": "过问案件", "handling": "登记在案"})  # fmt: skip
    assert recorded.status_code == 201, recorded.text
    posting = {"officer_name": "王五", "post": "执行员", "post_kind": "other",
               "since": "2021-03-01"}  # fmt: skip
    posted = await call(stack, "POST", "/v1/officers/matrix-officer/postings", Role.LEADER,
                        json=posting)  # fmt: skip
    assert posted.status_code == 201, posted.text
    ids.update(task_id=task_id, petition_id=received.json()["petition_id"],
               record_id=recorded.json()["record_id"], officer_id="matrix-officer")  # fmt: skip
    secrets += [ids["task_id"], ids["petition_id"], ids["record_id"]]
