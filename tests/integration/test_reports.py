"""Trends, rankings and the bulletin (通报), counted from events that happened in three
weeks of March 2026 (weeks 10 to 12), read by the command centre on the Friday of week 12."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.command.bootstrap import bootstrap as command_bootstrap
from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.test_deadlines import infrastructure
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.v1 import case_events_pb2, deadline_events_pb2

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 3, 20, 10, tzinfo=CHINA_TZ)  # Friday of 2026-W12
RULE = "case.docket"


def on(day: int) -> SimulatedClock:
    return SimulatedClock(dt.datetime(2026, 3, day, 10, tzinfo=CHINA_TZ))


def history() -> list[Any]:
    """Week 10: c1 filed at 泰兴 (苏1283), c2 at 靖江 (苏1282). Week 11: c1 closed 执行完毕; a
    breach at 靖江, a warning at 泰兴. Week 12: c3 filed at 泰兴; a breach there."""

    def event(day: int, payload: Any, aggregate: str, court: str) -> Any:
        return new_event(payload, aggregate_id=aggregate, court_code=court, actor=ACTOR,
                         clock=on(day))  # fmt: skip

    def filed(day: int, case: str, court: str) -> list[Any]:
        number = f"（2026）{court}执{case[1:]}号"
        return [
            event(day, case_events_pb2.CaseFiled(
                case_id=case, court_code=court, case_type_code="执", claim_amount_fen=1000,
                filed_on=f"2026-03-{day:02d}", case_number=number), case, court),
            event(day, case_events_pb2.CaseNumberIssued(
                case_id=case, case_number=number, court_code=court), case, court),
        ]  # fmt: skip

    def clock(court: str, n: int) -> deadline_events_pb2.ClockRef:
        return deadline_events_pb2.ClockRef(clock_id=f"k{n}", rule_id=RULE, subject_id=f"c{n}",
                                            court_code=court, cycle=1)  # fmt: skip

    return [
        *filed(3, "c1", "苏1283"),
        *filed(4, "c2", "苏1282"),
        event(10, case_events_pb2.CaseClosed(case_id="c1", method="执行完毕",
                                             closed_on="2026-03-10"), "c1", "苏1283"),
        event(11, deadline_events_pb2.ClockBreached(clock=clock("苏1282", 2)), "k2", "苏1282"),
        event(12, deadline_events_pb2.ClockWarned(clock=clock("苏1283", 1)), "k1", "苏1283"),
        *filed(16, "c3", "苏1283"),
        event(17, deadline_events_pb2.ClockBreached(clock=clock("苏1283", 3)), "k3", "苏1283"),
    ]  # fmt: skip


@pytest.fixture
async def reports(
    isolated: Isolated, publisher: EventPublisher
) -> AsyncIterator[httpx.AsyncClient]:
    """The command service, at NOW, once it counted the history; a client with a token of
    苏12's command centre."""
    clock = SimulatedClock(NOW)
    await publisher.publish_many(history())
    host = command_bootstrap(infrastructure(isolated, clock))
    await host.start()
    token = TokenAuthority(isolated.auth, clock).issue(subject="指挥中心值班员", court_code="苏12",
                                                       role=Role.COMMAND)  # fmt: skip
    try:
        base, auth = f"http://127.0.0.1:{host.http_port}", {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=auth) as http:

            async def counted() -> bool:
                answer = await http.get("/v1/figures/苏12", params={"jurisdiction": True})
                counts = answer.json()["counts"]
                return bool(counts["filed"] == 3 and counts["clocks_breached"] == 2
                            and counts["clocks_warned"] == 1)  # fmt: skip

            await eventually(counted)
            yield http
    finally:
        await host.stop()


async def test_trends_count_each_week_and_follow_the_rates_to_its_end(
    reports: httpx.AsyncClient,
) -> None:
    answer = await reports.get("/v1/trends", params={"court": "苏12", "kind": "week", "count": 3})
    assert answer.status_code == 200, answer.text
    series = answer.json()["series"]
    assert [p["period"] for p in series] == ["2026-W10", "2026-W11", "2026-W12"]
    assert [p["start"] for p in series] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert [p["filed"] for p in series] == [2, 0, 1]
    assert [p["closed"] for p in series] == [0, 1, 0]
    assert [p["breaches"] for p in series] == [0, 1, 1]
    assert [p["warnings"] for p in series] == [0, 1, 0]
    # 结案率 at each week's end: 0 of 2, 1 of 2, 1 of 3.
    assert [p["rates"]["结案率"] for p in series] == [0.0, 0.5, 0.3333]
    assert [p["rates"]["执行完毕率"] for p in series] == [None, 1.0, 1.0]
    months = await reports.get("/v1/trends", params={"kind": "month", "count": 2})
    assert [(p["period"], p["filed"]) for p in months.json()["series"]] == [
        ("2026-02", 0), ("2026-03", 3)]  # fmt: skip


