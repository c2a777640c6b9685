"""Matter entrustment (执行事项委托, ¶27; 民诉法 art 240): a court asks the court where an
asset or person is to do one matter for its case. The entrusted court is found in the
court directory from the location; it may not refuse (委托执行规定 art 2), only start, report,
complete, or return the matter with its reasons.

Records (JSON, ``entrustment:entrustment:<id>``) and an index of the entrustments each
court is party to (``entrustment:court:<code>``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from zhixing.auth import Identity, Role, ScopeError, may_read, require_role, require_scope
from zhixing.clock import china_today
from zhixing.courts import CourtDirectory, UnknownCourtCode, covers
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.known_cases import KnownCases
from zhixing.periods import add_months
from zhixing.records import JsonRecords, ids_in_jurisdiction, log_act
from zhixing.rules import catalogue
from zhixing.service import ServiceContext
from zhixing.state import as_text, transact
from zhixing.v1 import entrustment_events_pb2 as pb
from zhixing.v1 import envelope_pb2


class MatterType(StrEnum):
    """The matters the platform lists (local copy of the SPC list; RULES.md: M)."""

    DEPOSIT_FREEZE = "deposit_freeze"  # 冻结存款、理财产品
    DEPOSIT_RENEW = "deposit_renew"  # 续冻
    DEPOSIT_RELEASE = "deposit_release"  # 解冻
    DEPOSIT_DEDUCT = "deposit_deduct"  # 扣划
    EQUITY_FREEZE = "equity_freeze"  # 冻结股权
    REAL_ESTATE_SEIZE = "real_estate_seize"  # 查封不动产
    REAL_ESTATE_RENEW = "real_estate_renew"  # 续封
    REAL_ESTATE_RELEASE = "real_estate_release"  # 解封
    REAL_ESTATE_TRANSFER = "real_estate_transfer"  # 过户
    MOVABLE_SEIZE = "movable_seize"  # 查封、扣押可登记动产
    MOVABLE_RENEW = "movable_renew"
    MOVABLE_RELEASE = "movable_release"
    MOVABLE_TRANSFER = "movable_transfer"
    ASSET_INVESTIGATION = "asset_investigation"  # 调查财产
    SERVICE_OF_DOCUMENTS = "service_of_documents"  # 送达
    OTHER = "other"


# Matters that hand an existing seizure or freeze over to the entrusted court to act on:
# it must have at least the gate's time left, or be renewed first.
HANDOVER = frozenset(
    {MatterType.DEPOSIT_DEDUCT, MatterType.REAL_ESTATE_TRANSFER, MatterType.MOVABLE_TRANSFER}
)


class Status(StrEnum):
    ENTRUSTED = "entrusted"
    STARTED = "started"
    COMPLETED = "completed"
    RETURNED = "returned"


OPEN = (Status.ENTRUSTED, Status.STARTED)


SERVICE_ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:entrustment", role="service"
)


class Entrustments:
    def __init__(self, ctx: ServiceContext, courts: CourtDirectory, known: KnownCases) -> None:
        self.ctx = ctx
        self.courts = courts
        self.known = known
        self.records = JsonRecords(ctx.redis, ctx.keys, "entrustment")

    def court_index(self, court: str) -> str:
        return self.ctx.keys.key("court", court)

    async def get(self, entrustment_id: str) -> dict[str, Any] | None:
        return await self.records.get(entrustment_id)

    def visible_to(self, identity: Identity, record: dict[str, Any]) -> bool:
        """Both courts, and the courts above either, see the matter."""
        return any(
            may_read(identity, court)
            for court in (record["entrusting_court"], record["entrusted_court"])
        )

    async def list_for(self, identity: Identity) -> list[dict[str, Any]]:
        """Every matter the identity may read: its court's and, for a court above, those of
        every court below it."""
        ids = await ids_in_jurisdiction(self.ctx.redis, self.court_index, identity.court_code)
        return [r for r in await self.records.many(ids) if self.visible_to(identity, r)]

    def _stage(
        self, pipe: Pipeline, payload: Message, record: dict[str, Any], court: str,
        identity: Identity,
    ) -> None:  # fmt: skip
        self.ctx.stage(pipe, payload, aggregate_id=record["entrustment_id"], court_code=court,
                       actor=identity.as_actor())  # fmt: skip

    # --- entrusting ----------------------------------------------------------------------------

    async def entrust(
        self, *, identity: Identity, case_id: str, matter_type: MatterType, description: str,
        location_division: str, documents: Sequence[str], control_expires_on: dt.date | None,
    ) -> dict[str, Any]:  # fmt: skip
        require_role(identity, Role.OFFICER)
        case = await self.known.get(case_id)
        if case is None or not covers(identity.court_code, case["court_code"]):
            raise NotFound(f"no case {case_id} in your jurisdiction")
        if case["court_code"] != identity.court_code:
            raise ScopeError(f"case {case_id} is handled by {case['court_code']}; only it entrusts")
        require_scope(identity, case["court_code"], write=True)
        try:
            entrusted = self.courts.basic_court_for_division(location_division)
        except UnknownCourtCode as exc:
            raise Invalid(str(exc), loc=("body", "location_division")) from None
        if entrusted.code == identity.court_code:
            raise Invalid(
                f"division {location_division} is in {entrusted.code}'s own region: "
                "nothing to entrust",
                loc=("body", "location_division"),
            )
        if matter_type in HANDOVER:
            self._check_time_left(control_expires_on)
        entrustment_id = str(uuid.uuid4())
        observers = [identity.court_code, entrusted.code]
        record = {
            "entrustment_id": entrustment_id,
            "case_id": case_id,
            "entrusting_court": identity.court_code,
            "entrusted_court": entrusted.code,
            "entrusted_court_name": entrusted.name,
            "matter_type": matter_type.value,
            "description": description,
            "location_division": location_division,
            "documents": list(documents),
            "status": Status.ENTRUSTED.value,
            "entrusted_by": identity.subject,
            "entrusted_at": self.ctx.clock.now().isoformat(),
            "start_overdue": False,
            "history": [],
        }
        payload = pb.MatterEntrusted(
            entrustment_id=entrustment_id,
            case_id=case_id,
            entrusting_court=identity.court_code,
            entrusted_court=entrusted.code,
            matter_type=matter_type.value,
            description=description,
            location_division=location_division,
            documents=list(documents),
            observer_courts=observers,
            entrusted_by=identity.subject,
        )

        async def body(pipe: Pipeline) -> dict[str, Any]:
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.put(pipe, entrustment_id, record)
            for court in observers:
                pipe.sadd(self.court_index(court), entrustment_id)
            self._stage(pipe, payload, record, entrusted.code, identity)
            return record

        result: dict[str, Any] = await transact(self.ctx.redis, [], body)
        return result

    def _check_time_left(self, expires_on: dt.date | None) -> None:
        gate = catalogue().rule("entrustment.renew-before-handover")
        months = gate.limit or 0
        if expires_on is None:
            raise Invalid(
                "a matter that hands over a seizure or freeze states when it expires "
                "(control_expires_on)",
                loc=("body", "control_expires_on"),
            )
        today = china_today(self.ctx.clock)
        if expires_on < add_months(today, months):
            raise Conflict(
                f"the control expires on {expires_on}, less than {months} month(s) from today "
                f"({today}): renew it before handing it over ({gate.source})"
            )

    # --- acting on it --------------------------------------------------------------------------

    async def _act(self, entrustment_id: str, identity: Identity, act: Any) -> Any:
        return await self.records.change(
            entrustment_id,
            act,
            visible=lambda record: self.visible_to(identity, record),
            missing=f"no entrustment {entrustment_id} in your jurisdiction",
        )

    def _entrusted_officer(self, identity: Identity, record: dict[str, Any]) -> None:
        require_role(identity, Role.OFFICER, Role.CLERK)
        if identity.court_code != record["entrusted_court"]:
            raise ScopeError(
                f"only the entrusted court {record['entrusted_court']} acts on this matter"
            )

    def _open(self, record: dict[str, Any]) -> None:
        if record["status"] not in OPEN:
            raise Conflict(f"entrustment {record['entrustment_id']} is {record['status']}")

    def _log(self, record: dict[str, Any], what: str, identity: Identity, **extra: Any) -> None:
        log_act(record, self.ctx.clock, what, identity, **extra)

    async def start(self, entrustment_id: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._entrusted_officer(identity, record)
            if record["status"] != Status.ENTRUSTED:
                raise Conflict(f"entrustment {entrustment_id} is {record['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["status"] = Status.STARTED.value
            self._log(record, "started", identity)
            started = pb.EntrustmentStarted(
                entrustment_id=entrustment_id, started_by=identity.subject
            )
            self._stage(pipe, started, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def report_status(self, entrustment_id: str, report: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._entrusted_officer(identity, record)
            self._open(record)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._log(record, "status_reported", identity, report=report)
            reported = pb.EntrustmentStatusReported(
                entrustment_id=entrustment_id,
                report=report,
                observer_courts=[record["entrusting_court"], record["entrusted_court"]],
            )
            self._stage(pipe, reported, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def request_order(self, entrustment_id: str, *, identity: Identity) -> str:
        """Not started within the limit: the entrusting court asks the entrusted court's
        superior, in one act, to order it (民诉法 art 240)."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> str:
            require_role(identity, Role.OFFICER)
            if identity.court_code != record["entrusting_court"]:
                raise ScopeError("only the entrusting court asks for an order")
            if record["status"] != Status.ENTRUSTED:
                raise Conflict(f"entrustment {entrustment_id} is {record['status']}")
            if not record["start_overdue"]:
                limit = catalogue().rule("entrustment.start")
                raise Conflict(
                    f"the entrusted court still has time to start ({limit.limit} "
                    f"{limit.unit.value if limit.unit else ''} from receipt, {limit.source})"
                )
            if record.get("order_requested"):
                raise Conflict(f"an order was asked of {record['order_requested']} already")
            superior = self.courts.lookup(record["entrusted_court"]).superior or ""
            pipe.multi()  # type: ignore[no-untyped-call]
            record["order_requested"] = superior
            self._log(record, "order_requested", identity, superior=superior)
            requested = pb.EntrustmentOrderRequested(
                entrustment_id=entrustment_id, superior_court=superior,
                requested_by=identity.subject,
            )  # fmt: skip
            self._stage(pipe, requested, record, superior, identity)
            return superior

        result: str = await self._act(entrustment_id, identity, act)
        return result

    async def order(self, entrustment_id: str, instruction: str, *, identity: Identity) -> None:
        """The entrusted court's superior orders it to act."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            require_role(identity, Role.COMMAND, Role.LEADER)
            superior = self.courts.lookup(record["entrusted_court"]).superior
            if identity.court_code != superior:
                raise ScopeError(f"only {superior}, the entrusted court's superior, orders it")
            if record["status"] != Status.ENTRUSTED:
                raise Conflict(f"entrustment {entrustment_id} is {record['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["ordered_by"] = identity.subject
            self._log(record, "ordered", identity, instruction=instruction)
            ordered = pb.EntrustmentOrdered(
                entrustment_id=entrustment_id, superior_court=superior,
                ordered_by=identity.subject, instruction=instruction,
            )  # fmt: skip
            self._stage(pipe, ordered, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def complete(
        self, entrustment_id: str, result: str, documents: Sequence[str],
        control: pb.EntrustedControl | None, *, identity: Identity,
    ) -> None:  # fmt: skip
        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._entrusted_officer(identity, record)
            if record["status"] != Status.STARTED:
                raise Conflict(
                    f"entrustment {entrustment_id} is {record['status']}; start it first"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(
                status=Status.COMPLETED.value, result=result, result_documents=list(documents)
            )
            self._log(record, "completed", identity)
            completed = pb.EntrustmentCompleted(
                entrustment_id=entrustment_id,
                case_id=record["case_id"],
                entrusting_court=record["entrusting_court"],
                result=result,
                documents=list(documents),
            )
            if control is not None:
                completed.control.CopyFrom(control)
                record["control"] = {
                    "asset_key": control.asset_key,
                    "amount_fen": control.amount_fen,
                }
            self._stage(pipe, completed, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def return_matter(self, entrustment_id: str, reason: str, *, identity: Identity) -> None:
        """Return the matter with its reasons (not a refusal: audited, and the entrusting
        court sees why)."""

        async def act(pipe: Pipeline, record: dict[str, Any]) -> None:
            self._entrusted_officer(identity, record)
            self._open(record)
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(status=Status.RETURNED.value, return_reason=reason)
            self._log(record, "returned", identity, reason=reason)
            returned = pb.EntrustmentReturned(
                entrustment_id=entrustment_id, reason=reason, returned_by=identity.subject
            )
            self._stage(pipe, returned, record, record["entrusted_court"], identity)

        await self._act(entrustment_id, identity, act)

    async def follow_case(self, case_id: str, from_court: str, to_court: str) -> int:
        """The entrusting court's case moved: the new court entrusts its open matters (the
        clocks' observers follow through EntrustmentCourtChanged). Idempotent."""
        ids = sorted(
            as_text(i) for i in await self.ctx.redis.smembers(self.court_index(from_court))
        )
        moved = 0
        for entrustment_id in ids:

            async def act(
                pipe: Pipeline, record: dict[str, Any], entrustment_id: str = entrustment_id
            ) -> bool:
                if record["case_id"] != case_id or record["entrusting_court"] != from_court:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                record["entrusting_court"] = to_court
                record["history"].append(
                    {"at": self.ctx.clock.now().isoformat(), "act": "case_moved",
                     "from": from_court, "to": to_court}
                )  # fmt: skip
                pipe.sadd(self.court_index(to_court), entrustment_id)
                changed = pb.EntrustmentCourtChanged(
                    entrustment_id=entrustment_id, from_court=from_court, to_court=to_court
                )
                self.ctx.stage(
                    pipe,
                    changed,
                    aggregate_id=entrustment_id,
                    court_code=record["entrusted_court"],
                    actor=SERVICE_ACTOR,
                )
                return True

            if await self.records.change(entrustment_id, act):
                moved += 1
        return moved

    async def mark_start_overdue(self, entrustment_id: str) -> None:
        """The deadline engine reported the start clock breached."""
        await self.records.set_once(entrustment_id, "start_overdue", True)
