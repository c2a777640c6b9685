"""终本 through real hosts on Kafka and Redis: intake with asset control and the agency
gateway; the credit facts are published on the credit topic as the credit service states
them. Each condition of the gate alone refuses the proposal naming exactly its rule; the
minimum period counts on the simulated clock; a leader who is not the handling officer rules
it, which closes the case; resumption files a 执恢 case linked to the original, once."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.intake.zhongben_domain import GATE_RULES
from tests.conftest import Isolated, read_topic
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, debtor_with, money_online
from tests.polling import eventually
from zhixing.assets import LIQUID_KINDS, AssetKind, Channel
from zhixing.auth import Role
from zhixing.clock import china_today
from zhixing.events import decode_event, new_event
from zhixing.periods import add_months
from zhixing.publisher import EventPublisher
from zhixing.rules import catalogue
from zhixing.topics import CASE_EVENTS
from zhixing.v1 import case_events_pb2, credit_events_pb2, envelope_pb2

pytestmark = pytest.mark.integration

COURT = "苏1283"
OFFICER_ID = "officer-zb"
NOTHING_FOUND = debtor_with(lambda assets: not assets)
CLAIM_FEN = 10**8


def _only_money_frozen_whole(assets: list[Any]) -> bool:
    """Money online only, all of it within the claim: the query freezes every asset."""
    return (
        money_online(assets)
        and sum(a.value_fen for a in assets) < CLAIM_FEN
        and all(AssetKind(a.kind) in LIQUID_KINDS and a.online_control for a in assets)
    )


MONEY_FROZEN = debtor_with(_only_money_frozen_whole)
# Property found and left alone: nothing liquid, so the query freezes nothing.
PROPERTY_ONLY = debtor_with(
    lambda assets: bool(assets) and not any(AssetKind(a.kind) in LIQUID_KINDS for a in assets)
)
CREDIT_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_PERSON, id=OFFICER_ID, court_code=COURT, role="officer"
)


def officer(stack: Stack) -> dict[str, str]:
    return stack.headers(Role.OFFICER, COURT, OFFICER_ID)


async def post(stack: Stack, path: str, headers: dict[str, str],
               body: dict[str, Any] | None = None) -> httpx.Response:  # fmt: skip
    async with stack.client(stack.intake) as http:
        return await http.post(path, headers=headers, json=body)


async def gate(stack: Stack, case_id: str) -> dict[str, Any]:
    async with stack.client(stack.intake) as http:
        answer = await http.get(f"/v1/cases/{case_id}/zhongben", headers=officer(stack))
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def until_met(stack: Stack, case_id: str, *rule_ids: str) -> None:
    async def met() -> bool:
        conditions = {c["rule_id"]: c["met"] for c in (await gate(stack, case_id))["gate"]
                      ["conditions"]}  # fmt: skip
        return all(conditions[r] for r in rule_ids)

    await eventually(met, within_s=90)


async def prepared_case(
    stack: Stack, publisher: EventPublisher, *, skip: str = "", debtor: str = NOTHING_FOUND
) -> str:
    """A case of ``COURT`` on which every act of the gate was done, but the one of ``skip``
    (a rule id); the minimum period is left to the clock."""
    clerk = stack.headers(Role.CLERK, COURT)
    filed = await post(stack, "/v1/cases", clerk, case_with(debtor, CLAIM_FEN))
    assert filed.status_code == 201, filed.text
    case_id: str = filed.json()["case_id"]
    case = f"/v1/cases/{case_id}"
    assigned = await post(stack, f"{case}/assignment", clerk, {"officer_id": OFFICER_ID})
    assert assigned.status_code == 204, assigned.text
    acts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("zhongben.report-order", "execution-notice", None),
        ("zhongben.debtor-visited", "visits",
         {"debtor_key": "d0", "kind": "summons", "result": "称无财产"}),
        ("zhongben.applicant-interviewed", "interviews", {"summary": "告知终本的后果"}),
    ]  # fmt: skip
    for rule_id, route, body in acts:
        if rule_id != skip:
            answer = await post(stack, f"{case}/{route}", officer(stack), body)
            assert answer.status_code in (200, 204), f"{route}: {answer.text}"
    if skip == "zhongben.search-punishment":
        concealed = await post(stack, f"{case}/obstructions", officer(stack), {
            "debtor_key": "d0", "kind": "concealment", "details": "拒不交出账簿"})  # fmt: skip
        assert concealed.status_code == 201, concealed.text
    credit: list[tuple[str, Any]] = [
        ("zhongben.restriction", credit_events_pb2.RestrictionOrdered(
            case_id=case_id, restriction_id=str(uuid.uuid4()), debtor_key="d0",
            debtor_id_number=debtor, ruling_number="（2026）苏1283执限1号")),
        # A concealment is a listing ground (法释〔2017〕7号 art 1(3)): that debtor is listed.
        ("zhongben.listing", credit_events_pb2.DebtorListed(
            case_id=case_id, listing_id=str(uuid.uuid4()), debtor_key="d0", ground=3,
            fixed_term="yes") if skip == "zhongben.search-punishment" else
         credit_events_pb2.ListingDeclined(
            case_id=case_id, debtor_key="d0", reason="only_restriction")),
    ]  # fmt: skip
    await publisher.publish_many(
        new_event(
            payload, aggregate_id=case_id, court_code=COURT, actor=CREDIT_ACTOR, clock=stack.clock
        )
        for rule_id, payload in credit
        if rule_id != skip
    )
    return case_id


def past_min_period(stack: Stack) -> None:
    months = catalogue().rule("zhongben.min-period").period.limit
    today = china_today(stack.clock)
    stack.clock.advance(add_months(today, months) - today + dt.timedelta(days=1))


async def propose(stack: Stack, case_id: str) -> httpx.Response:
    return await post(stack, f"/v1/cases/{case_id}/zhongben", officer(stack),
                      {"reason": "穷尽财产调查措施，未发现可供执行的财产"})  # fmt: skip


ALONE = ("zhongben.debtor-visited", "zhongben.applicant-interviewed", "zhongben.report-order",
         "zhongben.restriction", "zhongben.listing", "zhongben.search-punishment")  # fmt: skip


async def test_each_condition_alone_refuses_the_proposal_naming_exactly_its_rule(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    agency = {"max_attempts": 2, "backoff_base_s": 5.0}
    async with platform_stack(isolated, tmp_path, with_command=False, agency=agency) as stack:
        lawful = await prepared_case(stack, publisher)
        lacking = {rule: await prepared_case(stack, publisher, skip=rule) for rule in ALONE}
        lacking["zhongben.assets-disposed"] = await prepared_case(
            stack, publisher, debtor=MONEY_FROZEN
        )
        lacking["zhongben.property-available"] = await prepared_case(
            stack, publisher, debtor=PROPERTY_ONLY
        )
        credit_rules = ("zhongben.restriction", "zhongben.listing")
        for rule, case_id in [("", lawful), *lacking.items()]:
            await until_met(stack, case_id, "zhongben.network-query",
                            *(r for r in credit_rules if r != rule))  # fmt: skip
        # The query of this one never completes: a channel is out.
        stack.gateway.gateway.settings.failing_channels = [Channel.INSURANCE]
        lacking["zhongben.network-query"] = await prepared_case(stack, publisher)
        await until_met(stack, lacking["zhongben.network-query"], *credit_rules)

        early = await propose(stack, lawful)
        assert early.status_code == 409, early.text
        assert early.json()["unmet_rules"] == ["zhongben.min-period"]
        assert "zhongben.min-period" in early.json()["detail"]

        past_min_period(stack)
        for rule, case_id in lacking.items():
            refused = await propose(stack, case_id)
            assert refused.status_code == 409, f"{rule}: {refused.text}"
            assert refused.json()["unmet_rules"] == [rule], rule
            assert rule in refused.json()["detail"]
        assert (await propose(stack, lawful)).status_code == 201
        view = await gate(stack, lawful)
        assert view["gate"]["met"] and view["zhongben"]["state"] == "proposed"


async def test_a_leader_not_the_handling_officer_rules_zhongben_then_the_case_resumes_once(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_command=False) as stack:
        case_id = await prepared_case(stack, publisher)
        other = await prepared_case(stack, publisher)
        await until_met(stack, case_id, "zhongben.network-query", "zhongben.restriction",
                        "zhongben.listing")  # fmt: skip
        past_min_period(stack)
        case = f"/v1/cases/{case_id}"
        closure = await post(stack, f"/v1/cases/{other}/closure", officer(stack),
                             {"method": "终结本次执行"})  # fmt: skip
        assert closure.status_code == 409, closure.text
        assert "zhongben.leader-approval" in closure.json()["detail"]
        assert (await propose(stack, case_id)).status_code == 201

        decision = {
            "approve": True,
            "reason": "符合终本条件",
            "ruling_number": "（2026）苏1283执1号之一",
        }
        as_leader = stack.headers(Role.LEADER, COURT, OFFICER_ID)  # the handling officer
        refused = await post(stack, f"{case}/zhongben/decision", as_leader, decision)
        assert refused.status_code == 403, refused.text
        assert "zhongben.leader-approval" in refused.json()["detail"]
        by_officer = await post(stack, f"{case}/zhongben/decision", officer(stack), decision)
        assert by_officer.status_code == 403, by_officer.text
        leader = stack.headers(Role.LEADER, COURT, "leader-zb")
        ruled = await post(stack, f"{case}/zhongben/decision", leader, decision)
        assert ruled.status_code == 200, ruled.text
        assert ruled.json()["status"] == "closed"
        served = await post(stack, f"{case}/zhongben/service", stack.headers(Role.CLERK, COURT))
        assert served.status_code == 200, served.text

        clerk = stack.headers(Role.CLERK, COURT)
        objected = await post(stack, f"{case}/zhongben/objections", clerk,
                              {"grounds": "被执行人尚有车辆未查控"})  # fmt: skip
        assert objected.status_code == 201, objected.text
        objection = f"{case}/zhongben/objections/{objected.json()['objection_id']}/decision"
        answer = {"upheld": False, "reason": "车辆已查询，登记在案外人名下"}
        own_ruling = await post(stack, objection, leader, answer)  # who approved the ruling
        assert own_ruling.status_code == 403, own_ruling.text
        assert "zhongben.leader-approval" in own_ruling.json()["detail"]
        another_leader = stack.headers(Role.LEADER, COURT, "leader-zb-2")
        decided = await post(stack, objection, another_leader, answer)
        assert decided.status_code == 200, decided.text
        assert "resumed_as" not in decided.json()
        resumption = {"cause": "assets_found", "reason": "申请执行人提供被执行人房产线索"}
        resumed = await post(stack, f"{case}/resumption", clerk, resumption)
        assert resumed.status_code == 201, resumed.text
        new = resumed.json()
        year = china_today(stack.clock).year
        assert new["case_number"] == f"（{year}）{COURT}执恢1号"
        assert new["resumed_from"] == case_id
        again = await post(stack, f"{case}/resumption", clerk, resumption)
        assert again.status_code == 409, again.text

        command = stack.headers(Role.COMMAND, "苏12")
        async with stack.client(stack.intake) as http:
            original = (await http.get(case, headers=command)).json()
            resumed_case = (await http.get(f"/v1/cases/{new['case_id']}", headers=command)).json()
        assert original["status"] == "closed" and original["closed_method"] == "终结本次执行"
        assert original["resumed_as"] == new["case_id"] and original["ruled_on"]
        assert resumed_case["case_type_code"] == "执恢"
        assert resumed_case["resumed_from"] == case_id
        assert resumed_case["resumed_from_case_number"] == original["case_number"]

        # The 执恢 case starts afresh everywhere: asset control queries it.
        async def queried() -> bool:
            async with stack.client(stack.assets) as http:
                view = await http.get(f"/v1/cases/{new['case_id']}/assets", headers=command)
            return view.status_code == 200

        await eventually(queried)

    events = [decode_event(r.value) for r in await read_topic(isolated, CASE_EVENTS.name)]
    of_case = [type(e.payload).__name__ for e in events if e.aggregate_id == case_id]
    assert of_case[-6:] == ["ZhongbenRuled", "CaseClosed", "ZhongbenRulingServed",
                            "ZhongbenObjected", "ZhongbenObjectionDecided",
                            "ExecutionResumed"]  # fmt: skip
    ruling = next(e.payload for e in events if isinstance(e.payload, case_events_pb2.ZhongbenRuled))
    assert (ruling.proposed_by, ruling.approved_by) == (OFFICER_ID, "leader-zb")
    assert list(ruling.checked_rules) == list(GATE_RULES)
    filed = [e.payload for e in events if isinstance(e.payload, case_events_pb2.CaseFiled)
             and e.payload.case_id == new["case_id"]]  # fmt: skip
    assert len(filed) == 1 and filed[0].resumed_from_case_id == case_id
