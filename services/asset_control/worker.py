"""The agency worker: submits due queries and controls to the outside systems, and applies
their feedback. Decisions (backoff, feedback timeouts) are taken on the injected clock; the
pause between empty rounds is wall-clock time, so a simulation that holds time still is
not spun on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog

from services.asset_control.agency import AgencyClient, AgencySettings, AgencyUnavailable
from services.asset_control.handlers import AssetControl
from zhixing.gateway_client import MAX_QUERIES_PER_CALL
from zhixing.polling import PollingWorker
from zhixing.v1 import agency_gateway_pb2 as agency_pb

log = structlog.get_logger(__name__)


class AgencyWorker(PollingWorker):
    name = "agency"

    def __init__(self, control: AssetControl, client: AgencyClient, settings: AgencySettings):
        super().__init__(
            settings.poll_interval_s,
            idle_interval_s=settings.idle_interval_s,
            signal=control.records.work.signal,
            clock=control.ctx.clock,
        )
        self.control = control
        self.client = client
        self.settings = settings
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)

    async def starting(self) -> None:
        try:
            outstanding = await self.control.query.ask_again_for_outstanding()
            if outstanding:
                log.info("asking again for what was outstanding", requests=outstanding)
        except Exception:  # the regular rounds resubmit at the feedback timeout anyway
            log.exception("could not ask again for outstanding requests")

    async def close(self) -> None:
        await self.client.close()

    async def step(self) -> int:
        """One round: submit what is due, apply the feedback that is ready."""
        return await self.submit_due() + await self.apply_feedback()

    async def submit_due(self) -> int:
        members = await self.control.query.due_work()
        queries: dict[str, list[str]] = {}
        controls = []
        for member in members:
            if member.startswith("q|"):
                queries.setdefault(member.split("|")[1], []).append(member)
            elif member.startswith("c|"):
                controls.append(member.removeprefix("c|"))
        await asyncio.gather(self._submit_queries(queries), self._submit_controls(controls))
        return len(members)

    async def _submit_queries(self, due: dict[str, list[str]]) -> None:
        """The due query units: read at once, sent a case's whole in each call with a few
        other cases' (``_calls_of``), their outcomes recorded in one transaction. A call that
        fails counts a try against each of its queries."""
        if not due:
            return
        requests = await self.control.query.query_requests(due)

        async def send(cases: list[str]) -> str | None:
            queries = [query for case_id in cases for _, query in requests[case_id]]
            async with self._in_flight:
                try:
                    await self.client.submit_queries(queries)
                except AgencyUnavailable as exc:
                    log.info("query submission failed", cases=len(cases),
                             queries=len(queries), error=str(exc))  # fmt: skip
                    return str(exc)
            return None

        calls = _calls_of(requests)
        # Each call's outcome is recorded even if another failed unexpectedly (then raised).
        outcomes = await asyncio.gather(*(send(cases) for cases in calls), return_exceptions=True)
        await self.control.query.queries_submitted({
            case_id: [(member, query.request_id, outcome) for member, query in requests[case_id]]
            for cases, outcome in zip(calls, outcomes, strict=True)
            if not isinstance(outcome, BaseException)
            for case_id in cases
        })  # fmt: skip
        _raise_first(outcomes)

    async def _submit_controls(self, asset_ids: list[str]) -> None:
        """The due controls: their requests read at once, each sent, their outcomes recorded
        in one transaction."""
        if not asset_ids:
            return
        requests = await self.control.controls.control_requests(asset_ids)

        async def send(request: agency_pb.SubmitControlRequest) -> str | None:
            async with self._in_flight:
                try:
                    await self.client.submit_control(request)
                except AgencyUnavailable as exc:
                    log.info("control submission failed", request_id=request.request_id,
                             error=str(exc))  # fmt: skip
                    return str(exc)
            return None

        # Each call's outcome is recorded even if another failed unexpectedly (then raised).
        outcomes = await asyncio.gather(
            *(send(request) for _, request in requests), return_exceptions=True
        )
        await self.control.controls.controls_submitted([
            (asset_id, request.request_id, outcome)
            for (asset_id, request), outcome in zip(requests, outcomes, strict=True)
            if not isinstance(outcome, BaseException)
        ])  # fmt: skip
        _raise_first(outcomes)

    async def apply_feedback(self) -> int:
        try:
            batch = await self.client.fetch_feedback(200)
        except AgencyUnavailable as exc:
            log.info("feedback fetch failed", error=str(exc))
            return 0
        if not batch:
            return 0
        outcomes = await self.control.apply_feedback_batch(batch)
        for feedback, outcome in zip(batch, outcomes, strict=True):
            log.debug("feedback applied", request_id=feedback.request_id, outcome=outcome)
        # Acknowledged only once applied: a crash before this redelivers, and applying
        # again changes nothing.
        try:
            await self.client.ack_feedback([f.feedback_id for f in batch])
        except AgencyUnavailable as exc:
            log.info("feedback ack failed; it will be redelivered", error=str(exc))
        return len(batch)


def _raise_first(outcomes: Sequence[object]) -> None:
    """Raise the first call that failed unexpectedly; log the others (not lost)."""
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    for failure in failures[1:]:
        log.error("agency call failed unexpectedly", exc_info=failure)
    if failures:
        raise failures[0]


# Cases sent in one call at most: fewer calls than a case each, and a call that fails (a
# timeout, the outside system away) counts a try against no more than these cases' queries.
CASES_PER_CALL = 8


def _calls_of(requests: dict[str, list[tuple[str, Any]]]) -> list[list[str]]:
    """The cases of each call: a case's queries in one call (a round takes a debtor's worth
    of a case's units at most, fewer than a call holds), cases added while they fit in
    ``MAX_QUERIES_PER_CALL`` queries and ``CASES_PER_CALL`` cases."""
    calls: list[list[str]] = []
    held = 0
    for case_id, queries in requests.items():
        if not queries:
            continue
        full = held + len(queries) > MAX_QUERIES_PER_CALL
        if not calls or full or len(calls[-1]) >= CASES_PER_CALL:
            calls.append([])
            held = 0
        calls[-1].append(case_id)
        held += len(queries)
    return calls
