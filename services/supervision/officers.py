"""Officers' postings (¶42): a court's leaders record who holds which post since when (the
catalogue's rotation clock, ``officer.rotation-leader`` or ``-other``, runs from that day)
and the rotation that ends it. One open posting per officer: rotate first. The rotation
due day shown is the clock's own last day once the deadline engine opened it, else the
catalogue's nominal day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis.asyncio.client import Pipeline

from services.supervision import domain
from services.supervision.domain import PostKind, Record
from services.supervision.handler import SupervisionHandler
from zhixing.auth import Identity, may_read, require_handling_court, require_role, require_scope
from zhixing.clock import CHINA_TZ
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.paging import DEFAULT_PAGE, Page, page
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb


class Officers(SupervisionHandler):
    async def post(
        self, officer_id: str, identity: Identity, *, officer_name: str, post: str,
        post_kind: PostKind, since: dt.date,
    ) -> Record:  # fmt: skip
        """The officer takes up ``post`` at the caller's court since ``since``."""
        require_role(identity, *domain.POSTING_ROLES)
        require_scope(identity, identity.court_code, write=True)
        if since > self.today():
            raise Invalid("since is in the future", loc=("body", "since"))
        rule = domain.rotation_rule(self.rules, post_kind)
        key = self.records.officers.key(officer_id)

        async def body(pipe: Pipeline) -> Record:
            record = await self.records.officers.get(officer_id, pipe)
            current = record["current"] if record else None
            if record is not None and current is not None:
                if not may_read(identity, record["court_code"]):
                    raise Conflict(f"officer {officer_id} holds a post at another court: "
                                   "that court records the rotation first")  # fmt: skip
                raise Conflict(
                    f"officer {officer_id} holds {current['post']} since {current['since']}: "
                    f"record the rotation first (rule {current['rule_id']})"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            if record is None:
                record = {"officer_id": officer_id, "past": []}
            elif record["court_code"] != identity.court_code:
                pipe.srem(self.records.officers.index_key(record["court_code"]), officer_id)
            record.update(officer_name=officer_name, court_code=identity.court_code, current={
                "post": post, "post_kind": post_kind.value, "since": since.isoformat(),
                "rule_id": rule.id, "recorded_by": identity.subject,
                "recorded_at": self.now().isoformat(), "clock": None,
            })  # fmt: skip
            self.records.officers.add(pipe, officer_id, record, [identity.court_code])
            self.stage(pipe, pb.OfficerPosted(
                officer_id=officer_id, officer_name=officer_name, court_code=identity.court_code,
                post=post, post_kind=post_kind.value, since=since.isoformat(),
                recorded_by=identity.subject,
            ), aggregate_id=officer_id, court_code=identity.court_code,
               actor=identity.as_actor())  # fmt: skip
            return record

        return await self.records.transact([key], body)

    async def rotate(
        self, officer_id: str, identity: Identity, *, to_post: str, rotated_on: dt.date
    ) -> Record:
        """The officer left the post (rotation, transfer, retirement): its clock stops."""
        require_role(identity, *domain.POSTING_ROLES)

        async def act(pipe: Pipeline, record: Record) -> Record:
            require_handling_court(identity, record["court_code"], f"officer {officer_id}")
            current = record["current"]
            if current is None:
                raise Conflict(f"officer {officer_id} holds no post to rotate from")
            if rotated_on > self.today():
                raise Invalid("rotated_on is in the future", loc=("body", "rotated_on"))
            if rotated_on.isoformat() < current["since"]:
                raise Invalid(f"rotated_on is before the posting began ({current['since']})",
                              loc=("body", "rotated_on"))  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["past"].append({**current, "rotated_on": rotated_on.isoformat(),
                                   "to_post": to_post, "rotated_by": identity.subject})  # fmt: skip
            record["current"] = None
            self.stage(pipe, pb.OfficerRotated(
                officer_id=officer_id, court_code=record["court_code"], from_post=current["post"],
                to_post=to_post, rotated_on=rotated_on.isoformat(), recorded_by=identity.subject,
            ), aggregate_id=officer_id, court_code=record["court_code"],
               actor=identity.as_actor())  # fmt: skip
            return record

        return await self.records.officers.change(
            officer_id, act, visible=lambda r: may_read(identity, r["court_code"]),
            missing=f"no officer {officer_id} in your jurisdiction",
        )  # fmt: skip

    async def clock_opened(self, opened: clocks.ClockOpened) -> bool:
        """The rotation clock of the officer's current posting opened: keep its last day
        (a redelivery, or the clock of an earlier posting, changes nothing)."""
        clock = opened.clock
        if clock.rule_id not in domain.ROTATION_RULES:
            return False
        started = opened.started_at.ToDatetime(tzinfo=dt.UTC).astimezone(CHINA_TZ).date()
        noted = {"clock_id": clock.clock_id, "cycle": clock.cycle, "last_day": opened.last_day,
                 "due_at": opened.due_at.ToDatetime(tzinfo=dt.UTC).isoformat()}  # fmt: skip

        async def act(pipe: Pipeline, record: Record) -> bool:
            current = record["current"]
            if current is None or current["rule_id"] != clock.rule_id:
                return False
            if current["clock"] == noted or started.isoformat() < current["since"]:
                return False  # noted already, or the clock of a posting before this one
            pipe.multi()  # type: ignore[no-untyped-call]
            current["clock"] = noted
            return True

        try:
            return await self.records.officers.change(clock.subject_id, act)
        except NotFound:
            return False

    # --- reads -------------------------------------------------------------------------------

    async def listing(
        self, identity: Identity, *, court: str | None, limit: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Page[dict[str, Any]]:  # fmt: skip
        """A page of the officers of ``court`` and the courts below it, longest in post
        first (those not in a post last)."""
        court = court or identity.court_code
        require_scope(identity, court, write=False)
        found = await self.records.officers.in_jurisdiction(court)
        views = [self.view(r) for r in found]
        return page(views, lambda v: (v["since"] or "9999", v["officer_id"]), limit=limit,
                    after=after)  # fmt: skip

    def view(self, record: Record) -> dict[str, Any]:
        current = record["current"]
        view: dict[str, Any] = {
            "officer_id": record["officer_id"], "officer_name": record["officer_name"],
            "court_code": record["court_code"], "post": None, "post_kind": None,
            "since": None, "years_in_post": None, "rotation_rule": None,
            "rotation_rule_title": None, "rotation_due_on": None, "rotation_due_from": None,
            "past": record["past"],
        }  # fmt: skip
        if current is None:
            return view
        since = dt.date.fromisoformat(current["since"])
        clock = current.get("clock")
        if clock and clock.get("last_day"):
            due, source = clock["last_day"], "clock"
        else:
            nominal = domain.nominal_rotation_day(self.rules, PostKind(current["post_kind"]), since)
            due, source = nominal.isoformat(), "catalogue"
        view.update(
            post=current["post"], post_kind=current["post_kind"], since=current["since"],
            years_in_post=domain.years_in_post(since, self.today()),
            rotation_rule=current["rule_id"],
            rotation_rule_title=self.rule_title(current["rule_id"]),
            rotation_due_on=due, rotation_due_from=source,
        )  # fmt: skip
        return view
