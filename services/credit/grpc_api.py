"""The credit service's gRPC query: the same question as the HTTP query by ID, for the
platform's services (service credentials only, as on every gRPC port)."""

from __future__ import annotations

from typing import Any

import grpc

from services.credit.handlers import Credit
from zhixing.errors import Invalid
from zhixing.v1 import credit_service_pb2 as pb
from zhixing.v1 import credit_service_pb2_grpc


class CreditQueries(credit_service_pb2_grpc.CreditServiceServicer):
    def __init__(self, credit: Credit) -> None:
        self._credit = credit

    async def CheckSubject(  # noqa: N802 (gRPC method name)
        self, request: pb.CheckSubjectRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CheckSubjectResponse:
        try:
            found = await self._credit.subject(request.id_number[:100])
        except Invalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.CheckSubjectResponse(
            id_number=found.id_number, name=found.name or "", listed=found.listed,
            restricted=found.restricted, courts=found.courts,
            listings=[pb.SubjectListing(
                case_number=x.case_number, court_code=x.court_code, since=x.since,
                ground=x.ground, ground_text=x.ground_text, term_ends_on=x.term_ends_on or "",
            ) for x in found.listings],
            restrictions=[pb.SubjectRestriction(
                case_number=x.case_number, court_code=x.court_code, since=x.since,
                ruling_number=x.ruling_number,
            ) for x in found.restrictions],
        )  # fmt: skip
