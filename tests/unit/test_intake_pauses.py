"""Pauses of the case clock in intake's handlers (审限规定 art 9): each kind's start and end
act, one open pause per kind, the days they may bear, who records them, and none on a
closed case; and a filing's proceeding (非诉执行) on its CaseFiled."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.intake import pauses as pauses_module
from services.intake.domain import ClosureMethod, FileCase
from services.intake.handlers import Intake, record_view
from services.intake.pauses import PauseKind, Pauses
from services.intake.repository import CaseRecords
from tests.factories import START, filing
from tests.fakes import in_memory_context, person, staged
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.v1 import case_events_pb2 as cases

OFFICER = person(Role.OFFICER, subject="o-1")
TODAY = dt.date(2026, 3, 2)  # START in China


async def filed_case(**overrides: Any) -> tuple[Pauses, str]:
    ctx = in_memory_context("intake", SimulatedClock(START))
    intake = Intake(ctx, CaseRecords(ctx.redis, ctx.keys))
    filed = await intake.receive(
        FileCase(**filing(**overrides)), identity=person(Role.CLERK), docket=True
    )
    return Pauses(intake), filed.case_id


async def test_a_pause_starts_and_ends_with_the_acts_of_its_kind() -> None:
    pauses, case_id = await filed_case()
    started = await pauses.start(case_id, PauseKind.APPRAISAL, TODAY, "（2026）苏1283执1号之一",
                                 "委托评估房产", identity=OFFICER)  # fmt: skip
    ended = await pauses.end(case_id, started["pause_id"], TODAY, "", "评估报告送达",
                             identity=person(Role.LEADER))  # fmt: skip
    assert ended["ended_on"] == "2026-03-02" and ended["ended_by"] == "u1"
    events = [e.payload for e in await staged(pauses.ctx)]
    start, end = events[-2], events[-1]
    assert isinstance(start, cases.AppraisalStarted) and isinstance(end, cases.AppraisalEnded)
    assert start.pause_id == end.pause_id == started["pause_id"]
    assert (start.on, start.document_number, start.recorded_by) == (
        "2026-03-02", "（2026）苏1283执1号之一", "o-1"
    )  # fmt: skip
    assert [p["pause_id"] for p in await pauses.of_case(case_id)] == [started["pause_id"]]


async def test_one_open_pause_per_kind_while_kinds_overlap() -> None:
    pauses, case_id = await filed_case()
    notice = await pauses.start(case_id, PauseKind.PUBLIC_NOTICE, TODAY, "", "公告送达",
                                identity=OFFICER)  # fmt: skip
    await pauses.start(case_id, PauseKind.APPRAISAL, TODAY, "", "评估", identity=OFFICER)
    with pytest.raises(Conflict, match=notice["pause_id"]):
        await pauses.start(
            case_id, PauseKind.PUBLIC_NOTICE, TODAY, "", "再次公告", identity=OFFICER
        )
    await pauses.end(case_id, notice["pause_id"], TODAY, "", "", identity=OFFICER)
    with pytest.raises(Conflict):  # ended once
        await pauses.end(case_id, notice["pause_id"], TODAY, "", "", identity=OFFICER)
    await pauses.start(case_id, PauseKind.PUBLIC_NOTICE, TODAY, "", "再次公告", identity=OFFICER)
    kinds = [type(e.payload).__name__ for e in await staged(pauses.ctx)]
    assert kinds.count("PublicNoticeStarted") == 2 and kinds.count("PublicNoticeEnded") == 1


async def test_the_days_of_a_pause_are_checked() -> None:
    pauses, case_id = await filed_case()
    with pytest.raises(Invalid, match="after today"):
        await pauses.start(case_id, PauseKind.SUSPENSION, TODAY + dt.timedelta(days=1), "", "x",
                           identity=OFFICER)  # fmt: skip
    with pytest.raises(Invalid, match="before the case was filed"):
        await pauses.start(case_id, PauseKind.SUSPENSION, TODAY - dt.timedelta(days=1), "", "x",
                           identity=OFFICER)  # fmt: skip
    started = await pauses.start(case_id, PauseKind.SUSPENSION, TODAY, "", "x", identity=OFFICER)
    with pytest.raises(Invalid, match="before the pause started"):
        await pauses.end(case_id, started["pause_id"], TODAY - dt.timedelta(days=1), "", "",
                         identity=OFFICER)  # fmt: skip
    with pytest.raises(NotFound):
        await pauses.end(case_id, "no-such-pause", TODAY, "", "", identity=OFFICER)


async def test_only_the_handling_courts_officer_or_leader_on_an_open_case() -> None:
    pauses, case_id = await filed_case()
    with pytest.raises(ScopeError):
        await pauses.start(case_id, PauseKind.DEFERRAL, TODAY, "", "x", identity=person(Role.CLERK))
    with pytest.raises(NotFound):  # another court is told the case does not exist
        other = person(Role.OFFICER, court="苏1282")
        await pauses.start(case_id, PauseKind.DEFERRAL, TODAY, "", "x", identity=other)
    await pauses.intake.close(case_id, ClosureMethod.PERFORMED, identity=OFFICER)
    with pytest.raises(Conflict, match="closed"):
        await pauses.start(case_id, PauseKind.DEFERRAL, TODAY, "", "x", identity=OFFICER)


async def test_a_non_litigation_filing_says_so_and_litigation_is_the_default() -> None:
    pauses, case_id = await filed_case(proceeding="non_litigation")
    record = await pauses.records.read(case_id)
    assert record is not None and record.filed is not None
    assert record.filed.proceeding == "non_litigation"
    assert record.filed.received_on == "2026-03-02"
    assert record_view(record)["proceeding"] == "non_litigation"
    plain, other_id = await filed_case()
    other = await plain.records.read(other_id)
    assert other is not None and other.filed is not None and other.filed.proceeding == ""
    assert record_view(other)["proceeding"] == "litigation"


async def test_a_case_keeps_its_most_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    # 120 cycles of one kind were taken, each kept whole and listed unpaged.
    monkeypatch.setattr(pauses_module, "MAX_PAUSES_PER_CASE", 2)
    pauses, case_id = await filed_case()
    for _ in range(2):
        started = await pauses.start(case_id, PauseKind.APPRAISAL, TODAY, "", "评估",
                                     identity=OFFICER)  # fmt: skip
        await pauses.end(case_id, started["pause_id"], TODAY, "", "送达", identity=OFFICER)
    with pytest.raises(Conflict, match="recorded 2 pauses, the most one case keeps"):
        await pauses.start(case_id, PauseKind.AUCTION, TODAY, "", "拍卖", identity=OFFICER)
    assert len(await pauses.of_case(case_id)) == 2
