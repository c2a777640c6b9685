"""The notification service's handlers: a filed case's parties and codes kept; each node of
the table (``domain.NODES``) queued as a notice per party and channel, once per event
(¶14: every asset controlled is pushed to the parties); a case followed to the court
handling it; and the outcome of each send (delivered with its receipt, an attempt failed
and tried again after the backoff, or undelivered and listed for the court), which writes
its notice alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.notification import domain
from services.notification.domain import (
    DELIVERED,
    QUEUED,
    UNDELIVERED,
    Facts,
    Node,
    Record,
    listed_ms,
)
from services.notification.repository import KEPT, NotificationRecords
from services.notification.settings import NotificationSettings
from zhixing.courts import court_name
from zhixing.errors import NotFound
from zhixing.events import Event, decode_event, timestamp
from zhixing.persons import id_number_text
from zhixing.projection import INFRASTRUCTURE_ERRORS
from zhixing.rules import Catalogue, catalogue
from zhixing.service import ServiceContext
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import envelope_pb2, funds_events_pb2
from zhixing.v1 import notification_events_pb2 as pb

log = structlog.get_logger(__name__)

__all__ = ["SERVICE_ACTOR", "Notices", "Outgoing", "listed_ms"]

SettleAct = Callable[[Pipeline, Record, Record], None]
"""``settle(pipe, record, notice)``: queue the writes of a queued notice's outcome."""

SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:notification", role="service"
)


@dataclass(frozen=True)
class Outgoing:
    """A notice as it goes to the gateway: the text with the party's code in it."""

    notice_id: str
    case_id: str
    channel: str
    court_code: str
    case_number: str
    recipient_name: str
    recipient_ref: str
    text: str


