"""The command centre's figures: counted from events, per court and per jurisdiction, and
the same after the projection is wiped and rebuilt by replaying the topics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.platform_stack import MONDAY_9AM
from tests.integration.test_deadlines import CommandCentre, command_host
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SimulatedClock
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2, case_events_pb2, credit_events_pb2, funds_events_pb2

pytestmark = pytest.mark.integration

VIEWS = (("苏1283", False), ("苏1282", False), ("苏12", True))


def history(clock: SimulatedClock) -> list[Any]:
    """Three cases: two at 泰兴 (one frozen, one closed as 执行完毕 after 30 days), one at
    靖江 (closed as 终结本次执行 after 100 days)."""

    def event(payload: Any, aggregate: str, court: str) -> Any:
        return new_event(payload, aggregate_id=aggregate, court_code=court, actor=ACTOR,
                         clock=clock)  # fmt: skip

    filed = [
        case_events_pb2.CaseFiled(case_id=f"c{n}", court_code=court, case_type_code="执",
                                  claim_amount_fen=1000, filed_on="2026-03-02")
        for n, court in ((1, "苏1283"), (2, "苏1283"), (3, "苏1282"))
    ]  # fmt: skip
    return [
        *(event(f, f.case_id, f.court_code) for f in filed),
        event(asset_events_pb2.AssetControlled(asset_id="a1", case_id="c1", amount_fen=500),
              "a1", "苏1283"),
        event(case_events_pb2.CaseClosed(case_id="c2", method="执行完毕", closed_on="2026-04-01"),
              "c2", "苏1283"),
        event(case_events_pb2.CaseClosed(case_id="c3", method="终结本次执行",
                                         closed_on="2026-06-10"), "c3", "苏1282"),
    ]  # fmt: skip


async def figures(host: CommandCentre, tokens: TokenAuthority, court: str, whole: bool) -> Any:
    token = tokens.issue(subject="c", court_code="苏12", role=Role.COMMAND)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
        answer = await http.get(
            f"/v1/figures/{court}", params={"jurisdiction": whole},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


async def wipe_projection(isolated: Isolated, projection: str) -> None:
    """Delete a command-service projection and its consumer's offsets, so the next host
    rebuilds it by replaying the topics from the start."""
    prefix = f"{isolated.prefix}command:"
    own = (f"{prefix}{projection}", f"{prefix}consumer:command.{projection}")
    doomed = [
        key async for key in isolated.redis.scan_iter(match=f"{prefix}*", count=1000)
        if key.decode().startswith(own)
    ]  # fmt: skip
    assert doomed, f"nothing of the {projection} projection to wipe"
    await isolated.redis.delete(*doomed)


async def test_figures_count_per_court_and_jurisdiction_and_survive_a_replay(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)
    await publisher.publish_many(history(clock))
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def counted() -> bool:
            counts = (await figures(host, tokens, "苏12", True))["counts"]
            # Settled: 4 clocks per filed case opened, the two closed cases' 6-month clocks
            # cleared (in time).
            return bool(
                counts["closed"] == 2 and counts["controlled_cases"] == 1
                and counts["clocks_opened"] == 12 and counts["closed_in_time"] == 2
            )  # fmt: skip

        await eventually(counted)
        taixing = await figures(host, tokens, "苏1283", False)
        assert taixing["counts"]["filed"] == 2 and taixing["counts"]["closed"] == 1
        assert taixing["rates"]["结案率"] == 0.5
        assert taixing["rates"]["执行完毕率"] == 1.0
        assert taixing["rates"]["保全率"] == 0.5
        assert taixing["rates"]["平均结案用时"] == 30.0
        # No money paid yet: nothing recovered, no payout to judge.
        assert taixing["rates"]["实际到位率"] == 0.0
        assert taixing["rates"]["案款发放及时率"] is None
        whole = await figures(host, tokens, "苏12", True)
        assert whole["counts"]["filed"] == 3
        assert whole["rates"]["终本率"] == 0.5
        assert whole["rates"]["平均结案用时"] == 65.0  # (30 + 100) / 2
        before = {court: await figures(host, tokens, court, whole)
                  for court, whole in VIEWS}  # fmt: skip
    finally:
        await host.stop()

    await wipe_projection(isolated, "figures")
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def rebuilt() -> bool:
            after = {court: await figures(host, tokens, court, whole)
                     for court, whole in VIEWS}  # fmt: skip
            return after == before

        await eventually(rebuilt)
    finally:
        await host.stop()


def on(day: int, hour: int = 10) -> dt.datetime:
    """A time in March 2026, China time (2 March is a Monday; no holiday that month)."""
    return dt.datetime(2026, 3, day, hour, 0, tzinfo=CHINA_TZ)


def at(when: dt.datetime, payload: Any, case_id: str, court: str) -> Any:
    return new_event(payload, aggregate_id=case_id, court_code=court, actor=ACTOR,
                     clock=SimulatedClock(when))  # fmt: skip


def payout(case_id: str, court: str, n: int, fen: int, arrived: int, noticed: int, paid: int,
           ) -> list[Any]:  # fmt: skip
    """Money arriving for a case on day ``arrived``, noticed to finance on ``noticed`` and paid
    on ``paid`` (days of March 2026)."""
    payment, notice = f"{case_id}-pay{n}", f"{case_id}-notice{n}"
    return [
        at(on(arrived), funds_events_pb2.FundsArrived(case_id=case_id, payment_id=payment,
           amount_fen=fen, source="deduction"), case_id, court),
        at(on(noticed), funds_events_pb2.PaymentNoticeIssued(case_id=case_id, payment_id=payment,
           notice_id=notice, amount_fen=fen), case_id, court),
        at(on(paid), funds_events_pb2.FundsPaid(case_id=case_id, payment_id=payment,
           notice_id=notice, payout_id=f"{case_id}-out{n}", amount_fen=fen), case_id, court),
    ]  # fmt: skip


def money_history() -> list[Any]:
    """Claims and payouts whose figures differ if anything but paid money, paid at the court
    handling the case, is counted, or if a payout is judged by one of its clocks only.

    泰兴 (苏1283): m1 claims 1,000 yuan, 600 paid in time; m2 claims 3,000, 400 arrived, 100
    of it held back, the rest noticed 14 working days after arrival (the notify-finance
    limit is 10) and paid the same day. 靖江 (苏1282): m3 claims 2,000, 500 noticed at once
    but paid 9 working days later (the pay limit is 5), and 200 more arrived and lodged (提存).
    无锡 (苏02), another jurisdiction: three claims of 2^62 fen each (their sum passes an
    int64), one paid in time."""
    big = 2**62
    filings = [("m1", "苏1283", 100_000), ("m2", "苏1283", 300_000), ("m3", "苏1282", 200_000),
               *((f"w{n}", "苏02", big) for n in range(3))]  # fmt: skip
    filed = [
        at(on(2, 9), case_events_pb2.CaseFiled(case_id=case, court_code=court,
           case_type_code="执", claim_amount_fen=claim, filed_on="2026-03-02"), case, court)
        for case, court, claim in filings
    ]  # fmt: skip
    m2 = "m2"
    held = funds_events_pb2.FundsHeld(case_id=m2, hold_id="m2-hold", payment_id="m2-pay1",
                                      amount_fen=10_000, reason="disputed")  # fmt: skip
    lodged = funds_events_pb2.PaymentLodged(
        case_id="m3", hold_id="m3-hold", payment_id="m3-pay2", amount_fen=20_000,
        reason="applicant_missing",
    )  # fmt: skip
    return [
        *filed,
        *payout("m1", "苏1283", 1, 60_000, arrived=2, noticed=3, paid=4),
        at(on(2), funds_events_pb2.FundsArrived(case_id=m2, payment_id="m2-pay1",
           amount_fen=40_000, source="sale"), m2, "苏1283"),
        at(on(3), held, m2, "苏1283"),
        at(on(20), funds_events_pb2.PaymentNoticeIssued(case_id=m2, payment_id="m2-pay1",
           notice_id="m2-notice1", amount_fen=30_000), m2, "苏1283"),
        at(on(20, 15), funds_events_pb2.FundsPaid(case_id=m2, payment_id="m2-pay1",
           notice_id="m2-notice1", payout_id="m2-out1", amount_fen=30_000), m2, "苏1283"),
        *payout("m3", "苏1282", 1, 50_000, arrived=2, noticed=3, paid=16),
        at(on(2), funds_events_pb2.FundsArrived(case_id="m3", payment_id="m3-pay2",
           amount_fen=20_000, source="payment"), "m3", "苏1282"),
        at(on(3), lodged, "m3", "苏1282"),
        *payout("w0", "苏02", 1, big, arrived=2, noticed=3, paid=4),
    ]  # fmt: skip


async def test_money_figures_count_payouts_and_both_their_clocks_and_survive_a_replay(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)  # the services' time: no timer falls due meanwhile
    tokens = TokenAuthority(isolated.auth, clock)
    await publisher.publish_many(money_history())
    host = command_host(isolated, clock, tmp_path)

    async def view(court: str, whole: bool) -> Any:
        token = tokens.issue(subject="c", court_code="苏", role=Role.COMMAND)  # 江苏高院
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
            answer = await http.get(f"/v1/figures/{court}", params={"jurisdiction": whole},
                                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()

    views = (("苏1283", False), ("苏1282", False), ("苏12", True), ("苏02", False))
    await host.start()
    try:

        async def judged() -> bool:
            taizhou, wuxi = await view("苏12", True), await view("苏02", False)
            return bool(taizhou["counts"]["payouts_judged"] == 3
                        and wuxi["counts"]["payouts_judged"] == 1)  # fmt: skip

        await eventually(judged)
        taixing, jingjiang = await view("苏1283", False), await view("苏1282", False)
        # Paid only (not what arrived, is held or was lodged), over what was claimed.
        assert taixing["counts"]["claimed_fen"] == 400_000
        assert taixing["counts"]["paid_fen"] == 90_000
        assert taixing["rates"]["实际到位率"] == 0.225
        assert jingjiang["counts"]["paid_fen"] == 50_000
        assert jingjiang["rates"]["实际到位率"] == 0.25
        # m2 was paid within its pay limit but noticed late; m3 noticed in time, paid late.
        assert taixing["counts"]["payouts"] == 2 and taixing["counts"]["payouts_in_time"] == 1
        assert taixing["rates"]["案款发放及时率"] == 0.5
        assert jingjiang["rates"]["案款发放及时率"] == 0.0
        taizhou = await view("苏12", True)
        assert taizhou["counts"]["claimed_fen"] == 600_000
        assert taizhou["rates"]["实际到位率"] == round(140_000 / 600_000, 4)
        assert taizhou["rates"]["案款发放及时率"] == round(1 / 3, 4)
        assert taizhou["definitions"]["实际到位率"] and taizhou["definitions"]["案款发放及时率"]
        # Sums past an int64 stay exact.
        wuxi = await view("苏02", False)
        assert wuxi["counts"]["claimed_fen"] == 3 * 2**62 > 2**63 - 1
        assert wuxi["counts"]["paid_fen"] == 2**62
        assert wuxi["rates"]["实际到位率"] == round(1 / 3, 4)
        assert wuxi["rates"]["案款发放及时率"] == 1.0
        before = {court: await view(court, whole) for court, whole in views}
    finally:
        await host.stop()

    # Rebuilt from the topics, read in whatever order: payouts and their clearings meet.
    await wipe_projection(isolated, "figures")
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def rebuilt() -> bool:
            return {court: await view(court, whole) for court, whole in views} == before

        await eventually(rebuilt)
    finally:
        await host.stop()


TAIXING_NUMBER, RESUMED_NUMBER = "（2026）苏1283执7号", "（2026）苏1283执恢1号"
DEBTOR_ID = "91321283MA0000007N"


def zhongben_history(clock: SimulatedClock) -> list[Any]:
    """终本 closures whose three figures differ if a revoked, an ungated or a resumed one is
    counted wrongly, or at the wrong court.

    泰兴 (苏1283): z1 ruled and closed 终本, served, re-queried once, its debtor restricted (a
    lift due); z2 ruled and closed 终本, objected to, the objection upheld, the ruling revoked
    and enforcement resumed as a 执恢 case (filed, open). 靖江 (苏1282): z3 closed 终本
    without a ruling (as before the gate) and resumed; p1 closed 执行完毕."""

    def event(payload: Any, case_id: str, court: str = "苏1283") -> Any:
        return new_event(payload, aggregate_id=case_id, court_code=court, actor=ACTOR,
                         clock=clock)  # fmt: skip

    c, a, r = case_events_pb2, asset_events_pb2, credit_events_pb2
    filed = [
        event(c.CaseFiled(case_id=case, court_code=court, case_type_code="执",
                          claim_amount_fen=1000, filed_on="2026-03-02",
                          debtors=[c.Party(kind=c.PARTY_KIND_ORGANISATION, name="某某有限公司",
                                           id_number=DEBTOR_ID)]), case, court)
        for case, court in (("z1", "苏1283"), ("z2", "苏1283"), ("z3", "苏1282"), ("p1", "苏1282"))
    ]  # fmt: skip

    def ruled(case: str) -> Any:
        ruling = c.ZhongbenRuled(case_id=case, ruling_number=f"（2026）苏1283执{case}号之一",
                                 ruled_on="2026-06-10", approved_by="leader-1")  # fmt: skip
        return event(ruling, case)

    def closed(case: str, court: str = "苏1283", method: str = "终结本次执行") -> Any:
        return event(c.CaseClosed(case_id=case, method=method, closed_on="2026-06-10"), case,
                     court)  # fmt: skip

    return [
        *filed,
        event(c.CaseNumberIssued(case_id="z1", case_number=TAIXING_NUMBER, court_code="苏1283"),
              "z1"),
        event(c.DebtorVisited(case_id="z1", debtor_key="d0", kind="visit", on="2026-05-06",
                              result="下落不明"), "z1"),
        event(r.RestrictionOrdered(case_id="z1", restriction_id="re-1", debtor_key="d0",
                                   debtor_id_number=DEBTOR_ID, debtor_name="某某有限公司",
                                   ruling_number="（2026）苏1283执7号之二",
                                   ordered_on="2026-05-06", effective_on="2026-05-06"), "z1"),
        event(r.RestrictionLiftDue(case_id="z1", restriction_id="re-1", debtor_key="d0",
                                   cause="consent", urgent="no"), "z1"),
        ruled("z1"), closed("z1"),
        event(c.ZhongbenRulingServed(case_id="z1", served_on="2026-06-12"), "z1"),
        event(a.ZhongbenRequeryStarted(case_id="z1", round=2, requery_number=1), "z1"),
        event(a.ZhongbenRequeryCompleted(case_id="z1", round=2, requery_number=1,
                                         resumption_proposed="no"), "z1"),
        ruled("z2"), closed("z2"),
        event(c.ZhongbenObjected(case_id="z2", objection_id="obj-1", grounds="财产未查清"), "z2"),
        event(c.ZhongbenObjectionDecided(case_id="z2", objection_id="obj-1", upheld="yes"), "z2"),
        event(c.ZhongbenRevoked(case_id="z2", objection_id="obj-1", reason="未约谈申请执行人"),
              "z2"),
        event(c.ExecutionResumed(case_id="z2", new_case_id="z2r", new_case_number=RESUMED_NUMBER,
                                 cause="objection_upheld", resumed_on="2026-07-01"), "z2"),
        event(c.CaseFiled(case_id="z2r", court_code="苏1283", case_type_code="执恢",
                          claim_amount_fen=1000, filed_on="2026-07-01", resumed_from_case_id="z2",
                          resumed_from_case_number="（2026）苏1283执8号"), "z2r"),
        closed("z3", "苏1282"),
        event(c.ExecutionResumed(case_id="z3", new_case_id="z3r", cause="assets_found"), "z3",
              "苏1282"),
        closed("p1", "苏1282", "执行完毕"),
    ]  # fmt: skip


async def test_the_zhongben_figures_node_case_view_and_timeline_count_the_right_cases(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)
    await publisher.publish_many(zhongben_history(clock))
    host = command_host(isolated, clock, tmp_path)

    async def read(path: str, **params: Any) -> Any:
        token = tokens.issue(subject="c", court_code="苏12", role=Role.COMMAND)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
            answer = await http.get(path, params=params,
                                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()

    views = (("苏1283", False), ("苏1282", False), ("苏12", True))
    await host.start()
    try:

        async def counted() -> bool:
            counts = (await read("/v1/figures/苏12", jurisdiction=True))["counts"]
            return bool(counts["closed"] == 4 and counts["closed_this_round_resumed"] == 2)

        await eventually(counted)
        rates = {court: (await read(f"/v1/figures/{court}", jurisdiction=whole))["rates"]
                 for court, whole in views}  # fmt: skip
        three = ("终本率", "终本合格率", "恢复执行率")
        # 泰兴: z1 and z2 closed 终本; z2's ruling revoked; z2 resumed.
        assert [rates["苏1283"][name] for name in three] == [1.0, 0.5, 0.5]
        # 靖江: z3 of z3 and p1 closed 终本, with no ruling (not lawful), and resumed.
        assert [rates["苏1282"][name] for name in three] == [0.5, 0.0, 1.0]
        assert [rates["苏12"][name] for name in three] == [0.75, round(1 / 3, 4), round(2 / 3, 4)]
        # The 执恢 case z2r is filed at 泰兴, but its debt is z2's, claimed once.
        taixing_counts = (await read("/v1/figures/苏1283"))["counts"]
        assert (taixing_counts["filed"], taixing_counts["claimed_fen"]) == (3, 2000)
        definitions = (await read("/v1/figures/苏12"))["definitions"]
        assert all(definitions[name] for name in three)

        # The node 终本: z1 only (z2 resumed, z3 resumed); the 执恢 case is open at 立案.
        async def on_board() -> bool:
            tree = (await read("/v1/board/tree"))["root"]
            return bool(tree["total"]["node_zhongben"] == 1 and tree["total"]["open_cases"] == 1)

        await eventually(on_board)
        tree = (await read("/v1/board/tree"))["root"]
        taixing = next(c for c in tree["children"] if c["code"] == "苏1283")
        assert (taixing["own"]["node_zhongben"], taixing["own"]["node_filed"]) == (1, 1)
        at_node = await read("/v1/board/courts/苏1283/cases", node="zhongben")
        assert [(c["case_id"], c["case_number"], c["requeries"]) for c in at_node["cases"]] == [
            ("z1", TAIXING_NUMBER, 1)
        ]

        # The case view: the 终本 and the credit state.
        z1, z2 = await read("/v1/cases/z1"), await read("/v1/cases/z2")
        assert (z1["closed_as"], z1["closed_on"]) == ("终结本次执行", "2026-06-10")
        assert (await read("/v1/cases/z2r"))["closed_as"] == ""  # the 执恢 case is open
        assert (z1["zhongben"]["state"], z1["zhongben"]["served_on"]) == ("ruled", "2026-06-12")
        assert z1["zhongben"]["last_requery"] == {
            "requery_number": 1, "new_assets": 0, "resumption_proposed": False,
        }  # fmt: skip
        [restriction] = z1["credit"]["restrictions"]
        assert (restriction["state"], restriction["debtor_name"]) == ("lift_due", "某某有限公司")
        assert (z2["zhongben"]["state"], z2["zhongben"]["resumed_case_number"]) == (
            "resumed", RESUMED_NUMBER,
        )  # fmt: skip
        assert [o["decision"] for o in z2["zhongben"]["objections"]] == ["upheld"]

        # The timeline tells each act in Chinese; no entry but the filing carries the ID number.
        timeline = await read("/v1/cases/z1/timeline")
        said = {e["event"]: e["summary"] for e in timeline}
        assert said["RestrictionOrdered"].startswith("对被执行人某某有限公司发出限制消费令")
        assert said["ZhongbenRequeryCompleted"].startswith("终本后第1次定期查询完毕")
        assert said["DebtorVisited"] == "约谈被执行人某某有限公司（2026-05-06），结果：下落不明"
        assert not any(DEBTOR_ID in json.dumps(e, ensure_ascii=False)
                       for e in timeline if e["event"] != "CaseFiled")  # fmt: skip

        # The credit and re-query clocks show like every other, with the catalogue's titles.
        every = ["running", "warned", "breached"]

        async def clocks_open() -> bool:
            alerts = (await read("/v1/board/alerts", state=every, rule="credit."))["alerts"]
            requery = (await read("/v1/board/alerts", state=every, rule="zhongben."))["alerts"]
            return bool(alerts and requery)

        await eventually(clocks_open)
        shown = [
            *(await read("/v1/board/alerts", state=every, rule="credit."))["alerts"],
            *(await read("/v1/board/alerts", state=every, rule="zhongben."))["alerts"],
        ]
        assert {(a["rule_id"], a["case_id"]) for a in shown} == {
            ("credit.lift-restriction", "z1"), ("zhongben.requery", "z1"),
        }  # fmt: skip
        for alert in shown:
            assert alert["title"] == catalogue().rule(alert["rule_id"]).title
            assert alert["case_number"] == TAIXING_NUMBER
        before = {court: await read(f"/v1/figures/{court}", jurisdiction=whole)
                  for court, whole in views}  # fmt: skip
    finally:
        await host.stop()

    # Rebuilt from the topics: the same figures.
    await wipe_projection(isolated, "figures")
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def rebuilt() -> bool:
            return {court: await read(f"/v1/figures/{court}", jurisdiction=whole)
                    for court, whole in views} == before  # fmt: skip

        await eventually(rebuilt)
    finally:
        await host.stop()
