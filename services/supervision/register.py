"""The interference register (干预过问案件登记, rule ``oversight.record-interference``): any
court person whose court may see a case records, at once, an inquiry or intervention about
it. A record is written once and never changed or deleted: a correction is a new record
naming the one it corrects. Discipline inspection (纪检监察) and the command centre of the
court or a court above read it, its per-court report, and its export."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from redis.asyncio.client import Pipeline

from services.supervision import domain
from services.supervision.domain import Manner, Record
from services.supervision.handler import Saved, SupervisionHandler
from zhixing import export
from zhixing.auth import Identity, may_read, readable_court, require_role
from zhixing.clock import CHINA_TZ
from zhixing.courts import directory
from zhixing.errors import Invalid, NotFound
from zhixing.export import Table
from zhixing.idempotency import Idempotency
from zhixing.paging import DEFAULT_PAGE, Page, page
from zhixing.state import as_text
from zhixing.v1 import supervision_events_pb2 as pb


@dataclass(frozen=True)
class Interference:
    person_name: str
    person_position: str
    person_organisation: str
    inside_court: bool
    occurred_at: dt.datetime
    manner: Manner
    content: str
    handling: str


EXPORT_HEADERS = (
    "登记编号", "案号", "法院", "干预过问人", "职务", "单位", "院内人员", "发生时间", "方式",
    "内容", "处理情况", "登记人", "登记时间", "更正的登记",
)  # fmt: skip


class Register(SupervisionHandler):
    async def record(self, case_id: str, identity: Identity, entry: Interference) -> Record:
        """Record an inquiry or intervention about a case the caller's court may see."""
        return (await self.record_once(case_id, identity, entry)).record

    async def record_once(
        self, case_id: str, identity: Identity, entry: Interference,
        idempotency_key: str | None = None,
    ) -> Saved:  # fmt: skip
        """``record``; with an Idempotency-Key, a repeated request records nothing new and
        returns the record the first one made."""
        require_role(identity, *domain.RECORDING_ROLES)
        case = await self.visible_case(case_id, identity)
        once = self.once("interference", identity, idempotency_key, case_id=case_id,
                         entry=entry)  # fmt: skip
        return await self._add(case, identity, entry, corrects="", once=once)

    async def correct(self, record_id: str, identity: Identity, entry: Interference) -> Record:
        """A new record correcting ``record_id`` (which stays as it was recorded)."""
        return (await self.correct_once(record_id, identity, entry)).record

    async def correct_once(
        self, record_id: str, identity: Identity, entry: Interference,
        idempotency_key: str | None = None,
    ) -> Saved:  # fmt: skip
        """``correct``; with an Idempotency-Key, as ``record_once``. Only one who may read
        the record corrects it: the register's readers who record (the command centre of the
        court handling its case or above) and the record's own recorder while their court
        sees the case. To anyone else it does not exist (404): a correction must not tell
        them a record they may not read, nor its case."""
        require_role(identity, *domain.RECORDING_ROLES)
        original = await self._handled_now(await self.records.register.get(record_id))
        if original is None or not domain.may_correct(original, identity):
            raise NotFound(f"no interference record {record_id} in your jurisdiction")
        case = await self.visible_case(original["case_id"], identity)
        once = self.once("interference-correction", identity, idempotency_key,
                         corrects=record_id, entry=entry)  # fmt: skip
        return await self._add(case, identity, entry, corrects=record_id, once=once)

    async def _add(
        self, case: dict[str, str], identity: Identity, entry: Interference, *, corrects: str,
        once: Idempotency | None,
    ) -> Saved:  # fmt: skip
        occurred_at = entry.occurred_at
        if occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=CHINA_TZ)  # as people write it, in China
        if occurred_at > self.now():
            raise Invalid("occurred_at is in the future", loc=("body", "occurred_at"))
        record_id = self.new_id()
        record: Record = {
            "record_id": record_id, "case_id": case["case_id"],
            "case_number": case.get("case_number", ""), "court_code": case["court_code"],
            "recorded_by": identity.subject, "recorder_court": identity.court_code,
            "recorded_at": self.now().isoformat(), "person_name": entry.person_name,
            "person_position": entry.person_position,
            "person_organisation": entry.person_organisation,
            # In China time, whatever offset it was given in: records sort by this text.
            "inside_court": entry.inside_court,
            "occurred_at": occurred_at.astimezone(CHINA_TZ).isoformat(),
            "manner": entry.manner.value, "content": entry.content, "handling": entry.handling,
            "corrects_record_id": corrects,
        }  # fmt: skip
        stamp = pb.InterferenceRecorded(
            record_id=record_id, case_id=record["case_id"], case_number=record["case_number"],
            court_code=record["court_code"], recorded_by=identity.subject,
            person_name=entry.person_name, person_position=entry.person_position,
            person_organisation=entry.person_organisation, inside_court=entry.inside_court,
            manner=entry.manner.value, content=entry.content, handling=entry.handling,
            corrects_record_id=corrects,
        )  # fmt: skip
        stamp.occurred_at.FromDatetime(occurred_at.astimezone(dt.UTC))

        async def body(pipe: Pipeline) -> Saved:
            # Listed under the court handling the case at the commit (watched): a move
            # committed meanwhile moved the case's records, and this one follows.
            court = await pipe.hget(case_key, "court_code")
            now = as_text(court) if court is not None else record["court_code"]
            if not may_read(identity, now):
                raise NotFound(f"no case {record['case_id']} in your jurisdiction")
            previous = await once.previous(pipe, what="record", named="record") if once else None
            if previous is not None and (first := await self.records.register.get(previous)):
                # As every read shows it: under the court handling its case now.
                return Saved({**first, "court_code": now}, created=False)
            record["court_code"] = stamp.court_code = now
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.add_interference(pipe, record)
            self.stage(pipe, stamp, aggregate_id=record["case_id"],
                       court_code=record["court_code"], actor=identity.as_actor())  # fmt: skip
            if once is not None:
                once.remember(pipe, record_id)
            return Saved(record, created=True)

        case_key = self.records.case_key(case["case_id"])
        watch = [self.records.register.key(record_id), case_key] + ([once.key] if once else [])
        return await self.records.transact(watch, body)

    # --- reads -------------------------------------------------------------------------------

    async def listing(
        self, identity: Identity, *, court: str | None, since: dt.date | None,
        until: dt.date | None, limit: int = DEFAULT_PAGE, after: str | None = None,
    ) -> Page[Record]:  # fmt: skip
        """A page of the records of ``court`` and the courts below it, by when it happened
        (China dates ``since``..``until``, both included)."""
        found = await self._matching(identity, court=court, since=since, until=until)
        return page(found, _order, limit=limit, after=after)

    async def of_case(
        self, case_id: str, identity: Identity, *, limit: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Page[Record]:  # fmt: skip
        require_role(identity, *domain.REGISTER_READERS)
        await self.visible_case(case_id, identity)
        found = await self._all_handled_now(await self.records.interference_of_case(case_id))
        return page(found, _order, limit=limit, after=after)

    async def one(self, record_id: str, identity: Identity) -> Record:
        require_role(identity, *domain.REGISTER_READERS)
        record = await self._handled_now(await self.records.register.get(record_id))
        if record is None or not may_read(identity, record["court_code"]):
            raise NotFound(f"no interference record {record_id} in your jurisdiction")
        return record

    async def _handled_now(self, record: Record | None) -> Record | None:
        """``record`` with the court handling its case now (``court_code``), where it was
        recorded under the court handling it then: a case moved to another court (提级,
        指定执行) takes its register with it."""
        if record is None:
            return None
        return (await self._all_handled_now([record]))[0]

    async def _all_handled_now(self, records: list[Record]) -> list[Record]:
        courts = await self.records.courts_of_cases([r["case_id"] for r in records])
        return [{**r, "court_code": courts.get(r["case_id"], r["court_code"])} for r in records]

    async def report(
        self, identity: Identity, *, court: str | None, since: dt.date | None,
        until: dt.date | None,
    ) -> list[Record]:  # fmt: skip
        # One row per court of the jurisdiction, whatever the number of records.
        records = await self._matching(identity, court=court, since=since, until=until)
        return list(domain.register_report(records).values())

    async def table(
        self, identity: Identity, *, court: str | None, since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> tuple[Table, int]:  # fmt: skip
        """The register as a table of at most ``MAX_EXPORT_ROWS`` rows (the earliest), and
        how many records matched: more than the table holds when it was cut short."""
        records = await self._matching(identity, court=court, since=since, until=until)
        table = Table(title="干预过问案件登记", headers=EXPORT_HEADERS)
        table.extend([
            r["record_id"], r["case_number"] or r["case_id"], r["court_code"], r["person_name"],
            r["person_position"], r["person_organisation"], r["inside_court"],
            r["occurred_at"], r["manner"], r["content"], r["handling"], r["recorded_by"],
            r["recorded_at"], r["corrects_record_id"],
        ] for r in records[: export.MAX_EXPORT_ROWS])  # fmt: skip
        return table, len(records)

    async def _matching(
        self, identity: Identity, *, court: str | None, since: dt.date | None,
        until: dt.date | None,
    ) -> list[Record]:  # fmt: skip
        require_role(identity, *domain.REGISTER_READERS)
        # An unknown court is 422 naming ``court``; one outside the caller's jurisdiction
        # reads as missing (404).
        court = readable_court(identity, court)
        if since and until and since > until:
            raise Invalid("from is after to", loc=("query", "from"))
        found = await self._all_handled_now(await self.records.register.in_jurisdiction(court))
        # Listed by the court handling the case now: a record the index still has under a
        # court its case left (a move read between the index and the cases) is not shown.
        courts = set(directory().jurisdiction(court))
        return sorted(
            (r for r in found if r["court_code"] in courts and _within(r, since, until)),
            key=_order,
        )


def _order(record: Record) -> tuple[str, str, str]:
    """When it happened, when it was recorded, then its id: a unique sort key."""
    return (record["occurred_at"], record["recorded_at"], record["record_id"])


def _within(record: Record, since: dt.date | None, until: dt.date | None) -> bool:
    day = dt.datetime.fromisoformat(record["occurred_at"]).astimezone(CHINA_TZ).date()
    return (since is None or day >= since) and (until is None or day <= until)
