"""Resumption (恢复执行) of a case closed as 终本: a new case of type 执恢 is filed under the
court handling the original, with its own number from that court's 执恢 sequence, its own
account, and the original's parties, claim and legal document; it is staged as every filing
is (ApplicationReceived, CaseFiled, CaseNumberIssued), so every service and every clock
starts afresh, and ExecutionResumed is staged on the original case (it stops the re-query
clock, zhongben.requery).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.intake.domain import FileCase
from services.intake.handlers import Intake
from services.intake.repository import CaseRecord, CaseStatus
from services.intake.zhongben_domain import AFTER_RULING, ResumptionCause
from services.intake.zhongben_facts import discharged_fen
from zhixing.auth import Identity
from zhixing.clock import china_today
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event
from zhixing.state import as_text
from zhixing.v1 import case_events_pb2 as cases

RESUMED_TYPE = "执恢"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resumed:
    """The 执恢 case a resumption filed."""

    case_id: str
    case_number: str
    resumed_from: str


@dataclass
class PreparedResumption:
    answer: Resumed
    sequence_key: str
    sequence: int
    mapping: dict[str, str | bytes]
    events: list[Event[Message]] = field(default_factory=list)


class Resumption:
    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.records = intake.records
        self.ctx = intake.ctx

    def _sequence_key(self, court_code: str) -> str:
        year = china_today(self.ctx.clock).year
        return self.records.sequence_key(court_code, RESUMED_TYPE, year)

    async def transact(self, case_id: str, body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``body`` on a transaction watching the case and the 执恢 sequence of the court
        handling it, queued behind the sequence's other filings."""
        head = await self.records.read(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        seq_key = self._sequence_key(head.court_code)
        case_key = self.records.case_key(case_id)

        async def checked(pipe: Pipeline) -> T:
            court = await pipe.hget(case_key, "court_code")
            if court is not None and self._sequence_key(as_text(court)) != seq_key:
                raise Conflict(f"case {case_id} moved to another court meanwhile; try again")
            return await body(pipe)

        # The case's facts too: what was paid out of its claim bounds the resumption's.
        watched = [case_key, seq_key, self.intake.facts.key(case_id)]
        async with self.intake.sequence_lock(seq_key):
            return await self.records.transact(watched, checked)

    async def prepare(
        self, pipe: Pipeline, record: CaseRecord, identity: Identity,
        claim_amount_fen: int | None = None, *, act: str = "resuming enforcement",
    ) -> PreparedResumption:  # fmt: skip
        """The 执恢 case's number, fields and filing events (read before MULTI); it enforces
        ``claim_amount_fen`` (what is still unperformed), by default and at most the original
        claim less what was paid out of it to the applicant or lodged for them (the case's
        facts; payouts from before they were kept are known once they are replayed).
        ``act`` names what needs the resumption, in the refusal when nothing is left."""
        original = FileCase.model_validate_json(record.get("application") or "{}")
        number = record.get("case_number")
        paid = discharged_fen(await self.intake.facts.read(record.case_id, pipe))
        left = original.claim_amount_fen - paid
        if left <= 0:
            raise Conflict(
                f"case {number}'s claim ({original.claim_amount_fen} fen) was paid out or "
                f"lodged for the applicant ({paid} fen): {act} would resume nothing; the claim "
                f"is performed (rule {AFTER_RULING})"
            )
        claim = left if claim_amount_fen is None else claim_amount_fen
        if claim > left:
            raise Invalid(
                f"claim_amount_fen {claim} is more than what is left of case {number}'s claim "
                f"({original.claim_amount_fen} fen, {paid} of it paid out or lodged: {left}): "
                f"a resumption enforces what is left of it",
                loc=("body", "claim_amount_fen"),
            )
        today = china_today(self.ctx.clock)
        seq_key = self._sequence_key(record.court_code)
        sequence = int(await pipe.get(seq_key) or 0) + 1
        cmd = original.model_copy(update={
            "court_code": record.court_code, "case_type_code": RESUMED_TYPE,
            "received_on": today, "asset_leads": [], "claim_amount_fen": claim,
        })  # fmt: skip
        new_id = str(uuid.uuid4())
        received = cases.ApplicationReceived(
            case_id=new_id, court_code=record.court_code, received_on=today.isoformat()
        )
        docketed, filing = self.intake.docket_events(
            cmd, new_id, today, today, sequence, identity, resumes=record
        )
        mapping: dict[str, str | bytes] = {
            "court_code": record.court_code, "application": cmd.model_dump_json(),
            "received_on": today.isoformat(), **docketed,
            "status": CaseStatus.FILED.value,
        }  # fmt: skip
        events = [self.intake.event(received, new_id, record.court_code, identity), *filing]
        answer = Resumed(new_id, str(docketed["case_number"]), record.case_id)
        return PreparedResumption(answer, seq_key, sequence, mapping, events)

    def write(
        self, pipe: Pipeline, record: CaseRecord, prepared: PreparedResumption,
        cause: ResumptionCause, reason: str, identity: Identity,
    ) -> None:  # fmt: skip
        """Queue (after MULTI) the 执恢 filing and ExecutionResumed on the original case."""
        today = china_today(self.ctx.clock).isoformat()
        new = prepared.answer
        pipe.set(prepared.sequence_key, prepared.sequence)
        pipe.hset(self.records.case_key(new.case_id), mapping=prepared.mapping)  # type: ignore[arg-type]
        pipe.hset(self.records.case_key(record.case_id), mapping={
            "resumed_as": new.case_id, "resumed_as_number": new.case_number,
            "resumed_on": today, "resumption_cause": cause.value,
        })  # fmt: skip
        for event in prepared.events:
            self.ctx.outbox.stage(pipe, event)
        resumed = cases.ExecutionResumed(
            case_id=record.case_id, new_case_id=new.case_id, new_case_number=new.case_number,
            cause=cause.value, reason=reason, resumed_on=today,
        )  # fmt: skip
        self.ctx.outbox.stage(
            pipe, self.intake.event(resumed, record.case_id, record.court_code, identity)
        )
