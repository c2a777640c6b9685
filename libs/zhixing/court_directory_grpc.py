"""The court directory over gRPC (``CourtDirectoryService``), for any service to host."""

from __future__ import annotations

from typing import Any

import grpc

from zhixing.courts import Court, CourtDirectory, UnknownCourtCode
from zhixing.v1 import court_directory_pb2 as pb
from zhixing.v1 import court_directory_pb2_grpc

__all__ = [
    "CourtDirectoryServicer",
    "court_message",
    "register",
]


def court_message(court: Court) -> pb.Court:
    return pb.Court(
        code=court.code,
        name=court.name,
        level=court.level.value,
        superior=court.superior or "",
        divisions=list(court.divisions),
        special=court.special,
    )


class CourtDirectoryServicer(court_directory_pb2_grpc.CourtDirectoryServiceServicer):
    def __init__(self, courts: CourtDirectory) -> None:
        self._courts = courts

    async def _unknown(self, context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
        await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))

    async def GetCourt(  # noqa: N802 (gRPC method name)
        self, request: pb.GetCourtRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetCourtResponse:
        try:
            return pb.GetCourtResponse(court=court_message(self._courts.lookup(request.code)))
        except UnknownCourtCode as exc:
            await self._unknown(context, exc)
            raise

    async def ListChildren(  # noqa: N802
        self, request: pb.ListChildrenRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListChildrenResponse:
        try:
            children = self._courts.children(request.code)
        except UnknownCourtCode as exc:
            await self._unknown(context, exc)
            raise
        return pb.ListChildrenResponse(courts=[court_message(c) for c in children])

    async def GetPathToTop(  # noqa: N802
        self, request: pb.GetPathToTopRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetPathToTopResponse:
        try:
            path = self._courts.path_to_top(request.code)
        except UnknownCourtCode as exc:
            await self._unknown(context, exc)
            raise
        return pb.GetPathToTopResponse(courts=[court_message(c) for c in path])

    async def GetCommonSuperior(  # noqa: N802
        self, request: pb.GetCommonSuperiorRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetCommonSuperiorResponse:
        if not request.codes:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "codes is empty")
        try:
            court = self._courts.common_superior(*request.codes)
        except UnknownCourtCode as exc:
            await self._unknown(context, exc)
            raise
        return pb.GetCommonSuperiorResponse(court=court_message(court))


def register(courts: CourtDirectory) -> Any:
    """A gRPC registrar for ``ServiceHost.grpc_services``."""

    def add(server: grpc.aio.Server) -> None:
        court_directory_pb2_grpc.add_CourtDirectoryServiceServicer_to_server(
            CourtDirectoryServicer(courts), server
        )

    return add
