"""What the notification service does on other services' events.

- A filed case (``CaseFiled``): its parties are kept, each gets a case query code, and the
  filing notice is queued.
- A case moved to another court (``CaseHandlingCourtChanged``): followed, then its parties
  told which court has it now (the node ``court_changed``, greeted by that court).
- Every event of the node table (``domain.NODES``: assets found and controlled, disposal,
  money received and paid, 终本, resumption, command actions, closure): its notices are
  queued, once per event however often it is delivered; one read before its case's filing
  (the topics are read side by side) is kept and queued when the filing is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from services.notification.domain import NODES
from services.notification.handlers import Notices
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.v1 import case_events_pb2 as cases


class NodeFacts:
    # The filing and the move, and the node table's payloads (a table, not isinstance tests).
    handles: tuple[type[Message], ...] = (
        cases.CaseFiled,
        *(payload for payload in NODES if payload is not cases.CaseFiled),
    )

    def __init__(self, notices: Notices) -> None:
        self.notices = notices

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        for event in events:
            payload = event.payload
            if isinstance(payload, cases.CaseFiled):
                await self.notices.case_filed(event, payload)
            elif isinstance(payload, cases.CaseHandlingCourtChanged):
                await self.notices.follow_case(payload.case_id, payload.to_court)
                await self.notices.node(event, payload.case_id)
            elif type(payload) in NODES:
                # Every payload of the table names its case (aggregate ids differ: an asset
                # event's is the asset).
                await self.notices.node(event, str(getattr(payload, "case_id", "")))
