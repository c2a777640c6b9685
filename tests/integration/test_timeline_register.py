"""The interference register (干预过问案件登记) and petitions (信访) in a case's timeline,
through the real command service: a record of an inquiry about the case shows to the command
centre and discipline inspection, with its line in Chinese and its correction marked, and
to no other reader (not even counted); a petition naming the case shows its receipt,
registration and reply to every reader of the case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.platform_stack import MONDAY_9AM
from tests.integration.test_deadlines import command_host
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SimulatedClock
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.v1 import case_events_pb2, supervision_events_pb2

pytestmark = pytest.mark.integration

NUMBER = "（2026）苏1283执21号"
SUPERVISION = ("InterferenceRecorded", "PetitionReceived", "PetitionRegistered",
               "PetitionAnswered")  # fmt: skip


def unclocked(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if not e["event"].startswith("Clock")]


def history(clock: SimulatedClock) -> list[Any]:
    def event(payload: Any, aggregate: str = "k1") -> Any:
        # A second apart: the timeline is in time order, and a correction comes after the
        # record it corrects (events of one millisecond have no order of their own there).
        clock.advance(dt.timedelta(seconds=1))
        return new_event(payload, aggregate_id=aggregate, court_code="苏1283", actor=ACTOR,
                         clock=clock)  # fmt: skip

    c, s = case_events_pb2, supervision_events_pb2
    asked = Timestamp()
    asked.FromDatetime(dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC))  # 09:30 in China
    record: dict[str, Any] = {"case_id": "k1", "case_number": NUMBER, "court_code": "苏1283",
              "recorded_by": "执行员 张某", "person_name": "李某",
              "person_organisation": "某区人大", "person_position": "副主任",
              "inside_court": False, "occurred_at": asked, "manner": "phone",
              "content": "询问案件何时能执行到位",
              "handling": "告知依法办理，已记录在案"}  # fmt: skip
    petition: dict[str, Any] = {"petition_id": "p-1", "court_code": "苏1283", "case_ids": ["k1"],
                "case_numbers": [NUMBER]}  # fmt: skip
    return [
        event(c.CaseFiled(case_id="k1", court_code="苏1283", case_type_code="执",
                          claim_amount_fen=1000, filed_on="2026-03-02")),
        event(c.CaseNumberIssued(case_id="k1", case_number=NUMBER, court_code="苏1283")),
        event(s.InterferenceRecorded(record_id="ir-1", **record)),
        event(s.InterferenceRecorded(record_id="ir-2", **record | {
            "handling": "告知依法办理，并报告院领导", "corrects_record_id": "ir-1"})),
        event(s.PetitionReceived(**petition, received_on="2026-03-02", channel="visit",
                                 petitioner_name="王某", petitioner_role="applicant",
                                 summary="反映案件久拖未执行"), "p-1"),
        event(s.PetitionRegistered(**petition, repeat_counts=[2], registered_by="立案人员",
                                   handler="执行局 赵某"), "p-1"),
        event(s.PetitionAnswered(petition_id="p-1", court_code="苏1283", reply="已依法采取措施",
                                 replied_on="2026-03-20", reply_channel="letter"), "p-1"),
    ]  # fmt: skip


async def test_interference_records_show_only_to_command_and_discipline_and_petitions_to_all(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)
    await publisher.publish_many(history(clock))
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def timeline(role: Role, court: str, *, known: bool = True) -> list[dict[str, Any]]:
            token = tokens.issue(subject="u", court_code=court, role=role)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
                answer = await http.get("/v1/cases/k1/timeline",
                                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            if not known and answer.status_code == 404:
                return []  # not projected yet
            assert answer.status_code == 200, answer.text
            entries: list[dict[str, Any]] = answer.json()
            return entries

        async def complete() -> bool:
            seen = [e["event"] for e in await timeline(Role.COMMAND, "苏12", known=False)]
            return all(name in seen for name in SUPERVISION) and seen.count(SUPERVISION[0]) == 2

        await eventually(complete)
        entries = await timeline(Role.COMMAND, "苏12")
        first, correction = [e for e in entries if e["event"] == "InterferenceRecorded"]
        assert first["summary"] == (
            "李某（某区人大副主任，院外）于2026-03-02 09:30以电话方式过问：询问案件何时能执行到位"
            "；处理情况：告知依法办理，已记录在案（登记人 执行员 张某）"
        )
        assert correction["summary"].startswith("【更正记录，更正 ir-1】")
        assert correction["payload"]["corrects_record_id"] == "ir-1"
        discipline = await timeline(Role.DISCIPLINE, "苏1283")
        assert [e["event"] for e in unclocked(discipline)] == [
            e["event"] for e in unclocked(entries)
        ]

        by_event = {e["event"]: e for e in entries}
        assert by_event["PetitionReceived"]["summary"] == (
            "2026-03-02收到来访，信访人王某（申请执行人）：反映案件久拖未执行"
        )
        assert "涉案信访累计 2 件" in by_event["PetitionRegistered"]["summary"]
        assert by_event["PetitionAnswered"]["summary"] == "2026-03-20书面答复信访人：已依法采取措施"

        # Everyone else who reads the case: the petitions, and no trace of the register.
        for role, court in ((Role.OFFICER, "苏1283"), (Role.LEADER, "苏1283"),
                            (Role.PRESIDENT, "苏1283"), (Role.SUPERVISOR, "苏1283"),
                            (Role.OVERSEER, "苏12"), (Role.CLERK, "苏1283")):  # fmt: skip
            shown = await timeline(role, court)
            assert "InterferenceRecorded" not in [e["event"] for e in shown], role
            assert not any("李某" in str(e) for e in shown), role
            # Clock events may still be arriving; the case's own and petitions' may not differ.
            assert len(unclocked(shown)) == len(unclocked(entries)) - 2, role
            assert {"PetitionReceived", "PetitionAnswered"} <= {e["event"] for e in shown}
    finally:
        await host.stop()
