"""The repositories behave the same on the in-memory Redis and on the real one: what the
handler unit tests rely on cannot drift from what the services get (records, indexes,
schedules, the outbox, and the optimistic transaction that retries on a conflict)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from services.asset_control.repository import AssetRecords
from services.deadlines.domain import ClockRules, ClockState, Signal, Status
from services.deadlines.repository import ClockStore, epoch_ms
from services.intake.repository import CaseRecords, CaseStatus
from tests.factories import START, case_filed_event
from zhixing.clock import CHINA_TZ
from zhixing.events import decode_event
from zhixing.outbox import Outbox
from zhixing.periods import PeriodCounter
from zhixing.records import IndexedRecords
from zhixing.rules import catalogue
from zhixing.state import KeySpace
from zhixing.workcalendar import CalendarSettings, StatutoryCalendar

pytestmark = pytest.mark.integration


async def test_intake_records_a_case_and_reads_it_back(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = CaseRecords(store, KeySpace(contract_prefix, "intake"))
    filed = case_filed_event("c1").payload
    key = records.case_key("c1")

    async def write(pipe: Pipeline) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.hset(key, mapping={"status": "filed", "court_code": "苏1283", "officer_id": "o-1",
                                "filed": filed.SerializeToString()})  # fmt: skip

    await records.transact([key], write)
    record = await records.read("c1")
    assert record is not None and record.status is CaseStatus.FILED
    assert record.get("officer_id") == "o-1" and record.filed == filed
    assert await records.get("c1") == filed
    assert await records.read("c2") is None


async def test_asset_records_round_trip_and_read_many(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = AssetRecords(store, KeySpace(contract_prefix, "asset_control"))
    case = {"case_id": "c1", "assets": ["a1", "a2", "gone"], "note": "财产"}

    async def write(pipe: Pipeline) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        records.put(pipe, records.case_key("c1"), case)
        records.put(pipe, records.asset_key("a1"), {"asset_id": "a1"})
        records.put(pipe, records.asset_key("a2"), {"asset_id": "a2"})
        records.put(pipe, records.queue_key("k"), ["a1", "a2"])

    await records.transact([records.case_key("c1")], write)
    assert await records.case("c1") == case
    assert [a["asset_id"] for a in await records.assets_of(case)] == ["a1", "a2"]
    assert await records.load_queue(store, records.queue_key("k")) == ["a1", "a2"]
    assert await records.load_queue(store, records.queue_key("none")) == []
    many = await records.load_many(store, [records.asset_key("a2"), records.asset_key("gone")])
    assert many == [{"asset_id": "a2"}, None]


async def test_a_transaction_runs_again_when_a_watched_record_changed_under_it(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = AssetRecords(store, KeySpace(contract_prefix, "asset_control"))
    key = records.case_key("c1")
    await store.set(key, '{"n": 0}')
    runs: list[int] = []

    async def increment(pipe: Pipeline) -> int:
        case: Any = await records.load(pipe, key)
        runs.append(case["n"])
        if len(runs) == 1:
            await store.set(key, '{"n": 10}')  # another writer, between the read and EXEC
        pipe.multi()  # type: ignore[no-untyped-call]
        records.put(pipe, key, {"n": case["n"] + 1})
        return int(case["n"]) + 1

    assert await records.transact([key], increment) == 11
    assert runs == [0, 10] and await records.case("c1") == {"n": 11}


async def test_the_query_schedule_takes_due_work_fairly(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    work = AssetRecords(store, KeySpace(contract_prefix, "asset_control")).work
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for unit in range(20):
            work.schedule_query(pipe, f"q|big|1|{unit}", "苏1283", 1_000)
        work.schedule_query(pipe, "q|small|1|0", "苏1282", 2_000)
        work.schedule_query(pipe, "q|later|1|0", "苏1281", 9_000)
        work.schedule_control(pipe, "asset-1", 1_500)
        await pipe.execute()
    due = await work.due(5_000, 100)
    assert "q|small|1|0" in due and "c|asset-1" in due and "q|later|1|0" not in due
    assert sum(m.startswith("q|big|") for m in due) < 20  # a share per case per round
    assert await work.count(5_000) >= len(due)
    assert sorted(await work.queued_cases()) == ["big", "later", "small"]
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        work.unschedule_query(pipe, *[f"q|big|1|{u}" for u in range(20)])
        work.unschedule_control(pipe, "asset-1")
        await pipe.execute()
    assert await work.due(5_000, 100) == ["q|small|1|0"]


def a_clock(clock_id: str, subject: str, due: dt.datetime, provisional: bool) -> ClockState:
    return ClockState(
        clock_id=clock_id, rule_id="intake.docket", subject_id=subject, court_code="苏1283",
        cycle=1, status=Status.RUNNING, started_at=START, limit=7, due_at=due, last_day=None,
        provisional=provisional, unknown_years=[],
    )  # fmt: skip


async def test_the_clock_store_keeps_states_indexes_and_the_schedule(
    store: aioredis.Redis, contract_prefix: str, tmp_path: Any
) -> None:
    clocks = ClockStore(store, KeySpace(contract_prefix, "deadlines"))
    rules = ClockRules(
        catalogue(), PeriodCounter(StatutoryCalendar.load(CalendarSettings(dir=tmp_path)))
    )
    soon = dt.datetime(2026, 3, 9, 18, 0, tzinfo=CHINA_TZ)
    later = soon + dt.timedelta(days=3)
    first, second = a_clock("k1", "case-1", soon, True), a_clock("k2", "case-1", later, False)

    def save(pipe: Pipeline, states: dict[str, ClockState]) -> int:
        for state in (first, second):
            clocks.save(pipe, state, rules.next_timer(state))
        return len(states)

    assert await clocks.change_clocks(["k1", "k2"], save) == 0  # none existed before
    assert [c.clock_id for c in await clocks.clocks_of("case-1")] == ["k1", "k2"]
    assert (await clocks.get("k1")) == first and await clocks.get("none") is None
    assert await clocks.scheduled() == 2 and await clocks.provisional() == {"k1"}
    earliest = await clocks.earliest()
    assert earliest is not None and earliest <= soon
    assert await clocks.due(later + dt.timedelta(days=30), 10) == ["k1", "k2"]
    # A drainer claims the earliest due clock: moved an hour on, so others do not see it.
    now, hold = later + dt.timedelta(days=30), dt.timedelta(hours=1)
    assert await clocks.claim_due(now, 1, hold) == ["k1"]
    assert await clocks.due(now, 10) == ["k2"]
    assert await clocks.claim_due(now, 10, hold) == ["k2"]
    assert await clocks.claim_due(now, 10, hold) == []
    assert await clocks.due(now + hold, 10) == ["k1", "k2"]  # due again if never fired
    # A chunk that failed gives its claim back, but for a clock saved since (k2's timer).
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        clocks.save(pipe, second, rules.next_timer(second))
        await pipe.execute()
    await clocks.release_claim(["k1", "k2"], now, hold)
    assert sorted(await clocks.due(now, 10)) == ["k1", "k2"]
    assert await store.zscore(clocks.schedule_key, "k1") == epoch_ms(now)
    k2_timer = rules.next_timer(second)
    assert k2_timer is not None
    assert await store.zscore(clocks.schedule_key, "k2") == epoch_ms(k2_timer.at)  # as saved
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        clocks.unschedule(pipe, "k1")
        clocks.keep_early_stop(pipe, "asset.network-query", "case-1", {"event_id": "e1"})
        for act in ("p1", "r1", "p1"):  # p1 delivered twice
            clocks.keep_early_act(pipe, "case.close", "case-1", {"event_id": act})
        clocks.alert_year(pipe, 2031)
        await pipe.execute()
    assert await clocks.scheduled() == 1
    async with store.pipeline(transaction=True) as pipe:
        starts = [("asset.network-query", "case-1"), ("case.close", "case-1"), ("other", "case-1")]
        ids, alerted, early, acts, moves = await clocks.watch_and_read_batch(
            pipe, ["case-1", "case-none"], starts, [("case.close", "case-1"), ("other", "case-1")]
        )
        states = await clocks.watch_and_load(pipe, sorted(ids | {"none"}))
    assert moves == {}  # no move recorded yet
    assert early == {("asset.network-query", "case-1"): {"event_id": "e1"}}
    kept_acts = sorted(a["event_id"] for a in acts[("case.close", "case-1")])
    assert list(acts) == [("case.close", "case-1")] and kept_acts == ["p1", "r1"]  # p1 once
    assert ids == {"k1", "k2"} and alerted == {2031}
    assert states == {"k1": first, "k2": second}
    for kept in (clocks.early_stop_key("asset.network-query", "case-1"),
                 clocks.early_acts_key("case.close", "case-1")):  # fmt: skip
        assert 0 < await store.ttl(kept) <= 7 * 24 * 3600


async def test_the_clock_store_keeps_a_subjects_moves_in_order(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    clocks = ClockStore(store, KeySpace(contract_prefix, "moves"))
    at = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for hours, (old, new) in enumerate((("苏1283", "苏1282"), ("苏1282", "苏12"))):
            courts = {"from_court": old, "to_court": new}
            when = at + dt.timedelta(hours=hours)
            move = Signal("e", "CaseHandlingCourtChanged", "case-1", old, when, courts)
            clocks.record_move(pipe, move)
        assert clocks.record_move(pipe, Signal("e", "X", "case-2", "苏12", at, {})) is None
        await pipe.execute()
    async with store.pipeline(transaction=True) as pipe:
        index = await clocks.watch_and_read_batch(
            pipe, [], [("case.close", "case-1"), ("case.close", "case-2")]
        )
    moves = index.moves
    assert list(moves) == ["case-1"]
    assert 0 < await store.ttl(clocks.moves_key("case-1")) <= 7 * 24 * 3600
    assert [(m["from"], m["to"]) for m in moves["case-1"]] == [
        ("苏1283", "苏1282"),
        ("苏1282", "苏12"),
    ]
    assert dt.datetime.fromisoformat(moves["case-1"][1]["at"]) == at + dt.timedelta(hours=1)


async def test_clock_saves_in_one_command_write_what_saves_one_by_one_write(
    store: aioredis.Redis, contract_prefix: str, tmp_path: Any
) -> None:
    """``ClockWrites`` (one script call) against ``ClockStore.save`` (four commands a clock):
    the same states, subject index, schedule and provisional set."""
    rules = ClockRules(
        catalogue(), PeriodCounter(StatutoryCalendar.load(CalendarSettings(dir=tmp_path)))
    )
    soon = dt.datetime(2026, 3, 9, 18, 0, tzinfo=CHINA_TZ)
    cleared = a_clock("k3", "case-2", soon, True)
    cleared.status = Status.CLEARED
    saves = [
        (a_clock("k1", "case-1", soon, True), False),  # provisional: added
        (a_clock("k2", "case-1", soon, False), True),  # no longer provisional: removed
        (cleared, False),  # cleared: removed, and unscheduled
        (a_clock("k4", "case-2", soon, False), False),  # never provisional: left as it was
    ]
    one_by_one = ClockStore(store, KeySpace(contract_prefix, "one"))
    batched = ClockStore(store, KeySpace(contract_prefix, "many"))
    for clocks in (one_by_one, batched):
        await store.sadd(clocks.provisional_key, "k2", "k3", "k4")
        await store.zadd(clocks.schedule_key, {"k3": 1})
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        writes = batched.writes()
        for state, was_provisional in saves:
            timer = rules.next_timer(state)
            one_by_one.save(pipe, state, timer, was_provisional=was_provisional)
            writes.save(state, timer, was_provisional=was_provisional)
        assert len(writes) == 4
        writes.queue(pipe)
        await pipe.execute()

    async def contents(clocks: ClockStore) -> Any:
        return (
            [await store.get(clocks.clock_key(f"k{n}")) for n in range(1, 5)],
            [await clocks.clocks_of(subject) for subject in ("case-1", "case-2")],
            await store.zrange(clocks.schedule_key, 0, -1, withscores=True),
            await clocks.provisional(),
        )

    assert await contents(batched) == await contents(one_by_one)
    assert await batched.provisional() == {"k1", "k4"}
    assert [c.clock_id for c in await batched.clocks_of("case-1")] == ["k1", "k2"]


async def test_the_outbox_stages_many_events_as_it_stages_one(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    one_by_one, many = (
        Outbox(KeySpace(contract_prefix, "one")),
        Outbox(KeySpace(contract_prefix, "many")),
    )
    events = [case_filed_event(f"c{n}") for n in range(3)]
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for event in events:
            one_by_one.stage(pipe, event)
        many.stage_many(pipe, events)
        many.stage_many(pipe, [])  # nothing to stage: no command
        await pipe.execute()
    singly: Any = await store.xrange(one_by_one.stream)
    together: Any = await store.xrange(many.stream)
    assert [fields for _, fields in together] == [fields for _, fields in singly]
    assert [decode_event(f[b"event"]).event_id for _, f in together] == [e.event_id for e in events]
    assert set(together[0][1]) == {b"event", b"aggregate", b"key", b"type"}
    assert together[0][1][b"type"] == b"zhixing.v1.CaseFiled"


async def test_the_outbox_keeps_staged_events_in_order(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    outbox = Outbox(KeySpace(contract_prefix, "intake"))
    events = [case_filed_event(f"c{n}") for n in range(3)]
    async with store.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        for event in events:
            outbox.stage(pipe, event)
        await pipe.execute()
    entries: Any = await store.xrange(outbox.stream)
    staged = [decode_event(fields[b"event"]).event_id for _, fields in entries]
    assert staged == [event.event_id for event in events]


async def test_indexed_records_list_by_owner_and_jurisdiction_and_change_once(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = IndexedRecords(store, KeySpace(contract_prefix, "x"), "matter", index="court")

    async def add(pipe: Pipeline) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        records.add(pipe, "m1", {"id": "m1", "n": 0}, ["苏1283", "浙0102"])
        records.add(pipe, "m2", {"id": "m2", "n": 0}, ["苏1282"])

    await records.transact([], add)
    assert await records.ids_of("苏1283") == ["m1"]
    assert await records.ids_in_jurisdiction("苏12") == ["m1", "m2"]  # the courts below 泰州
    assert [r["id"] for r in await records.in_jurisdiction("浙01")] == ["m1"]
    assert await records.set_once("m1", "closed", True)
    assert not await records.set_once("m1", "closed", True)  # already so: nothing written
    assert not await records.set_once("none", "closed", True)
    assert (await records.get("m1") or {}).get("closed") is True
    # Kept for a record not written yet; not once it is.
    early = f"{contract_prefix}early"
    assert await records.keep_until_kept("m3", lambda pipe: pipe.sadd(early, "a"))
    assert not await records.keep_until_kept("m1", lambda pipe: pipe.sadd(early, "b"))
    assert await store.smembers(early) == {b"a"}
