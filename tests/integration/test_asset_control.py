"""Asset control through the real stack: intake files a case on Kafka, asset control
queries every channel of the agency gateway over gRPC, records and freezes what it finds
within the claim, and the command service opens and clears the clocks."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.agency_gateway.synthetic import synthetic_assets
from tests.conftest import Isolated, read_topic
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.assets import CHANNELS, LIQUID_KINDS, AssetKind, Channel
from zhixing.auth import Role
from zhixing.events import decode_event
from zhixing.topics import ASSET_EVENTS
from zhixing.v1 import agency_gateway_pb2 as agency_pb

pytestmark = pytest.mark.integration

SEED = 2021


def everything_found(debtor_id: str) -> list[agency_pb.AgencyAsset]:
    return [a for channel in CHANNELS for a in synthetic_assets(SEED, debtor_id, channel)]


def debtor_with(predicate: Any) -> str:
    """The first synthetic debtor whose assets satisfy ``predicate`` (deterministic)."""
    for serial in range(1, 5000):
        debtor = credit_code(serial)
        if predicate(everything_found(debtor)):
            return debtor
    raise AssertionError("no synthetic debtor fits")


def money_and_online_house(assets: list[agency_pb.AgencyAsset]) -> bool:
    money = [a for a in assets if AssetKind(a.kind) in LIQUID_KINDS]
    houses = [a for a in assets if a.kind == AssetKind.REAL_ESTATE and a.online_control]
    return len(money) >= 1 and len(houses) == 1


def case_with(debtor_id: str, claim: int, court: str = "苏1283") -> dict[str, Any]:
    return filing(
        court,
        debtors=[{"kind": "organisation", "name": "某某有限公司", "id_number": debtor_id}],
        claim_amount_fen=claim,
        costs_fen=1000,
    )


async def file_case(stack: Stack, body: dict[str, Any]) -> str:
    clerk = stack.headers(Role.CLERK, body["court_code"])
    async with stack.client(stack.intake) as client:
        response = await client.post("/v1/cases", json=body, headers=clerk)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


async def case_view(stack: Stack, case_id: str) -> dict[str, Any] | None:
    async with stack.client(stack.assets) as client:
        response = await client.get(
            f"/v1/cases/{case_id}/assets", headers=stack.headers(Role.COMMAND, "苏12")
        )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def until_query(
    stack: Stack, case_id: str, status: str, *, step_s: float = 0
) -> dict[str, Any]:
    """Wait for the case's query to reach ``status``, moving simulated time on by
    ``step_s`` per poll so backoffs and feedback timeouts come due."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        if step_s:
            stack.clock.advance(dt.timedelta(seconds=step_s))
        view = await case_view(stack, case_id)
        if view is None:
            return False
        seen.update(view)
        pending = [a for a in view["assets"] if a["status"] == "control_pending"]
        return view["query"]["status"] == status and not pending

    await eventually(reached, within_s=90)
    return seen


async def asset_events(isolated: Isolated) -> list[Any]:
    return [decode_event(r.value) for r in await read_topic(isolated, ASSET_EVENTS.name)]


