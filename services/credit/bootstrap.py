"""Wires the credit service."""

from __future__ import annotations

from services.credit.grpc_api import CreditQueries
from services.credit.handlers import Credit
from services.credit.http_api import router
from services.credit.reactions import CaseFacts, RequeryFacts, listing_terms_end
from services.credit.repository import CreditRecords
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import ASSET_EVENTS, CASE_EVENTS, DEADLINE_EVENTS
from zhixing.v1 import credit_service_pb2_grpc

ABOUT = About(
    name="credit",
    title="Zhixing credit (信用惩戒)",
    description="Consumption restrictions and the 失信 list: ordered, lifted and deleted on "
    "time, on statutory grounds only; and the query by ID number or credit code.",
)


def bootstrap(infra: Infrastructure | None = None) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    credit = Credit(ctx, CreditRecords(ctx.redis, ctx.keys))
    # A cooperating agency asks the query by ID; every other route refuses it.
    service.routes(router, credit=credit, admits_agencies=True)
    service.grpc(
        lambda server: credit_service_pb2_grpc.add_CreditServiceServicer_to_server(
            CreditQueries(credit), server
        )
    )
    service.project(
        Projection("cases", [CASE_EVENTS], CaseFacts(credit)),
        Projection("requeries", [ASSET_EVENTS], RequeryFacts(credit)),
        Projection("listing-terms", [DEADLINE_EVENTS], listing_terms_end(credit)),
    )
    return service.build()
