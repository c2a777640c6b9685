"""The dispute coordinator's handlers on the in-memory repository: a dispute between two
courts of one province stops both, is negotiated, goes up to their common superior, and
only that court decides; who may see it."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from services.dispute_coordinator import handlers as handlers_module
from services.dispute_coordinator.handlers import Disputes
from services.dispute_coordinator.repository import DisputeRecords
from tests.factories import START
from tests.fakes import in_memory_context, known_case, person, staged_types
from tests.pages import check_newest_first_by_pages
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.courts import directory
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.known_cases import KnownCases

TAIXING, JINGJIANG = person(Role.OFFICER, "苏1283"), person(Role.OFFICER, "苏1282", "jj-1")


async def disputes() -> Disputes:
    ctx = in_memory_context("dispute_coordinator", SimulatedClock(START))
    known = KnownCases(ctx.redis, ctx.keys)
    await known_case(ctx, known, "case-1", "苏1283")
    return Disputes(ctx, DisputeRecords(ctx.redis, ctx.keys), directory(), known)


async def open_dispute(handlers: Disputes, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "identity": TAIXING, "courts": ["苏1283", "苏1282"], "agency": None,
        "subject": "同一房产被两院分别查封", "asset_key": "real_estate:h1",
        "case_ids": ["case-1"], "case_numbers": [],
        "instruments": [{"court_code": "苏1283", "document_number": "（2026）苏1283执1号"},
                        {"court_code": "苏1282", "document_number": "（2026）苏1282执9号"}],
        "positions": [], "documents": [],
    }  # fmt: skip
    return await handlers.open(**(request | overrides))


async def test_conflicting_instruments_stop_both_courts_and_the_superior_decides() -> None:
    handlers = await disputes()
    dispute = await open_dispute(handlers)
    assert dispute["stops"] == {"苏1283": "stopped", "苏1282": "stopped"}
    dispute_id = dispute["dispute_id"]
    with pytest.raises(Conflict):  # still negotiating
        await handlers.escalate(dispute_id, identity=TAIXING)
    failed = await handlers.negotiate(dispute_id, "协商不成", "failed", identity=JINGJIANG)
    assert failed["status"] == "negotiation_failed"
    escalated = await handlers.escalate(dispute_id, identity=TAIXING)
    assert escalated["escalation"]["common_superior"] == "苏12"  # both courts are 泰州's
    assert escalated["status"] == "referred"  # nobody between them and 苏12 forwards
    with pytest.raises(ScopeError):  # only the common superior decides
        await handlers.issue_plan(dispute_id, "x", "", 0, identity=person(Role.COMMAND, "苏"))
    planned = await handlers.issue_plan(dispute_id, "由苏1283先行处置", "", 0,
                                        identity=person(Role.COMMAND, "苏12"))  # fmt: skip
    assert planned["status"] == "planned"
    types = await staged_types(handlers.ctx)
    assert types[:3] == ["DisputeOpened", "EnforcementStopOrdered", "EnforcementStopOrdered"]
    assert types.count("CoordinationPlanDelivered") == 2  # one to each party court
    assert "CoordinationPlanIssued" in types


async def test_only_the_courts_involved_and_above_them_see_a_dispute() -> None:
    handlers = await disputes()
    dispute_id = (await open_dispute(handlers))["dispute_id"]
    with pytest.raises(NotFound):
        await handlers.negotiate(
            dispute_id, "x", "ongoing", identity=person(Role.OFFICER, "苏1281")
        )
    mine = (await handlers.list_for(person(Role.COMMAND, "苏12"))).items
    assert [d["dispute_id"] for d in mine] == [dispute_id]
    assert (await handlers.list_for(person(Role.COMMAND, "苏02"))).items == []


async def test_the_listing_comes_newest_first_a_page_at_a_time() -> None:
    handlers = await disputes()

    async def make(n: int) -> str:
        opened: str = (await open_dispute(handlers, asset_key=f"real_estate:h{n}"))["dispute_id"]
        return opened

    listing = functools.partial(handlers.list_for, TAIXING)
    await check_newest_first_by_pages(handlers.ctx.clock, make, listing, "dispute_id")


async def test_a_case_that_is_no_partys_is_refused_naming_it() -> None:
    handlers = await disputes()
    with pytest.raises(Invalid) as refused:
        await open_dispute(handlers, case_ids=["no-such-case"])
    assert refused.value.loc == ("body", "case_ids", 0)
    assert await staged_types(handlers.ctx) == []


async def test_a_dispute_keeps_its_most_rounds_of_negotiation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A party repeating notes grew the dispute, and every read of it, without end.
    monkeypatch.setattr(handlers_module, "MAX_REPEATED_ACTS", 3)
    handlers = await disputes()
    dispute_id = (await open_dispute(handlers))["dispute_id"]
    for n in range(3):
        await handlers.negotiate(dispute_id, f"第{n}轮", "ongoing", identity=TAIXING)
    with pytest.raises(Conflict, match=r"3 rounds of negotiation, the most one keeps"):
        await handlers.negotiate(dispute_id, "再议", "ongoing", identity=JINGJIANG)
    assert (await staged_types(handlers.ctx)).count("NegotiationRecorded") == 3
    # The way out is never closed: a failed round is recorded, and the dispute goes up.
    failed = await handlers.negotiate(dispute_id, "协商不成", "failed", identity=JINGJIANG)
    assert failed["status"] == "negotiation_failed"
    assert (await handlers.escalate(dispute_id, identity=TAIXING))["status"] == "referred"


async def test_the_superiors_conclusion_ends_an_agency_dispute_and_its_cases_pauses() -> None:
    """Before, a dispute in department coordination could not end: its stops stayed and its
    cases' clocks stayed paused."""
    handlers = await disputes()
    police = {"kind": "police", "name": "泰兴市公安局", "id": "agency:taixing-police"}
    dispute_id = (await open_dispute(handlers, courts=["苏1283"], agency=police, instruments=[]))[
        "dispute_id"
    ]
    await handlers.negotiate(dispute_id, "协商不成", "failed", identity=TAIXING,
                             superior_must_coordinate=True)  # fmt: skip
    agency = person(Role.AGENCY, "苏1283", police["id"])
    with pytest.raises(ScopeError, match="not the agency"):  # who acts, before the state
        await handlers.report_to_committee(dispute_id, "政法委", "报告", identity=agency)
    await handlers.report_to_superior(dispute_id, "请求协调", identity=TAIXING)
    superior = person(Role.COMMAND, "苏12")
    with pytest.raises(Conflict):  # not in coordination yet
        await handlers.conclude_department_coordination(dispute_id, "x", identity=superior)
    await handlers.start_department_coordination(dispute_id, ["泰兴市公安局"], identity=superior)
    with pytest.raises(ScopeError):  # only the superior coordinating
        await handlers.conclude_department_coordination(dispute_id, "x", identity=TAIXING)
    concluded = await handlers.conclude_department_coordination(
        dispute_id, "公安机关解除扣押", identity=superior
    )
    assert (concluded["status"], concluded["conclusion"]) == ("coordination_concluded",
                                                              "公安机关解除扣押")  # fmt: skip
    types = await staged_types(handlers.ctx)
    assert types[-2:] == ["DisputeSettled", "DisputeCoordinationEnded"]  # case-1 runs again
    with pytest.raises(Conflict):
        await handlers.conclude_department_coordination(dispute_id, "再次", identity=superior)