async def test_rankings_order_the_courts_and_share_ranks_on_ties(
    reports: httpx.AsyncClient,
) -> None:
    now = (await reports.get("/v1/rankings", params={"court": "苏12"})).json()
    closure = now["rankings"]["结案率"]
    assert [(r["court_code"], r["value"], r["rank"]) for r in closure[:2]] == [
        ("苏1283", 0.5, 1), ("苏1282", 0.0, 2)]  # fmt: skip
    assert closure[0]["court_name"].endswith("泰兴市人民法院")
    assert all(row["rank"] is None and row["value"] is None for row in closure[2:])
    assert "结案率" in now["definitions"]
    # At the end of week 10 neither had closed a case: equal, both first.
    then = (await reports.get("/v1/rankings", params={"period": "2026-W10"})).json()
    assert [(r["court_code"], r["rank"]) for r in then["rankings"]["结案率"][:2]] == [
        ("苏1282", 1), ("苏1283", 1)]  # fmt: skip


async def test_the_bulletin_counts_the_week_and_lists_the_cases_designated(
    reports: httpx.AsyncClient,
) -> None:
    designated = await reports.post("/v1/commands", json={
        "action": "designate", "case_id": "c2", "to_court": "苏1283",
        "instruction": "靖江法院长期未执行，指令泰兴法院执行",
    })  # fmt: skip
    assert designated.status_code == 201, designated.text

    answer = await reports.get("/v1/bulletin", params={"court": "苏12", "period": "2026-W12"})
    assert answer.status_code == 200, answer.text
    bulletin = answer.json()
    assert bulletin["title"] == "2026年第12周（3月16日至3月22日）"
    taixing = next(row for row in bulletin["courts"] if row["court_code"] == "苏1283")
    assert (taixing["filed"], taixing["closed"], taixing["breaches"]) == (1, 0, 1)
    assert taixing["rates"]["结案率"] == 0.5 and taixing["ranks"]["结案率"] == 1
    assert [(n["rule_id"], n["by_court"], n["total"]) for n in bulletin["breaches_by_node"]] == [
        (RULE, {"苏1283": 1}, 1)]  # fmt: skip
    jingjiang = next(r for r in bulletin["commands"]["by_court"] if r["court_code"] == "苏1282")
    assert jingjiang == {"court_code": "苏1282", "issued": {"指令执行": 1}, "unanswered": 1}
    assert bulletin["commands"]["moved"] == [{
        "case_id": "c2", "case_number": "（2026）苏1282执2号", "action": "指令执行",
        "from_court": "苏1282", "to_court": "苏1283", "issued_on": "2026-03-20",
    }]  # fmt: skip
    # The week before: 靖江's breach, and no command.
    before = (await reports.get("/v1/bulletin", params={"period": "2026-W11"})).json()
    assert [n["by_court"] for n in before["breaches_by_node"]] == [{"苏1282": 1}]
    assert before["commands"] == {**before["commands"], "issued": 0, "moved": []}

    page = await reports.get("/v1/bulletin", params={"period": "2026-W12", "format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert (
        "江苏省泰州市中级人民法院辖区执行工作通报" in page.text or "辖区执行工作通报" in page.text
    )

    # Laid out in a worker process started on first use: seconds on a busy machine.
    pdf = await reports.get("/v1/bulletin", params={"period": "2026-W12", "format": "pdf"},
                            timeout=120)  # fmt: skip
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    squeezed = "".join(text.split())
    for expected in ("辖区执行工作通报", "2026年第12周", "各法院执行指标及排名", "指令执行",
                     "（2026）苏1282执2号"):  # fmt: skip
        assert expected in squeezed, f"{expected} not in the PDF's text: {text[:400]}"

    xlsx = await reports.get("/v1/bulletin", params={"period": "2026-W12", "format": "xlsx"})
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert len(book.sheetnames) == 4
    moved = list(book[book.sheetnames[3]].values)
    assert moved[1][:2] == ("（2026）苏1282执2号", "指令执行")


async def test_periods_not_begun_or_misspelt_are_refused_and_clerks_read_no_reports(
    reports: httpx.AsyncClient, isolated: Isolated
) -> None:
    future = await reports.get("/v1/bulletin", params={"period": "2026-W13"})
    assert future.status_code == 422 and "has not begun" in future.text
    misspelt = await reports.get("/v1/bulletin", params={"period": "2026-13"})
    assert misspelt.status_code == 422 and "2026-W48" in misspelt.text
    clerk = TokenAuthority(isolated.auth, SimulatedClock(NOW)).issue(
        subject="立案庭书记员", court_code="苏1283", role=Role.CLERK)  # fmt: skip
    refused = await reports.get("/v1/trends", headers={"Authorization": f"Bearer {clerk}"})
    assert refused.status_code == 403


async def test_the_cli_writes_the_same_bulletin_from_the_shell(
    reports: httpx.AsyncClient, isolated: Isolated, tmp_path: Path
) -> None:
    """``zhixing bulletin`` reads the command service's Redis as the route does."""
    served = (await reports.get("/v1/bulletin", params={"period": "2026-W12"})).json()
    for output_format in ("json", "pdf"):
        out = tmp_path / f"bulletin.{output_format}"
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("zhixing")), "bulletin", "--court", "苏12",
            "--week", "2026-W12", "--format", output_format, "--out", str(out),
            env=isolated.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert "2026年第12周" in stdout.decode()
        if output_format == "json":
            written = json.loads(out.read_text(encoding="utf-8"))
            assert {k: v for k, v in written.items() if k != "generated_at"} == {
                k: v for k, v in served.items() if k != "generated_at"}  # fmt: skip
        else:
            assert out.read_bytes().startswith(b"%PDF")
