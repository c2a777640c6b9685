"""Asset control's handlers, by concern: the network query, controls, disposal, leads and
the re-query after 终本,
on one set of records (``repository``) and one way of holding an asset (``seizures``).
``AssetControl`` is what the entry points are given: the routes, the agency worker and the
reactions call its parts; it also routes the outside systems' answers and moves a case's
assets when the case moves to another court."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.control import Controls
from services.asset_control.disposal import Disposal
from services.asset_control.domain import QueryRef, parse_request_id
from services.asset_control.handler import Handler
from services.asset_control.leads import Leads
from services.asset_control.query import NetworkQuery
from services.asset_control.repository import AssetRecords
from services.asset_control.requery import Requery
from services.asset_control.seizures import Seizures
from services.asset_control.transfers import Transfers
from zhixing.bounds import MAX_ID
from zhixing.closures import closure_of
from zhixing.outside_answers import CONTROL_STATUSES, QUERY_STATUSES, bounded
from zhixing.service import ServiceContext
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import case_events_pb2

log = structlog.get_logger(__name__)

CASES_PER_TRANSACTION = 20
"""Cases whose query answers one transaction applies. More cut round trips further; a
conflict (another writer of one of their records) runs them all again."""


class AssetControl(Handler):
    def __init__(self, ctx: ServiceContext, settings: AgencySettings) -> None:
        super().__init__(ctx, AssetRecords(ctx.redis, ctx.keys), settings)
        self.seizures = Seizures(ctx, self.records, settings)
        self.leads = Leads(ctx, self.records, settings, self.seizures)
        self.query = NetworkQuery(ctx, self.records, settings, self.seizures, self.leads)
        self.controls = Controls(ctx, self.records, settings, self.seizures)
        self.disposal = Disposal(ctx, self.records, settings)
        self.requery = Requery(ctx, self.records, settings, self.query)
        self.transfers = Transfers(ctx, self.records, settings)

    async def apply_feedback(self, feedback: agency_pb.Feedback) -> str:
        """Apply one feedback; duplicates and stale answers change nothing. Returns what
        happened (for logs and tests)."""
        return (await self.apply_feedback_batch([feedback]))[0]

    async def apply_feedback_batch(self, batch: Sequence[agency_pb.Feedback]) -> list[str]:
        """Apply feedback; what happened to each, in the order given. The controls' feedback
        is applied first, together (``Controls.apply_feedback_batch``), then the answers to
        queries, several cases to a transaction. An answer to a query out of bounds, or one
        to a control that did not take effect, is applied as a failed one that says why
        (``outside_answers.bounded``); a control that took effect is held, for what was
        asked if its figures cannot be right (``domain.held_as_reported``). Neither is let
        through as given, nor stops the answers after it."""
        outcomes: dict[int, str] = {}
        by_case: dict[str, list[tuple[int, agency_pb.Feedback, QueryRef]]] = {}
        controls: list[tuple[int, tuple[agency_pb.Feedback, str, int]]] = []
        for n, given in enumerate(batch):
            kind, parts = parse_request_id(given.request_id)
            if kind == "q" and len(parts) == 4:
                ref = QueryRef(parts[0], int(parts[1]), int(parts[2]), int(parts[3]))
                feedback = _bounded(given, QUERY_STATUSES)
                by_case.setdefault(ref.case_id, []).append((n, feedback, ref))
            elif kind == "c" and len(parts) == 2:
                # A control reported as taken effect is held whatever its figures say
                # (``Controls._controlled``); any other answer to a control is a refusal.
                feedback = given if given.status == "controlled" else (
                    _bounded(given, CONTROL_STATUSES))  # fmt: skip
                controls.append((n, (feedback, parts[0], int(parts[1]))))
            else:
                log.warning("feedback for an unknown request", request_id=given.request_id[:MAX_ID])
                outcomes[n] = "unknown"
        if controls:  # the controls' feedback together (``Controls.apply_feedback_batch``)
            settled = await self.controls.apply_feedback_batch([item for _, item in controls])
            outcomes.update(zip((n for n, _ in controls), settled, strict=True))
        # Cases' answers are applied CASES_PER_TRANSACTION at a time: one transaction (two
        # round trips) for many cases, and a conflict retries no more than that many.
        case_ids = list(by_case)
        for start in range(0, len(case_ids), CASES_PER_TRANSACTION):
            chunk = case_ids[start : start + CASES_PER_TRANSACTION]
            applied = await self.query.apply_answers_of_cases(
                {case_id: [(f, r) for _, f, r in by_case[case_id]] for case_id in chunk}
            )
            for case_id in chunk:
                numbers = (n for n, _, _ in by_case[case_id])
                outcomes.update(zip(numbers, applied[case_id], strict=True))
        return [outcomes[n] for n in range(len(batch))]

    async def move_case(self, case_id: str, from_court: str, to_court: str) -> bool:
        """The case, its assets and leads follow it to ``to_court``; their clocks follow
        through AssetCourtChanged. Idempotent."""
        case_key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> bool:
            case = await self.records.load(pipe, case_key)
            if case is None or case["court_code"] != from_court:
                return False
            # Its assets and leads as the case (watched) lists them now: one found meanwhile
            # changed the case, and this runs again with it.
            keys = [self.records.asset_key(a) for a in case["assets"]]
            keys += [self.records.lead_key(lead) for lead in case["leads"]]
            loaded = await self.records.watch_and_load(pipe, keys) if keys else []
            pipe.multi()  # type: ignore[no-untyped-call]
            case["court_code"] = to_court
            self.records.put(pipe, case_key, case)
            for key, record in zip(keys, loaded, strict=True):
                # An asset whose disposal was transferred to a priority creditor's court
                # stays there: only what the case's court holds follows the case.
                if record is None or record["court_code"] != from_court:
                    continue
                record["court_code"] = to_court
                transfer = record.get("transfer")
                if transfer and transfer["first_court"] == from_court:
                    transfer["first_court"] = to_court  # the answer is the new court's
                self.records.put(pipe, key, record)
                subject = record.get("asset_id") or record["lead_id"]
                moved = pb.AssetCourtChanged(
                    subject_id=subject, case_id=case_id, from_court=from_court, to_court=to_court
                )
                self.stage(pipe, moved, subject, to_court)
            return True

        result: bool = await self.records.transact([case_key], body)
        return result

    async def close_case(self, closed: case_events_pb2.CaseClosed) -> bool:
        """The case was closed (结案): it takes no new control or disposal from now on
        (``zhixing.closures``), and what was found and not controlled is declined, so no
        clock asks for its control (rule asset.offline-control) on a case that needs none.
        Idempotent; False if the case was closed here already or is unknown."""
        case_key = self.records.case_key(closed.case_id)

        async def body(pipe: Pipeline) -> bool:
            case = await self.records.load(pipe, case_key)
            if case is None:
                log.warning("closure of a case asset control does not know",
                            case_id=closed.case_id)  # fmt: skip
                return False
            if case.get("closed_as"):
                return False
            # Its assets as the case (watched) lists them now: one found meanwhile changed
            # the case, and this runs again with it.
            keys = [self.records.asset_key(a) for a in case["assets"]]
            loaded = await self.records.watch_and_load(pipe, keys) if keys else []
            pipe.multi()  # type: ignore[no-untyped-call]
            case.update(closure_of(closed.method, closed.closed_on))
            self.records.put(pipe, case_key, case)
            for key, record in zip(keys, loaded, strict=True):
                if record is not None and self.seizures.decline_if_closed(pipe, case, record):
                    self.records.put(pipe, key, record)
            return True

        result: bool = await self.records.transact([case_key], body)
        return result


def _bounded(given: agency_pb.Feedback, statuses: frozenset[str]) -> agency_pb.Feedback:
    """``outside_answers.bounded``, logging an answer it replaces."""
    feedback = bounded(given, statuses)
    if feedback is not given:
        log.warning(
            "an outside answer out of bounds is applied as failed",
            request_id=given.request_id[:MAX_ID],
            error=feedback.error,
        )
    return feedback
