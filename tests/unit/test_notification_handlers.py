"""The notification service's handlers and sender on the in-memory repository, with channels
that answer as told: a filing queues a notice per party and channel with a code issued to
each party (its hash only), once however often delivered; a node of the table is told to
whom it should be, once; the sender retries a passing fault after the backoff on the
injected clock and records a receipt once even when the send is repeated; a refusal, or the
last attempt, leaves the notice undelivered and listed for the court (and the court a case
moves to), read a limit at a time and kept bounded (a retention, a per-court cap); the
progress page answers the right code with the nodes its party is told of, one 404 for any
other, and 429 after its limits until the window passes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from google.protobuf.message import Message

from services.notification import domain, repository
from services.notification.channels import ChannelUnavailable, Receipt, Refusal
from services.notification.handlers import Notices, Outgoing
from services.notification.reactions import NodeFacts
from services.notification.reads import NO_SUCH_CODE, RateLimited, Reads
from services.notification.repository import EARLY_TTL_S, NotificationRecords
from services.notification.settings import NotificationSettings
from services.notification.worker import NoticeSender
from tests.factories import ACTOR, START
from tests.fakes import in_memory_context, person, staged
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Invalid, NotFound
from zhixing.events import Event, decode_event, new_event
from zhixing.projection import Transaction
from zhixing.service import ServiceContext
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import funds_events_pb2 as funds
from zhixing.v1 import notification_events_pb2 as pb

COURT = "苏1283"
DEBTOR_ID = "91321283MA00000317"
SETTINGS = NotificationSettings(
    query_code_secret="a-test-secret-of-at-least-thirty-two-characters", max_attempts=3,
    backoff_base_s=60, progress_limit_per_address=5, progress_limit_per_code=3,
    progress_window_s=600,
)  # fmt: skip


class Channel:
    """Answers each send from a script (receipt, refusal or a passing fault), then receipts;
    like the gateway, a notice id answered once is answered the same again."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.sent: list[Outgoing] = []
        self.answered: dict[str, Receipt | Refusal] = {}

    async def send(self, notice: Outgoing) -> Receipt | Refusal:
        self.sent.append(notice)
        if notice.notice_id in self.answered:
            return self.answered[notice.notice_id]
        step = self.script.pop(0) if self.script else "receipt"
        if step == "fault":
            raise ChannelUnavailable("UNAVAILABLE: busy")
        answer: Receipt | Refusal = (
            Refusal("空号") if step == "refuse" else Receipt(f"R-{notice.notice_id[:8]}")
        )
        self.answered[notice.notice_id] = answer
        return answer


class World:
    def __init__(self, **channels: Channel) -> None:
        self.clock = SimulatedClock(START)
        self.ctx: ServiceContext = in_memory_context("notification", self.clock)
        self.records = NotificationRecords(self.ctx.redis, self.ctx.keys)
        self.notices = Notices(self.ctx, self.records, SETTINGS)
        self.reads = Reads(self.ctx, self.records, SETTINGS)
        self.channels = {"sms": Channel(), "court_app": Channel(), **channels}
        self.sender = NoticeSender(self.notices, self.channels)

    def event(self, payload: Message, aggregate_id: str = "case-1") -> Event[Message]:
        return new_event(payload, aggregate_id=aggregate_id, court_code=COURT, actor=ACTOR,
                         clock=self.clock)  # fmt: skip

    async def deliver(self, *events: Event[Message]) -> None:
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            await NodeFacts(self.notices)(list(events), Transaction(self.ctx.redis, pipe,
                                                                     self.ctx.keys))  # fmt: skip

    async def staged_of(self, kind: type[Message]) -> list[Any]:
        return [e.payload for e in await staged(self.ctx) if isinstance(e.payload, kind)]

    async def notices_of(self, case_id: str = "case-1") -> dict[str, Any]:
        assert await self.records.get(case_id) is not None
        found: dict[str, Any] = {}
        after = None
        while True:  # a page at a time
            notices, after = await self.records.notice_page(case_id, 1000, after)
            found.update((n["notice_id"], n) for n in notices)
            if after is None:
                return found


