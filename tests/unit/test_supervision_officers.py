"""Officers' postings on the in-memory repository: a court's leaders post an officer (one
open posting at a time: rotate first), never from a future day; the rotation closes the
posting; the listing shows years in post and the rotation due day, the catalogue's until
the rotation clock's own last day is known."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import HTTPException
from google.protobuf.timestamp_pb2 import Timestamp

from services.supervision.domain import PostKind
from tests.fakes import person, staged, staged_types
from tests.unit.test_supervision_tasks import COURT, Service
from zhixing.auth import Role, ScopeError
from zhixing.clock import CHINA_TZ
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb

LEADER = person(Role.LEADER, COURT, "leader-1")
SINCE = dt.date(2021, 3, 1)


async def posted(service: Service, kind: PostKind = PostKind.LEADER) -> None:
    await service.officers.post("officer-1", LEADER, officer_name="王五", post="执行局局长",
                                post_kind=kind, since=SINCE)  # fmt: skip


async def test_one_open_posting_per_officer_and_the_rotation_closes_it() -> None:
    service = Service()
    await posted(service)
    with pytest.raises(Conflict, match="rotation first"):
        await posted(service, PostKind.OTHER)
    with pytest.raises(Invalid, match="before the posting"):
        await service.officers.rotate("officer-1", LEADER, to_post="执行法官",
                                      rotated_on=SINCE - dt.timedelta(days=1))  # fmt: skip
    record = await service.officers.rotate("officer-1", LEADER, to_post="执行法官",
                                           rotated_on=dt.date(2026, 3, 1))  # fmt: skip
    assert record["current"] is None and record["past"][0]["to_post"] == "执行法官"
    with pytest.raises(Conflict, match="no post"):
        await service.officers.rotate("officer-1", LEADER, to_post="", rotated_on=SINCE)
    await posted(service, PostKind.OTHER)
    assert await staged_types(service.ctx) == ["OfficerPosted", "OfficerRotated", "OfficerPosted"]


async def test_who_posts_and_no_future_day() -> None:
    service = Service()
    for role in (Role.OFFICER, Role.SUPERVISOR, Role.DISCIPLINE):
        with pytest.raises(ScopeError):
            await service.officers.post(
                "officer-1", person(role, COURT), officer_name="王五", post="执行员",
                post_kind=PostKind.OTHER, since=SINCE,
            )  # fmt: skip
    with pytest.raises(Invalid, match="future"):
        await service.officers.post(
            "officer-1", LEADER, officer_name="王五", post="执行员", post_kind=PostKind.OTHER,
            since=dt.date(2026, 3, 3),
        )  # fmt: skip
    await posted(service)
    with pytest.raises(NotFound):
        await service.officers.rotate("officer-1", person(Role.LEADER, "苏1282"), to_post="",
                                      rotated_on=SINCE)  # fmt: skip


async def test_the_listing_shows_years_in_post_and_the_rotation_due_day() -> None:
    service = Service()
    await posted(service)
    (view,) = (await service.officers.listing(person(Role.COMMAND, "苏12"), court=None)).items
    assert view["years_in_post"] == 5.0 and view["rotation_rule"] == "officer.rotation-leader"
    assert (view["rotation_due_on"], view["rotation_due_from"]) == ("2026-03-01", "catalogue")
    started, due = Timestamp(), Timestamp()
    started.FromDatetime(dt.datetime(2021, 3, 1, tzinfo=CHINA_TZ))
    due.FromDatetime(dt.datetime(2026, 3, 3, tzinfo=CHINA_TZ))
    opened = clocks.ClockOpened(
        clock=clocks.ClockRef(clock_id="officer.rotation-leader:officer-1",
                              rule_id="officer.rotation-leader", subject_id="officer-1",
                              court_code=COURT, cycle=1),
        started_at=started, due_at=due, last_day="2026-03-02",
    )  # fmt: skip
    assert await service.officers.clock_opened(opened)
    assert not await service.officers.clock_opened(opened)
    (view,) = (await service.officers.listing(LEADER, court=None)).items
    assert (view["rotation_due_on"], view["rotation_due_from"]) == ("2026-03-02", "clock")


async def test_another_jurisdiction_neither_takes_over_nor_reads_an_officer() -> None:
    """A leader of 苏0102 posted 苏1283's officer after the rotation and was shown the
    officer's past postings there (and 苏1283 lost the officer); one of 苏1282 was told the
    officer "holds a post at another court". Now the id is taken, whatever the officer's
    state, and the refusal names neither the court nor a post."""
    service = Service()
    await posted(service)
    in_post = await service.officers.listing(LEADER, court=None)
    answers = []
    for outsider in (person(Role.LEADER, "苏1282", "leader-2"),
                     person(Role.LEADER, "苏0102", "leader-3")):  # fmt: skip
        for _ in range(2):  # in post, then after the rotation
            with pytest.raises(Conflict) as refused:
                await service.officers.post("officer-1", outsider, officer_name="冒名",
                                            post="执行员", post_kind=PostKind.OTHER,
                                            since=dt.date(2024, 1, 1))  # fmt: skip
            answers.append(str(refused.value))
            if not (await service.officers.records.officers.get("officer-1") or {})["past"]:
                await service.officers.rotate("officer-1", LEADER, to_post="",
                                              rotated_on=dt.date(2026, 3, 1))  # fmt: skip
    assert len(set(answers)) == 1
    assert all(w not in answers[0] for w in (COURT, "执行局局长", SINCE.isoformat()))
    (still,) = (await service.officers.listing(LEADER, court=None)).items
    assert still["court_code"] == COURT and still["past"][0]["post"] == "执行局局长"
    assert in_post.items[0]["officer_name"] == still["officer_name"] == "王五"
    assert await staged_types(service.ctx) == ["OfficerPosted", "OfficerRotated"]


async def test_a_court_above_both_moves_an_officer_whose_court_ended_the_posting() -> None:
    service = Service()
    await posted(service)
    superior = person(Role.LEADER, "苏12", "leader-12")

    async def move(court: str = "苏1282") -> dict[str, Any]:
        return await service.officers.post(
            "officer-1", superior, officer_name="王五", post="执行法官",
            post_kind=PostKind.OTHER, since=dt.date(2026, 3, 2), court_code=court,
        )  # fmt: skip

    with pytest.raises(Conflict, match="rotation first"):  # still in post at 苏1283
        await move()
    with pytest.raises(Invalid) as unknown:
        await move("XX99")
    assert unknown.value.loc == ("body", "court_code")
    with pytest.raises(ScopeError):  # a court outside the caller's jurisdiction
        await move("苏0102")
    await service.officers.rotate("officer-1", LEADER, to_post="调往苏1282",
                                  rotated_on=dt.date(2026, 3, 1))  # fmt: skip
    moved = await move()
    assert moved["court_code"] == "苏1282"
    new_court = person(Role.LEADER, "苏1282", "leader-2")
    (view,) = (await service.officers.listing(new_court, court=None)).items
    assert (view["post"], view["past"]) == ("执行法官", [])  # 苏1283's postings stay its own
    (above,) = (await service.officers.listing(superior, court=None)).items
    assert [(p["court_code"], p["post"]) for p in above["past"]] == [(COURT, "执行局局长")]
    assert (await service.officers.listing(LEADER, court=None)).items == []
    event = (await staged(service.ctx))[-1]
    assert isinstance(event.payload, pb.OfficerPosted) and event.payload.court_code == "苏1282"


async def test_a_posting_does_not_begin_a_lifetime_ago() -> None:
    """since 1949-10-01 passed (77 years in post): a posting began within a working life."""
    service = Service()
    for since in (dt.date(1949, 10, 1), dt.date(1981, 3, 1)):
        with pytest.raises(Invalid, match="45 years") as refused:
            await service.officers.post("officer-1", LEADER, officer_name="王五", post="执行员",
                                        post_kind=PostKind.OTHER, since=since)  # fmt: skip
        assert refused.value.loc == ("body", "since")
    await service.officers.post("officer-1", LEADER, officer_name="王五", post="执行员",
                                post_kind=PostKind.OTHER, since=dt.date(1981, 3, 2))  # fmt: skip


async def test_the_listing_of_another_jurisdiction_reads_as_missing() -> None:
    service = Service()
    await posted(service)
    with pytest.raises(HTTPException) as missing:
        await service.officers.listing(person(Role.LEADER, "苏1282"), court=COURT)
    assert missing.value.status_code == 404
    with pytest.raises(Invalid) as unknown:
        await service.officers.listing(LEADER, court="XX99")
    assert unknown.value.loc == ("query", "court")
