"""The case's account itself: opened at filing, following the case when a command action
moves it, the facts payouts are checked against (the handling officer), reading a case's
ledger, and reconciling a jurisdiction."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from redis.asyncio.client import Pipeline

from services.funds import domain
from services.funds.domain import Record
from services.funds.handler import SERVICE_ACTOR, FundsHandler
from services.funds.repository import FundsRecords
from zhixing.auth import Identity, readable_court, require_visible
from zhixing.closures import closure_of
from zhixing.courts import directory
from zhixing.errors import NotFound
from zhixing.paging import DEFAULT_PAGE, Page, page
from zhixing.v1 import funds_events_pb2 as pb


@dataclass(frozen=True)
class CourtReconciliation:
    court_code: str
    cases: int
    received_fen: int
    paid_fen: int
    in_account_fen: int
    lodged_fen: int
    court_totals: dict[str, int]
    unbalanced_case: str | None  # the first case (by case number) that does not balance
    problem: str | None
    # Unrecorded deductions (the bank may have moved money no figure above holds yet) and
    # what they asked for: the figures balance, and are complete once finance reviews them.
    deductions_to_review: int
    to_review_fen: int

    @property
    def balances(self) -> bool:
        return self.problem is None


class CaseAccounts(FundsHandler):
    # --- facts from other services -------------------------------------------------------

    async def open_account(
        self, *, case_id: str, case_number: str, court_code: str, account_number: str,
        receiving_account: str, claim_fen: int, filed_on: str = "",
    ) -> bool:  # fmt: skip
        """The case was filed: its account is opened (once)."""
        key = self.records.key(case_id)

        async def body(pipe: Pipeline) -> bool:
            if await pipe.exists(key):
                return False
            record = domain.new_case(
                case_id=case_id, case_number=case_number, court_code=court_code,
                account_number=account_number, receiving_account=receiving_account,
                claim_fen=claim_fen, opened_at=self.now(), filed_on=filed_on,
            )  # fmt: skip
            self.log(record, "account_opened", SERVICE_ACTOR.id, account=account_number)
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.open(pipe, record)
            self.stage(pipe, record, pb.CaseAccountOpened(
                case_id=case_id, case_number=case_number, account_number=account_number,
                receiving_account=receiving_account, court_code=court_code,
            ))  # fmt: skip
            return True

        return await self.records.transact([key], body)

    async def assign_officer(self, case_id: str, officer_id: str) -> None:
        async def act(pipe: Pipeline, record: Record) -> None:
            if record["officer_id"] == officer_id:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            record["officer_id"] = officer_id

        # A case filed before this service ran has no ledger here: nothing to note.
        with contextlib.suppress(NotFound):
            await self.records.change_case(case_id, act)

    async def close_case(self, case_id: str, method: str, closed_on: str) -> bool:
        """The case was closed (结案): no deduction is asked in it from now on
        (``zhixing.closures``); money arriving is still recorded and paid out. Idempotent."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            if record.get("closed_as"):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(closure_of(method, closed_on))
            self.log(record, "case_closed", SERVICE_ACTOR.id, method=method)
            return True

        # A case filed before this service ran has no ledger here: nothing to note.
        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return False

    async def follow_case(self, case_id: str, from_court: str, to_court: str) -> bool:
        """A command action moved the case: it keeps its account and its money, now listed
        and summed at the new court. Idempotent."""

        async def act(pipe: Pipeline, record: Record) -> bool:
            if record["court_code"] != from_court:
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            self.records.move(pipe, record, from_court, to_court)
            record["court_code"] = to_court
            self.log(record, "case_moved", SERVICE_ACTOR.id, **{"from": from_court, "to": to_court})
            return True

        try:
            return await self.records.change_case(case_id, act)
        except NotFound:
            return False

    # --- reading ---------------------------------------------------------------------------

    async def ledger(self, case_id: str, identity: Identity) -> Record:
        record = await self.records.get(case_id)
        require_visible(identity, record["court_code"] if record else None, f"case {case_id}")
        assert record is not None
        return record

    async def cases_of(
        self, identity: Identity, court: str | None, *, limit: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Page[Record]:  # fmt: skip
        """A page of the ledgers of ``court`` (default: the caller's) and the courts below
        it, in the order of their case ids: every case filed has one, so only the page's
        ledgers are read."""
        ids = await self.records.ids_in_jurisdiction(readable_court(identity, court))
        chosen = page(ids, lambda case_id: (case_id,), limit=limit, after=after)
        return Page(await self.records.many(chosen.items), chosen.next_cursor)

    async def reconcile(self, identity: Identity, court: str | None) -> list[CourtReconciliation]:
        """The reconciliation of ``court`` (default: the caller's) and the courts below it."""
        return await Reconciler(self.records).courts(readable_court(identity, court))


class Reconciler:
    """Per court of a jurisdiction: received = paid + in account + lodged for every case,
    the cases' counters agree with their entries, and the court's running sums agree with
    its cases. Reads only (the CLI runs it on the service's Redis)."""

    def __init__(self, records: FundsRecords) -> None:
        self.records = records

    async def courts(self, court: str) -> list[CourtReconciliation]:
        results = []
        for code in directory().jurisdiction(court):
            cases = await self.records.many(await self.records.ids_of(code))
            results.append(await self._court(code, cases))
        return results

    async def _court(self, court: str, cases: list[Record]) -> CourtReconciliation:
        sums = {"received": 0, "paid": 0, "in_account": 0, "lodged": 0, "to_review_fen": 0}
        to_review = 0
        unbalanced: str | None = None
        problem: str | None = None
        for record in sorted(cases, key=lambda r: r["case_number"]):
            parts = domain.totals(record)
            sums["received"] += parts.received
            sums["paid"] += parts.paid
            sums["in_account"] += parts.in_account
            sums["lodged"] += parts.lodged
            unrecorded = domain.deductions_to_review(record)
            to_review += len(unrecorded)
            sums["to_review_fen"] += sum(d["amount_fen"] for d in unrecorded)
            if problem is None and not parts.balances:
                unbalanced, problem = (
                    record["case_number"],
                    (
                        f"received {parts.received} ≠ paid {parts.paid} + in account "
                        f"{parts.in_account} + lodged {parts.lodged}"
                    ),
                )
            elif problem is None and not domain.counters_balance(record):
                unbalanced, problem = (
                    record["case_number"],
                    (
                        f"its running counters {record['counters']} disagree with its entries "
                        f"(received {parts.received}, paid {parts.paid}, lodged {parts.lodged})"
                    ),
                )
        court_totals = await self.records.court_totals(court)
        expected = {"received_fen": sums["received"], "paid_fen": sums["paid"],
                    "lodged_fen": sums["lodged"]}  # fmt: skip
        if problem is None and court_totals != expected:
            problem = f"the court's running sums {court_totals} disagree with its cases {expected}"
        return CourtReconciliation(
            court_code=court, cases=len(cases), received_fen=sums["received"],
            paid_fen=sums["paid"], in_account_fen=sums["in_account"],
            lodged_fen=sums["lodged"], court_totals=court_totals,
            unbalanced_case=unbalanced, problem=problem, deductions_to_review=to_review,
            to_review_fen=sums["to_review_fen"],
        )  # fmt: skip
