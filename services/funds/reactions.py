"""What the funds service does on other services' events.

- Case events: a filed case gets its account (from ``CaseFiled``), and the sale proceeds
  read before its filing are recorded in it; the handling officer is
  noted (he may not approve the case's payouts); a case moved by a command action keeps its
  account and money (``CaseHandlingCourtChanged``).
- Asset events: what was found and controlled, and by whom, and controls released or
  lapsed (deductions are checked against it, payouts against who controlled the money's
  asset); a sale concluded, or the debtor's own sale, brings its proceeds into the case's
  account.

What a batch's events say of assets is written at once, in one round trip (idempotent: a
field said again is replaced), before a sale's proceeds are recorded in their own
idempotent transaction, which reads them. At once and not with the batch's transaction:
when a batch fails and its events are run one by one to find the culprit, a sale must still
find what the events before it said (their transactions are thrown away there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import structlog
from google.protobuf.message import Message

from services.funds import domain
from services.funds.handlers import Funds
from services.funds.money_in import asset_facts
from zhixing.case_accounts import account_of_case_number
from zhixing.events import Event
from zhixing.funds import Source
from zhixing.projection import Transaction
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import case_events_pb2 as cases

log = structlog.get_logger(__name__)


class CaseFacts:
    handles: tuple[type[Message], ...] = (
        cases.CaseFiled,
        cases.OfficerAssigned,
        cases.CaseHandlingCourtChanged,
        cases.CaseClosed,
    )

    def __init__(self, funds: Funds) -> None:
        self.accounts = funds.accounts
        self.money_in = funds.money_in

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        filed: list[str] = []
        for event in events:
            payload = event.payload
            if isinstance(payload, cases.CaseFiled):
                # Filings recorded before the account was stated on them: from the number.
                account = payload.case_account or account_of_case_number(
                    payload.case_number, payload.court_code, payload.case_type_code
                )
                if not account:
                    log.warning("case filed without an account", case_id=payload.case_id)
                    continue
                await self.accounts.open_account(
                    case_id=payload.case_id, case_number=payload.case_number,
                    court_code=event.envelope.court_code, account_number=account,
                    receiving_account=payload.receiving_account,
                    claim_fen=payload.claim_amount_fen, filed_on=payload.filed_on,
                )  # fmt: skip
                filed.append(payload.case_id)
            elif isinstance(payload, cases.OfficerAssigned):
                await self.accounts.assign_officer(payload.case_id, payload.officer_id)
            elif isinstance(payload, cases.CaseHandlingCourtChanged):
                await self.accounts.follow_case(
                    payload.case_id, payload.from_court, payload.to_court
                )
            elif isinstance(payload, cases.CaseClosed):
                await self.accounts.close_case(payload.case_id, payload.method, payload.closed_on)
        # Sale proceeds read before their case's filing (the topics are read side by side),
        # looked for once a batch.
        await self.money_in.record_early_proceeds(filed)


class AssetFacts:
    handles: tuple[type[Message], ...] = (
        assets.AssetFound,
        assets.AssetControlled,
        assets.ControlReleased,
        assets.ControlLapsed,
        assets.SaleCompleted,
        assets.SelfDisposalCompleted,
    )

    def __init__(self, funds: Funds) -> None:
        self.funds = funds

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        records = self.funds.records
        facts: dict[str, dict[str, str]] = {}  # by asset; what a later event says wins

        def keep(asset_id: str, said: dict[str, str]) -> None:
            facts.setdefault(asset_id, {}).update(said)

        for event in events:
            payload = event.payload
            if isinstance(payload, assets.AssetFound):
                keep(payload.asset_id, asset_facts(
                    case_id=payload.case_id, asset_key=payload.asset_key, kind=payload.kind,
                ))  # fmt: skip
            elif isinstance(payload, assets.AssetControlled):
                # When: a deduction counts against the control it was asked under, not a
                # later one of the same asset (released, then controlled again).
                controlled_at = event.envelope.recorded_at.ToDatetime(tzinfo=dt.UTC)
                keep(payload.asset_id, asset_facts(
                    case_id=payload.case_id, asset_key=payload.asset_key,
                    measure=payload.measure, amount_fen=payload.amount_fen,
                    controlled_by=payload.controlled_by, controlled_at=controlled_at.isoformat(),
                ))  # fmt: skip
            elif isinstance(payload, assets.ControlReleased | assets.ControlLapsed):
                # Money no longer frozen cannot be deducted.
                keep(payload.asset_id, {"measure": domain.CONTROL_ENDED})
            elif isinstance(payload, assets.SaleCompleted):
                await records.keep_assets(facts)  # the proceeds read them
                facts.clear()
                await self.funds.money_in.record_proceeds(
                    payload.case_id, payload.asset_id, payload.proceeds_fen,
                    payload.sale_reference or payload.asset_id, Source.SALE,
                )  # fmt: skip
            elif isinstance(payload, assets.SelfDisposalCompleted):
                await records.keep_assets(facts)
                facts.clear()
                await self.funds.money_in.record_proceeds(
                    payload.case_id, payload.asset_id, payload.proceeds_fen, payload.asset_id,
                    Source.SELF_DISPOSAL,
                )  # fmt: skip
        await records.keep_assets(facts)
