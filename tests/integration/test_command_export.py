"""Overseers' exports through the real command service (¶34, ¶36): a jurisdiction's cases,
clocks, breaches and 终本 cases as CSV and XLSX, within the caller's jurisdiction only, with
cases named by number and no party's ID number; a breach stays in its table after the late
act clears the clock; and a discipline inspector's export is recorded in the access log."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.platform_stack import MONDAY_9AM
from tests.integration.test_deadlines import command_host, settled
from tests.integration.test_figures import (
    DEBTOR_ID,
    RESUMED_NUMBER,
    TAIXING_NUMBER,
    zhongben_history,
)
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.v1 import case_events_pb2

pytestmark = pytest.mark.integration

ASSIGN = "立案后确定承办人"  # intake.assign-officer's title


def rows_of(answer: httpx.Response) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read it as UTF-8
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


async def test_overseers_export_their_jurisdiction_and_each_export_is_recorded(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)

    def event(payload: Any) -> Any:
        return new_event(payload, aggregate_id="z2r", court_code="苏1283", actor=ACTOR,
                         clock=clock)  # fmt: skip

    await publisher.publish_many([
        *zhongben_history(clock),
        event(case_events_pb2.CaseNumberIssued(case_id="z2r", case_number=RESUMED_NUMBER,
                                               court_code="苏1283")),
    ])  # fmt: skip
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def export(table: str, role: Role = Role.COMMAND, as_court: str = "苏12",
                         **params: str) -> httpx.Response:  # fmt: skip
            token = tokens.issue(subject=f"{role.value} 王某", court_code=as_court, role=role,
                                 ttl=dt.timedelta(days=30))  # fmt: skip
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
                return await http.get(f"/v1/export/{table}", params=params,
                                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip

        # 9 days on, the 执恢 case z2r (open at 泰兴) still has no officer: a breach.
        clock.set(dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))
        await settled(host.deadlines, clock, isolated)

        async def breached() -> bool:
            rows = rows_of(await export("breaches"))
            return any(r["节点期限"] == ASSIGN and r["案号"] == RESUMED_NUMBER for r in rows)

        await eventually(breached)
        # The officer is assigned, late: the clock clears and leaves the open clocks, and the
        # breach stays on record with the time it was done.
        await publisher.publish(
            event(case_events_pb2.OfficerAssigned(case_id="z2r", officer_id="o-1"))
        )

        async def cleared() -> bool:
            rows = rows_of(await export("clocks", Role.OVERSEER))
            return not any(r["节点期限"] == ASSIGN and r["案号"] == RESUMED_NUMBER for r in rows)

        await eventually(cleared)
        (breach,) = [r for r in rows_of(await export("breaches", Role.OVERSEER))
                     if r["案号"] == RESUMED_NUMBER and r["节点期限"] == ASSIGN]  # fmt: skip
        assert breach["法院"] == "泰兴市人民法院" and breach["法院代码"] == "苏1283"
        assert breach["依据"] and breach["超期时间"] and breach["办结时间（超期后）"]
        clocks = rows_of(await export("clocks", Role.OVERSEER))
        assert clocks and all(r["状态"] in ("运行", "预警", "超期", "中止") for r in clocks)

        # Cases: the jurisdiction's, by number; no party's ID number anywhere.
        answer = await export("cases", Role.OVERSEER)
        cases = rows_of(answer)
        assert "filename*=UTF-8''" in answer.headers["content-disposition"]
        assert {r["法院代码"] for r in cases} == {"苏1283", "苏1282"}
        assert len(cases) == 5  # z1, z2, z2r at 泰兴; z3, p1 at 靖江
        z1 = next(r for r in cases if r["案号"] == TAIXING_NUMBER)
        assert z1["结案方式"] == "终结本次执行" and z1["终本状态"] == "已裁定终结本次执行程序"
        assert z1["申请执行标的（元）"] == "10.00"
        assert next(r for r in cases if r["案号"] == RESUMED_NUMBER)["所处节点"] == "立案"
        for table in ("cases", "clocks", "breaches", "zhongben"):
            assert DEBTOR_ID not in (await export(table, Role.OVERSEER)).text

        # 终本 cases: closed as 终本 or ruled, whatever became of them since.
        zhongben = rows_of(await export("zhongben", Role.DISCIPLINE))
        assert len(zhongben) == 3  # z1, z2 (revoked, resumed), z3 (closed without a ruling)
        z1 = next(r for r in zhongben if r["案号"] == TAIXING_NUMBER)
        assert z1["终本裁定书文号"] == "（2026）苏1283执z1号之一" and z1["送达日期"] == "2026-06-12"
        assert z1["已启动定期查询（次）"] == "1"

        # XLSX, for a discipline inspector of 泰兴: its own cases only.
        answer = await export("cases", Role.DISCIPLINE, "苏1283", format="xlsx")
        assert answer.status_code == 200, answer.text
        sheet = load_workbook(io.BytesIO(answer.content)).active
        assert sheet is not None and sheet.title == "执行案件"
        header, *body = list(sheet.iter_rows(values_only=True))
        assert header[0] == "案号" and len(body) == 3
        assert {row[2] for row in body} == {"苏1283"}

        # Scope and input: who may export, where, what.
        assert (await export("cases", Role.CLERK, "苏1283")).status_code == 403
        assert (await export("cases", Role.LEADER, "苏1283")).status_code == 403
        assert (await export("cases", Role.DISCIPLINE, "苏1283", court="苏12")).status_code == 404
        assert (await export("cases", Role.OVERSEER, "苏0281", court="苏1283")).status_code == 404
        unknown = await export("cases", Role.OVERSEER, court="苏99")
        assert unknown.status_code == 422 and "苏99" in unknown.text
        assert (await export("cases", Role.OVERSEER, format="pdf")).status_code == 422
        assert (await export("parties", Role.OVERSEER)).status_code == 422

        # The discipline inspector's exports are reads, recorded in the access log: shown to
        # the register's readers (a command centre), not to the court's leader it looks into.
        leader = tokens.issue(subject="院领导", court_code="苏1283", role=Role.LEADER,
                              ttl=dt.timedelta(days=30))  # fmt: skip
        centre = tokens.issue(subject="指挥中心", court_code="苏12", role=Role.COMMAND,
                              ttl=dt.timedelta(days=30))  # fmt: skip

        async def logged_for(token: str) -> bool:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
                log = await http.get("/v1/access-log",
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            return any(e["role"] == "discipline" and e["path"] == "/v1/export/cases"
                       and e["status"] == 200 for e in log.json()["entries"])  # fmt: skip

        await eventually(lambda: logged_for(centre))
        assert not await logged_for(leader)
    finally:
        await host.stop()