def filed(case_id: str = "case-1") -> cases.CaseFiled:
    return cases.CaseFiled(
        case_id=case_id, court_code=COURT, case_type_code="执",
        case_number="（2026）苏1283执1号", filed_on="2026-03-02", case_account="3100 0001",
        claim_amount_fen=500_000,
        applicants=[cases.Party(name="张三", id_number="320000199001010011")],
        debtors=[cases.Party(name="某某有限公司", id_number=DEBTOR_ID)],
    )  # fmt: skip


async def test_a_filing_queues_a_notice_per_party_and_channel_and_a_code_each_once() -> None:
    world = World()
    event = world.event(filed())
    await world.deliver(event)
    await world.deliver(event)  # redelivered
    queued = await world.staged_of(pb.NoticeQueued)
    assert Counter((q.party_key, q.channel) for q in queued) == Counter(
        {("a0", "sms"): 1, ("a0", "court_app"): 1, ("d0", "sms"): 1, ("d0", "court_app"): 1}
    )
    assert {q.node for q in queued} == {"filed"}
    assert all(domain.CODE_MASK in q.text and "3100 0001" in q.text and "12368" in q.text
               for q in queued)  # fmt: skip
    codes = await world.staged_of(pb.CaseQueryCodeIssued)
    assert sorted(c.party_key for c in codes) == ["a0", "d0"]
    for issued in codes:
        code = domain.query_code(SETTINGS.secret, "case-1", issued.party_key)
        assert issued.code_hash == domain.code_hash(SETTINGS.secret, code)
    published = "".join(str(e.payload) for e in await staged(world.ctx))
    assert DEBTOR_ID not in published
    assert domain.query_code(SETTINGS.secret, "case-1", "d0") not in published


async def test_assets_found_are_told_to_the_applicant_only_and_once() -> None:
    world = World()
    await world.deliver(world.event(filed()))
    pushed = world.event(assets.AssetsPushedToParties(case_id="case-1", asset_ids=["x", "y"]))
    await world.deliver(pushed, pushed)
    await world.deliver(world.event(assets.AssetsPushedToParties(case_id="no-such",
                                                                 asset_ids=["z"])))  # fmt: skip
    found = [q for q in await world.staged_of(pb.NoticeQueued) if q.node == "assets_found"]
    assert {q.party_key for q in found} == {"a0"} and len(found) == 2
    assert "2项" in found[0].text
    controlled = world.event(assets.AssetControlled(case_id="case-1", measure="seize"),
                             aggregate_id="asset-1")  # fmt: skip
    await world.deliver(controlled)
    told = [q for q in await world.staged_of(pb.NoticeQueued) if q.node == "asset_controlled"]
    assert {q.party_key for q in told} == {"a0", "d0"}


async def test_nodes_read_before_the_filing_are_told_when_it_comes_once_and_in_order() -> None:
    # The topics are read side by side: a case's first nodes can come before its filing.
    world = World()
    found = world.event(assets.AssetsPushedToParties(case_id="case-1", asset_ids=["x"]),
                        aggregate_id="x")  # fmt: skip
    controlled = world.event(assets.AssetControlled(case_id="case-1", measure="freeze",
                                                    amount_fen=1000), aggregate_id="x")  # fmt: skip
    paid = world.event(funds.FundsPaid(case_id="case-1", amount_fen=700, paid_on="2026-03-09"))
    await world.deliver(found, controlled, controlled)  # one redelivered
    assert await world.records.get("case-1") is None and not await world.staged_of(pb.NoticeQueued)
    filing = world.event(filed())
    await world.deliver(filing)
    record = await world.records.get("case-1")
    assert record is not None
    assert [n["node"] for n in record["nodes"]] == ["filed", "assets_found", "asset_controlled"]
    await world.deliver(filing, paid)  # the filing redelivered: nothing told twice
    record = await world.records.get("case-1")
    assert record is not None
    nodes = [n["node"] for n in record["nodes"]]
    assert nodes == ["filed", "assets_found", "asset_controlled", "money_paid"]
    assert record["paid_fen"] == 700
    queued = Counter(q.node for q in await world.staged_of(pb.NoticeQueued))
    # Two channels: the applicant alone for assets found and money paid, both parties else.
    assert queued == Counter(
        {"filed": 4, "assets_found": 2, "asset_controlled": 4, "money_paid": 2}
    )
    assert await world.records.early_events("case-1") == []


