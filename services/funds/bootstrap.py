"""Wires the funds service."""

from __future__ import annotations

from services.funds.handlers import Funds
from services.funds.http_api import router
from services.funds.reactions import AssetFacts, CaseFacts
from services.funds.repository import FundsRecords
from services.funds.transfers import GrpcTransferClient, TransferClient, TransferSettings
from services.funds.worker import DeductionWorker
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import ASSET_EVENTS, CASE_EVENTS

ABOUT = About(
    name="funds",
    title="Zhixing funds (执行案款)",
    description="One case, one account: money in, holds, notices and payouts to the applicant.",
)


def bootstrap(
    infra: Infrastructure | None = None,
    *,
    transfers: TransferSettings | None = None,
    transfer_client: TransferClient | None = None,
) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    transfers = transfers or TransferSettings()
    funds = Funds(ctx, FundsRecords(ctx.redis, ctx.keys))
    client = transfer_client or GrpcTransferClient(transfers, ctx.service_credential())
    worker = DeductionWorker(funds, client, transfers)
    service.routes(router, funds=funds, deduction_worker=worker)
    service.project(
        Projection("cases", [CASE_EVENTS], CaseFacts(funds)),
        Projection("assets", [ASSET_EVENTS], AssetFacts(funds)),
        funds.money_out.stops.projection(),  # disputes' stop orders (art 68)
    )
    service.run(worker)
    return service.build()