class Notices:
    def __init__(
        self, ctx: ServiceContext, records: NotificationRecords, settings: NotificationSettings,
        rules: Catalogue | None = None,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.records = records
        self.settings = settings
        self.rules = rules or catalogue()
        # The rule says the notices state the 12368 line; its number lives in the catalogue.
        self.hotline = str(self.rules.rule(domain.HOTLINE_RULE).value or "")

    def now(self) -> dt.datetime:
        return self.ctx.clock.now()

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def undelivered_since_ms(self) -> int:
        """The oldest a court's undelivered list keeps (the retention, on the clock)."""
        kept = dt.timedelta(days=self.settings.undelivered_retention_days)
        return int((self.now() - kept).timestamp() * 1000)

    def stage(self, pipe: Pipeline, record: Record, payload: Message) -> None:
        self.ctx.stage(pipe, payload, aggregate_id=record["case_id"],
                       court_code=record["court_code"], actor=SERVICE_ACTOR)  # fmt: skip

    # --- facts from other services ---------------------------------------------------------

    async def case_filed(self, event: Event[Message], filed: cases.CaseFiled) -> bool:
        """Keep the case's parties, issue each a query code and queue the filing notices."""
        court = filed.court_code or event.envelope.court_code
        secret = self.settings.secret
        refs = {key: domain.recipient_ref(secret, id_number_text(party.id_number))
                for key, _, party in domain.party_keys(filed)}  # fmt: skip
        record = domain.new_case(filed, court, court_name(court), self.hotline)
        parties = domain.new_parties(filed, refs)
        if not record["filed_on"]:
            record["filed_on"] = domain.china_date(event.envelope.occurred_at.ToDatetime(dt.UTC))

        def queue(pipe: Pipeline, record: Record) -> None:
            self.records.keep_parties(pipe, filed.case_id, parties)
            for key in parties:
                code = domain.query_code(secret, filed.case_id, key)
                hashed = domain.code_hash(secret, code)
                self.records.keep_code(pipe, hashed, filed.case_id, key)
                issued = pb.CaseQueryCodeIssued(case_id=filed.case_id, party_key=key,
                                                code_hash=hashed)  # fmt: skip
                self.stage(pipe, record, issued)
            spec = domain.NODES[cases.CaseFiled]
            facts = {**(spec.facts(filed) or {}), "on": domain.date_text(record["filed_on"])}
            self._queue_node(pipe, record, parties, event, spec, facts)

        opened = await self.records.open_once(record, queue)
        await self._tell_early_nodes(filed.case_id)
        return opened

    async def _tell_early_nodes(self, case_id: str) -> None:
        """Queue the nodes read before the case's filing, in the order read. Run on every
        delivery of the filing: a node is queued once however often it is told, so a crash
        before the kept events are dropped loses nothing and doubles nothing."""
        kept = await self.records.early_events(case_id)
        for raw in kept:
            try:
                event = decode_event(raw)
                if isinstance(event.payload, cases.CaseHandlingCourtChanged):
                    # A move read before the filing: followed first, as when read after it,
                    # so the court that has the case now tells it and lists what is left.
                    moved = event.payload
                    await self.follow_case(case_id, moved.to_court, from_court=moved.from_court)
                await self.node(event, case_id)
            except INFRASTRUCTURE_ERRORS:
                raise  # the filing is read again, and what was kept with it
            except Exception:
                # One bad node must not cost the case the others, nor its filing.
                log.exception("a node kept before its case's filing could not be told",
                              case_id=case_id)  # fmt: skip
        if kept:
            log.info("nodes read before their case's filing told", case_id=case_id,
                     nodes=len(kept))  # fmt: skip
            await self.records.drop_early(case_id)

    async def node(self, event: Event[Message], case_id: str) -> bool:
        """Queue the notices of a node the event is (``domain.NODES``), once per event. An
        event about a case this service has not read the filing of is kept until it does
        (the topics are read side by side, so a case's first nodes can come before its
        filing); an event that is no node queues nothing."""
        payload = event.payload
        spec = domain.NODES.get(type(payload))
        facts = spec.facts(payload) if spec is not None else None
        if spec is None or facts is None or not case_id:
            return False

        async def act(pipe: Pipeline, record: Record) -> bool:
            event_id = event.envelope.event_id
            # Told once per event (a record of the first version noted it on its nodes).
            if await self.records.was_told(pipe, case_id, event_id) or any(
                n.get("event_id") == event_id for n in record["nodes"]
            ):
                return False
            parties = await self.records.parties(case_id, pipe)
            pipe.multi()  # type: ignore[no-untyped-call]
            if isinstance(payload, funds_events_pb2.FundsArrived):
                record["received_fen"] += payload.amount_fen
            elif isinstance(payload, funds_events_pb2.FundsPaid):
                record["paid_fen"] += payload.amount_fen
            self._queue_node(pipe, record, parties, event, spec, facts)
            return True

        told = await self.records.change_case_or_keep_early(case_id, act, event.to_bytes())
        if told is KEPT:
            log.info("node kept until its case's filing is read", case_id=case_id,
                     node=spec.name)  # fmt: skip
        return told is True

    @staticmethod
    def _entry(event: Event[Message], spec: Node, facts: Facts) -> Record:
        """The node as the progress page shows it."""
        at = event.envelope.occurred_at.ToDatetime(dt.UTC)
        on = facts.get("on") or domain.date_text(domain.china_date(at))
        return {"node": spec.name, "title": spec.title, "on": on,
                "event_id": event.envelope.event_id}  # fmt: skip

    def _queue_node(
        self, pipe: Pipeline, record: Record, parties: dict[str, Record],
        event: Event[Message], spec: Node, facts: Facts,
    ) -> None:  # fmt: skip
        """Note the node on the case's progress and queue a notice per party and channel:
        each notice is written on its own, and the case's record only notes the node."""
        entry = self._entry(event, spec, facts)
        on = entry["on"]
        domain.note_node(record, entry)
        self.records.mark_told(pipe, record["case_id"], event.envelope.event_id)
        now = self.now()
        for key, party in parties.items():
            if party["role"] not in spec.to:
                continue
            text = domain.notice_text(spec, {**facts, "on": on}, record, party)
            for channel in self.settings.channels:
                notice_id = domain.notice_id(event.envelope.event_id, key, channel)
                notice = {
                    "notice_id": notice_id, "node": spec.name, "party_key": key,
                    "party_role": party["role"], "party_name": party["name"],
                    "party_ref": party["ref"], "channel": channel, "text": text,
                    "status": QUEUED, "attempts": 0, "queued_at": now.isoformat(),
                    "retry_at": None, "receipt_id": None, "delivered_at": None,
                    "last_error": None,
                }  # fmt: skip
                self.records.put_notice(pipe, record["case_id"], notice, new=True)
                self.records.schedule(pipe, record["case_id"], notice_id, self.now_ms())
                queued = pb.NoticeQueued(
                    notice_id=notice_id, case_id=record["case_id"],
                    case_number=record["case_number"], court_code=record["court_code"],
                    node=spec.name, source_event_id=event.envelope.event_id,
                    party_role=party["role"], party_key=key, channel=channel, text=text,
                )  # fmt: skip
                self.stage(pipe, record, queued)

    async def follow_case(self, case_id: str, to_court: str, *, from_court: str = "") -> bool:
        """The case moved to another court (提级, 指令): listed there, and what is left to
        deliver another way is that court's to do. With ``from_court``, only a case listed
        there moves (a move kept before the filing and replayed again after a crash)."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            listed_at = record["court_code"]
            if listed_at == to_court or (from_court and listed_at != from_court):
                return False
            undelivered = await self.records.undelivered_of(pipe, case_id)
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.move(pipe, case_id, listed_at, to_court, undelivered)
            record["court_code"], record["court_name"] = to_court, court_name(to_court)
            return True

        try:
            # A notice found undelivered meanwhile is listed under the court it read: watched.
            return await self.records.change_case(
                case_id, act, watch=[self.records.undelivered_of_key(case_id)]
            )
        except NotFound:
            return False

    # --- sending ---------------------------------------------------------------------------

    async def outgoing(self, case_id: str, notice_id: str) -> Outgoing | None:
        """The notice as it goes out, if it is still to be sent (its case's record and the
        notice alone are read, whatever the case's size)."""
        record = await self.records.case(case_id)
        notice = await self.records.notice(case_id, notice_id) if record else None
        if record is None or notice is None or notice["status"] != QUEUED:
            await self.records.drop_due(case_id, notice_id)
            return None
        code = domain.query_code(self.settings.secret, case_id, notice["party_key"])
        return Outgoing(
            notice_id=notice_id, case_id=case_id, channel=notice["channel"],
            court_code=record["court_code"], case_number=record["case_number"],
            recipient_name=notice["party_name"], recipient_ref=notice["party_ref"],
            text=domain.with_code(notice["text"], code),
        )  # fmt: skip

    async def _settle(self, case_id: str, notice_id: str, settle: SettleAct) -> bool:
        """Change a queued notice (a settled one is left alone: a resend after a crash, or a
        second sender, records nothing twice). The notice alone is written."""

        async def act(pipe: Pipeline, record: Record, notice: Record | None) -> bool:
            if notice is None or notice["status"] != QUEUED:
                pipe.multi()  # type: ignore[no-untyped-call]
                self.records.unschedule(pipe, case_id, notice_id)
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            settle(pipe, record, notice)
            return True

        try:
            return await self.records.change_notice(case_id, notice_id, act)
        except NotFound:
            await self.records.drop_due(case_id, notice_id)
            return False

    async def delivered(self, case_id: str, notice_id: str, receipt_id: str) -> bool:
        def settle(pipe: Pipeline, record: Record, notice: Record) -> None:
            now = self.now()
            notice.update(status=DELIVERED, receipt_id=receipt_id, retry_at=None,
                          attempts=notice["attempts"] + 1,
                          delivered_at=now.isoformat())  # fmt: skip
            self.records.unschedule(pipe, case_id, notice_id)
            self.stage(pipe, record, pb.NoticeDelivered(
                notice_id=notice_id, case_id=case_id, receipt_id=receipt_id,
                attempts=notice["attempts"], delivered_at=timestamp(now),
            ))  # fmt: skip

        return await self._settle(case_id, notice_id, settle)

    async def attempt_failed(self, case_id: str, notice_id: str, error: str) -> bool:
        """A passing fault: tried again after the backoff, or, after the last attempt the
        settings allow, undelivered."""

        def settle(pipe: Pipeline, record: Record, notice: Record) -> None:
            notice["attempts"] += 1
            notice["last_error"] = error
            if notice["attempts"] >= self.settings.max_attempts:
                self._undelivered(pipe, record, notice, error)
                return
            wait = domain.backoff_s(notice["attempts"], self.settings.backoff_base_s,
                                    self.settings.backoff_max_s)  # fmt: skip
            retry_at = self.now() + dt.timedelta(seconds=wait)
            notice["retry_at"] = retry_at.isoformat()
            self.records.schedule(pipe, case_id, notice_id, int(retry_at.timestamp() * 1000))
            self.stage(pipe, record, pb.NoticeAttemptFailed(
                notice_id=notice_id, case_id=case_id, attempt=notice["attempts"], error=error,
                retry_at=timestamp(retry_at),
            ))  # fmt: skip

        return await self._settle(case_id, notice_id, settle)

    async def refused(self, case_id: str, notice_id: str, reason: str) -> bool:
        """The channel refused the notice for good: undelivered at once."""

        def settle(pipe: Pipeline, record: Record, notice: Record) -> None:
            notice["attempts"] += 1
            self._undelivered(pipe, record, notice, reason)

        return await self._settle(case_id, notice_id, settle)

    def _undelivered(self, pipe: Pipeline, record: Record, notice: Record, error: str) -> None:
        now = self.now()
        notice.update(status=UNDELIVERED, last_error=error, retry_at=None,
                      undelivered_at=now.isoformat())  # fmt: skip
        self.records.unschedule(pipe, record["case_id"], notice["notice_id"])
        self.records.list_undelivered(
            pipe, record["court_code"], record["case_id"], notice["notice_id"],
            at_ms=listed_ms(notice), since_ms=self.undelivered_since_ms(),
            keep=self.settings.undelivered_kept_per_court,
        )  # fmt: skip
        self.stage(pipe, record, pb.NoticeUndelivered(
            notice_id=notice["notice_id"], case_id=record["case_id"],
            attempts=notice["attempts"], last_error=error,
        ))  # fmt: skip
