"""Petitions (信访, ¶30): received (the petition.enter clock runs from the day received),
registered with the cases they name (stops it, starts petition.resolve; each case's
repeat count goes up), and answered with the reply to the petitioner (stops
petition.resolve). The court that received it acts; it and the courts above read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import Pipeline

from services.supervision import domain
from services.supervision.domain import (
    Channel,
    PetitionerRole,
    PetitionStatus,
    Record,
    ReplyChannel,
)
from services.supervision.handler import Saved, SupervisionHandler
from zhixing.auth import (
    Identity,
    may_read,
    readable_court,
    require_handling_court,
    require_role,
    require_scope,
)
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.paging import DEFAULT_PAGE, Page, page
from zhixing.v1 import supervision_events_pb2 as pb


@dataclass(frozen=True)
class Petition:
    received_on: dt.date
    channel: Channel
    petitioner_name: str
    petitioner_role: PetitionerRole
    summary: str
    case_numbers: tuple[str, ...]


class Petitions(SupervisionHandler):
    async def receive(
        self, identity: Identity, petition: Petition, *, register: bool = False, handler: str = ""
    ) -> Record:
        """Receive a petition at the caller's court (and register it at once if asked)."""
        return (await self.receive_once(identity, petition, register=register,
                                        handler=handler)).record  # fmt: skip

    async def receive_once(
        self, identity: Identity, petition: Petition, *, register: bool = False,
        handler: str = "", idempotency_key: str | None = None,
    ) -> Saved:  # fmt: skip
        """``receive``; with an Idempotency-Key, a repeated request records nothing new and
        returns the petition the first one received (a retry must not count twice)."""
        once = self.once("petition", identity, idempotency_key, petition=petition,
                         register=register, handler=handler)  # fmt: skip
        require_role(identity, *domain.PETITION_ROLES)
        require_scope(identity, identity.court_code, write=True)
        if petition.received_on > self.today():
            raise Invalid("received_on is in the future", loc=("body", "received_on"))
        if register and not handler:
            raise Invalid("registering at once needs the handler", loc=("body", "handler"))
        cases = await self._cases(identity, petition.case_numbers)
        for case in cases:  # a petition about a case comes once the case has a number
            filed = domain.filing_day(case)
            if filed is not None and petition.received_on < filed:
                raise Invalid(f"received_on is before case {case['case_number']} was filed "
                              f"({filed.isoformat()})", loc=("body", "received_on"))  # fmt: skip
        petition_id = self.new_id()
        record: Record = {
            "petition_id": petition_id, "court_code": identity.court_code,
            "received_on": petition.received_on.isoformat(), "channel": petition.channel.value,
            "petitioner_name": petition.petitioner_name,
            "petitioner_role": petition.petitioner_role.value, "summary": petition.summary,
            "case_ids": [c["case_id"] for c in cases],
            "case_numbers": [c["case_number"] for c in cases],
            "status": PetitionStatus.RECEIVED.value, "received_by": identity.subject,
            "received_at": self.now().isoformat(), "registration": None, "answer": None,
        }  # fmt: skip
        watch = [self.records.petitions.key(petition_id)]
        if register:
            watch += [self.records.petition_case_key(c) for c in record["case_ids"]]
        if once is not None:
            watch.append(once.key)

        async def body(pipe: Pipeline) -> Saved:
            previous = (
                await once.previous(pipe, what="petition", named="petition") if once else None
            )
            if previous is not None and (first := await self.records.petitions.get(previous)):
                return Saved(first, created=False)
            counts = await self._counts(pipe, record) if register else []
            pipe.multi()  # type: ignore[no-untyped-call]
            self.stage(pipe, pb.PetitionReceived(
                petition_id=petition_id, court_code=record["court_code"],
                received_on=record["received_on"], channel=record["channel"],
                petitioner_name=record["petitioner_name"],
                petitioner_role=record["petitioner_role"], summary=record["summary"],
                case_ids=record["case_ids"], case_numbers=record["case_numbers"],
                received_by=identity.subject,
            ), aggregate_id=petition_id, court_code=record["court_code"],
               actor=identity.as_actor())  # fmt: skip
            if register:
                self._register(pipe, record, identity, handler, counts)
            self.records.petitions.add(pipe, petition_id, record, [record["court_code"]])
            if once is not None:
                once.remember(pipe, petition_id)
            return Saved(record, created=True)

        return await self.records.transact(watch, body)

    async def register(self, petition_id: str, identity: Identity, *, handler: str) -> Record:
        """Enter the received petition into the system (录入) with its cases."""
        require_role(identity, *domain.PETITION_ROLES)
        found = await self._visible(petition_id, identity)
        watch = [self.records.petition_case_key(c) for c in found["case_ids"]]

        async def act(pipe: Pipeline, record: Record) -> Record:
            require_handling_court(identity, record["court_code"], f"petition {petition_id}")
            if record["status"] != PetitionStatus.RECEIVED:
                raise Conflict(f"petition {petition_id} is {record['status']} already")
            counts = await self._counts(pipe, record)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._register(pipe, record, identity, handler, counts)
            return record

        return await self.records.petitions.change(petition_id, act, watch=watch)

    async def reply(
        self, petition_id: str, identity: Identity, *, reply: str, replied_on: dt.date,
        reply_channel: ReplyChannel,
    ) -> Record:  # fmt: skip
        """The petition was resolved and the petitioner told."""
        require_role(identity, *domain.PETITION_ROLES)
        await self._visible(petition_id, identity)

        async def act(pipe: Pipeline, record: Record) -> Record:
            require_handling_court(identity, record["court_code"], f"petition {petition_id}")
            if record["status"] == PetitionStatus.RECEIVED:
                raise Conflict(f"petition {petition_id} is not registered yet: register it first")
            if record["status"] != PetitionStatus.REGISTERED:
                raise Conflict(f"petition {petition_id} is {record['status']} already")
            if replied_on > self.today():
                raise Invalid("replied_on is in the future", loc=("body", "replied_on"))
            if replied_on.isoformat() < record["received_on"]:
                raise Invalid("replied_on is before the petition was received",
                              loc=("body", "replied_on"))  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["status"] = PetitionStatus.ANSWERED.value
            record["answer"] = {"reply": reply, "replied_on": replied_on.isoformat(),
                                "reply_channel": reply_channel.value, "by": identity.subject,
                                "at": self.now().isoformat()}  # fmt: skip
            self.stage(pipe, pb.PetitionAnswered(
                petition_id=petition_id, court_code=record["court_code"], reply=reply,
                replied_on=replied_on.isoformat(), reply_channel=reply_channel.value,
                answered_by=identity.subject,
            ), aggregate_id=petition_id, court_code=record["court_code"],
               actor=identity.as_actor())  # fmt: skip
            return record

        return await self.records.petitions.change(petition_id, act)

    # --- reads -------------------------------------------------------------------------------

    async def petition(self, petition_id: str, identity: Identity) -> Record:
        return await self._visible(petition_id, identity)

    async def listing(
        self, identity: Identity, *, court: str | None, case_id: str | None,
        status: PetitionStatus | None, limit: int = DEFAULT_PAGE, after: str | None = None,
    ) -> Page[Record]:  # fmt: skip
        """A page of the petitions of ``court`` and the courts below it, newest received
        first."""
        # An unknown court is 422 naming ``court``; one outside the caller's jurisdiction
        # reads as missing (404), as notification's undelivered notices do.
        require_scope(identity, identity.court_code, write=False)
        court = readable_court(identity, court)
        found = await self.records.petitions.in_jurisdiction(court)
        found = [p for p in found if (not case_id or case_id in p["case_ids"])
                 and (status is None or p["status"] == status)]  # fmt: skip
        return page(found, _newest_first, limit=limit, after=after, descending=True)

    async def view(self, record: Record) -> dict[str, Any]:
        """The petition with each case's repeat count (registered petitions naming it)."""
        counts = await self.records.repeat_counts(record["case_ids"])
        cases = [{"case_id": i, "case_number": n, "petitions": c} for i, n, c in
                 zip(record["case_ids"], record["case_numbers"], counts, strict=True)]  # fmt: skip
        return {**record, "cases": cases}

    # --- helpers -----------------------------------------------------------------------------

    async def _visible(self, petition_id: str, identity: Identity) -> Record:
        record = await self.records.petitions.get(petition_id)
        if record is None or not may_read(identity, record["court_code"]):
            raise NotFound(f"no petition {petition_id} in your jurisdiction")
        return record

    async def _cases(self, identity: Identity, numbers: tuple[str, ...]) -> list[dict[str, str]]:
        """The cases named, known to this service and visible to the caller's court."""
        cases: list[dict[str, str]] = []
        for position, number in enumerate(numbers):
            case = await self.records.case_by_number(number)
            if case is None or not may_read(identity, case.get("court_code", "")):
                raise Invalid(f"no case {number} in your court's jurisdiction",
                              loc=("body", "case_numbers", position))  # fmt: skip
            if case["case_id"] not in [c["case_id"] for c in cases]:
                cases.append(case)
        return cases

    async def _counts(self, pipe: Pipeline, record: Record) -> list[int]:
        """Each case's repeat count once this petition is counted (read in the transaction)."""
        counts = []
        for case_id in record["case_ids"]:
            counted = await self.records.petitions_of_case(case_id, pipe)
            counts.append(len(counted | {record["petition_id"]}))
        return counts

    def _register(
        self, pipe: Pipeline, record: Record, identity: Identity, handler: str, counts: list[int]
    ) -> None:
        record["status"] = PetitionStatus.REGISTERED.value
        record["registration"] = {
            "handler": handler, "by": identity.subject, "at": self.now().isoformat(),
            "repeat_counts": counts,
        }  # fmt: skip
        for case_id in record["case_ids"]:
            self.records.count_petition(pipe, case_id, record["petition_id"])
        self.stage(pipe, pb.PetitionRegistered(
            petition_id=record["petition_id"], court_code=record["court_code"],
            case_ids=record["case_ids"], case_numbers=record["case_numbers"],
            repeat_counts=counts, registered_by=identity.subject, handler=handler,
        ), aggregate_id=record["petition_id"], court_code=record["court_code"],
           actor=identity.as_actor())  # fmt: skip


def _newest_first(petition: Record) -> tuple[str, str, str]:
    """The listing's sort key (descending), unique by the petition's id."""
    return (petition["received_on"], petition["received_at"], petition["petition_id"])
