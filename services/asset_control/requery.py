"""Re-query after 终本 (终本规定 art 9): a case closed as 终本 is queried again on every
channel for every debtor on each due day of its re-query clock (zhongben.requery), as many
times as the span (zhongben.requery-span) holds, until enforcement resumes.

The deadline engine runs the clock: opened by the ruling, restarted by each re-query's
start, stopped by resumption or by the end of the span. A round started on a due day's
warning read before the resumption (the topics are not ordered with each other) still
runs, but its start, read after the stop, does not reopen the clock (``restart_only_on``).

On the clock's due-day warning a new query round starts (NetworkQueryStarted,
ZhongbenRequeryStarted, and after the span's last ZhongbenRequeryPeriodEnded, in one
transaction); when the round has answered on every channel, ZhongbenRequeryCompleted
tells the applicant the result, and proposes resumption when an asset was found that the
case did not have (``query.py``). Nothing found in a re-query is controlled by itself.
"""

from __future__ import annotations

import datetime as dt

import structlog
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import (
    RequeryStatus,
    requeries_in_span,
    requery_due,
    zhongben_state,
)
from services.asset_control.handler import Handler
from services.asset_control.query import NetworkQuery
from services.asset_control.repository import AssetRecords
from zhixing.clock import china_today
from zhixing.events import Event
from zhixing.periods import add_months
from zhixing.rules import Catalogue, catalogue
from zhixing.service import ServiceContext
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import case_events_pb2, deadline_events_pb2

log = structlog.get_logger(__name__)


class Requery(Handler):
    def __init__(
        self, ctx: ServiceContext, records: AssetRecords, settings: AgencySettings,
        query: NetworkQuery, rules: Catalogue | None = None,
    ) -> None:  # fmt: skip
        super().__init__(ctx, records, settings)
        self.query = query
        rules = rules or catalogue()
        self.allowed = requeries_in_span(rules)
        self.period_months = rules.rule("zhongben.requery").limit or 0

    async def on_ruled(self, ruled: case_events_pb2.ZhongbenRuled) -> bool:
        """The case is in 终本 from the ruling: re-queried on the clock's due days. A ruling
        read again changes nothing; True if the case's state changed."""
        key = self.records.case_key(ruled.case_id)

        async def body(pipe: Pipeline) -> bool:
            case = await self.records.load(pipe, key)
            if case is None:
                log.warning(
                    "终本 ruling of a case asset control does not know", case_id=ruled.case_id
                )
                return False
            state = case.get("zhongben")
            if state is not None and state["ruling_number"] == ruled.ruling_number:
                return False  # read again
            pipe.multi()  # type: ignore[no-untyped-call]
            if state is not None and not state["ruling_number"]:
                # A due day was read before the ruling (topics are not ordered with each
                # other): keep the re-queries it started.
                state.update(ruling_number=ruled.ruling_number, ruled_on=ruled.ruled_on)
            else:
                case["zhongben"] = zhongben_state(ruled.ruling_number, ruled.ruled_on)
            self.records.put(pipe, key, case)
            return True

        changed: bool = await self.records.transact([key], body)
        return changed

    async def on_resumed(self, resumed: case_events_pb2.ExecutionResumed) -> bool:
        """Enforcement resumed (恢复执行): no more re-queries. True if the state changed."""
        key = self.records.case_key(resumed.case_id)

        async def body(pipe: Pipeline) -> bool:
            case = await self.records.load(pipe, key)
            if case is None:
                return False
            state = case.setdefault("zhongben", zhongben_state())
            if state["status"] == RequeryStatus.RESUMED:
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            state.update(
                status=RequeryStatus.RESUMED.value,
                resumed_on=resumed.resumed_on,
                resumed_as=resumed.new_case_number,
            )
            self.records.put(pipe, key, case)
            return True

        changed: bool = await self.records.transact([key], body)
        return changed

    def _period_from(self, ruled_on: str, requeries: int) -> str:
        """The day the period after the ``requeries``-th re-query runs from: the ruling's
        day plus that many periods, so a due day moved past a holiday shifts nothing
        after it. Empty (the engine then counts from the start) if the ruling is unknown."""
        if not ruled_on:
            return ""
        day = add_months(dt.date.fromisoformat(ruled_on), self.period_months * requeries)
        return day.isoformat()

    async def on_due_day(
        self, warned: deadline_events_pb2.ClockWarned, event: Event[Message]
    ) -> int | None:
        """The re-query clock's due day: start the next re-query round of its case, unless
        the case resumed, the span's re-queries are done, or this cycle's re-query started
        already (a redelivered warning). Returns the re-query's number, or None."""
        case_id = warned.clock.subject_id
        key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> int | None:
            case = await self.records.load(pipe, key)
            if case is None:
                log.warning("re-query due for a case asset control does not know", case_id=case_id)
                return None
            due = requery_due(case.get("zhongben"), warned.clock.cycle, self.allowed)
            if due is None:
                return None
            pipe.multi()  # type: ignore[no-untyped-call]
            state = case.setdefault("zhongben", zhongben_state())
            for earlier in state["requeries"]:
                if earlier["status"] == "running":
                    earlier["status"] = "superseded"  # its round never answered in full
            round_ = self.query.start_round(pipe, case, causation_id=event.event_id)
            case["query"]["requery"] = due.number
            state["requeries"].append({
                "number": due.number, "round": round_, "cycle": warned.clock.cycle,
                "started_on": china_today(self.ctx.clock).isoformat(), "status": "running",
                "new_assets": 0, "notice": "",
            })  # fmt: skip
            court = case["court_code"]
            started = pb.ZhongbenRequeryStarted(
                case_id=case_id, round=round_, requery_number=due.number,
                period_from=self._period_from(state.get("ruled_on", ""), due.number),
            )  # fmt: skip
            self.stage(pipe, started, case_id, court, causation_id=event.event_id)
            if due.last:
                state["status"] = RequeryStatus.PERIOD_ENDED.value
                ended = pb.ZhongbenRequeryPeriodEnded(case_id=case_id, requeries=due.number)
                self.stage(pipe, ended, case_id, court, causation_id=event.event_id)
            self.records.put(pipe, key, case)
            return due.number

        number: int | None = await self.records.transact([key], body)
        if number is not None:
            log.info("re-query after 终本 started", case_id=case_id, requery=number)
        return number
