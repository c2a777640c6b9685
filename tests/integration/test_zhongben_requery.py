"""Re-query after 终本 (终本规定 art 9) through the real hosts: asset control, the agency
gateway and the deadline engine on Kafka and Redis, on one simulated clock moved across
five years. A 终本 ruling opens the re-query clock; on each due day of its period asset
control runs a new network query round on every channel, which restarts the clock; after
the span's last re-query the clock stops, and nothing breaches. Resumption stops the
re-queries; an asset a re-query finds proposes resumption."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from services.agency_gateway import server as gateway_server
from services.agency_gateway.synthetic import synthetic_assets
from services.asset_control.domain import DUE_DAY, REQUERY_RULE, asset_id_for
from tests.conftest import Isolated, read_topic
from tests.factories import ACTOR
from tests.integration.platform_stack import Stack, platform_stack
from tests.polling import eventually
from tools.demo import credit_code
from zhixing.assets import CHANNELS, Channel
from zhixing.auth import Role
from zhixing.clock import CHINA_TZ
from zhixing.clock_events import each_payload
from zhixing.events import Event, decode_event, new_event
from zhixing.periods import PeriodCounter, add_months
from zhixing.publisher import EventPublisher
from zhixing.rules import catalogue
from zhixing.topics import ASSET_EVENTS, DEADLINE_EVENTS
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import case_events_pb2
from zhixing.v1 import deadline_events_pb2 as deadline_pb
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

pytestmark = pytest.mark.integration

COURT = "苏1283"
SEED = 2021  # the gateway's default seed
STEP = catalogue().rule(REQUERY_RULE).period
SPAN = catalogue().rule("zhongben.requery-span").period
REQUERIES = SPAN.limit // STEP.limit


def debtor_without_assets() -> str:
    """The first synthetic debtor the outside systems know nothing of (deterministic)."""
    for serial in range(1, 5000):
        debtor = credit_code(serial)
        if not any(synthetic_assets(SEED, debtor, channel) for channel in CHANNELS):
            return debtor
    raise AssertionError("no synthetic debtor without assets")


async def publish(stack: Stack, publisher: EventPublisher, payload: Message, case_id: str) -> Any:
    event = new_event(payload, aggregate_id=case_id, court_code=COURT, actor=ACTOR,
                      clock=stack.clock)  # fmt: skip
    await publisher.publish(event)
    return event


async def case_view(stack: Stack, case_id: str) -> dict[str, Any] | None:
    async with stack.client(stack.assets) as client:
        response = await client.get(
            f"/v1/cases/{case_id}", headers=stack.headers(Role.COMMAND, "苏12")
        )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def until_view(stack: Stack, case_id: str, check: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        view = await case_view(stack, case_id)
        if view is None or not check(view):
            return False
        seen.update(view)
        return True

    await eventually(reached, within_s=60)
    return seen


async def ruled_case(
    stack: Stack, publisher: EventPublisher, case_id: str, debtor: str
) -> Event[Message]:
    """A filed case whose first round answered on every channel, then closed as 终本 (the
    ruling staged directly, as intake publishes it); the ruling's event."""
    filed = case_events_pb2.CaseFiled(
        case_id=case_id, court_code=COURT, case_type_code="执",
        case_number=f"（2026）苏1283执{case_id}号", claim_amount_fen=5_000_000,
        applicants=[case_events_pb2.Party(name="张三")],
        debtors=[case_events_pb2.Party(name="某某有限公司", id_number=debtor)],
    )  # fmt: skip
    await publish(stack, publisher, filed, case_id)
    await until_view(stack, case_id, lambda v: v["query_status"] == "completed")
    ruled = case_events_pb2.ZhongbenRuled(
        case_id=case_id, ruling_number=f"（2026）苏1283执{case_id}号之一",
        ruled_on=stack.clock.now().astimezone(CHINA_TZ).date().isoformat(),
        case_number=filed.case_number,
    )  # fmt: skip
    event: Event[Message] = await publish(stack, publisher, ruled, case_id)

    async def clock_opened() -> bool:
        return await stack.engine.get(f"{REQUERY_RULE}:{case_id}") is not None

    await eventually(clock_opened)
    return event


