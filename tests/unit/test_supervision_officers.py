"""Officers' postings on the in-memory repository: a court's leaders post an officer (one
open posting at a time: rotate first), never from a future day; the rotation closes the
posting; the listing shows years in post and the rotation due day, the catalogue's until
the rotation clock's own last day is known."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.supervision.domain import PostKind
from tests.fakes import person, staged_types
from tests.unit.test_supervision_tasks import COURT, Service
from zhixing.auth import Role, ScopeError
from zhixing.clock import CHINA_TZ
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.v1 import deadline_events_pb2 as clocks

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