async def test_a_filing_kept_between_a_nodes_read_and_its_write_has_the_node_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The node reads no case, then the filing is kept and reads what was kept (nothing yet):
    # the node's write must not keep it where no filing will read it again.
    world = World()
    read = world.records.get
    reads = 0

    async def read_then_file(case_id: str, client: Any = None) -> Any:
        nonlocal reads
        found = await read(case_id, client)
        reads += 1
        if reads == 1:  # the node's read, inside its transaction
            await world.deliver(world.event(filed()))
        return found

    monkeypatch.setattr(world.records, "get", read_then_file)
    controlled = assets.AssetControlled(case_id="case-1", measure="freeze", amount_fen=1000)
    await world.deliver(world.event(controlled, aggregate_id="x"))
    record = await read("case-1")
    assert record is not None
    assert [n["node"] for n in record["nodes"]] == ["filed", "asset_controlled"]
    assert await world.records.early_events("case-1") == []


async def test_a_kept_node_that_cannot_be_told_does_not_cost_the_others() -> None:
    world = World()
    controlled = assets.AssetControlled(case_id="case-1", measure="freeze", amount_fen=1000)
    await world.ctx.redis.rpush(world.records.early_key("case-1"), b"not an envelope")
    await world.deliver(world.event(controlled, aggregate_id="x"))
    await world.deliver(world.event(filed()))
    record = await world.records.get("case-1")
    assert record is not None
    assert [n["node"] for n in record["nodes"]] == ["filed", "asset_controlled"]
    assert await world.records.early_events("case-1") == []


async def test_a_case_never_filed_here_keeps_a_bounded_number_of_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(repository, "EARLY_KEPT", 2)
    world = World()
    kept = [world.event(assets.AssetControlled(case_id="case-1", measure="freeze",
                                               amount_fen=n), aggregate_id=f"x{n}")
            for n in (1, 2, 3)]  # fmt: skip
    await world.deliver(*kept)
    early = await world.records.early_events("case-1")
    assert [decode_event(raw).event_id for raw in early] == [e.event_id for e in kept[:2]]
    assert 0 < await world.ctx.redis.ttl(world.records.early_key("case-1")) <= EARLY_TTL_S


async def test_a_passing_fault_is_retried_after_the_backoff_and_delivered_once() -> None:
    world = World(sms=Channel("fault"))
    await world.deliver(world.event(filed()))
    await world.sender.step()
    failed = await world.staged_of(pb.NoticeAttemptFailed)
    assert len(failed) == 1 and failed[0].attempt == 1
    assert failed[0].retry_at.ToDatetime(dt.UTC) == START + dt.timedelta(seconds=60)
    assert await world.sender.step() == 0  # not due before its backoff
    world.clock.advance(dt.timedelta(seconds=60))
    assert await world.sender.step() == 1
    delivered = await world.staged_of(pb.NoticeDelivered)
    assert len(delivered) == 4
    retried = next(d for d in delivered if d.notice_id == failed[0].notice_id)
    assert retried.attempts == 2 and retried.receipt_id
    # What went out carried the party's code; what was kept and published did not.
    sent = world.channels["sms"].sent[-1]
    party = (await world.notices_of())[sent.notice_id]["party_key"]
    assert domain.query_code(SETTINGS.secret, "case-1", party) in sent.text
    assert DEBTOR_ID not in sent.recipient_ref
    # A send repeated after a crash before its record: the receipt is recorded once.
    assert not await world.notices.delivered("case-1", retried.notice_id, retried.receipt_id)
    assert len(await world.staged_of(pb.NoticeDelivered)) == 4
    assert await world.sender.step() == 0


