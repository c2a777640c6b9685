"""A client of the outside systems' gateway (总对总/点对点 queries and controls, banks'
deductions), as the agency gateway stand-in answers them: submissions with a caller-fixed
request id, and feedback fetched (only the kinds this caller asked for) and acknowledged.
Asset control and the funds service each wrap it behind their own interface; a real
connector implements those interfaces instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
import structlog

from zhixing.assets import CHANNELS
from zhixing.auth import ServiceCredential
from zhixing.bounds import MAX_PARTIES
from zhixing.v1 import agency_gateway_pb2 as pb
from zhixing.v1 import agency_gateway_pb2_grpc

__all__ = ["MAX_QUERIES_PER_CALL", "MAX_REPLY_BYTES", "GatewayClient", "GatewayUnavailable"]

MAX_QUERIES_PER_CALL = MAX_PARTIES * len(CHANNELS)
"""Queries one SubmitQueries call carries at most: a case's most (every debtor it may name,
on every channel: 800)."""

log = structlog.get_logger(__name__)

R = TypeVar("R")


MAX_REPLY_BYTES = 16 * 1024 * 1024
"""The largest reply this client takes (gRPC's default is 4 MiB): room for the largest
answer the bounds allow (``outside_answers``: 1,000 assets of the longest texts, under
10 MB in UTF-8), so a fetch of one answer within them always fits (``fetch_feedback``)."""


class GatewayUnavailable(Exception):
    """The call did not get an answer (timeout, connection refused, server error);
    ``code`` is gRPC's status code's name."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class GatewayClient:
    def __init__(
        self, target: str, call_timeout_s: float, credential: ServiceCredential,
        kinds: Sequence[str],
    ) -> None:  # fmt: skip
        self._call_timeout_s = call_timeout_s
        self._credential = credential
        self._kinds = list(kinds)
        self._channel = grpc.aio.insecure_channel(
            target, options=[("grpc.max_receive_message_length", MAX_REPLY_BYTES)]
        )
        self._stub = agency_gateway_pb2_grpc.AgencyGatewayServiceStub(self._channel)
        # How many answers the next fetch asks for at most, after one was too large to take
        # (None: as many as asked): large answers waiting are fetched again in one halving
        # a round, not from the caller's number down each round.
        self._fetch_size: int | None = None

    async def _unary(
        self, call: Callable[..., Awaitable[R]], request: Any, *, stretch: float = 1.0
    ) -> R:
        """One call with its deadline (a single call's, times ``stretch``) and credential;
        no answer is ``GatewayUnavailable``."""
        try:
            return await call(
                request,
                timeout=self._call_timeout_s * stretch,
                metadata=self._credential.metadata(),
            )
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
            raise GatewayUnavailable(f"{code}: {exc.details()}", code) from None

    async def submit_queries(self, requests: Sequence[pb.SubmitQueryRequest]) -> None:
        """The queries in as few calls as their number allows (one for a case's). A call's
        deadline grows with its queries, from a single call's to twice that for the
        largest: what the outside system does per query is small beside the round trip,
        and a batch that hangs must still time out and be submitted again."""
        for start in range(0, len(requests), MAX_QUERIES_PER_CALL):
            chunk = requests[start : start + MAX_QUERIES_PER_CALL]
            stretch = 1 + len(chunk) / MAX_QUERIES_PER_CALL
            request = pb.SubmitQueriesRequest(queries=chunk)
            await self._unary(self._stub.SubmitQueries, request, stretch=stretch)

    async def submit_control(self, request: pb.SubmitControlRequest) -> None:
        await self._unary(self._stub.SubmitControl, request)

    async def submit_transfer(self, request: pb.SubmitTransferRequest) -> None:
        await self._unary(self._stub.SubmitTransfer, request)

    async def fetch_feedback(self, max_items: int) -> Sequence[pb.Feedback]:
        """Ready feedback of this caller's kinds of request only (another caller's is never
        taken, so never acknowledged here). A reply too large to take is fetched again in
        halves, down to one answer (one within the bounds fits: ``MAX_REPLY_BYTES``), so
        large answers slow the fetch and do not stop it; fetching takes nothing away at the
        gateway. The size that fitted is remembered: the next fetch asks for twice that (at
        most ``max_items``), so it grows back once the large answers are gone. One answer
        past the bounds is logged as an error and holds up the fetch."""
        size = min(max_items, self._fetch_size or max_items)
        while True:
            request = pb.FetchFeedbackRequest(max=size, kinds=self._kinds)
            try:
                reply = await self._unary(self._stub.FetchFeedback, request)
            except GatewayUnavailable as exc:
                if exc.code != "RESOURCE_EXHAUSTED":
                    raise
                if size <= 1:
                    # One answer larger than the bounds allow: it waits at the gateway, and
                    # nothing behind it can be fetched until it is removed there.
                    log.error("an answer too large to fetch holds up the answers behind it",
                              limit_bytes=MAX_REPLY_BYTES, error=str(exc))  # fmt: skip
                    raise
                size //= 2
                self._fetch_size = size
                continue
            if self._fetch_size is not None:
                # All that was asked fitted: the next asks as it likes; else twice this.
                self._fetch_size = None if size >= max_items else size * 2
            return list(reply.feedback)

    async def ack_feedback(self, feedback_ids: Sequence[str]) -> None:
        request = pb.AckFeedbackRequest(feedback_ids=list(feedback_ids))
        await self._unary(self._stub.AckFeedback, request)

    async def close(self) -> None:
        await self._channel.close(grace=None)
