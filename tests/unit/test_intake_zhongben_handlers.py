"""Intake's 终本 handlers on the in-memory repository: the acts and their refusals, the
proposal against the gate, the leader's ruling (四不批), service, objection and resumption."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.message import Message

from services.intake.domain import ClosureMethod, FileCase
from services.intake.handlers import Intake
from services.intake.repository import CaseRecords, CaseStatus
from services.intake.zhongben import Act, GateRefused, Zhongben
from services.intake.zhongben_domain import (
    GATE_RULES,
    ObstructionKind,
    PunishmentKind,
    ResumptionCause,
    VisitKind,
)
from tests.factories import START, filing
from tests.fakes import in_memory_context, person, staged, staged_types
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock, china_today
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.periods import add_months
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2, case_events_pb2, credit_events_pb2, funds_events_pb2

CLERK = person(Role.CLERK)
OFFICER = person(Role.OFFICER, subject="o-1")
LEADER = person(Role.LEADER, subject="leader-1")


class Court:
    def __init__(self) -> None:
        self.clock = SimulatedClock(START)
        ctx = in_memory_context("intake", self.clock)
        self.intake = Intake(ctx, CaseRecords(ctx.redis, ctx.keys))
        self.facts = self.intake.facts
        self.zhongben = Zhongben(self.intake)

    async def file(self) -> str:
        filed = await self.intake.receive(FileCase(**filing()), identity=CLERK, docket=True)
        await self.intake.assign_officer(filed.case_id, "o-1", "法官团队", identity=CLERK)
        return filed.case_id

    async def other_services_report(self, *payloads: Message) -> None:
        async with self.intake.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.multi()  # type: ignore[no-untyped-call]
            recorded_ms = int(self.clock.now().timestamp() * 1000)
            for payload in payloads:
                self.facts.keep(pipe, payload, recorded_ms)
            await pipe.execute()

    def pass_min_period(self) -> None:
        months = catalogue().rule("zhongben.min-period").period.limit
        today = china_today(self.clock)
        # The day after the period's last day (its cut-off 24:00).
        self.clock.advance(add_months(today, months) - today + dt.timedelta(days=1))

    async def ready(self) -> str:
        """A case meeting every condition of the gate."""
        case_id = await self.file()
        await self.intake.serve_notice(case_id, identity=OFFICER)
        z = self.zhongben
        await z.record_visit(case_id, Act(None, "d0"), VisitKind.VISIT, "无财产", identity=OFFICER)
        await z.record_interview(case_id, Act(None), "申请人知悉", identity=OFFICER)
        await self.other_services_report(
            asset_events_pb2.NetworkQueryCompleted(case_id=case_id, round=1),
            credit_events_pb2.RestrictionOrdered(
                case_id=case_id, debtor_key="d0", restriction_id="r1"
            ),
            credit_events_pb2.ListingDeclined(
                case_id=case_id, debtor_key="d0", reason="only_restriction"
            ),
        )
        self.pass_min_period()
        return case_id


async def test_acts_are_refused_for_a_future_day_an_unknown_debtor_or_another_role() -> None:
    court = Court()
    case_id = await court.file()
    z = court.zhongben
    tomorrow = china_today(court.clock) + dt.timedelta(days=1)
    with pytest.raises(Invalid, match="after today") as future:
        await z.record_visit(case_id, Act(tomorrow, "d0"), VisitKind.VISIT, "x", identity=OFFICER)
    assert future.value.loc == ("body", "on")
    with pytest.raises(Invalid, match="names no debtor") as unknown:
        await z.record_search(case_id, Act(None, "d1"), "x", identity=OFFICER)
    assert unknown.value.loc == ("body", "debtor_key")
    with pytest.raises(ScopeError):
        await z.record_interview(case_id, Act(None), "x", identity=CLERK)
    with pytest.raises(NotFound):
        await z.record_interview(case_id, Act(None), "x", identity=person(Role.OFFICER, "苏1282"))
    with pytest.raises(NotFound):
        await z.record_interview("no-such-case", Act(None), "x", identity=OFFICER)
    assert await staged_types(court.intake.ctx) == [
        "ApplicationReceived", "CaseFiled", "CaseNumberIssued", "OfficerAssigned"
    ]  # fmt: skip


async def test_a_proposal_is_refused_naming_every_unmet_rule() -> None:
    court = Court()
    case_id = await court.file()
    with pytest.raises(GateRefused) as refused:
        await court.zhongben.propose(case_id, "无财产可供执行", identity=OFFICER)
    assert refused.value.unmet_rules == [r for r in GATE_RULES if r not in (
        "zhongben.assets-disposed", "zhongben.property-available",
        "zhongben.search-punishment", "case.money-paid-out")]  # fmt: skip
    assert all(rule in str(refused.value) for rule in refused.value.unmet_rules)
    assert "ZhongbenProposed" not in await staged_types(court.intake.ctx)


async def test_an_obstruction_holds_the_gate_until_acted_on() -> None:
    court = Court()
    case_id = await court.ready()
    z = court.zhongben
    await z.record_obstruction(case_id, Act(None, "d0"), ObstructionKind.REPORT_VIOLATION,
                               "拒不报告", identity=OFFICER)  # fmt: skip
    with pytest.raises(GateRefused) as refused:
        await z.propose(case_id, "无财产", identity=OFFICER)
    assert refused.value.unmet_rules == ["zhongben.listing", "zhongben.search-punishment"]
    fine = "（2026）苏1283司惩1号"
    await z.record_punishment(case_id, Act(None, "d0"), PunishmentKind.FINE, fine, identity=OFFICER)
    # A breach of the report-assets order is a listing ground (法释〔2017〕7号 art 1(4)): the
    # decision not to list recorded before no longer answers for the debtor.
    with pytest.raises(GateRefused, match="listing ground") as unlisted:
        await z.propose(case_id, "无财产", identity=OFFICER)
    assert unlisted.value.unmet_rules == ["zhongben.listing"]
    await court.other_services_report(
        credit_events_pb2.DebtorListed(case_id=case_id, debtor_key="d0", listing_id="l1", ground=4)
    )
    await z.propose(case_id, "无财产", identity=OFFICER)


async def test_undisposed_assets_hold_the_gate_whichever_event_came_first() -> None:
    court = Court()
    case_id = await court.ready()
    await court.other_services_report(
        funds_events_pb2.FundsArrived(case_id=case_id, source="deduction", asset_id="money"),
        asset_events_pb2.AssetControlled(case_id=case_id, asset_id="money", measure="freeze"),
        asset_events_pb2.AssetControlled(case_id=case_id, asset_id="house", measure="seize"),
    )
    with pytest.raises(GateRefused, match="house") as refused:
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    assert refused.value.unmet_rules == ["zhongben.assets-disposed"]
    assert "money" not in str(refused.value)
    await court.other_services_report(
        asset_events_pb2.SaleCompleted(case_id=case_id, asset_id="house", proceeds_fen=1)
    )
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)


async def test_frozen_money_is_disposed_of_once_deductions_took_all_of_it() -> None:
    """A deduction of part of a deposit leaves the rest frozen: the case is not ended. The
    same payment told twice (its arrival, finance's review) counts once; deductions of an
    earlier freeze, released since, do not count against a later one."""
    court = Court()
    case_id = await court.ready()
    deposit = {"case_id": case_id, "asset_id": "deposit"}
    await court.other_services_report(
        asset_events_pb2.AssetControlled(**deposit, measure="freeze", amount_fen=800),
        funds_events_pb2.FundsArrived(
            **deposit, source="deduction", payment_id="p1", amount_fen=400
        ),
        # The same payment found by finance: counted twice, it would take all 800.
        funds_events_pb2.DeductionReviewed(**deposit, moved=True, payment_id="p1", amount_fen=400),
    )
    with pytest.raises(GateRefused, match="deposit") as refused:
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    # The 400 deducted waits in the case's account until it is paid out.
    assert refused.value.unmet_rules == ["zhongben.assets-disposed", "case.money-paid-out"]
    court.clock.advance(dt.timedelta(days=1))
    await court.other_services_report(  # the rest: released, frozen again for as much
        asset_events_pb2.ControlReleased(**deposit),
        asset_events_pb2.AssetControlled(**deposit, measure="freeze", amount_fen=1_000),
    )
    court.clock.advance(dt.timedelta(days=1))
    await court.other_services_report(
        funds_events_pb2.FundsArrived(
            **deposit, source="deduction", payment_id="p2", amount_fen=600
        ),
    )
    with pytest.raises(GateRefused, match="deposit"):  # 600 of the new freeze's 1,000
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    await court.other_services_report(
        funds_events_pb2.DeductionReviewed(**deposit, moved=True, payment_id="p3", amount_fen=400),
    )
    with pytest.raises(GateRefused) as refused:
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    assert refused.value.unmet_rules == ["case.money-paid-out"]  # disposed of, not paid
    await court.other_services_report(
        funds_events_pb2.FundsPaid(case_id=case_id, payment_id="p1", payout_id="o1",
                                   amount_fen=1_000),
    )  # fmt: skip
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)


async def test_a_deduction_finance_found_on_the_statement_disposes_of_its_deposit() -> None:
    # Its receipt may have been recorded first, as the debtor's payment naming no asset.
    court = Court()
    case_id = await court.ready()
    await court.other_services_report(
        asset_events_pb2.AssetControlled(case_id=case_id, asset_id="money", measure="freeze"),
        funds_events_pb2.DeductionReviewed(case_id=case_id, asset_id="money", moved=False),
    )
    with pytest.raises(GateRefused, match="money"):  # nothing moved: still frozen
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    await court.other_services_report(
        funds_events_pb2.DeductionReviewed(
            case_id=case_id, asset_id="money", moved=True, payment_id="p-1"
        )
    )
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)


async def test_property_found_holds_the_gate_until_controlled_or_declined_with_a_reason() -> None:
    """¶24: a case with property that could pay is never ended this round. What a re-query
    after 终本 finds is not the gate's business; a control the outside system refused
    leaves the asset open again."""
    court = Court()
    case_id = await court.ready()
    found = [
        asset_events_pb2.AssetFound(case_id=case_id, asset_id=asset, source=source)
        for asset, source in (("house", "query"), ("car", "lead"), ("shares", "query"),
                              ("later", "requery"))
    ]  # fmt: skip
    await court.other_services_report(
        *found,
        asset_events_pb2.ControlRequested(case_id=case_id, asset_id="car"),
        asset_events_pb2.ControlFailed(case_id=case_id, asset_id="car", reason="登记机关拒绝"),
        asset_events_pb2.WaitingSeizureRegistered(case_id=case_id, asset_id="shares"),
    )
    with pytest.raises(GateRefused) as refused:
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    assert refused.value.unmet_rules == ["zhongben.property-available"]
    assert "house" in str(refused.value) and "car" in str(refused.value)
    assert "shares" not in str(refused.value) and "later" not in str(refused.value)
    await court.other_services_report(
        asset_events_pb2.ControlDeclined(case_id=case_id, asset_id="house", reason="无处置价值"),
        asset_events_pb2.ControlRequested(case_id=case_id, asset_id="car"),
    )
    with pytest.raises(GateRefused) as controlled_but_not_disposed:
        await court.other_services_report(
            asset_events_pb2.AssetControlled(case_id=case_id, asset_id="car", measure="seize")
        )
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    assert controlled_but_not_disposed.value.unmet_rules == ["zhongben.assets-disposed"]
    await court.other_services_report(
        asset_events_pb2.SaleCompleted(case_id=case_id, asset_id="car", proceeds_fen=1)
    )
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)


async def held_outside_after_a_failed_control(court: Court, case_id: str,
                                              *between: Message) -> None:  # fmt: skip
    """The deposit found, its control failed, then (after ``between``) answered as taken
    effect outside."""
    await court.other_services_report(
        asset_events_pb2.AssetFound(case_id=case_id, asset_id="deposit", source="query"),
        asset_events_pb2.ControlRequested(case_id=case_id, asset_id="deposit"),
        asset_events_pb2.ControlFailed(case_id=case_id, asset_id="deposit", reason="无答复"),
        *between,
        asset_events_pb2.ControlTookEffectAfterFailure(
            case_id=case_id, asset_id="deposit", request_id="r-1"
        ),
    )


async def test_an_asset_held_outside_after_its_control_failed_holds_the_gate() -> None:
    """A control failed here that the outside system then answered as taken effect: the
    asset may be held there with no control on record; the case is not ended meanwhile,
    declined or not."""
    court = Court()
    case_id = await court.ready()
    await held_outside_after_a_failed_control(
        court, case_id,
        asset_events_pb2.ControlDeclined(case_id=case_id, asset_id="deposit", reason="无处置价值"),
    )  # fmt: skip
    with pytest.raises(GateRefused) as refused:
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    assert refused.value.unmet_rules == ["zhongben.assets-disposed"]
    assert "deposit" in str(refused.value)


async def test_a_hold_found_outside_stands_until_an_act_answers_it() -> None:
    """The asset's later events that do not answer the hold (a control requested again that
    fails, a waiting seizure, a lapse, a deduction) leave it standing whatever the asset's
    latest state; a decline (as a release or a control taking effect) answers it."""
    court = Court()
    case_id = await court.ready()
    await held_outside_after_a_failed_control(court, case_id)
    for unanswering in (
        asset_events_pb2.ControlRequested(case_id=case_id, asset_id="deposit"),
        asset_events_pb2.ControlFailed(case_id=case_id, asset_id="deposit", reason="拒绝"),
        asset_events_pb2.WaitingSeizureRegistered(case_id=case_id, asset_id="deposit"),
        asset_events_pb2.ControlLapsed(case_id=case_id, asset_id="deposit"),
        # A deduction disposes of a control's money, not of what the outside holds besides.
        funds_events_pb2.FundsArrived(case_id=case_id, source="deduction", asset_id="deposit"),
    ):
        await court.other_services_report(unanswering)
        with pytest.raises(GateRefused) as refused:
            await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
        assert "zhongben.assets-disposed" in refused.value.unmet_rules, unanswering
        assert "held outside after a failed control" in str(refused.value)
        assert "deposit" in str(refused.value)
    await court.other_services_report(
        asset_events_pb2.ControlDeclined(case_id=case_id, asset_id="deposit", reason="已解除")
    )
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)


async def test_a_lifted_restriction_or_a_deleted_listing_no_longer_counts() -> None:
    court = Court()
    case_id = await court.ready()
    await court.other_services_report(
        credit_events_pb2.RestrictionLifted(case_id=case_id, debtor_key="d0", restriction_id="r1"),
        credit_events_pb2.DebtorListed(case_id=case_id, debtor_key="d0", listing_id="l1", ground=4),
        credit_events_pb2.ListingDeleted(case_id=case_id, debtor_key="d0", listing_id="l1"),
    )
    with pytest.raises(GateRefused) as refused:
        await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    # The decline recorded earlier still answers the listing condition.
    assert refused.value.unmet_rules == ["zhongben.restriction"]
    await court.other_services_report(
        credit_events_pb2.RestrictionOrdered(case_id=case_id, debtor_key="d0", restriction_id="r2")
    )
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)


async def test_the_closure_route_refuses_zhongben() -> None:
    court = Court()
    case_id = await court.ready()
    with pytest.raises(Conflict, match=r"zhongben\.leader-approval"):
        await court.intake.close(case_id, ClosureMethod.ENDED_THIS_ROUND, identity=OFFICER)


async def test_a_leader_not_involved_rules_zhongben_and_the_case_closes() -> None:
    court = Court()
    case_id = await court.ready()
    z = court.zhongben
    with pytest.raises(Conflict, match="no 终本 proposal"):
        await z.decide(case_id, approve=True, reason="同意", ruling_number="N1", identity=LEADER)
    await z.propose(case_id, "无财产可供执行", identity=OFFICER)
    with pytest.raises(Conflict, match="awaits a leader"):
        await z.propose(case_id, "again", identity=OFFICER)
    with pytest.raises(ScopeError):  # an officer does not approve
        await z.decide(case_id, approve=True, reason="同意", ruling_number="N1", identity=OFFICER)
    handling_officer_as_leader = person(Role.LEADER, subject="o-1")
    with pytest.raises(ScopeError, match=r"zhongben\.leader-approval"):
        await z.decide(case_id, approve=True, reason="同意", ruling_number="N1",
                       identity=handling_officer_as_leader)  # fmt: skip
    with pytest.raises(Invalid) as no_number:
        await z.decide(case_id, approve=True, reason="同意", ruling_number=None, identity=LEADER)
    assert no_number.value.loc == ("body", "ruling_number")
    ruling = "（2026）苏1283执1号之一"
    assert await z.decide(case_id, approve=True, reason="同意", ruling_number=ruling,
                          identity=LEADER) == "closed"  # fmt: skip
    record = await court.intake.records.read(case_id)
    assert record is not None and record.status is CaseStatus.CLOSED
    assert record.get("closed_method") == "终结本次执行"
    events = await staged(court.intake.ctx)
    ruled, closed = events[-2].payload, events[-1].payload
    assert isinstance(ruled, case_events_pb2.ZhongbenRuled)
    assert list(ruled.checked_rules) == list(GATE_RULES)
    assert (ruled.proposed_by, ruled.approved_by) == ("o-1", "leader-1")
    assert isinstance(closed, case_events_pb2.CaseClosed)
    assert closed.method == "终结本次执行"
    with pytest.raises(Conflict, match=r"not filed and open \(rule zhongben\.debtor-visited\)"):
        await z.record_visit(case_id, Act(None, "d0"), VisitKind.VISIT, "x", identity=OFFICER)


async def test_a_leader_refuses_or_the_gate_no_longer_holds_when_deciding() -> None:
    court = Court()
    case_id = await court.ready()
    z = court.zhongben
    await z.propose(case_id, "无财产", identity=OFFICER)
    assert await z.decide(case_id, approve=False, reason="再查", ruling_number=None,
                          identity=LEADER) == "filed"  # fmt: skip
    await z.propose(case_id, "无财产", identity=OFFICER)
    await court.other_services_report(
        asset_events_pb2.AssetControlled(case_id=case_id, asset_id="car", measure="seize")
    )
    with pytest.raises(GateRefused) as refused:
        await z.decide(case_id, approve=True, reason="同意", ruling_number="N", identity=LEADER)
    assert refused.value.unmet_rules == ["zhongben.assets-disposed"]
    last = (await staged(court.intake.ctx))[-1].payload
    assert isinstance(last, case_events_pb2.ZhongbenRefused)
    assert list(last.unmet_rules) == ["zhongben.assets-disposed"]
    record = await court.intake.records.read(case_id)
    assert record is not None and record.status is CaseStatus.FILED and not record.get("zhongben")


async def ruled(court: Court) -> str:
    case_id = await court.ready()
    await court.zhongben.propose(case_id, "无财产", identity=OFFICER)
    await court.zhongben.decide(case_id, approve=True, reason="同意", ruling_number="R1",
                                identity=LEADER)  # fmt: skip
    return case_id


async def test_resumption_files_a_resumed_case_once() -> None:
    court = Court()
    case_id = await ruled(court)
    open_case = await court.file()
    with pytest.raises(Conflict, match="not closed by a 终本 ruling"):
        await court.zhongben.resume(open_case, ResumptionCause.ASSETS_FOUND, "x", identity=CLERK)
    claim = (await court.intake.records.read(case_id)).filed.claim_amount_fen  # type: ignore[union-attr]
    with pytest.raises(Invalid, match=r"more than what is left of case .* claim") as refused:
        await court.zhongben.resume(case_id, ResumptionCause.ASSETS_FOUND, "x", identity=CLERK,
                                    claim_amount_fen=claim + 1)  # fmt: skip
    assert refused.value.loc == ("body", "claim_amount_fen")
    resumed = await court.zhongben.resume(case_id, ResumptionCause.ASSETS_FOUND, "发现房产",
                                          identity=CLERK, claim_amount_fen=claim - 100)  # fmt: skip
    assert resumed.case_number == "（2026）苏1283执恢1号"
    assert resumed.resumed_from == case_id
    new = await court.intake.records.read(resumed.case_id)
    assert new is not None and new.filed is not None and new.status is CaseStatus.FILED
    assert new.filed.case_type_code == "执恢"
    assert new.filed.resumed_from_case_id == case_id
    assert new.filed.resumed_from_case_number == "（2026）苏1283执1号"
    assert new.filed.debtors[0].name == "某某有限公司"
    assert new.filed.claim_amount_fen == claim - 100  # what is left of the claim, as asked
    assert new.get("case_account") and new.get("case_account") != (
        await court.intake.records.read(case_id)
    ).get("case_account")  # type: ignore[union-attr]
    types = await staged_types(court.intake.ctx)
    assert types[-4:] == ["ApplicationReceived", "CaseFiled", "CaseNumberIssued",
                          "ExecutionResumed"]  # fmt: skip
    with pytest.raises(Conflict, match="resumed as"):
        await court.zhongben.resume(case_id, ResumptionCause.APPLICANT_REQUEST, "再次",
                                    identity=OFFICER)  # fmt: skip


async def test_a_resumption_enforces_the_claim_less_what_was_paid_out_of_it() -> None:
    court = Court()
    case_id = await ruled(court)
    claim = (await court.intake.records.read(case_id)).filed.claim_amount_fen  # type: ignore[union-attr]

    async def paid(amount: int, n: int) -> None:
        await court.other_services_report(
            funds_events_pb2.FundsArrived(case_id=case_id, payment_id=f"p{n}", amount_fen=amount),
            funds_events_pb2.FundsPaid(case_id=case_id, payment_id=f"p{n}", payout_id=f"o{n}",
                                       amount_fen=amount),
        )  # fmt: skip

    await paid(claim - 1_000, 1)
    with pytest.raises(Invalid, match=r"paid out or lodged: 1000\)") as refused:
        await court.zhongben.resume(case_id, ResumptionCause.ASSETS_FOUND, "x", identity=CLERK,
                                    claim_amount_fen=1_001)  # fmt: skip
    assert refused.value.loc == ("body", "claim_amount_fen")
    await court.other_services_report(  # the rest lodged (提存) for the applicant: all of it
        funds_events_pb2.FundsArrived(case_id=case_id, payment_id="p2", amount_fen=1_000),
        funds_events_pb2.PaymentLodged(case_id=case_id, payment_id="p2", hold_id="h2",
                                       amount_fen=1_000),
    )  # fmt: skip
    with pytest.raises(Conflict, match=r"resuming enforcement would resume nothing.*after-ruling"):
        await court.zhongben.resume(case_id, ResumptionCause.ASSETS_FOUND, "x", identity=CLERK)

    court = Court()
    case_id = await ruled(court)
    await paid(600, 1)
    resumed = await court.zhongben.resume(case_id, ResumptionCause.ASSETS_FOUND, "发现房产",
                                          identity=CLERK)  # fmt: skip
    new = await court.intake.records.read(resumed.case_id)
    assert new is not None and new.filed is not None
    assert new.filed.claim_amount_fen == claim - 600  # by default, what is left


async def test_an_upheld_objection_revokes_the_ruling_and_resumes_the_case() -> None:
    court = Court()
    case_id = await ruled(court)
    z = court.zhongben
    assert await z.serve_ruling(case_id, identity=CLERK) == china_today(court.clock).isoformat()
    with pytest.raises(Conflict, match="served"):
        await z.serve_ruling(case_id, identity=CLERK)
    objection_id = await z.object(case_id, "被执行人有房产", None, identity=CLERK)
    with pytest.raises(ScopeError, match=r"zhongben\.leader-approval"):
        await z.decide_objection(case_id, objection_id, upheld=True, reason="x",
                                 identity=person(Role.LEADER, subject="o-1"))  # fmt: skip
    # Nor the leader who approved the ruling objected to: no one reviews their own decision.
    with pytest.raises(ScopeError, match=r"leader-1 is who approved the ruling objected to"):
        await z.decide_objection(case_id, objection_id, upheld=False, reason="x",
                                 identity=LEADER)  # fmt: skip
    another = person(Role.LEADER, subject="leader-2")
    with pytest.raises(NotFound):
        await z.decide_objection(case_id, "no-such", upheld=True, reason="x", identity=another)
    resumed = await z.decide_objection(case_id, objection_id, upheld=True, reason="终本不当",
                                       identity=another)  # fmt: skip
    assert resumed is not None and resumed.case_number == "（2026）苏1283执恢1号"
    types = await staged_types(court.intake.ctx)
    assert types[-6:] == ["ZhongbenObjectionDecided", "ZhongbenRevoked", "ApplicationReceived",
                          "CaseFiled", "CaseNumberIssued", "ExecutionResumed"]  # fmt: skip
    resumed_event = (await staged(court.intake.ctx))[-1].payload
    assert isinstance(resumed_event, case_events_pb2.ExecutionResumed)
    assert resumed_event.cause == "objection_upheld"
    with pytest.raises(Conflict, match="resumed as"):
        await z.object(case_id, "again", None, identity=CLERK)


async def test_a_case_withdrawn_is_closed_whatever_its_account_holds() -> None:
    """Its money is owed back to who paid it, which funds has no act for yet: the rule does
    not hold such a closure (PAYS_THE_APPLICANT)."""
    court = Court()
    case_id = await court.file()
    await court.other_services_report(
        funds_events_pb2.FundsArrived(case_id=case_id, payment_id="p1", amount_fen=500),
    )
    await court.intake.close(case_id, ClosureMethod.WITHDRAWN, identity=OFFICER)
    record = await court.intake.records.read(case_id)
    assert record is not None and record.status is CaseStatus.CLOSED


@pytest.mark.parametrize("method", [ClosureMethod.PERFORMED, ClosureMethod.TERMINATED])
async def test_a_case_is_not_closed_while_its_money_waits_in_its_account(
    method: ClosureMethod,
) -> None:
    court = Court()
    case_id = await court.file()
    await court.other_services_report(
        funds_events_pb2.FundsArrived(case_id=case_id, payment_id="p1", amount_fen=8_000_000,
                                      source="payment"),
    )  # fmt: skip
    with pytest.raises(Conflict, match=r"8000000.*case\.money-paid-out"):
        await court.intake.close(case_id, method, identity=OFFICER)
    assert "CaseClosed" not in await staged_types(court.intake.ctx)
    await court.other_services_report(
        funds_events_pb2.FundsPaid(case_id=case_id, payment_id="p1", payout_id="o1",
                                   amount_fen=8_000_000),
    )  # fmt: skip
    await court.intake.close(case_id, method, identity=OFFICER)
    record = await court.intake.records.read(case_id)
    assert record is not None and record.status is CaseStatus.CLOSED
    assert record.get("closed_method") == method.value


async def test_an_objection_is_not_upheld_into_a_resumption_of_a_claim_paid_in_full() -> None:
    court = Court()
    case_id = await ruled(court)
    claim = (await court.intake.records.read(case_id)).filed.claim_amount_fen  # type: ignore[union-attr]
    await court.other_services_report(
        funds_events_pb2.FundsArrived(case_id=case_id, payment_id="p1", amount_fen=claim),
        funds_events_pb2.FundsPaid(case_id=case_id, payment_id="p1", payout_id="o1",
                                   amount_fen=claim),
    )  # fmt: skip
    objection_id = await court.zhongben.object(case_id, "被执行人有房产", None, identity=CLERK)
    another = person(Role.LEADER, subject="leader-2")
    with pytest.raises(Conflict, match="upholding the objection would resume nothing"):
        await court.zhongben.decide_objection(case_id, objection_id, upheld=True, reason="x",
                                              identity=another)  # fmt: skip
    # Nothing was recorded: the objection may still be decided.
    assert "ZhongbenObjectionDecided" not in await staged_types(court.intake.ctx)
