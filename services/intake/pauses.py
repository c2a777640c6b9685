"""Pauses of the case clock (审限规定 art 9; 执行程序解释 art 13): the acts that start and
end a period the case's time limit does not count. Each kind has its start and end event
(``case_events.proto``): 中止执行 and its end, 暂缓执行, the 公告 period, 评估/鉴定, a
请示 to a superior court and its answer, the 拍卖/变卖 period.

The officer (or leader) of the court handling an open case records each act with its day
and, where there is one, the ruling or decision's number; the deadline engine excludes the
union of the paused time from the case's clock. One pause of a kind is open at a time;
different kinds may overlap (an appraisal during a public notice). Days are China dates:
not after today, a start not before the case was filed, an end not before its start.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.intake.handlers import Intake
from zhixing.auth import Identity, Role
from zhixing.bounds import MAX_PAUSES_PER_CASE
from zhixing.clock import china_today
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.v1 import case_events_pb2 as cases

PAUSE_RULE = "case.close"
"""The clock the pauses stop (the case's time limit), named in refusals."""


class PauseKind(StrEnum):
    SUSPENSION = "suspension"  # 中止执行
    DEFERRAL = "deferral"  # 暂缓执行
    PUBLIC_NOTICE = "public_notice"  # 公告
    APPRAISAL = "appraisal"  # 评估/鉴定
    INSTRUCTION = "instruction"  # 请示
    AUCTION = "auction"  # 拍卖/变卖


@dataclass(frozen=True, slots=True)
class _Acts:
    name: str
    # Each event takes the same fields (case_id, pause_id, on, document_number, reason,
    # recorded_by): a constructor of one, which the base Message type cannot say.
    start: Callable[..., Message]
    end: Callable[..., Message]


ACTS: dict[PauseKind, _Acts] = {
    PauseKind.SUSPENSION: _Acts("中止执行", cases.CaseSuspended, cases.CaseResumed),
    PauseKind.DEFERRAL: _Acts(
        "暂缓执行", cases.EnforcementDeferred, cases.EnforcementDeferralEnded
    ),
    PauseKind.PUBLIC_NOTICE: _Acts("公告", cases.PublicNoticeStarted, cases.PublicNoticeEnded),
    PauseKind.APPRAISAL: _Acts("评估/鉴定", cases.AppraisalStarted, cases.AppraisalEnded),
    PauseKind.INSTRUCTION: _Acts("请示", cases.InstructionRequested, cases.InstructionAnswered),
    PauseKind.AUCTION: _Acts("拍卖/变卖", cases.AuctionStarted, cases.AuctionEnded),
}
"""Each kind's Chinese name and its start and end events."""


def check_day(on: dt.date, today: dt.date, *, not_before: str, before_what: str) -> None:
    """A pause's day: not after today, not before ``not_before`` (an ISO day, if any)."""
    if on > today:
        raise Invalid(f"on {on} is after today ({today}) (rule {PAUSE_RULE})", loc=("body", "on"))
    if not_before and on.isoformat() < not_before:
        raise Invalid(
            f"on {on} is before {before_what} ({not_before}) (rule {PAUSE_RULE})",
            loc=("body", "on"),
        )


def open_of_kind(pauses: list[dict[str, str]], kind: PauseKind) -> dict[str, str] | None:
    return next((p for p in pauses if p["kind"] == kind and not p.get("ended_on")), None)


class Pauses:
    """The pause handlers, over intake's handlers (its records, events and case checks)."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.records = intake.records
        self.ctx = intake.ctx

    def _stage(self, pipe: Pipeline, payload: Message, case_id: str, court: str,
               identity: Identity) -> None:  # fmt: skip
        self.ctx.outbox.stage(pipe, self.intake.event(payload, case_id, court, identity))

    async def start(
        self, case_id: str, kind: PauseKind, on: dt.date, document_number: str, reason: str,
        *, identity: Identity,
    ) -> dict[str, str]:  # fmt: skip
        """Start a pause of ``kind`` on ``on``: its start event, with a new pause id."""
        case_key = self.records.case_key(case_id)
        pauses_key = self.records.pauses_key(case_id)

        async def body(pipe: Pipeline) -> dict[str, str]:
            record = await self.intake.filed_case(pipe, case_id, identity, Role.OFFICER,
                                                  Role.LEADER)  # fmt: skip
            check_day(on, china_today(self.ctx.clock), not_before=record.get("filed_on"),
                      before_what="the case was filed")  # fmt: skip
            pauses = await self.records.pauses(case_id, pipe)
            if len(pauses) >= MAX_PAUSES_PER_CASE:
                raise Conflict(f"case {case_id} has recorded {len(pauses)} pauses, the most one "
                               f"case keeps (MAX_PAUSES_PER_CASE)")  # fmt: skip
            if (open_ := open_of_kind(pauses, kind)) is not None:
                raise Conflict(
                    f"a {ACTS[kind].name} pause of case {case_id} is open since "
                    f"{open_['started_on']} (pause {open_['pause_id']}): end it first "
                    f"(rule {PAUSE_RULE})"
                )
            pause = {
                "pause_id": str(uuid.uuid4()), "kind": kind.value, "started_on": on.isoformat(),
                "start_document": document_number, "reason": reason,
                "started_by": identity.subject, "recorded_at": self.ctx.clock.now().isoformat(),
                "seq": str(len(pauses)),  # the order of recording, for pauses of one instant
            }  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.put_pause(pipe, case_id, pause)
            started = ACTS[kind].start(
                case_id=case_id, pause_id=pause["pause_id"], on=pause["started_on"],
                document_number=document_number, reason=reason, recorded_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, started, case_id, record.court_code, identity)
            return pause

        return await self.records.transact([case_key, pauses_key], body)

    async def end(
        self, case_id: str, pause_id: str, on: dt.date, document_number: str, reason: str,
        *, identity: Identity,
    ) -> dict[str, str]:  # fmt: skip
        """End an open pause on ``on``: the end event of its kind, with its pause id."""
        case_key = self.records.case_key(case_id)
        pauses_key = self.records.pauses_key(case_id)

        async def body(pipe: Pipeline) -> dict[str, str]:
            record = await self.intake.filed_case(pipe, case_id, identity, Role.OFFICER,
                                                  Role.LEADER)  # fmt: skip
            pause = next(
                (p for p in await self.records.pauses(case_id, pipe) if p["pause_id"] == pause_id),
                None,
            )
            if pause is None:
                raise NotFound(f"case {case_id} has no pause {pause_id}")
            if pause.get("ended_on"):
                raise Conflict(
                    f"pause {pause_id} of case {case_id} ended on {pause['ended_on']} "
                    f"(rule {PAUSE_RULE})"
                )
            check_day(on, china_today(self.ctx.clock), not_before=pause["started_on"],
                      before_what="the pause started")  # fmt: skip
            kind = PauseKind(pause["kind"])
            pause.update(ended_on=on.isoformat(), end_document=document_number,
                         end_reason=reason, ended_by=identity.subject)  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.put_pause(pipe, case_id, pause)
            ended = ACTS[kind].end(
                case_id=case_id, pause_id=pause_id, on=pause["ended_on"],
                document_number=document_number, reason=reason, recorded_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, ended, case_id, record.court_code, identity)
            return pause

        return await self.records.transact([case_key, pauses_key], body)

    async def of_case(self, case_id: str) -> list[dict[str, str]]:
        return await self.records.pauses(case_id)
