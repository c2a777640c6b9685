"""A large case costs the notification service work in proportion to its own notices and never
holds back another case's: each notice is kept on its own (a send writes that notice, never
the case's record, which holds no notice and no party); a case's parties are told of a kind
of node each time (¶14), the progress page once a node and date; the sender takes a few
notices of each due case in turn; a case's notices are read a page at a time; and a case kept by the
version before (parties and notices inline in its record, its notices in the one queue) is
split on first use and goes on as before."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.notification import domain
from services.notification.channels import Receipt, Refusal
from services.notification.handlers import Outgoing
from services.notification.repository import DUE_PER_CASE, member
from services.notification.worker import BATCH, CASES_AT_ONCE
from tests.fakes import person
from tests.unit.test_notification_handlers import COURT, SETTINGS, Channel, World, filed
from zhixing.auth import Role
from zhixing.errors import Invalid
from zhixing.events import Event
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import notification_events_pb2 as pb

NAME = "某" * 200  # bounds.MAX_NAME


def large(case_id: str, each_side: int) -> cases.CaseFiled:
    """A filing with ``each_side`` applicants and as many debtors, long names."""
    case = filed(case_id)
    del case.applicants[:], case.debtors[:]
    case.applicants.extend(cases.Party(name=NAME, id_number=f"3200001990010{n:05d}")
                           for n in range(each_side))  # fmt: skip
    case.debtors.extend(cases.Party(name=NAME, id_number=f"9132128300{n:08d}")
                        for n in range(each_side))  # fmt: skip
    return case


def controlled(world: World, case_id: str, n: int) -> Event[Any]:
    control = assets.AssetControlled(case_id=case_id, measure="freeze", amount_fen=1000 + n)
    return world.event(control, aggregate_id=f"asset-{n}")


async def raw_case(world: World, case_id: str) -> bytes:
    raw = await world.ctx.redis.get(world.records.key(case_id))
    assert isinstance(raw, bytes)
    return raw


async def test_a_send_writes_its_notice_alone_and_the_case_record_stays_small() -> None:
    world = World()
    await world.deliver(world.event(large("case-1", 100)))
    record = await raw_case(world, "case-1")
    # 400 notices and 200 parties of 200 characters kept beside the record, not in it.
    assert len(await world.notices_of()) == 400
    assert len(record) < 2_000 and b"notices" not in record and NAME.encode() not in record
    before = {k: await world.ctx.redis.dump(k) for k in await world.ctx.redis.keys("*notice:*")}
    assert await world.sender.send("case-1", next(iter(await world.notices_of()))) == "delivered"
    assert await raw_case(world, "case-1") == record  # the case's record is not rewritten
    after = {k: await world.ctx.redis.dump(k) for k in await world.ctx.redis.keys("*notice:*")}
    assert len([k for k in before if before[k] != after[k]]) == 1  # the notice sent, alone


async def test_every_control_is_told_and_the_progress_page_shows_it_once_a_day() -> None:
    """¶14: every asset controlled is pushed to the parties; the case's record keeps one
    progress line a node and date, so it stays small however many there are."""
    world = World()
    await world.deliver(world.event(large("case-1", 5)))
    control = controlled(world, "case-1", 0)
    await world.deliver(control, *(controlled(world, "case-1", n) for n in range(1, 6)), control)
    queued = Counter(q.node for q in await world.staged_of(pb.NoticeQueued))
    assert queued == Counter({"filed": 20, "asset_controlled": 6 * 20})  # redelivered: once
    record = await world.records.get("case-1")
    assert record is not None
    assert [n["node"] for n in record["nodes"]] == ["filed", "asset_controlled"]
    world.clock.advance(dt.timedelta(days=1))
    await world.deliver(controlled(world, "case-1", 6))
    record = await world.records.get("case-1")
    assert record is not None
    assert [n["node"] for n in record["nodes"]][-2:] == ["asset_controlled"] * 2


@pytest.mark.parametrize("backlogs", [12, 30])
async def test_a_served_backlog_goes_behind_the_others_round_by_round(backlogs: int) -> None:
    """Backlogs of 40 notices, then a small case: the rounds take the cases in turn (a case
    served goes behind those due before, one not reached keeps its place), so the small one
    is not left until the first ten are drained."""
    world = World()
    for n in range(backlogs):
        await world.deliver(world.event(large(f"b{n:02d}", 10)))
    world.clock.advance(dt.timedelta(milliseconds=1))
    await world.deliver(world.event(filed("small")))
    rounds = 0
    while not all(n["status"] == "delivered" for n in (await world.notices_of("small")).values()):
        world.clock.advance(dt.timedelta(milliseconds=1))
        assert await world.sender.step()
        rounds += 1
    # 100 a round, 10 a case: the small case's turn comes once each backlog had one (with
    # 12, first-come-first-served took 5 rounds; with 30, one not reached losing its place
    # starved it for 81).
    assert rounds <= backlogs // 10 + 2


async def test_one_cases_backlog_does_not_hold_back_another_cases_notices() -> None:
    world = World()
    await world.deliver(world.event(large("big", 30)))  # 120 notices, due now
    world.clock.advance(dt.timedelta(seconds=6))
    await world.deliver(world.event(filed("small")))  # 4 notices, due later than all those
    due = await world.records.due(world.notices.now_ms(), BATCH)
    assert Counter(case for case, _ in due) == Counter({"big": DUE_PER_CASE, "small": 4})
    await world.sender.step()
    small = await world.notices_of("small")
    assert all(n["status"] == "delivered" for n in small.values())
    # The big case goes on a few at a time until it is done; nothing is sent twice.
    while await world.sender.step():
        pass
    big = await world.notices_of("big")
    assert all(n["status"] == "delivered" for n in big.values())
    sent = Counter(n.notice_id for c in world.channels.values() for n in c.sent)
    assert len(sent) == 124 and set(sent.values()) == {1}


async def test_a_cases_notices_are_read_a_page_at_a_time() -> None:
    world = World()
    await world.deliver(world.event(large("case-1", 3)))  # 12 notices
    clerk = person(Role.CLERK, COURT)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        _, page = await world.reads.case("case-1", clerk, limit=5, after=after)
        seen.extend(n["notice_id"] for n in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert pages == 3 and len(seen) == len(set(seen)) == 12
    everything = await world.notices_of()
    ordered = sorted(everything.values(), key=lambda n: (n["queued_at"], n["notice_id"]))
    assert seen == [n["notice_id"] for n in ordered]
    _, default = await world.reads.case("case-1", clerk)
    assert len(default.items) == 12 and default.next_cursor is None
    for wrong in ("not-a-cursor", "eyJ4Ijp9"):
        with pytest.raises(Invalid):
            await world.reads.case("case-1", clerk, limit=5, after=wrong)
    with pytest.raises(Invalid):
        await world.reads.case("case-1", clerk, limit=1001)


async def test_a_case_kept_by_the_version_before_is_split_on_first_use() -> None:
    world = World(sms=Channel("refuse"))
    await world.deliver(world.event(filed()))
    notices = await world.notices_of()
    parties = await world.records.parties("case-1")
    # Rewrite it as the version before kept it: all inline, due in the one queue.
    record = await world.records.get("case-1")
    assert record is not None
    old = {**record, "parties": parties, "notices": {
        i: {k: v for k, v in n.items() if k not in ("party_name", "party_ref")}
        for i, n in notices.items()
    }}  # fmt: skip
    redis = world.ctx.redis
    for kind in ("parties", "notice", "told", "due"):  # notice-order, due-of, due-cases too
        for key in await redis.keys(f"*notification:{kind}*"):
            await redis.delete(key)
    await redis.set(world.records.key("case-1"), json.dumps(old, ensure_ascii=False))
    await redis.sadd(world.records.index_key(COURT), "case-1")
    await redis.zadd(world.records.old_due_key,
                     {member("case-1", i): world.notices.now_ms() for i in notices})  # fmt: skip
    # The sender sends them from the old queue; the case is split as it goes.
    assert await world.sender.step() == 4
    assert await redis.zcard(world.records.old_due_key) == 0
    split = await raw_case(world, "case-1")
    assert b"notices" not in split and b"parties" not in split
    after = await world.notices_of()
    assert Counter(n["status"] for n in after.values()) == Counter(
        {"delivered": 3, "undelivered": 1}
    )
    assert {n["party_name"] for n in after.values()} == {"张三", "某某有限公司"}
    # The progress page, the filing redelivered and a moved case go on as before.
    shown = await world.reads.progress(domain.query_code(SETTINGS.secret, "case-1", "a0"), "x")
    assert [title for _, title in shown.nodes] == ["立案"]
    await world.deliver(world.event(cases.CaseHandlingCourtChanged(
        case_id="case-1", from_court=COURT, to_court="苏12")))  # fmt: skip
    listed = await world.reads.undelivered(person(Role.CLERK, "苏12"), None)
    assert [n["status"] for _, n in listed] == ["undelivered"]


async def test_what_is_due_counts_up_to_now_as_the_simulator_reads_it() -> None:
    # tools/simulator waits until no notice is due: ZCOUNT of ``due_key`` up to now.
    world = World(sms=Channel("fault"))
    redis, now = world.ctx.redis, world.notices.now_ms()
    assert await redis.zcount(world.records.due_key, 0, now) == 0
    await world.deliver(world.event(filed()))
    assert await redis.zcount(world.records.due_key, 0, now) == 1
    await world.sender.step()  # one SMS failed: due again after the backoff
    await world.sender.step()
    assert await redis.zcount(world.records.due_key, 0, world.notices.now_ms()) == 0
    world.clock.advance(dt.timedelta(seconds=60))
    assert await redis.zcount(world.records.due_key, 0, world.notices.now_ms()) == 1


class SlowChannel(Channel):
    """Answers after a pause, counting the sends in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = self.most_in_flight = 0

    async def send(self, notice: Outgoing) -> Receipt | Refusal:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return await super().send(notice)