async def test_a_refusal_or_the_last_attempt_is_undelivered_and_listed_for_the_court() -> None:
    world = World(sms=Channel("refuse", "fault", "fault", "fault"))
    await world.deliver(world.event(filed()))
    await world.sender.step()
    for _ in range(3):
        world.clock.advance(dt.timedelta(hours=1))
        await world.sender.step()
    undelivered = await world.staged_of(pb.NoticeUndelivered)
    assert [u.attempts for u in undelivered] == [1, 3]
    assert undelivered[0].last_error == "空号"
    clerk = person(Role.CLERK, COURT)
    listed = await world.reads.undelivered(clerk, None)
    assert {n["notice_id"] for _, n in listed} == {u.notice_id for u in undelivered}
    command = person(Role.COMMAND, "苏12")
    assert len(await world.reads.undelivered(command, COURT)) == 2
    with pytest.raises(ScopeError):
        await world.reads.undelivered(person(Role.FINANCE, COURT), None)
    with pytest.raises(Exception, match="no court 苏1283"):
        await world.reads.undelivered(person(Role.CLERK, "苏1282"), COURT)
    with pytest.raises(Invalid):  # not a court of the directory
        await world.reads.undelivered(clerk, "苏9999")
    # The case moves (提级): the court above now sees to them; the old court lists none.
    moved = cases.CaseHandlingCourtChanged(case_id="case-1", from_court=COURT, to_court="苏12")
    await world.deliver(world.event(moved))
    assert await world.reads.undelivered(clerk, None) == []
    assert len(await world.reads.undelivered(person(Role.CLERK, "苏12"), None)) == 2


async def test_a_case_moved_to_another_court_has_its_parties_told_which_court_has_it() -> None:
    world = World()
    await world.deliver(world.event(filed()))
    filing = set(await world.notices_of())
    designated = cases.CaseHandlingCourtChanged(
        case_id="case-1", from_court=COURT, to_court="苏1282", kind="designate"
    )
    await world.deliver(world.event(designated), world.event(designated))  # delivered twice
    told = [n for key, n in (await world.notices_of()).items() if key not in filing]
    assert {(n["party_key"], n["channel"]) for n in told} == {
        (party, channel) for party in ("a0", "d0") for channel in ("sms", "court_app")
    }  # fmt: skip
    # The new court greets them and is named: the parties deal with it from now on (¶28).
    assert all(n["text"].startswith("【靖江市人民法院】") for n in told), told
    assert all("指令执行，本案由靖江市人民法院执行。" in n["text"] for n in told), told
    # A move of no kind the table knows is not told.
    node = domain.NODES[cases.CaseHandlingCourtChanged]
    assert node.facts(cases.CaseHandlingCourtChanged(case_id="c", to_court="苏12")) is None


async def test_a_move_read_before_the_filing_is_followed_and_told_by_the_new_court() -> None:
    world = World()
    designated = cases.CaseHandlingCourtChanged(
        case_id="case-1", from_court=COURT, to_court="苏1282", kind="designate"
    )
    await world.deliver(world.event(designated))
    await world.deliver(world.event(filed()))
    record = await world.records.get("case-1")
    assert record is not None and record["court_code"] == "苏1282"
    moved = [n for n in (await world.notices_of()).values() if "本案由" in n["text"]]
    assert len(moved) == 4 and all(n["text"].startswith("【靖江市人民法院】") for n in moved)
    # Replayed again (a crash before the kept events were dropped), a move from a court the
    # case has left moves nothing.
    assert not await world.notices.follow_case("case-1", "苏1282", from_court=COURT)
    later = cases.CaseHandlingCourtChanged(
        case_id="case-1", from_court="苏1282", to_court="苏1281", kind="cross"
    )
    await world.deliver(world.event(later))
    assert not await world.notices.follow_case("case-1", "苏1282", from_court=COURT)
    record = await world.records.get("case-1")
    assert record is not None and record["court_code"] == "苏1281"


