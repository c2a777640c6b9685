"""Asset leads (财产线索) given by the applicant at filing or later, and their
verification: a lead verified with an asset found records the asset in the case."""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import SERVICE_ACTOR, asset_id_for
from services.asset_control.handler import Handler
from services.asset_control.repository import AssetRecords
from services.asset_control.seizures import Seizures
from zhixing.auth import Identity, Role
from zhixing.bounds import MAX_ASSETS_PER_CASE, MAX_LEADS_PER_CASE
from zhixing.errors import Conflict, NotFound
from zhixing.service import ServiceContext
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import envelope_pb2


class Leads(Handler):
    def __init__(
        self, ctx: ServiceContext, records: AssetRecords, settings: AgencySettings,
        seizures: Seizures,
    ) -> None:  # fmt: skip
        super().__init__(ctx, records, settings)
        self.seizures = seizures

    def record_lead(
        self, pipe: Pipeline, case: dict[str, Any], lead_id: str, description: str,
        channel: str, urgent: bool, actor: envelope_pb2.Actor = SERVICE_ACTOR,
    ) -> None:  # fmt: skip
        record = {
            "lead_id": lead_id,
            "case_id": case["case_id"],
            "court_code": case["court_code"],
            "description": description,
            "channel": channel,
            "urgent": urgent,
            "status": "received",
        }
        case["leads"].append(lead_id)
        self.records.put(pipe, self.records.lead_key(lead_id), record)
        message_class = pb.UrgentLeadReceived if urgent else pb.LeadReceived
        payload = message_class(
            lead_id=lead_id, case_id=case["case_id"], description=description, channel=channel
        )
        self.stage(pipe, payload, lead_id, case["court_code"], actor)

    async def add_lead(
        self, case_id: str, description: str, channel: str, urgent: bool, *, identity: Identity
    ) -> str:
        head = await self.records.case(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        self.check_officer(identity, head["court_code"], f"case {case_id}",
                            Role.OFFICER, Role.CLERK)  # fmt: skip
        lead_id = str(uuid.uuid4())
        key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> str:
            case = await self.records.load(pipe, key)
            assert case is not None
            if len(case["leads"]) >= MAX_LEADS_PER_CASE:
                raise Conflict(
                    f"case {case_id} already has {len(case['leads'])} leads, the most one case "
                    f"holds ({MAX_LEADS_PER_CASE}); verify or add to the ones recorded"
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            self.record_lead(pipe, case, lead_id, description, channel, urgent, identity.as_actor())
            self.records.put(pipe, key, case)
            return lead_id

        result: str = await self.records.transact([key], body)
        return result

    async def _lead_command(self, lead_id: str, identity: Identity, act: Any) -> Any:
        head = await self.records.lead(lead_id)
        if head is None:
            raise NotFound(f"no lead {lead_id}")
        self.check_officer(identity, head["court_code"], f"lead {lead_id}")
        key = self.records.lead_key(lead_id)
        case_key = self.records.case_key(head["case_id"])

        async def body(pipe: Pipeline) -> Any:
            lead = await self.records.load(pipe, key)
            case = await self.records.load(pipe, case_key)
            assert lead is not None and case is not None
            result = await act(pipe, case, lead)
            self.records.put(pipe, key, lead)
            self.records.put(pipe, case_key, case)
            return result

        return await self.records.transact([key, case_key], body)

    async def start_lead_verification(self, lead_id: str, *, identity: Identity) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], lead: dict[str, Any]) -> None:
            if lead["status"] != "received":
                raise Conflict(f"verification of lead {lead_id} is already {lead['status']}")
            pipe.multi()  # type: ignore[no-untyped-call]
            lead["status"] = "verifying"
            started = pb.LeadVerificationStarted(
                lead_id=lead_id, case_id=case["case_id"], started_by=identity.subject
            )
            self.stage(pipe, started, lead_id, case["court_code"], identity.as_actor())

        await self._lead_command(lead_id, identity, act)

    async def verify_lead(
        self, lead_id: str, asset: agency_pb.AgencyAsset | None, *, identity: Identity
    ) -> str:
        """Record a lead's verification; an asset found is recorded in the case."""
        queue_key = self.records.queue_key(asset.asset_key) if asset is not None else None

        async def act(pipe: Pipeline, case: dict[str, Any], lead: dict[str, Any]) -> str:
            if lead["status"] == "verified":
                raise Conflict(f"lead {lead_id} is verified already")
            asset_id = ""
            queue: list[str] = []
            if asset is not None:
                assert queue_key is not None
                if len(case["assets"]) >= MAX_ASSETS_PER_CASE:
                    raise Conflict(
                        f"case {case['case_id']} holds {len(case['assets'])} assets, the most "
                        f"one case may record ({MAX_ASSETS_PER_CASE})"
                    )
                asset_id = asset_id_for(case["case_id"], asset.asset_key)
                await pipe.watch(queue_key, self.records.asset_key(asset_id))
                if await self.records.load(pipe, self.records.asset_key(asset_id)) is not None:
                    raise Conflict(f"asset {asset.asset_key} is recorded in the case already")
                queue = await self.records.load_queue(pipe, queue_key)
            pipe.multi()  # type: ignore[no-untyped-call]
            if lead["status"] == "received":  # verification started and ended in one act
                started = pb.LeadVerificationStarted(
                    lead_id=lead_id, case_id=case["case_id"], started_by=identity.subject
                )
                self.stage(pipe, started, lead_id, case["court_code"], identity.as_actor())
            lead.update(status="verified", asset_id=asset_id)
            if asset is not None:
                self.seizures.record_found(pipe, case, asset, "lead", queue, identity.as_actor())
                self.seizures.push_to_parties(pipe, case, [asset_id])
            verified = pb.LeadVerified(
                lead_id=lead_id, case_id=case["case_id"],
                outcome="found" if asset is not None else "not_found", asset_id=asset_id,
            )  # fmt: skip
            self.stage(pipe, verified, lead_id, case["court_code"], identity.as_actor())
            return asset_id

        result: str = await self._lead_command(lead_id, identity, act)
        return result