async def test_the_cases_of_a_round_are_sent_side_by_side_each_in_order() -> None:
    slow = SlowChannel()  # both channels: the sends in flight counted together
    world = World(sms=slow, court_app=slow)
    for n in range(CASES_AT_ONCE + 2):
        await world.deliver(world.event(filed(f"case-{n}")))
    assert await world.sender.step() == 4 * (CASES_AT_ONCE + 2)
    assert slow.most_in_flight == CASES_AT_ONCE
    for n in range(CASES_AT_ONCE + 2):
        told = await world.notices_of(f"case-{n}")
        assert {t["status"] for t in told.values()} == {"delivered"}


async def test_one_cases_failure_stops_neither_the_round_nor_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failing case no longer cancels the others' sends; the store out of reach is raised
    as itself, for the worker to wait for (not inside an exception group)."""
    world = World()
    for case in ("bad", "good"):
        await world.deliver(world.event(filed(case)))
    send = world.sender.send

    async def failing(case_id: str, notice_id: str) -> str:
        if case_id == "bad":
            raise RuntimeError("a fault of this case's own")
        return await send(case_id, notice_id)

    monkeypatch.setattr(world.sender, "send", failing)
    assert await world.sender.step() == 8
    assert {n["status"] for n in (await world.notices_of("good")).values()} == {"delivered"}
    # Each of its notices counted an attempt, to be tried again after its backoff.
    bad = (await world.notices_of("bad")).values()
    assert {(n["status"], n["attempts"]) for n in bad} == {("queued", 1)}
    assert all(n["retry_at"] for n in bad)

    async def unreachable(case_id: str, notice_id: str) -> str:
        raise RedisConnectionError("no store")

    monkeypatch.setattr(world.sender, "send", unreachable)
    await world.deliver(world.event(filed("later")))
    with pytest.raises(RedisConnectionError):
        await world.sender.step()