async def next_requery(stack: Stack, case_id: str, number: int) -> dt.datetime:
    """Move the simulated clock from warning to warning of the case's re-query clock up to
    its due day, then wait for re-query ``number`` to start (restarting or, after the last,
    stopping the clock) and answer on every channel. The due day's instant."""
    clock_id = f"{REQUERY_RULE}:{case_id}"
    while True:
        state = await stack.engine.get(clock_id)
        assert state is not None and state.status == "running"
        timer = stack.engine.rules.next_timer(state)
        assert timer is not None and timer.kind == "warning", timer  # never the breach
        stack.clock.set(max(timer.at, stack.clock.now()))
        if timer.detail == DUE_DAY:
            break

        async def fired(key: str = timer.key) -> bool:
            current = await stack.engine.get(clock_id)
            return current is not None and key in current.fired

        await eventually(fired)

    async def moved_on() -> bool:
        current = await stack.engine.get(clock_id)
        assert current is not None
        return current.cycle == number + 1 or current.status == "cleared"

    await eventually(moved_on)
    await until_view(
        stack, case_id,
        lambda v: v["zhongben"]["requeries_done"] == number and v["query_status"] == "completed",
    )  # fmt: skip
    return timer.at


async def settled(stack: Stack) -> None:
    """Every timer of the deadline engine due by now has fired."""

    async def idle() -> bool:
        earliest = await stack.engine.earliest()
        return earliest is None or earliest > stack.clock.now()

    await eventually(idle)


async def events_of(isolated: Isolated, topic: str, case_id: str) -> list[Event[Message]]:
    events = [decode_event(record.value) for record in await read_topic(isolated, topic)]
    return [e for e in events if getattr(e.payload, "case_id", "") == case_id
            or getattr(getattr(e.payload, "clock", None), "subject_id", "") == case_id
            or getattr(e.payload, "subject_id", "") == case_id]  # fmt: skip


def of_type(events: Sequence[Event[Message]], kind: type[Message]) -> list[Any]:
    return [e for e in events if isinstance(e.payload, kind)]


def china_day(event: Event[Message]) -> dt.date:
    return event.envelope.occurred_at.ToDatetime(tzinfo=dt.UTC).astimezone(CHINA_TZ).date()


