"""The command service's gRPC queries."""

from __future__ import annotations

from typing import Any

import grpc

from services.command.projections import CaseOverviews
from zhixing.auth import ScopeError, grpc_identity, require_scope
from zhixing.v1 import command_service_pb2, command_service_pb2_grpc


class CommandQueries(command_service_pb2_grpc.CommandServiceServicer):
    def __init__(self, overviews: CaseOverviews) -> None:
        self._overviews = overviews

    async def GetCaseOverview(  # noqa: N802 (gRPC method name)
        self,
        request: command_service_pb2.GetCaseOverviewRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> command_service_pb2.GetCaseOverviewResponse:
        overview = await self._overviews.get(request.case_id)
        try:
            if overview is None:
                raise ScopeError("not found")
            require_scope(grpc_identity(), overview.court_code, write=False)
        except ScopeError:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"no case {request.case_id} in your jurisdiction"
            )
        return command_service_pb2.GetCaseOverviewResponse(overview=overview)
