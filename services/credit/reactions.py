"""What the credit service does on other services' events.

- Case events: a filed case's debtors are kept (minors marked, from intake's flags) with
  the 终本 case a 执恢 case resumes; its officer noted (who may not extend its listings); the
  day its execution notice was served noted (no measure before the notice's period
  passed); a move to another court followed; a closure other than 终本 makes every
  restriction due to be lifted and ends every listing's ground (of the resumed 终本 case's
  too).
- Asset events: a re-query after 终本 found nothing new (``ZhongbenRequeryCompleted``,
  ``new_assets`` 0); after enough of them (rule ``credit.requery-nothing-found``) the
  case's listings have lost their ground.
- Deadline events: a listing's term or extension ran out (rules ``credit.listing-term``,
  ``credit.listing-extension``): the listing is deleted, or its decided extension begins.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from services.credit.domain import TERM_RULES
from services.credit.handlers import Credit
from zhixing.breaches import OnBreach
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import deadline_events_pb2


class CaseFacts:
    handles: tuple[type[Message], ...] = (
        cases.CaseFiled,
        cases.OfficerAssigned,
        cases.ExecutionNoticeServed,
        cases.CaseHandlingCourtChanged,
        cases.CaseClosed,
    )

    def __init__(self, credit: Credit) -> None:
        self.cases = credit.cases

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            payload = event.payload
            if isinstance(payload, cases.CaseFiled):
                await self.cases.remember_case(payload, event.envelope.court_code)
            elif isinstance(payload, cases.OfficerAssigned):
                await self.cases.assign_officer(payload.case_id, payload.officer_id)
            elif isinstance(payload, cases.ExecutionNoticeServed):
                await self.cases.notice_served(payload.case_id, payload.served_on)
            elif isinstance(payload, cases.CaseHandlingCourtChanged):
                await self.cases.follow_case(payload.case_id, payload.from_court, payload.to_court)
            elif isinstance(payload, cases.CaseClosed):
                await self.cases.case_closed(payload.case_id, payload.method)


class RequeryFacts:
    handles: tuple[type[Message], ...] = (assets.ZhongbenRequeryCompleted,)

    def __init__(self, credit: Credit) -> None:
        self.cases = credit.cases

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            payload = event.payload
            if isinstance(payload, assets.ZhongbenRequeryCompleted) and payload.new_assets == 0:
                await self.cases.requery_found_nothing(payload.case_id, payload.requery_number)


def debtor_key_of(clock: deadline_events_pb2.ClockRef) -> str:
    """The debtor a credit clock runs for: its id is "<rule>:<case id>:<debtor key>"."""
    return clock.clock_id.rsplit(":", 1)[-1]


def listing_terms_end(credit: Credit) -> OnBreach:
    """A listing whose term (or extension) breached is deleted."""

    async def term_ended(
        breached: deadline_events_pb2.ClockBreached, event: Event[Message]
    ) -> bool:
        clock = breached.clock
        return await credit.cases.term_ended(clock.subject_id, debtor_key_of(clock), clock.rule_id)

    return OnBreach({rule: term_ended for rule in TERM_RULES})