async def test_a_zhongben_case_is_requeried_on_each_due_day_for_five_years_then_the_clock_stops(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    counter = PeriodCounter(StatutoryCalendar.load(CalendarSettings(dir=tmp_path)))
    async with platform_stack(
        isolated, tmp_path, with_command=False, with_deadlines=True
    ) as stack:  # fmt: skip
        ruling = await ruled_case(stack, publisher, "zb-1", debtor_without_assets())
        for number in range(1, REQUERIES + 1):
            await next_requery(stack, "zb-1", number)
        view = await until_view(stack, "zb-1", lambda v: v["zhongben"]["status"] == "period_ended")
        # A year after the last re-query: none more, and the stopped clock never breached.
        stack.clock.advance(dt.timedelta(days=366))
        await settled(stack)
        final = await stack.engine.get(f"{REQUERY_RULE}:zb-1")
        assert final is not None and final.status == "cleared" and not final.breached
        assert (await case_view(stack, "zb-1") or {})["zhongben"]["requeries_done"] == REQUERIES

    assets = await events_of(isolated, ASSET_EVENTS.name, "zb-1")
    started = of_type(assets, asset_pb.ZhongbenRequeryStarted)
    assert [e.payload.requery_number for e in started] == list(range(1, REQUERIES + 1))
    assert [e.payload.round for e in started] == list(range(2, REQUERIES + 2))
    # Each on the due day of its period, counted as the catalogue counts: from the ruling,
    # then from the day the period before was due to end (period_from), so a last day that
    # rolled past a rest day moves nothing after it, and the last lies at the span's end.
    ruled_at = ruling.envelope.occurred_at.ToDatetime(tzinfo=dt.UTC)
    ruled_day = ruled_at.astimezone(CHINA_TZ).date()
    start = ruled_at
    for number, event in enumerate(started, start=1):
        expected = counter.due(start, STEP.unit, STEP.limit, provisional=True).last_day
        assert china_day(event) == expected
        nominal = add_months(ruled_day, STEP.limit * number)
        assert event.payload.period_from == nominal.isoformat()
        start = dt.datetime.combine(nominal, dt.time(), CHINA_TZ)
    span_end = counter.due(ruled_at, SPAN.unit, SPAN.limit, provisional=True).last_day
    assert china_day(started[-1]) == span_end
    ended = of_type(assets, asset_pb.ZhongbenRequeryPeriodEnded)
    assert [e.payload.requeries for e in ended] == [REQUERIES]
    assert ended[0].envelope.occurred_at == started[-1].envelope.occurred_at
    completed = of_type(assets, asset_pb.ZhongbenRequeryCompleted)
    assert [e.payload.requery_number for e in completed] == list(range(1, REQUERIES + 1))
    assert {e.payload.resumption_proposed for e in completed} == {"no"}
    assert view["zhongben"]["last_result"] == completed[-1].payload.applicant_notice
    clocks = [p for _, p in each_payload(await events_of(isolated, DEADLINE_EVENTS.name, "zb-1"))
              if getattr(p, "clock", None) is not None
              and p.clock.rule_id == REQUERY_RULE]  # type: ignore[attr-defined]  # fmt: skip
    assert sum(isinstance(p, deadline_pb.ClockOpened) for p in clocks) == REQUERIES + 1
    assert not any(isinstance(p, deadline_pb.ClockBreached) for p in clocks)


async def test_resumption_stops_the_requeries(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    async with platform_stack(
        isolated, tmp_path, with_command=False, with_deadlines=True
    ) as stack:  # fmt: skip
        await ruled_case(stack, publisher, "zb-2", debtor_without_assets())
        await next_requery(stack, "zb-2", 1)
        resumed = case_events_pb2.ExecutionResumed(
            case_id="zb-2", new_case_id="zb-2r", new_case_number="（2026）苏1283执恢1号",
            cause="applicant_request", reason="申请人申请恢复执行",
            resumed_on=stack.clock.now().astimezone(CHINA_TZ).date().isoformat(),
        )  # fmt: skip
        await publish(stack, publisher, resumed, "zb-2")
        await until_view(stack, "zb-2", lambda v: v["zhongben"]["status"] == "resumed")

        async def stopped() -> bool:
            state = await stack.engine.get(f"{REQUERY_RULE}:zb-2")
            return state is not None and state.status == "cleared"

        await eventually(stopped)
        # Two more periods pass: no re-query starts.
        for _ in range(2 * STEP.limit):
            stack.clock.advance(dt.timedelta(days=31))
            await settled(stack)
        view = await case_view(stack, "zb-2")
        assert view is not None and view["zhongben"]["requeries_done"] == 1
        assert view["query_round"] == 2

    started = of_type(await events_of(isolated, ASSET_EVENTS.name, "zb-2"),
                      asset_pb.ZhongbenRequeryStarted)  # fmt: skip
    assert len(started) == 1


async def test_an_asset_a_requery_finds_proposes_resumption_and_stays_uncontrolled(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debtor = debtor_without_assets()
    deposit = agency_pb.AgencyAsset(
        asset_key="bank:zb-3-new-account", kind="bank_deposit", description="银行存款（新开户）",
        holder_id=debtor, value_fen=800_000, online_control=True, location_division="321283",
    )  # fmt: skip
    ruled_at: list[dt.datetime] = []

    def after_the_ruling(seed: int, debtor_id: str, channel: Channel) -> list[Any]:
        """The debtor opened an account after the 终本 ruling."""
        found = synthetic_assets(seed, debtor_id, channel)
        if debtor_id == debtor and channel is Channel.BANK and ruled_at:
            found = [*found, deposit]
        return found

    monkeypatch.setattr(gateway_server, "synthetic_assets", after_the_ruling)
    async with platform_stack(
        isolated, tmp_path, with_command=False, with_deadlines=True
    ) as stack:  # fmt: skip
        ruling = await ruled_case(stack, publisher, "zb-3", debtor)
        ruled_at.append(ruling.envelope.occurred_at.ToDatetime(tzinfo=dt.UTC))
        await next_requery(stack, "zb-3", 1)
        view = await case_view(stack, "zb-3")
        async with stack.client(stack.assets) as client:
            response = await client.get(
                f"/v1/assets/{asset_id_for('zb-3', deposit.asset_key)}",
                headers=stack.headers(Role.COMMAND, "苏12"),
            )
        assert response.status_code == 200, response.text
        found = response.json()

    assert view is not None
    requery = view["zhongben"]["requeries"][0]
    assert (requery["status"], requery["new_assets"]) == ("completed", 1)
    assert "发现1项可供执行的财产" in view["zhongben"]["last_result"]
    # Recorded as the case's asset; money found in a re-query is not frozen by itself.
    assert (found["status"], found["amount_fen"]) == ("found", 0)
    assert view["reserved_fen"] == 0
    assets = await events_of(isolated, ASSET_EVENTS.name, "zb-3")
    (completed,) = of_type(assets, asset_pb.ZhongbenRequeryCompleted)
    assert (completed.payload.new_assets, completed.payload.resumption_proposed) == (1, "yes")
    assert [e.payload.asset_key for e in of_type(assets, asset_pb.AssetFound)] == [
        deposit.asset_key
    ]
    assert not of_type(assets, asset_pb.ControlRequested)
