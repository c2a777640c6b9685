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
from zhixing.auth import (
    Identity,
    may_read,
    readable_court,
    require_handling_court,
    require_role,
    require_scope,
)
from zhixing.clock import CHINA_TZ
from zhixing.courts import covers, known_court_code
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.paging import DEFAULT_PAGE, Page, page
from zhixing.v1 import deadline_events_pb2 as clocks
from zhixing.v1 import supervision_events_pb2 as pb


class Officers(SupervisionHandler):
    async def post(
        self, officer_id: str, identity: Identity, *, officer_name: str, post: str,
        post_kind: PostKind, since: dt.date, court_code: str | None = None,
    ) -> Record:  # fmt: skip
        """The officer takes up ``post`` at ``court_code`` (the caller's court, or one below
        it) since ``since``.

        An officer's record belongs to the court they are posted at, and only that court
        and the courts above it read or post them. A move to another court is recorded by
        a court above both (the caller's jurisdiction must cover the court the officer is
        on record at and the court they go to), once the officer's court ended the posting
        (the rotation). To any other court the id is taken, and the refusal says nothing of
        where the officer is, nor of their posts."""
        require_role(identity, *domain.POSTING_ROLES)
        require_scope(identity, identity.court_code, write=True)
        court = self._posting_court(identity, court_code)
        today = self.today()
        if since > today:
            raise Invalid("since is in the future", loc=("body", "since"))
        earliest = domain.earliest_posting(today)
        if since < earliest:
            raise Invalid(
                f"since is before {earliest.isoformat()}: nobody holds one post for more "
                f"than {domain.MAX_YEARS_IN_POST} years (a working life)", loc=("body", "since"),
            )  # fmt: skip
        rule = domain.rotation_rule(self.rules, post_kind)
        key = self.records.officers.key(officer_id)

        async def body(pipe: Pipeline) -> Record:
            record = await self.records.officers.get(officer_id, pipe)
            if record is not None and not covers(identity.court_code, record["court_code"]):
                raise Conflict(
                    f"officer id {officer_id} is on record outside your court's jurisdiction: "
                    "use another id, or ask a court above both to record the officer's move"
                )
            current = record["current"] if record else None
            if record is not None and current is not None:
                raise Conflict(
                    f"officer {officer_id} holds {current['post']} since {current['since']} "
                    f"at {record['court_code']}: record the rotation first "
                    f"(rule {current['rule_id']})"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            if record is None:
                record = {"officer_id": officer_id, "past": []}
            elif record["court_code"] != court:  # a move, by a court above both
                pipe.srem(self.records.officers.index_key(record["court_code"]), officer_id)
                for past in record["past"]:  # postings recorded before they named their court
                    past.setdefault("court_code", record["court_code"])
            record.update(officer_name=officer_name, court_code=court, current={
                "court_code": court, "post": post, "post_kind": post_kind.value,
                "since": since.isoformat(), "rule_id": rule.id,
                "recorded_by": identity.subject, "recorded_at": self.now().isoformat(),
                "clock": None,
            })  # fmt: skip
            self.records.officers.add(pipe, officer_id, record, [court])
            self.stage(pipe, pb.OfficerPosted(
                officer_id=officer_id, officer_name=officer_name, court_code=court,
                post=post, post_kind=post_kind.value, since=since.isoformat(),
                recorded_by=identity.subject,
            ), aggregate_id=officer_id, court_code=court, actor=identity.as_actor())  # fmt: skip
            return record

        return await self.records.transact([key], body)

    @staticmethod
    def _posting_court(identity: Identity, court_code: str | None) -> str:
        """The court a posting is at: the caller's, or one below it (422 naming
        ``court_code`` if the directory does not know it, 403 outside the caller's
        jurisdiction: an act naming such a court)."""
        if court_code is None:
            return identity.court_code
        try:
            court = known_court_code(court_code)
        except ValueError as exc:
            raise Invalid(str(exc), loc=("body", "court_code")) from None
        require_scope(identity, court, write=True)
        return court

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
            record["past"].append({**current, "court_code": record["court_code"],
                                   "rotated_on": rotated_on.isoformat(), "to_post": to_post,
                                   "rotated_by": identity.subject})  # fmt: skip
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
        # An unknown court is 422 naming ``court``; one outside the caller's jurisdiction
        # reads as missing (404).
        require_scope(identity, identity.court_code, write=False)
        court = readable_court(identity, court)
        found = await self.records.officers.in_jurisdiction(court)
        views = [self.view(r, identity) for r in found]
        return page(views, lambda v: (v["since"] or "9999", v["officer_id"]), limit=limit,
                    after=after)  # fmt: skip

    def view(self, record: Record, identity: Identity) -> dict[str, Any]:
        """The officer as ``identity`` may read them: their past postings at courts of its
        jurisdiction only (an officer who moved here keeps their postings elsewhere to
        the courts above both)."""
        current = record["current"]
        past = [{**p, "court_code": p.get("court_code") or record["court_code"]}
                for p in record["past"]]  # fmt: skip
        view: dict[str, Any] = {
            "officer_id": record["officer_id"], "officer_name": record["officer_name"],
            "court_code": record["court_code"], "post": None, "post_kind": None,
            "since": None, "years_in_post": None, "rotation_rule": None,
            "rotation_rule_title": None, "rotation_due_on": None, "rotation_due_from": None,
            "past": [p for p in past if may_read(identity, p["court_code"])],
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
