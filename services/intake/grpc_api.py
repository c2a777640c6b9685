"""Intake's gRPC queries."""

from __future__ import annotations

from typing import Any

import grpc

from services.intake.repository import CaseRecords
from zhixing.auth import ScopeError, grpc_identity, require_scope
from zhixing.v1 import intake_service_pb2, intake_service_pb2_grpc


class IntakeQueries(intake_service_pb2_grpc.IntakeServiceServicer):
    def __init__(self, records: CaseRecords) -> None:
        self._records = records

    async def GetCase(  # noqa: N802 (gRPC method name)
        self,
        request: intake_service_pb2.GetCaseRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> intake_service_pb2.GetCaseResponse:
        filed = await self._records.get(request.case_id)
        try:
            if filed is None:
                raise ScopeError("not found")
            require_scope(grpc_identity(), filed.court_code, write=False)
        except ScopeError:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"no case {request.case_id} in your jurisdiction"
            )
        return intake_service_pb2.GetCaseResponse(case=filed)
