"""What the supervision service does on other services' events.

- Case events: a filed case's number, handling court and filing day are kept (petitions
  name cases by number, received no earlier than the case was filed; tasks and records show
  the number), and follow a move to another court; so is its responsible officer (承办人,
  from ``OfficerAssigned``), who may not answer a task about their own breach; asset,
  command, entrustment and dispute events say which case their aggregate belongs to (a
  task about an asset's clock names the asset's case).
- Deadline events: an escalation opens the task of its level (superseding the one below);
  a rotation clock's warning reminds the court's leaders; a cleared clock closes its open
  tasks; the clock's due time is kept as its events state it, and a rotation clock's last
  day is kept on the officer's posting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.protobuf.message import Message

from services.supervision.officers import Officers
from services.supervision.repository import SupervisionRecords
from services.supervision.tasks import Tasks
from zhixing.clock_events import each_payload
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import deadline_events_pb2 as clocks

_DUE_CHANGES = (
    clocks.ClockOpened, clocks.ClockResumed, clocks.ClockExtended, clocks.ClockRecomputed,
)  # fmt: skip


class CaseFacts:
    """A projection: the cases this service knows, and the case each other aggregate (an
    asset, a lead, a command, an entrustment, a dispute) belongs to, from its events'
    ``case_id`` (or first of ``case_ids``), written in the batch's transaction."""

    def __init__(self, records: SupervisionRecords) -> None:
        self.records = records

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            payload = event.payload
            case_id = _case_named(payload)
            if case_id and case_id != event.aggregate_id:
                self.records.keep_subject_case(tx.pipe, event.aggregate_id, case_id)
            if isinstance(payload, cases.CaseFiled):
                court = event.envelope.court_code or payload.court_code
                self.records.keep_case(tx.pipe, event.aggregate_id, payload.case_number, court,
                                       payload.filed_on)  # fmt: skip
            elif isinstance(payload, cases.OfficerAssigned):
                self.records.keep_officer(tx.pipe, payload.case_id or event.aggregate_id,
                                          payload.officer_id)  # fmt: skip
            elif isinstance(payload, cases.CaseHandlingCourtChanged):
                self.records.move_case(tx.pipe, payload.case_id, payload.from_court,
                                       payload.to_court)  # fmt: skip


def _case_named(payload: Message) -> str:
    """The case an event names: its ``case_id``, or the first of its ``case_ids``."""
    named = {field.name: value for field, value in payload.ListFields()}
    value = named.get("case_id") or next(iter(named.get("case_ids", ())), "")
    return value if isinstance(value, str) else ""


class ClockFacts:
    def __init__(self, tasks: Tasks, officers: Officers) -> None:
        self.tasks = tasks
        self.officers = officers
        self.records = tasks.records

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for _, payload in each_payload(events):  # a clock at a time
            if isinstance(payload, clocks.ClockEscalated):
                await self.tasks.escalated(payload)
            elif isinstance(payload, clocks.ClockWarned):
                await self.tasks.remind(payload)
            elif isinstance(payload, clocks.ClockCleared):
                await self.tasks.clock_cleared(payload)
            elif isinstance(payload, _DUE_CHANGES):
                due = payload.due_at.ToDatetime(tzinfo=dt.UTC).isoformat()
                self.records.note_clock(tx.pipe, payload.clock.clock_id, due_at=due,
                                        last_day=getattr(payload, "last_day", ""))  # fmt: skip
                if isinstance(payload, clocks.ClockOpened):
                    await self.officers.clock_opened(payload)
