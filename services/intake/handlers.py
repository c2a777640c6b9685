"""Intake's command handlers. Each records its state change and its events atomically
(state + outbox in one Redis transaction); the outbox relay publishes the events.

A case goes: application received (收案) → docketed (立案: case number issued) or refused
(不予受理) → officer assigned → execution notice served → triaged after the centralized
query (繁简分流, by the consumer in ``reactions``) → closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import datetime as dt
import functools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.intake.domain import (
    ClosureMethod,
    FileCase,
    case_number,
    party_kind_of,
    receipt_number,
)
from services.intake.repository import CaseRecord, CaseRecords, CaseStatus
from services.intake.zhongben_domain import MONEY_PAID_OUT, money_waiting
from services.intake.zhongben_facts import ZhongbenFacts, unpaid_fen
from zhixing.auth import (
    Identity,
    Role,
    ScopeError,
    require_handling_court,
    require_role,
    require_scope,
)
from zhixing.case_accounts import case_account_number
from zhixing.clock import CHINA_TZ, china_today
from zhixing.errors import Conflict, Invalid, NotFound, Unavailable
from zhixing.events import Event, new_event
from zhixing.idempotency import Idempotency
from zhixing.idempotency import IdempotencyConflict as IdempotencyConflict  # named here too
from zhixing.protojson import message_fields
from zhixing.rules import catalogue
from zhixing.service import ServiceContext
from zhixing.state import watch_and_read
from zhixing.stops import StopOrders
from zhixing.v1 import case_events_pb2

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Filed:
    case_id: str
    created: bool
    status: CaseStatus
    case_number: str = ""
    flags: list[str] = field(default_factory=list)


FILING_GROUP_MAX = 100
"""Most filings of one sequence committed in one transaction (engineering bound: the
transaction's size; a group takes about 400 commands)."""


@dataclass(eq=False, slots=True)
class _SequenceLock:
    """A sequence's lock and how many hold it or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


@dataclass(eq=False, slots=True)
class _Filing:
    """One filing waiting for its transaction, and its outcome once it has run."""

    cmd: FileCase
    identity: Identity
    today: dt.date
    received_on: dt.date
    case_id: str
    once: Idempotency | None
    result: asyncio.Future[Filed | Exception]
    # The caller's context: its events are made in it (their trace is the request's), though
    # the task of its sequence commits it.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


def _own_copy(error: Exception) -> Exception:
    """``error`` as an exception of its own (each caller raising it adds to its traceback),
    caused by it."""
    try:
        copied = copy.copy(error)
    except Exception:  # an exception that cannot be copied is raised as it is
        return error
    copied.__cause__ = error
    # A shallow copy shares the notes' list: a note one caller adds would show on all.
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        copied.__notes__ = list(notes)
    return copied


_NOT_COMMITTED = (
    "intake stopped while the filing waited to be committed: it was not filed; send it again"
)
_MAYBE_COMMITTED = (
    "intake stopped while the filing was being committed: it may have been filed; send it "
    "again only with the same Idempotency-Key (which returns the case if it was), or look "
    "for it before filing it again"
)


def _stop_waiting(filings: list[_Filing], why: str) -> None:
    """Tell the callers of ``filings`` still unanswered that intake stopped, and ``why``."""
    for filing in filings:
        if not filing.result.done():
            filing.result.set_exception(Unavailable(why))


def _filed_or_raise(outcome: Filed | Exception) -> Filed:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _check_clerk(identity: Identity, court_code: str) -> None:
    require_role(identity, Role.CLERK)
    require_scope(identity, court_code, write=True)
    if identity.court_code != court_code:
        raise ScopeError(
            f"a clerk of {identity.court_code} files cases of that court only, not {court_code}"
        )


def _received_on(cmd: FileCase, today: dt.date) -> dt.date:
    """The day of receipt, refused if it is after today or before the legal document it
    enforces was made (a document dated in the future is refused the same way)."""
    received = cmd.received_on or today
    if received > today:
        raise Invalid(
            f"received_on {received} is after today ({today})", loc=("body", "received_on")
        )
    made = cmd.legal_document.date
    if made > today:
        raise Invalid(
            f"the legal document's date {made} is after today ({today})",
            loc=("body", "legal_document", "date"),
        )
    if made > received:
        raise Invalid(
            f"the legal document's date {made} is after the application was received ({received})",
            loc=("body", "legal_document", "date"),
        )
    return received


class Intake:
    """The intake handlers over one service context and its records."""

    def __init__(self, ctx: ServiceContext, records: CaseRecords) -> None:
        self.ctx = ctx
        self.records = records
        # The stops in force per case (执行规定 art 68), kept by the service's projection:
        # a stopped case is not closed, nor its 终本 proposed or ruled.
        self.stops = StopOrders(ctx.redis, ctx.keys)
        # What the 终本 gate reads; a closure of any kind reads the case's money there too.
        self.facts = ZhongbenFacts(ctx.redis, ctx.keys)
        # The acts of one sequence (a group of filings, docketing an application, a
        # resumption) queue here instead of colliding on its WATCH and retrying (which grows
        # with the square of concurrent acts); WATCH still guards against other replicas.
        self._sequence_locks: dict[str, _SequenceLock] = {}
        # Docketed filings waiting for their sequence's next transaction, and the task that
        # commits them (``_docket_together``).
        self._waiting: dict[str, list[_Filing]] = {}
        self._drainers: dict[str, asyncio.Task[None]] = {}

    @contextlib.asynccontextmanager
    async def sequence_lock(self, seq_key: str) -> AsyncIterator[None]:
        """Hold ``seq_key``'s lock. It is forgotten once nobody holds or waits for it: a
        sequence is a court's, a case type's and a year's, so kept they would grow with the
        years."""
        held = self._sequence_locks.get(seq_key)
        if held is None:
            held = self._sequence_locks[seq_key] = _SequenceLock()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0:
                del self._sequence_locks[seq_key]

    def event(
        self, payload: Message, case_id: str, court_code: str, identity: Identity,
        occurred_at: dt.datetime | None = None,
    ) -> Event[Message]:  # fmt: skip
        return new_event(
            payload,
            aggregate_id=case_id,
            court_code=court_code,
            actor=identity.as_actor(),
            clock=self.ctx.clock,
            occurred_at=occurred_at,
        )

    def _received_at(self, received_on: dt.date) -> dt.datetime | None:
        """When the application was received: now if today, else that day (a paper
        application keyed in later); the period counts from the next day either way."""
        if received_on == china_today(self.ctx.clock):
            return None
        return dt.datetime.combine(received_on, dt.time(9, 0), CHINA_TZ)

    # --- receiving and docketing -----------------------------------------------------------

    async def receive(
        self, cmd: FileCase, *, identity: Identity, idempotency_key: str | None = None,
        docket: bool,
    ) -> Filed:  # fmt: skip
        """Receive an application; with ``docket`` also docket it at once (POST /v1/cases).

        With an idempotency key a repeated request returns the first result.
        """
        _check_clerk(identity, cmd.court_code)
        today = china_today(self.ctx.clock)
        filing = _Filing(
            cmd=cmd, identity=identity, today=today, received_on=_received_on(cmd, today),
            case_id=str(uuid.uuid4()), result=asyncio.get_running_loop().create_future(),
            once=Idempotency.of(self.ctx.keys, "file" if docket else "application",
                                cmd.court_code, idempotency_key, cmd.model_dump_json()),
        )  # fmt: skip
        receipts_key = self.records.receipt_key(cmd.court_code, today.year)
        if not docket:
            (outcome,) = await self.records.transact(
                [], lambda pipe: self._file(pipe, [filing], receipts_key, None)
            )
            return _filed_or_raise(outcome)
        seq_key = self.records.sequence_key(cmd.court_code, cmd.case_type_code, today.year)
        return await self._docket_together(filing, receipts_key, seq_key)

    async def _docket_together(self, filing: _Filing, receipts_key: str, seq_key: str) -> Filed:
        """File and docket ``filing`` with the others of its sequence waiting meanwhile, in
        one transaction (group commit). A filing holds its sequence's numbers until it
        commits, so one at a time the filings of a sequence were answered one a
        transaction's time, and a stall of Redis or of the event loop queued them; together,
        those that queue during one transaction commit in the next. One task a sequence
        (``_drain``) commits them; WATCH still guards against other replicas."""
        waiting = self._waiting.setdefault(seq_key, [])
        waiting.append(filing)
        drainer = self._drainers.get(seq_key)
        if drainer is None or drainer.done():
            # In a context of its own: it commits the filings of many requests.
            drainer = asyncio.create_task(
                self._drain(seq_key, receipts_key, waiting),
                name=f"filings {seq_key}",
                context=contextvars.Context(),
            )
            self._drainers[seq_key] = drainer
            drainer.add_done_callback(functools.partial(self._drained, seq_key, waiting))
        try:
            # Shielded: a caller that goes away does not stop a commit its filing is in.
            return _filed_or_raise(await asyncio.shield(filing.result))
        except asyncio.CancelledError:
            if filing in waiting:  # not taken up yet: it is not filed
                waiting.remove(filing)
            raise

    async def _drain(self, seq_key: str, receipts_key: str, waiting: list[_Filing]) -> None:
        """Commit the filings waiting in ``seq_key``'s sequence, the longest waiting first,
        up to FILING_GROUP_MAX a transaction, until none waits."""
        committing: list[_Filing] = []
        try:
            while waiting:
                # With the sequence's other acts (docketing an application, a resumption).
                async with self.sequence_lock(seq_key):
                    committing = waiting[:FILING_GROUP_MAX]
                    del waiting[:FILING_GROUP_MAX]
                    await self._commit(committing, receipts_key, seq_key)
                    committing = []
        except BaseException:  # the process stops, or a fault: no caller is left waiting
            _stop_waiting(committing, _MAYBE_COMMITTED)  # its EXEC may have been applied
            _stop_waiting(waiting, _NOT_COMMITTED)
            waiting.clear()
            raise

    def _drained(self, seq_key: str, waiting: list[_Filing], drainer: asyncio.Task[None]) -> None:
        """The sequence's task ended (also if cancelled before it ran)."""
        if not drainer.cancelled() and drainer.exception() is not None:
            log.error("the filings of a sequence could not be committed", sequence=seq_key,
                      exc_info=drainer.exception())  # fmt: skip
        if self._drainers.get(seq_key) is not drainer:
            return  # a later task has the sequence, and the filings waiting in it
        del self._drainers[seq_key]
        _stop_waiting(waiting, _NOT_COMMITTED)  # any left: it was cancelled before it ran
        waiting.clear()
        if self._waiting.get(seq_key) is waiting:
            del self._waiting[seq_key]

    async def _commit(self, group: list[_Filing], receipts_key: str, seq_key: str) -> None:
        """Commit ``group`` in one transaction and give each filing its outcome (an error of
        Redis as the outcome of each, raised in each caller as its own: none was filed)."""
        try:
            outcomes: list[Filed | Exception] = await self.records.transact(
                [], lambda pipe: self._file(pipe, group, receipts_key, seq_key)
            )
        except Exception as failed:
            outcomes = [_own_copy(failed) for _ in group]
        for filing, outcome in zip(group, outcomes, strict=True):
            filing.result.set_result(outcome)

    async def _file(
        self, pipe: Pipeline, group: list[_Filing], receipts_key: str, seq_key: str | None
    ) -> list[Filed | Exception]:
        """The transaction's body for ``group`` (all of one court and year; with
        ``seq_key``, docketed in that sequence): each filing's outcome, in order, a repeat
        of an idempotency key the first result (within the group too)."""
        watch = [receipts_key, *([seq_key] if seq_key else [])]
        watch += sorted({f.once.key for f in group if f.once is not None} - set(watch))
        # Everything the filings read, watched and read in one round trip.
        read = await watch_and_read(pipe, watch, [("MGET", *watch)])
        stored: dict[str, Any] = dict(zip(watch, read[0], strict=True))
        receipt = int(stored[receipts_key] or 0)
        sequence = int(stored[seq_key] or 0) if seq_key else 0
        created: dict[str, Filed] = {}
        outcomes: list[Filed | Exception] = []
        writes: list[tuple[_Filing, dict[str, str | bytes], list[Event[Message]]]] = []
        for filing in group:
            once = filing.once
            try:
                previous = (
                    once.previous_of(stored[once.key], what="filing", named="case")
                    if once
                    else None
                )
            except IdempotencyConflict as refused:
                outcomes.append(refused)
                continue
            if previous is not None:  # a repeat: the first result again
                outcomes.append(created.get(previous) or await self._repeat(pipe, previous))
                continue
            try:
                mapping, events, filed = filing.context.run(
                    self._filing, filing, receipt + 1, sequence + 1, seq_key
                )
            except Exception as refused:  # this filing alone; it takes no number
                outcomes.append(refused)
                continue
            receipt, sequence = receipt + 1, sequence + (1 if seq_key else 0)
            if once is not None:
                stored[once.key] = f"{filing.case_id}|{once.fingerprint}"
                created[filing.case_id] = Filed(
                    filed.case_id, created=False, status=filed.status,
                    case_number=filed.case_number, flags=list(filed.flags),
                )  # fmt: skip
            writes.append((filing, mapping, events))
            outcomes.append(filed)
        if writes:
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(receipts_key, receipt)
            if seq_key:
                pipe.set(seq_key, sequence)
            for filing, mapping, _ in writes:
                pipe.hset(self.records.case_key(filing.case_id), mapping=mapping)  # type: ignore[arg-type]
                if filing.once is not None:
                    filing.once.remember(pipe, filing.case_id)
            # The group's events as one command, in the order of its filings.
            self.ctx.outbox.stage_many(pipe, [e for _, _, events in writes for e in events])
        return outcomes

    async def _repeat(self, pipe: Pipeline, case_id: str) -> Filed:
        record = await self.records.read(case_id, pipe)
        assert record is not None
        return Filed(
            case_id,
            created=False,
            status=record.status,
            case_number=record.get("case_number"),
            flags=list(record.filed.flags) if record.filed else [],
        )

    def _filing(
        self, filing: _Filing, receipt: int, sequence: int, seq_key: str | None
    ) -> tuple[dict[str, str | bytes], list[Event[Message]], Filed]:
        """The record's fields, the events and the answer of ``filing`` received as
        ``receipt`` and (with ``seq_key``) docketed as ``sequence``."""
        cmd, case_id, received_on = filing.cmd, filing.case_id, filing.received_on
        received = case_events_pb2.ApplicationReceived(
            case_id=case_id, court_code=cmd.court_code, received_on=received_on.isoformat(),
            receipt_number=receipt_number(filing.today.year, cmd.court_code, receipt),
        )  # fmt: skip
        events = [
            self.event(
                received, case_id, cmd.court_code, filing.identity,
                self._received_at(received_on),
            )
        ]  # fmt: skip
        mapping: dict[str, str | bytes] = {
            "status": CaseStatus.RECEIVED.value,
            "court_code": cmd.court_code,
            "application": cmd.model_dump_json(),
            "received_on": received_on.isoformat(),
            "receipt_number": received.receipt_number,
        }
        if seq_key is None:
            return mapping, events, Filed(case_id, created=True, status=CaseStatus.RECEIVED)
        docketed, more = self.docket_events(
            cmd, case_id, received_on, filing.today, sequence, filing.identity
        )
        mapping.update(docketed)
        filed = Filed(
            case_id,
            created=True,
            status=CaseStatus.FILED,
            case_number=str(docketed["case_number"]),
            flags=list(more[0].payload.flags),  # type: ignore[attr-defined]
        )
        return mapping, events + more, filed

    def docket_events(
        self, cmd: FileCase, case_id: str, received_on: dt.date, today: dt.date,
        sequence: int, identity: Identity, resumes: CaseRecord | None = None,
    ) -> tuple[dict[str, str | bytes], list[Event[Message]]]:  # fmt: skip
        """The record's fields and the events (CaseFiled, CaseNumberIssued) of docketing
        ``cmd`` with ``sequence``; ``resumes`` is the case a 执恢 case resumes."""
        number = case_number(today.year, cmd.court_code, cmd.case_type_code, sequence)
        account = case_account_number(cmd.court_code, today.year, cmd.case_type_code, sequence)
        payload = cmd.to_event(
            case_id=case_id, received_on=received_on, filed_on=today, case_number=number
        )
        payload.case_account = account
        if resumes is not None:
            payload.resumed_from_case_id = resumes.case_id
            payload.resumed_from_case_number = resumes.get("case_number")
        issued = case_events_pb2.CaseNumberIssued(
            case_id=case_id,
            case_number=number,
            court_code=cmd.court_code,
            case_type_code=cmd.case_type_code,
            year=today.year,
            sequence=sequence,
            case_account=account,
        )
        mapping: dict[str, str | bytes] = {
            "status": CaseStatus.FILED.value,
            "filed": payload.SerializeToString(),
            "case_number": number,
            "case_account": account,
            "sequence": str(sequence),
            "filed_on": today.isoformat(),
        }
        events = [
            self.event(payload, case_id, cmd.court_code, identity),
            self.event(issued, case_id, cmd.court_code, identity),
        ]
        return mapping, events

    async def _pending(self, pipe: Pipeline, case_id: str, identity: Identity) -> CaseRecord:
        record = await self.records.read(case_id, pipe)
        if record is None:
            raise NotFound(f"no application {case_id}")
        _check_clerk(identity, record.court_code)
        if record.status is not CaseStatus.RECEIVED:
            raise Conflict(f"application {case_id} is already {record.status.value}")
        return record

    async def docket(self, case_id: str, *, identity: Identity) -> Filed:
        """Docket a received application (立案): issue its case number."""
        case_key = self.records.case_key(case_id)
        head = await self.records.read(case_id)
        if head is None:
            raise NotFound(f"no application {case_id}")
        cmd = FileCase.model_validate_json(head.get("application") or "{}")
        today = china_today(self.ctx.clock)
        seq_key = self.records.sequence_key(cmd.court_code, cmd.case_type_code, today.year)

        async def body(pipe: Pipeline) -> Filed:
            record = await self._pending(pipe, case_id, identity)
            sequence = int(await pipe.get(seq_key) or 0) + 1
            received_on = dt.date.fromisoformat(record.get("received_on"))
            mapping, events = self.docket_events(
                cmd, case_id, received_on, today, sequence, identity
            )
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(seq_key, sequence)
            pipe.hset(case_key, mapping=mapping)  # type: ignore[arg-type]
            for event in events:
                self.ctx.outbox.stage(pipe, event)
            return Filed(
                case_id,
                created=True,
                status=CaseStatus.FILED,
                case_number=str(mapping["case_number"]),
                flags=list(events[0].payload.flags),  # type: ignore[attr-defined]
            )

        async with self.sequence_lock(seq_key):
            return await self.records.transact([seq_key, case_key], body)

    async def refuse(self, case_id: str, reason: str, *, identity: Identity) -> None:
        """Rule not to docket an application (裁定不予受理)."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> None:
            record = await self._pending(pipe, case_id, identity)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(case_key, mapping={"status": CaseStatus.REFUSED.value, "refusal": reason})
            refused = case_events_pb2.DocketRefused(case_id=case_id, reason=reason)
            self.ctx.outbox.stage(pipe, self.event(refused, case_id, record.court_code, identity))

        await self.records.transact([case_key], body)

    # --- after filing ----------------------------------------------------------------------

    async def refuse_if_stopped(self, pipe: Pipeline, record: CaseRecord, act: str) -> None:
        """Refuse ``act`` (409, rule dispute.stop-enforcement) while a dispute stops the
        court handling the case; call it before the act's MULTI."""
        await self.stops.check(pipe, record.case_id, record.court_code, act,
                               case_number=record.get("case_number"))  # fmt: skip

    async def filed_case(
        self, pipe: Pipeline, case_id: str, identity: Identity, *roles: Role
    ) -> CaseRecord:
        """The case, refused unless it exists, is filed and open, and ``identity`` has one
        of ``roles`` in the court handling it."""
        record = await self.records.read(case_id, pipe)
        if record is None:
            raise NotFound(f"no case {case_id}")
        require_role(identity, *roles)
        require_handling_court(identity, record.court_code, f"case {case_id}")
        if record.status is not CaseStatus.FILED:
            raise Conflict(f"case {case_id} is {record.status.value}, not filed and open")
        return record

    async def assign_officer(
        self, case_id: str, officer_id: str, team: str, *, identity: Identity
    ) -> None:
        """Assign the responsible officer (承办人) and team: once, on the clock of rule
        intake.assign-officer."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> None:
            record = await self.filed_case(pipe, case_id, identity, Role.LEADER, Role.CLERK)
            if record.get("officer_id"):
                raise Conflict(
                    f"case {case_id} is already assigned to {record.get('officer_id')}; "
                    "moving a case is a command action"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(case_key, mapping={"officer_id": officer_id, "team": team})
            assigned = case_events_pb2.OfficerAssigned(
                case_id=case_id, officer_id=officer_id, team=team
            )
            self.ctx.outbox.stage(pipe, self.event(assigned, case_id, record.court_code, identity))

        await self.records.transact([case_key], body)

    async def serve_notice(self, case_id: str, *, identity: Identity) -> str:
        """Record that the execution notice and asset-report order were served; the notice
        states the case account and the hotline (¶20)."""
        case_key = self.records.case_key(case_id)
        hotline = catalogue().rule("intake.notice-hotline").value or ""

        async def body(pipe: Pipeline) -> str:
            record = await self.filed_case(pipe, case_id, identity, Role.OFFICER)
            if not record.get("officer_id"):
                raise Conflict(f"case {case_id} has no officer yet: assign one first")
            if record.get("notice_served_on"):
                raise Conflict(
                    f"the execution notice of case {case_id} was served on "
                    f"{record.get('notice_served_on')}"
                )
            today = china_today(self.ctx.clock).isoformat()
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(case_key, "notice_served_on", today)
            served = case_events_pb2.ExecutionNoticeServed(
                case_id=case_id,
                served_on=today,
                case_account=record.get("case_account"),
                hotline=hotline,
            )
            self.ctx.outbox.stage(pipe, self.event(served, case_id, record.court_code, identity))
            return today

        return await self.records.transact([case_key], body)

    async def close(self, case_id: str, method: ClosureMethod, *, identity: Identity) -> None:
        """Close the case by any method but 终本, which a leader approves on the officer's
        proposal (``zhongben.Zhongben``); as 执行完毕 or 终结执行, not while money waits in its
        account (rule ``case.money-paid-out``, as the 终本 gate: ``PAYS_THE_APPLICANT``)."""
        case_key = self.records.case_key(case_id)
        facts_key = self.facts.key(case_id)

        async def body(pipe: Pipeline) -> None:
            record = await self.filed_case(pipe, case_id, identity, Role.OFFICER)
            if method is ClosureMethod.ENDED_THIS_ROUND:
                raise Conflict(
                    f"终本 is ruled only on a leader's approval (rule zhongben.leader-approval): "
                    f"propose it with POST /v1/cases/{case_id}/zhongben"
                )
            await self.refuse_if_stopped(pipe, record, "closing the case")
            if method in PAYS_THE_APPLICANT and (
                waiting := money_waiting(unpaid_fen(await self.facts.read(case_id, pipe)))
            ):
                raise Conflict(f"case {case_id} cannot be closed: {waiting} "
                               f"(rule {MONEY_PAID_OUT})")  # fmt: skip
            today = china_today(self.ctx.clock).isoformat()
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(
                case_key,
                mapping={
                    "status": CaseStatus.CLOSED.value,
                    "closed_method": method.value,
                    "closed_on": today,
                },
            )
            closed = case_events_pb2.CaseClosed(
                case_id=case_id, method=method.value, closed_on=today
            )
            self.ctx.outbox.stage(pipe, self.event(closed, case_id, record.court_code, identity))

        await self.records.transact([case_key, facts_key], body)


PAYS_THE_APPLICANT = frozenset({ClosureMethod.PERFORMED, ClosureMethod.TERMINATED})
"""Closures after which the money in the case's account is the applicant's (rule
case.money-paid-out, and 终本 through its gate). A case withdrawn (销案), not enforced or
rejected owes its money back to who paid it, which funds has no act for yet: those are not
held by the rule (docs/api/zhongben.md)."""


def filed_view(filed: case_events_pb2.CaseFiled) -> dict[str, object]:
    """The filing's fields as the API answers them: in the spelling POST /v1/cases accepts
    (a party's kind natural_person or organisation, not the protobuf's PARTY_KIND_...) and
    sums of money as integers of fen (not int64's JSON strings)."""
    view: dict[str, Any] = message_fields(filed)
    for side in ("applicants", "debtors"):
        for shown, party in zip(view.get(side, []), getattr(filed, side), strict=True):
            kind = party_kind_of(party.kind)
            shown["kind"] = kind.value if kind is not None else ""
    for name in ("claim_amount_fen", "costs_fen"):
        view[name] = int(getattr(filed, name))
    return view


def record_view(record: CaseRecord) -> dict[str, object]:
    """A case record as the API shows it."""
    view: dict[str, object] = {"case_id": record.case_id, "status": record.status.value}
    if record.filed is not None:
        view.update(filed_view(record.filed))
        view["filing_court"] = record.filed.court_code
    else:
        view["received_on"] = record.get("received_on")
    view["court_code"] = record.court_code  # the handling court: a command action may move it
    for name in (
        "receipt_number", "case_account", "officer_id", "team", "track", "notice_served_on",
        "closed_method", "closed_on", "refusal",
    ):  # fmt: skip
        if record.get(name):
            view[name] = record.get(name)
    if record.get("triage_reasons"):
        view["triage_reasons"] = json.loads(record.get("triage_reasons"))
    # 终本 and resumption (恢复执行): the ruling, the 执恢 case it resumed as, or resumes.
    for shown, name in (
        ("zhongben", "zhongben"), ("ruled_on", "zhongben_ruled_on"),
        ("ruling_number", "zhongben_ruling_number"), ("resumed_as", "resumed_as"),
        ("resumed_as_number", "resumed_as_number"), ("resumed_on", "resumed_on"),
    ):  # fmt: skip
        if record.get(name):
            view[shown] = record.get(name)
    if record.filed is not None:  # litigation unless the filing said otherwise
        view["proceeding"] = record.filed.proceeding or "litigation"
    if record.filed is not None and record.filed.resumed_from_case_id:
        view["resumed_from"] = record.filed.resumed_from_case_id
    return view