async def test_a_case_is_queried_on_every_channel_frozen_within_the_claim_and_disposed_on_time(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_and_online_house)
    found = everything_found(debtor)
    money = sum(a.value_fen for a in found if AssetKind(a.kind) in LIQUID_KINDS)
    claim = money + 50_000  # the money falls short, so the house matters
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, case_with(debtor, claim))
        view = await until_query(stack, case_id, "completed")

        # Every channel answered; exactly the synthetic assets were recorded, once each.
        assert {u["channel"] for u in view["query"]["units"]} == set(CHANNELS)
        assert {a["asset_key"] for a in view["assets"]} == {a.asset_key for a in found}
        assert len(view["assets"]) == len(found)
        # Money found online was frozen at once, each for its exact balance (all needed).
        frozen = {a["asset_key"]: a for a in view["assets"] if a["status"] == "controlled"}
        for asset in found:
            if AssetKind(asset.kind) in LIQUID_KINDS:
                assert frozen[asset.asset_key]["amount_fen"] == asset.value_fen
        assert view["reserved_fen"] == money <= view["needed_fen"] == claim + 1000

        house = next(a for a in view["assets"] if a["kind"] == AssetKind.REAL_ESTATE)
        async with stack.client(stack.assets) as client:
            # The house is worth more than the 51,000 fen still needed: refused, with numbers.
            refused = await client.post(
                f"/v1/assets/{house['asset_id']}/control",
                json={},
                headers=stack.headers(Role.OFFICER, subject="officer-a"),
            )
            assert refused.status_code == 409
            assert "over-seizure" in refused.json()["detail"]
            assert str(view["needed_fen"]) in refused.json()["detail"]
            # An officer cannot approve the exception; a leader can, and then it goes.
            not_leader = await client.post(
                f"/v1/assets/{house['asset_id']}/over-seizure-exception",
                json={"reason": "房屋不可分割"},
                headers=stack.headers(Role.OFFICER, subject="officer-a"),
            )
            assert not_leader.status_code == 403
            approved = await client.post(
                f"/v1/assets/{house['asset_id']}/over-seizure-exception",
                json={"reason": "房屋不可分割"},
                headers=stack.headers(Role.LEADER, subject="leader-1"),
            )
            assert approved.status_code == 204, approved.text
            controlled = await client.post(
                f"/v1/assets/{house['asset_id']}/control",
                json={},
                headers=stack.headers(Role.OFFICER, subject="officer-a"),
            )
            assert controlled.status_code == 200, controlled.text

        async def house_controlled() -> bool:
            asset = await stack.control.records.asset(house["asset_id"])
            return asset is not None and asset["status"] == "controlled"

        await eventually(house_controlled)

        # The command service opened the disposal and control-term clocks of the house,
        # and cleared the network-query clock of the case.
        async def clocks_open() -> bool:
            rules = {c.rule_id: c for c in await stack.engine.clocks_of(house["asset_id"])}
            return {"disposal.reference-price", "asset.control-term-real-estate"} <= set(rules)

        await eventually(clocks_open)

        # The case's completion and the house's control are on different partitions (keyed
        # by case and by asset), so either may reach the engine first.
        async def query_clock_cleared() -> bool:
            clocks = {c.rule_id: c for c in await stack.engine.clocks_of(case_id)}
            return clocks["asset.network-query"].status == "cleared"

        await eventually(query_clock_cleared)

        async with stack.client(stack.assets) as client:
            path = f"/v1/assets/{house['asset_id']}"
            start = await client.post(
                f"{path}/reference-price", json={"method": "网络询价"},
                headers=stack.headers(Role.OFFICER, subject="officer-a"),
            )  # fmt: skip
            assert start.status_code == 204, start.text
            fixed = await client.post(
                f"{path}/reference-price/fixed", json={"price_fen": house["value_fen"]},
                headers=stack.headers(Role.OFFICER, subject="officer-a"),
            )  # fmt: skip
            assert fixed.status_code == 204, fixed.text
            # Separation of duties: the officer who seized it cannot approve its sale.
            own = await client.post(
                f"{path}/sale", json={}, headers=stack.headers(Role.OFFICER, subject="officer-a")
            )
            assert own.status_code == 403
            assert "分段办理" in own.json()["detail"]
            offline = await client.post(
                f"{path}/sale", json={"mode": "offline_auction"},
                headers=stack.headers(Role.OFFICER, subject="officer-b"),
            )  # fmt: skip
            assert offline.status_code == 422  # online auction first, unless a reason is given
            sale = await client.post(
                f"{path}/sale", json={}, headers=stack.headers(Role.OFFICER, subject="officer-b")
            )
            assert sale.status_code == 204, sale.text

        async def sale_clock_cleared() -> bool:
            clocks = {c.rule_id: c for c in await stack.engine.clocks_of(house["asset_id"])}
            sale_clock = clocks.get("disposal.sale-start")
            return sale_clock is not None and sale_clock.status == "cleared"

        await eventually(sale_clock_cleared)
        price = {c.rule_id: c for c in await stack.engine.clocks_of(house["asset_id"])}
        assert price["disposal.reference-price"].status == "cleared"

        # Intake triaged the case from the query: the money falls short and a house needs
        # selling, so it is an ordinary case.
        async def triaged() -> bool:
            async with stack.client(stack.intake) as client:
                case = await client.get(f"/v1/cases/{case_id}", headers=stack.headers(Role.OFFICER))
            return bool(case.json().get("track") == "ordinary")

        await eventually(triaged)


