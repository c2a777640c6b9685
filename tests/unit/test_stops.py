"""Stop orders (执行规定 art 68): the stops in force per case kept from the dispute
coordinator's events, on the in-memory Redis; and intake's closure refused while one is."""

from __future__ import annotations

import fakeredis
import pytest
from google.protobuf.message import Message

from services.intake.domain import ClosureMethod, FileCase
from services.intake.handlers import Intake
from services.intake.repository import CaseRecords, CaseStatus
from services.intake.zhongben import Zhongben
from tests.factories import START, filing
from tests.fakes import in_memory_context, person
from zhixing.auth import Role
from zhixing.clock import SimulatedClock
from zhixing.state import KeySpace
from zhixing.stops import STOP_RULE, StopInForce, StopOrders
from zhixing.v1 import dispute_events_pb2 as pb


def stop_orders() -> StopOrders:
    return StopOrders(fakeredis.FakeAsyncRedis(), KeySpace("unit.", "svc"))


async def keep(stops: StopOrders, *payloads: Message) -> None:
    """Apply ``payloads`` in one batch, as the projection's transaction would."""
    async with stops.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for payload in payloads:
            stops.keep(pipe, payload)
        await pipe.execute()


def ordered(dispute: str, court: str, *cases: str) -> pb.EnforcementStopOrdered:
    return pb.EnforcementStopOrdered(
        dispute_id=dispute, court_code=court, case_ids=list(cases), reason="执行文书冲突"
    )


def lifted(dispute: str, court: str) -> pb.EnforcementStopLifted:
    return pb.EnforcementStopLifted(dispute_id=dispute, court_code=court, lifted_by="u9")


async def disputes_of(stops: StopOrders, case_id: str, court: str | None = None) -> list[str]:
    return [s.dispute_id for s in await stops.in_force(case_id, court)]


async def test_a_case_stopped_by_two_disputes_stays_stopped_until_both_are_lifted() -> None:
    stops = stop_orders()
    await keep(stops, pb.DisputeOpened(dispute_id="d1", subject="同一房产两次查封"),
               ordered("d1", "苏1283", "c1"), ordered("d1", "浙0102"))  # fmt: skip
    await keep(stops, ordered("d2", "苏1283", "c1", "c2"))
    assert await disputes_of(stops, "c1") == ["d1", "d2"]
    (first, _) = await stops.in_force("c1")
    assert (first.court_code, first.subject, first.reason) == ("苏1283", "同一房产两次查封",
                                                                 "执行文书冲突")  # fmt: skip
    # A sibling dispute's lift ends only its own stop; another court's lift ends nothing here.
    await keep(stops, lifted("d2", "苏1283"), lifted("d1", "浙0102"))
    assert await disputes_of(stops, "c1") == ["d1"]
    assert await disputes_of(stops, "c2") == []
    await keep(stops, lifted("d1", "苏1283"))
    assert await disputes_of(stops, "c1") == []


async def test_a_stop_names_its_court_and_replays_change_nothing() -> None:
    stops = stop_orders()
    await keep(stops, ordered("d1", "苏1283", "c1"), ordered("d1", "苏1283", "c1"))
    assert await disputes_of(stops, "c1", "苏1283") == ["d1"]
    assert await disputes_of(stops, "c1", "苏1282") == []  # another court is not stopped
    # An order and its lift in one batch, or a lift applied again: lifted either way.
    await keep(stops, ordered("d3", "苏1283", "c3"), lifted("d3", "苏1283"))
    await keep(stops, lifted("d3", "苏1283"), ordered("d3", "苏1283", "c3"))
    assert await disputes_of(stops, "c3") == []


async def test_the_check_refuses_naming_the_dispute_and_the_rule() -> None:
    stops = stop_orders()
    await keep(stops, pb.DisputeOpened(dispute_id="d1", subject="同一股权冲突裁定"),
               ordered("d1", "苏1283", "c1"))  # fmt: skip
    async with stops.redis.pipeline(transaction=True) as pipe:
        await stops.check(pipe, "c1", "苏1282", "closing the case")  # another court: allowed
        with pytest.raises(StopInForce) as refused:
            await stops.check(
                pipe, "c1", "苏1283", "closing the case", case_number="（2026）苏1283执1号"
            )
    message = str(refused.value)
    assert refused.value.status == 409
    for named in ("d1", "同一股权冲突裁定", "（2026）苏1283执1号", "closing the case", STOP_RULE):
        assert named in message


async def test_intake_refuses_to_close_a_stopped_case_until_the_stop_is_lifted() -> None:
    ctx = in_memory_context("intake", SimulatedClock(START))
    intake = Intake(ctx, CaseRecords(ctx.redis, ctx.keys))
    filed = await intake.receive(FileCase(**filing()), identity=person(Role.CLERK), docket=True)
    officer = person(Role.OFFICER)
    await keep(intake.stops, ordered("d1", "苏1283", filed.case_id))
    with pytest.raises(StopInForce, match="d1"):
        await intake.close(filed.case_id, ClosureMethod.PERFORMED, identity=officer)
    await keep(intake.stops, lifted("d1", "苏1283"))
    await intake.close(filed.case_id, ClosureMethod.PERFORMED, identity=officer)
    record = await intake.records.read(filed.case_id)
    assert record is not None and record.status is CaseStatus.CLOSED


async def test_a_stopped_case_gets_no_zhongben_proposal_before_its_gate_is_even_read() -> None:
    ctx = in_memory_context("intake", SimulatedClock(START))
    intake = Intake(ctx, CaseRecords(ctx.redis, ctx.keys))
    zhongben = Zhongben(intake)
    filed = await intake.receive(FileCase(**filing()), identity=person(Role.CLERK), docket=True)
    await keep(intake.stops, pb.DisputeOpened(dispute_id="d1", subject="查封冲突"),
               ordered("d1", "苏1283", filed.case_id))  # fmt: skip
    with pytest.raises(StopInForce, match="proposing 终本"):
        await zhongben.propose(filed.case_id, "无财产可供执行", identity=person(Role.OFFICER))