async def test_the_progress_page_answers_the_right_code_only_and_counts_lookups() -> None:
    world = World()
    await world.deliver(world.event(filed()))
    paid = world.event(assets.AssetControlled(case_id="case-1", measure="freeze",
                                              amount_fen=1000), "asset-1")  # fmt: skip
    await world.deliver(paid)
    code = domain.query_code(SETTINGS.secret, "case-1", "d0")
    shown = await world.reads.progress(code.lower(), "10.0.0.1")
    assert shown.case_number == "（2026）苏1283执1号" and shown.role == "被执行人"
    assert [title for _, title in shown.nodes] == ["立案", "控制财产"]
    for wrong in ("ABCDE-FGHJK", "not a code", code[:-1]):
        with pytest.raises(NotFound, match=NO_SUCH_CODE):
            await world.reads.progress(wrong, "10.0.0.2")
    # Per code: three lookups a window, from any address.
    await world.reads.progress(code, "10.0.0.3")
    await world.reads.progress(code, "10.0.0.4")
    with pytest.raises(RateLimited) as limited:
        await world.reads.progress(code, "10.0.0.5")
    assert 0 < limited.value.retry_after_s <= 600
    # Per address: five lookups, whatever the codes.
    for _ in range(2):
        with pytest.raises(NotFound):
            await world.reads.progress("ABCDE-FGHJK", "10.0.0.2")
    with pytest.raises(RateLimited):
        await world.reads.progress("ABCDE-FGHJK", "10.0.0.2")
    world.clock.advance(dt.timedelta(seconds=limited.value.retry_after_s))
    assert (await world.reads.progress(code, "10.0.0.2")).role == "被执行人"


async def test_the_progress_page_shows_a_party_only_the_nodes_it_is_told_of() -> None:
    # A debtor's code shows neither the assets found (查控到财产: the debtor could move
    # them before the control) nor what is paid out to the applicant (发放案款).
    world = World()
    await world.deliver(world.event(filed()))
    found = assets.AssetsPushedToParties(case_id="case-1", asset_ids=["asset-1"])
    paid = funds.FundsPaid(case_id="case-1", amount_fen=30_000, paid_on="2026-03-09")
    controlled = assets.AssetControlled(case_id="case-1", measure="freeze", amount_fen=1000)
    await world.deliver(world.event(found, "asset-1"), world.event(controlled, "asset-1"),
                        world.event(paid))  # fmt: skip
    debtor = await world.reads.progress(domain.query_code(SETTINGS.secret, "case-1", "d0"), "a")
    assert [title for _, title in debtor.nodes] == ["立案", "控制财产"]
    assert debtor.paid_fen is None
    applicant = await world.reads.progress(domain.query_code(SETTINGS.secret, "case-1", "a0"), "b")
    assert [title for _, title in applicant.nodes] == ["立案", "查控到财产", "控制财产", "发放案款"]
    assert applicant.paid_fen == 30_000


async def test_a_courts_undelivered_list_is_read_a_limit_at_a_time_and_stays_bounded() -> None:
    world = World(sms=Channel("refuse", "refuse"))
    clerk = person(Role.CLERK, COURT)
    await world.deliver(world.event(filed()))
    await world.sender.step()  # both parties' SMS refused
    world.clock.advance(dt.timedelta(days=1))
    world.channels["sms"].script = ["refuse", "refuse"]
    await world.deliver(world.event(filed("case-2")))
    await world.sender.step()
    listed = await world.reads.undelivered(clerk, None)
    assert [(c["case_id"], n["party_key"]) for c, n in listed][:2] in (
        [("case-1", "a0"), ("case-1", "d0")], [("case-1", "d0"), ("case-1", "a0")],
    )  # fmt: skip
    assert [c["case_id"] for c, _ in listed][2:] == ["case-2", "case-2"]
    oldest = await world.reads.undelivered(clerk, None, limit=1)
    assert [c["case_id"] for c, _ in oldest] == ["case-1"]
    for wrong in (0, 501):
        with pytest.raises(Invalid):
            await world.reads.undelivered(clerk, None, limit=wrong)
    # Past the retention a listing drops out; the notice stays undelivered in its case.
    world.clock.advance(dt.timedelta(days=SETTINGS.undelivered_retention_days))
    assert [c["case_id"] for c, _ in await world.reads.undelivered(clerk, None)] == [
        "case-2", "case-2",
    ]  # fmt: skip
    assert sum(n["status"] == "undelivered" for n in (await world.notices_of()).values()) == 2
    # Beyond the per-court cap the oldest drop out as new ones are listed.
    world.notices.settings = SETTINGS.model_copy(update={"undelivered_kept_per_court": 1})
    world.channels["sms"].script = ["refuse", "refuse"]
    await world.deliver(world.event(filed("case-3")))
    await world.sender.step()
    assert [c["case_id"] for c, _ in await world.reads.undelivered(clerk, None)] == ["case-3"]
