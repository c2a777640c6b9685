"""The agency worker: submits due queries and controls to the outside systems, and applies
their feedback. Decisions (backoff, feedback timeouts) are taken on the injected clock; the
pause between empty rounds is wall-clock time, so a simulation that holds time still is
not spun on."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from services.asset_control.agency import AgencyClient, AgencySettings, AgencyUnavailable
from services.asset_control.control import AssetControl

log = structlog.get_logger(__name__)


class AgencyWorker:
    def __init__(self, control: AssetControl, client: AgencyClient, settings: AgencySettings):
        self.control = control
        self.client = client
        self.settings = settings
        self._stopping = asyncio.Event()
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    worked = await self.step()
                except Exception:  # a broken round must not stop the worker
                    log.exception("agency worker round failed")
                    worked = 0
                if not worked:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._stopping.wait(), timeout=self.settings.poll_interval_s
                        )
        finally:
            await self.client.close()

    async def step(self) -> int:
        """One round: submit what is due, apply the feedback that is ready."""
        return await self.submit_due() + await self.apply_feedback()

    async def submit_due(self) -> int:
        members = await self.control.due_work()
        jobs = [self._submit(member) for member in members]
        await asyncio.gather(*jobs)
        return len(jobs)

    async def _submit(self, member: str) -> None:
        async with self._in_flight:
            await self._submit_one(member)

    async def _submit_one(self, member: str) -> None:
        if member.startswith("q|"):
            query = await self.control.query_request(member)
            if query is None:
                return
            error = None
            try:
                await self.client.submit_query(query)
            except AgencyUnavailable as exc:
                error = str(exc)
                log.info("query submission failed", request_id=query.request_id, error=error)
            await self.control.query_submitted(member, query.request_id, error)
        elif member.startswith("c|"):
            asset_id = member.removeprefix("c|")
            request = await self.control.control_request(asset_id)
            if request is None:
                return
            error = None
            try:
                await self.client.submit_control(request)
            except AgencyUnavailable as exc:
                error = str(exc)
                log.info("control submission failed", request_id=request.request_id, error=error)
            await self.control.control_submitted(asset_id, request.request_id, error)

    async def apply_feedback(self) -> int:
        try:
            batch = await self.client.fetch_feedback(200)
        except AgencyUnavailable as exc:
            log.info("feedback fetch failed", error=str(exc))
            return 0
        if not batch:
            return 0
        for feedback in batch:
            outcome = await self.control.apply_feedback(feedback)
            log.debug("feedback applied", request_id=feedback.request_id, outcome=outcome)
        # Acknowledged only once applied: a crash before this redelivers, and applying
        # again changes nothing.
        try:
            await self.client.ack_feedback([f.feedback_id for f in batch])
        except AgencyUnavailable as exc:
            log.info("feedback ack failed; it will be redelivered", error=str(exc))
        return len(batch)