async def test_gateway_failures_timeouts_and_duplicate_feedback_lose_and_double_nothing(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtors = [credit_code(serial) for serial in (11, 12, 13)]
    # Feedback comes ten simulated minutes after a request, later than the feedback timeout
    # (four minutes) and the retry of a submission that timed out: the same request id is
    # submitted again.
    faults = {
        "failure_rate": 0.4,
        "timeout_rate": 0.3,
        "hang_seconds": 0.6,
        "duplicate_rate": 1.0,
        "latency_ms": 600_000,
    }
    agency = {
        "call_timeout_s": 0.3,
        "max_attempts": 50,
        "backoff_base_s": 5.0,
        "feedback_timeout_s": 240.0,
    }
    async with platform_stack(
        isolated, tmp_path, gateway=faults, agency=agency, with_command=False
    ) as stack:
        cases = {}
        for debtor in debtors:
            cases[debtor] = await file_case(stack, case_with(debtor, 10**12))
        for debtor, case_id in cases.items():
            view = await until_query(stack, case_id, "completed", step_s=120)
            assert {a["asset_key"] for a in view["assets"]} == {
                a.asset_key for a in everything_found(debtor)
            }
            money = [a for a in view["assets"] if AssetKind(a["kind"]) in LIQUID_KINDS]
            assert all(a["status"] == "controlled" for a in money)
            assert view["reserved_fen"] == sum(a["value_fen"] for a in money)
        served = stack.gateway.gateway.state.requests
        assert any(r.submissions > 1 for r in served.values()), "no resubmission happened"

    events = await asset_events(isolated)
    found = Counter(e.aggregate_id for e in events if e.event_type.endswith(".AssetFound"))
    controlled = Counter(
        e.aggregate_id for e in events if e.event_type.endswith(".AssetControlled")
    )
    completed = Counter(
        e.aggregate_id for e in events if e.event_type.endswith(".NetworkQueryCompleted")
    )
    answered = Counter(
        (e.aggregate_id, answer.channel)
        for e in events
        if e.event_type.endswith(".QueryChannelsAnswered")
        for answer in e.payload.answers
    )
    assert set(completed) == set(cases.values()) and set(completed.values()) == {1}
    assert set(answered.values()) == {1} and len(answered) == len(cases) * len(CHANNELS)
    assert found and set(found.values()) == {1}
    assert controlled and set(controlled.values()) == {1}


async def test_a_channel_that_keeps_failing_is_reported_and_the_query_stays_open(
    isolated: Isolated, tmp_path: Path
) -> None:
    gateway = {"failing_channels": [Channel.INSURANCE]}
    agency = {"max_attempts": 3, "backoff_base_s": 5.0}
    async with platform_stack(isolated, tmp_path, gateway=gateway, agency=agency) as stack:
        case_id = await file_case(stack, case_with(credit_code(21), 10**9))

        async def reported() -> bool:
            stack.clock.advance(dt.timedelta(seconds=30))
            view = await case_view(stack, case_id)
            units = view["query"]["units"] if view else []
            return any(u["status"] == "failed" for u in units)

        await eventually(reported)
        view = await case_view(stack, case_id)
        assert view is not None and view["query"]["status"] == "running"
        failed = [u for u in view["query"]["units"] if u["status"] == "failed"]
        assert [u["channel"] for u in failed] == ["insurance"]
        assert "unavailable" in failed[0]["error"]
        clocks = {c.rule_id: c for c in await stack.engine.clocks_of(case_id)}
        assert clocks["asset.network-query"].status == "running"

        # The outage ends; the officer retries; the query completes and the clock clears.
        stack.gateway.gateway.settings.failing_channels = []
        async with stack.client(stack.assets) as client:
            retried = await client.post(
                f"/v1/cases/{case_id}/queries/retry", headers=stack.headers(Role.OFFICER)
            )
        assert retried.json() == {"channels_retried": 1}
        await until_query(stack, case_id, "completed")

        async def cleared() -> bool:
            clocks = {c.rule_id: c for c in await stack.engine.clocks_of(case_id)}
            return clocks["asset.network-query"].status == "cleared"

        await eventually(cleared)

    events = await asset_events(isolated)
    assert any(e.event_type.endswith(".ChannelQueryFailed") for e in events)


def money_online(assets: list[agency_pb.AgencyAsset]) -> bool:
    money = [a for a in assets if AssetKind(a.kind) in LIQUID_KINDS and a.online_control]
    return len(money) >= 1 and money[0].value_fen > 10_000


async def test_over_a_year_a_simple_case_converts_and_a_lapsed_freeze_lets_the_waiting_one_in(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_online)
    first_money = next(a for a in everything_found(debtor) if AssetKind(a.kind) in LIQUID_KINDS)
    async with platform_stack(isolated, tmp_path) as stack:
        # Case A (泰兴) needs less than the debtor's first account holds: a simple case.
        case_a = await file_case(stack, case_with(debtor, first_money.value_fen // 2))
        view_a = await until_query(stack, case_a, "completed")
        # Case B (靖江, another court) on the same debtor: that account is held by A, so B's
        # freeze waits behind it (轮候).
        case_b = await file_case(stack, case_with(debtor, 10**12, court="苏1282"))
        view_b = await until_query(stack, case_b, "completed")
        a_asset = next(a for a in view_a["assets"] if a["asset_key"] == first_money.asset_key)
        b_asset = next(a for a in view_b["assets"] if a["asset_key"] == first_money.asset_key)
        assert a_asset["status"] == "controlled"
        assert a_asset["amount_fen"] == view_a["needed_fen"]
        assert b_asset["status"] == "waiting"

        async def track_of(case_id: str) -> str:
            async with stack.client(stack.intake) as client:
                case = await client.get(
                    f"/v1/cases/{case_id}", headers=stack.headers(Role.COMMAND, "苏12")
                )
            return str(case.json().get("track", ""))

        async def track_is(case_id: str, track: str) -> bool:
            return await track_of(case_id) == track

        await eventually(lambda: track_is(case_a, "simple"))

        # Three months and a bit later, A is not closed: it converts to the ordinary track.
        stack.clock.advance(dt.timedelta(days=100))
        await eventually(lambda: track_is(case_a, "ordinary"))

        # A year after the freeze nobody renewed it: it lapses, and B's takes effect.
        stack.clock.advance(dt.timedelta(days=300))

        async def b_in_effect() -> bool:
            asset = await stack.control.records.asset(b_asset["asset_id"])
            return asset is not None and asset["status"] == "controlled"

        await eventually(b_in_effect)
        lapsed = await stack.control.records.asset(a_asset["asset_id"])
        promoted = await stack.control.records.asset(b_asset["asset_id"])
        assert lapsed is not None and lapsed["status"] == "lapsed"
        assert promoted is not None and promoted["rank"] == "from_waiting"

        async def b_term_running() -> bool:
            clocks = {c.rule_id: c for c in await stack.engine.clocks_of(b_asset["asset_id"])}
            term = clocks.get("asset.control-term-deposits")
            return term is not None and term.status == "running"

        await eventually(b_term_running)

    events = await asset_events(isolated)
    lapses = [e for e in events if e.event_type.endswith(".ControlLapsed")]
    lapsed_ids = Counter(e.aggregate_id for e in lapses)
    # A's freeze lapsed once (B's other freezes, made on day one, lapsed too); B's waiting
    # freeze did not, its term started when it took effect.
    assert lapsed_ids[a_asset["asset_id"]] == 1 and b_asset["asset_id"] not in lapsed_ids
    assert all("失效" in e.payload.effect for e in lapses)


def an_offline_asset(assets: list[agency_pb.AgencyAsset]) -> bool:
    return any(not a.online_control for a in assets)


async def test_leads_and_offline_assets_run_on_their_clocks(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(an_offline_asset)
    body = case_with(debtor, 10**12)
    body["asset_leads"] = [
        {"description": "被执行人名下位于泰兴市的商铺，近日拟转让", "channel": "real_estate",
         "urgent": True},
        {"description": "被执行人在某银行有存款", "channel": "bank"},
    ]  # fmt: skip
    async with platform_stack(isolated, tmp_path) as stack:
        case_id = await file_case(stack, body)
        view = await until_query(stack, case_id, "completed")
        urgent, plain = view["leads"]
        assert urgent["urgent"] and not plain["urgent"]

        async def lead_clocks(lead_id: str) -> dict[str, Any]:
            return {c.rule_id: c for c in await stack.engine.clocks_of(lead_id)}

        async def lead_clocks_open() -> bool:
            # Each lead is a clock subject of its own: its clocks are opened by an event of
            # its own, which may be applied after the other lead's.
            clocks = await lead_clocks(urgent["lead_id"])
            return {"asset.urgent-lead", "asset.lead-verify-urgent"} <= set(clocks) and (
                "asset.lead-verify" in await lead_clocks(plain["lead_id"])
            )

        await eventually(lead_clocks_open)
        clocks = await lead_clocks(urgent["lead_id"])
        hours = clocks["asset.urgent-lead"].due_at - clocks["asset.urgent-lead"].started_at
        assert hours == dt.timedelta(hours=24)
        assert "asset.lead-verify" not in clocks  # the urgent lead's is the urgent rule's

        officer = stack.headers(Role.OFFICER, subject="officer-a")
        async with stack.client(stack.assets) as client:
            started = await client.post(
                f"/v1/leads/{urgent['lead_id']}/verification-start", headers=officer
            )
            assert started.status_code == 204
            shop = {
                "kind": "real_estate", "asset_key": "real_estate:泰房权证2026-0001",
                "description": "泰兴市商铺", "value_fen": 80_000_000, "online_control": False,
            }  # fmt: skip
            verified = await client.post(
                f"/v1/leads/{urgent['lead_id']}/verification", json={"found": shop},
                headers=officer,
            )  # fmt: skip
            assert verified.status_code == 200, verified.text
            shop_id = verified.json()["asset_id"]
            # An offline asset is controlled by hand, and says with which ruling.
            no_ref = await client.post(f"/v1/assets/{shop_id}/control", json={}, headers=officer)
            assert no_ref.status_code == 422
            assert no_ref.json()["detail"][0]["loc"] == ["body", "control_ref"]

        async def offline_clock_open() -> bool:
            return "asset.offline-control" in {
                c.rule_id for c in await stack.engine.clocks_of(shop_id)
            }

        await eventually(offline_clock_open)
        async with stack.client(stack.assets) as client:
            done = await client.post(
                f"/v1/assets/{shop_id}/control", json={"control_ref": "（2026）苏1283执1号之一"},
                headers=officer,
            )  # fmt: skip
            assert done.status_code == 200, done.text
            assert done.json()["status"] == "controlled"

        async def settled() -> bool:
            lead = await lead_clocks(urgent["lead_id"])
            shop = {c.rule_id: c for c in await stack.engine.clocks_of(shop_id)}
            return (
                lead["asset.urgent-lead"].status == "cleared"
                and lead["asset.lead-verify-urgent"].status == "cleared"
                and shop["asset.offline-control"].status == "cleared"
                and "asset.control-term-real-estate" in shop
            )

        await eventually(settled)


async def test_only_the_handling_court_acts_on_its_assets_and_overseers_only_read(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_online)
    async with platform_stack(isolated, tmp_path, with_command=False) as stack:
        case_id = await file_case(stack, case_with(debtor, 10**12))
        view = await until_query(stack, case_id, "completed")
        asset_id = view["assets"][0]["asset_id"]
        release = {"reason": "测试"}
        async with stack.client(stack.assets) as client:
            other_court = await client.post(
                f"/v1/assets/{asset_id}/release", json=release,
                headers=stack.headers(Role.OFFICER, "苏1282"),
            )  # fmt: skip
            assert other_court.status_code == 404
            hidden = await client.get(
                f"/v1/assets/{asset_id}", headers=stack.headers(Role.OFFICER, "苏1282")
            )
            assert hidden.status_code == 404
            overseer = stack.headers(Role.OVERSEER, "苏12")
            assert (await client.get(f"/v1/assets/{asset_id}", headers=overseer)).status_code == 200
            refused = await client.post(
                f"/v1/assets/{asset_id}/release", json=release, headers=overseer
            )
            assert refused.status_code == 403
            unchanged = await stack.control.records.asset(asset_id)
            assert unchanged is not None and unchanged["status"] == "controlled"


async def test_bad_control_requests_are_refused_naming_the_field_and_change_nothing(
    isolated: Isolated, tmp_path: Path
) -> None:
    debtor = debtor_with(money_online)
    async with platform_stack(isolated, tmp_path, with_command=False) as stack:
        case_id = await file_case(stack, case_with(debtor, 10**12))
        view = await until_query(stack, case_id, "completed")
        money = next(a for a in view["assets"] if AssetKind(a["kind"]) in LIQUID_KINDS)
        officer = stack.headers(Role.OFFICER)
        path = f"/v1/assets/{money['asset_id']}"
        async with stack.client(stack.assets) as client:
            released = await client.post(
                f"{path}/release", json={"reason": "被执行人提供担保"}, headers=officer
            )
            assert released.status_code == 204, released.text
            after_release = await case_view(stack, case_id)
            assert after_release is not None
            assert after_release["reserved_fen"] == view["reserved_fen"] - money["amount_fen"]
            for body, field, says in (
                ({}, "amount_fen", "exact amount"),
                ({"amount_fen": money["value_fen"] + 1}, "amount_fen", "more than the balance"),
                ({"amount_fen": 1.5}, "amount_fen", "integer"),
                ({"amount_fen": 0}, "amount_fen", "greater than 0"),
                ({"amount_fen": 100, "measure": "detain"}, "measure", "not detain"),
                ({"amount_fen": 100, "measure": "steal"}, "measure", "Input should be"),
                ({"amount_fen": 100, "extra": 1}, "extra", "Extra inputs"),
            ):
                response = await client.post(f"{path}/control", json=body, headers=officer)
                assert response.status_code == 422, (body, response.text)
                errors = response.json()["detail"]
                assert any(e["loc"][-1] == field and says in e["msg"] for e in errors), errors
            unchanged = await stack.control.records.asset(money["asset_id"])
            assert unchanged is not None and unchanged["status"] == "released"
            # Controlled again later (a new ruling), for a valid amount: it goes out.
            again = await client.post(f"{path}/control", json={"amount_fen": 100}, headers=officer)
            assert again.status_code == 200, again.text
            assert again.json() == {
                "asset_id": money["asset_id"],
                "status": "control_pending",
                "amount_fen": 100,
            }
            twice = await client.post(f"{path}/control", json={"amount_fen": 100}, headers=officer)
            assert twice.status_code == 409


async def test_a_query_the_outside_system_never_answers_is_reported_failing(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Accepted but never answered (the outside system lost it): sent again at each
    feedback timeout, and reported failing once its tries are spent, not sent for ever."""
    gateway = {"latency_ms": 10**10}  # accepts every request; no answer is ever ready
    agency = {"max_attempts": 3, "feedback_timeout_s": 60.0}
    async with platform_stack(isolated, tmp_path, gateway=gateway, agency=agency) as stack:
        case_id = await file_case(stack, case_with(credit_code(22), 10**9))

        async def all_failed() -> bool:
            stack.clock.advance(dt.timedelta(seconds=30))
            view = await case_view(stack, case_id)
            units = view["query"]["units"] if view else []
            return bool(units) and all(u["status"] == "failed" for u in units)

        await eventually(all_failed, within_s=90)
        view = await case_view(stack, case_id)
        assert view is not None and view["query"]["status"] == "running"
        for unit in view["query"]["units"]:
            assert unit["tries"] == 3 and unit["error"] == "no answer after 3 submissions"
        # The same id three times, each waited out; reported then, not sent a fourth time.
        submissions = [r.submissions for r in stack.gateway.gateway.state.requests.values()]
        assert submissions and all(n == 3 for n in submissions)

    events = await asset_events(isolated)
    failed = [e for e in events if e.event_type.endswith(".ChannelQueryFailed")]
    assert len(failed) == len(view["query"]["units"])


async def test_a_worker_resting_idle_sends_a_new_case_s_queries_at_once(
    isolated: Isolated, tmp_path: Path
) -> None:
    """The agency worker rests long once idle (issue 19: polling cost at rest); the
    transaction that queues a filed case's queries signals it (``zhixing.polling``), so
    they are sent at once, not when the rest (here half a minute) is over. The simulated
    clock stands still: only the signal can wake the worker."""
    agency = {"poll_interval_s": 30.0, "idle_interval_s": 30.0}
    gateway = {"latency_ms": 10**10}  # answers never come: the units stay submitted
    async with platform_stack(isolated, tmp_path, gateway=gateway, agency=agency) as stack:
        case_id = await file_case(stack, case_with(credit_code(23), 10**9))

        async def all_submitted() -> bool:
            view = await case_view(stack, case_id)
            units = view["query"]["units"] if view else []
            return bool(units) and all(u["status"] == "submitted" for u in units)

        await eventually(all_submitted, within_s=20)
