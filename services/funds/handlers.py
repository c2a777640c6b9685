"""The funds service's handlers, one method per command, by concern: the case's account
(``accounts.CaseAccounts``), money in (``money_in.MoneyIn``: receipts, deductions,
proceeds) and money out (``money_out.MoneyOut``: holds, notices, payouts, the receiving
account). ``Funds`` composes them, as the routes, reactions and the deduction worker see
the service."""

from __future__ import annotations

from services.funds.accounts import CaseAccounts
from services.funds.money_in import MoneyIn
from services.funds.money_out import MoneyOut
from services.funds.repository import FundsRecords
from zhixing.service import ServiceContext


class Funds:
    def __init__(self, ctx: ServiceContext, records: FundsRecords) -> None:
        self.records = records
        self.accounts = CaseAccounts(ctx, records)
        self.money_in = MoneyIn(ctx, records)
        self.money_out = MoneyOut(ctx, records)
