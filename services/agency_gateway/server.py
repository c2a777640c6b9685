"""The gateway's gRPC server: the AgencyGatewayService over an in-memory stand-in.

Faults are decided deterministically from the seed and the request id (and how many times
it was submitted), so a test run with the same settings sees the same faults. Transfers
(扣划) take money from an account the queries found, never more than is left on it after
the transfers before; the bank's reference of a transfer comes from the seed and the request
id, so a duplicated delivery and a replayed journal name the same reference.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import random
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.agency_gateway.notices import NoticeGateway
from services.agency_gateway.synthetic import synthetic_assets
from zhixing.assets import LIQUID_KINDS, AssetKind, Channel
from zhixing.auth import AuthInterceptor, TokenAuthority
from zhixing.clock import Clock, SystemClock
from zhixing.gateway_client import MAX_QUERIES_PER_CALL
from zhixing.ports import DEFAULT_PORTS
from zhixing.service import enable_reflection, freeze_startup_heap, load_reference_data
from zhixing.settings import AuthSettings
from zhixing.v1 import agency_gateway_pb2 as pb
from zhixing.v1 import agency_gateway_pb2_grpc, notice_gateway_pb2_grpc

log = structlog.get_logger(__name__)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIXING_AGENCY_GATEWAY_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind gRPC to")
    grpc_port: int = Field(
        DEFAULT_PORTS["agency_gateway"].grpc,
        ge=0,
        le=65535,
        description="gRPC port (0: any free port)",
    )
    seed: int = Field(2021, description="Seed of the synthetic assets and of injected faults")
    latency_ms: int = Field(
        500, ge=0, description="Feedback is ready this long after a request (gateway clock)"
    )
    failure_rate: float = Field(
        0.0, ge=0, le=1, description="Share of query attempts answered 'failed'"
    )
    timeout_rate: float = Field(
        0.0, ge=0, le=1, description="Share of submissions that hang past the caller's deadline"
    )
    hang_seconds: float = Field(3.0, ge=0, description="How long a hanging submission hangs")
    duplicate_rate: float = Field(
        0.0, ge=0, le=1, description="Share of feedback delivered twice under two feedback ids"
    )
    reject_rate: float = Field(
        0.0, ge=0, le=1, description="Share of controls and of transfers rejected"
    )
    failing_channels: list[Channel] = Field(
        default_factory=list, description="Channels whose every query fails (outage)"
    )
    journal: Path | None = Field(
        None,
        description="File in which the gateway keeps the requests it accepted and the "
        "feedback not yet acknowledged, as the outside systems do: a restarted gateway still "
        "answers them (unset: kept in memory only)",
    )


KINDS = ("query", "control", "transfer")
"""The kinds of request, as journaled and as ``FetchFeedbackRequest.kinds`` names them."""

_Submission = pb.SubmitQueryRequest | pb.SubmitControlRequest | pb.SubmitTransferRequest


@dataclass
class _Request:
    request_id: str
    kind: str  # one of KINDS
    submissions: int = 1
    message: Any = None


@dataclass
class _Feedback:
    message: pb.Feedback
    ready_at: dt.datetime
    kind: str = ""  # the kind of the request it answers


@dataclass
class GatewayState:
    requests: dict[str, _Request] = field(default_factory=dict)
    feedback: dict[str, _Feedback] = field(default_factory=dict)
    assets: dict[str, pb.AgencyAsset] = field(default_factory=dict)
    # Fen taken from each account (asset key) by the transfers answered so far.
    transferred: dict[str, int] = field(default_factory=dict)


_MESSAGES: dict[str, type[Message]] = {
    "query": pb.SubmitQueryRequest,
    "control": pb.SubmitControlRequest,
    "transfer": pb.SubmitTransferRequest,
    "feedback": pb.Feedback,
}


class Journal:
    """An append-only file of what the gateway accepted, delivered and had acknowledged,
    one JSON line each, flushed and synced before the call that caused it is answered.
    Replayed at start, it rebuilds the state: accepted requests are answered even after a
    restart (issue 13). Damaged last lines (a crash mid-write) are skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def record(self, kind: str, message: Message, **extra: Any) -> None:
        data = base64.b64encode(message.SerializeToString()).decode()
        self.append({"kind": kind, "data": data, **extra})

    @staticmethod
    def replay(path: Path) -> Iterator[tuple[str, Message | None, dict[str, Any]]]:
        if not path.exists():
            return
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry = json.loads(line)
                    message_type = _MESSAGES.get(entry["kind"])
                    message = None
                    if message_type is not None:
                        message = message_type.FromString(base64.b64decode(entry["data"]))
                except (ValueError, KeyError, DecodeError):
                    log.warning("journal line skipped", path=str(path))
                    continue
                yield entry["kind"], message, entry

    def close(self) -> None:
        self._file.close()


class AgencyGateway(agency_gateway_pb2_grpc.AgencyGatewayServiceServicer):
    def __init__(self, settings: GatewaySettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.state = GatewayState()
        self.journal: Journal | None = None
        if settings.journal is not None:
            unanswered = self._restore(settings.journal)
            self.journal = Journal(settings.journal)
            # A request is journaled before its answer: a crash between the two left it
            # accepted and unanswered, and a resubmission of its id is not answered again
            # (the crash campaign found such a query waiting for ever). Answered now.
            for request in unanswered:
                self._deliver(self._answer(request))

    def _restore(self, path: Path) -> list[_Submission]:
        """Rebuild the accepted requests, the unacknowledged feedback and what transfers
        took from each account from the journal; the accepted requests that have no answer
        in it."""
        answered: set[str] = set()
        for kind, message, entry in Journal.replay(path):
            if isinstance(message, _Submission):
                self.state.requests[message.request_id] = _Request(
                    message.request_id, kind, message=message
                )
                if isinstance(message, pb.SubmitQueryRequest):
                    self._remember_assets(message)
            elif isinstance(message, pb.Feedback):
                ready = dt.datetime.fromisoformat(entry["ready_at"])
                request_kind = self._kind_of(message.request_id)
                self.state.feedback[message.feedback_id] = _Feedback(message, ready, request_kind)
                if request_kind == "transfer" and message.request_id not in answered:
                    # Counted once per request (a duplicate has the same request id), and
                    # whether acknowledged since or not: money moved stays moved.
                    request = self.state.requests[message.request_id].message
                    self._take(request.asset_key, message.transferred_amount_fen)
                answered.add(message.request_id)
            elif kind == "ack":
                for feedback_id in entry["ids"]:
                    self.state.feedback.pop(feedback_id, None)
        unanswered = [r.message for r in self.state.requests.values()
                      if r.request_id not in answered]  # fmt: skip
        log.info("journal replayed", requests=len(self.state.requests),
                 feedback=len(self.state.feedback), unanswered=len(unanswered))  # fmt: skip
        return unanswered

    def _answer(self, request: _Submission) -> pb.Feedback:
        if isinstance(request, pb.SubmitQueryRequest):
            return self._answer_query(request)
        if isinstance(request, pb.SubmitTransferRequest):
            return self._answer_transfer(request)
        return self._answer_control(request)

    def _kind_of(self, request_id: str) -> str:
        request = self.state.requests.get(request_id)
        return request.kind if request is not None else ""

    def _take(self, asset_key: str, amount_fen: int) -> None:
        self.state.transferred[asset_key] = self.state.transferred.get(asset_key, 0) + amount_fen

    def _remember_assets(self, request: pb.SubmitQueryRequest) -> list[pb.AgencyAsset]:
        """The assets the outside systems hold for the query's debtor and channel, kept so
        that a control of one can be answered (none for an unknown channel)."""
        try:
            channel = Channel(request.channel)
        except ValueError:
            return []
        assets = synthetic_assets(self.settings.seed, request.debtor_id_number, channel)
        for asset in assets:
            self.state.assets[asset.asset_key] = asset
        return assets

    def _chance(self, what: str, request_id: str, n: int = 0) -> float:
        return random.Random(f"{self.settings.seed}|{what}|{request_id}|{n}").random()

    async def _maybe_hang(self, request_id: str) -> None:
        """A timeout as the outside systems have them: the request was taken, the answer
        to the call is late (the caller gives up and must resubmit the same id)."""
        n = self.state.requests[request_id].submissions
        if self._chance("hang", request_id, n) < self.settings.timeout_rate:
            await asyncio.sleep(self.settings.hang_seconds)

    def _deliver(self, message: pb.Feedback) -> None:
        ready = self.clock.now() + dt.timedelta(milliseconds=self.settings.latency_ms)
        self._keep_feedback(message, ready)
        if self._chance("duplicate", message.request_id) < self.settings.duplicate_rate:
            twin = pb.Feedback()
            twin.CopyFrom(message)
            twin.feedback_id = str(uuid.uuid4())
            self._keep_feedback(twin, ready)

    def _keep_feedback(self, message: pb.Feedback, ready: dt.datetime) -> None:
        kind = self._kind_of(message.request_id)
        self.state.feedback[message.feedback_id] = _Feedback(message, ready, kind)
        if self.journal is not None:
            self.journal.record("feedback", message, ready_at=ready.isoformat())

    def _register(self, request_id: str, kind: str, message: Any) -> bool:
        known = self.state.requests.get(request_id)
        if known is not None:
            known.submissions += 1
            return False
        self.state.requests[request_id] = _Request(request_id, kind, message=message)
        if self.journal is not None:
            self.journal.record(kind, message)
        return True

    def _answer_query(self, request: pb.SubmitQueryRequest) -> pb.Feedback:
        feedback = pb.Feedback(feedback_id=str(uuid.uuid4()), request_id=request.request_id)
        try:
            channel = Channel(request.channel)
        except ValueError:
            feedback.status, feedback.error = "failed", f"unknown channel {request.channel!r}"
            return feedback
        if channel in self.settings.failing_channels:
            feedback.status, feedback.error = "failed", f"{channel.value} system unavailable"
            return feedback
        if self._chance("fail", request.request_id) < self.settings.failure_rate:
            feedback.status, feedback.error = "failed", "system busy, try again"
            return feedback
        assets = self._remember_assets(request)
        feedback.status = "found" if assets else "none"
        feedback.assets.extend(assets)
        return feedback

    def _answer_control(self, request: pb.SubmitControlRequest) -> pb.Feedback:
        feedback = pb.Feedback(feedback_id=str(uuid.uuid4()), request_id=request.request_id)
        asset = self.state.assets.get(request.asset_key)
        if asset is None:
            feedback.status, feedback.error = "rejected", f"unknown asset {request.asset_key}"
        elif self._chance("reject", request.request_id) < self.settings.reject_rate:
            feedback.status, feedback.error = "rejected", "the registry refused the request"
        else:
            feedback.status = "controlled"
            amount = request.amount_fen or asset.value_fen
            if AssetKind(asset.kind) in LIQUID_KINDS:
                amount = min(amount, asset.value_fen)  # a freeze takes what the balance has
            feedback.controlled_amount_fen = amount
            feedback.control_ref = f"{request.measure}-{request.request_id[-12:]}"
        return feedback

    def _answer_transfer(self, request: pb.SubmitTransferRequest) -> pb.Feedback:
        """Deduct (扣划) from the account what was asked, or what is left on it if less."""
        feedback = pb.Feedback(feedback_id=str(uuid.uuid4()), request_id=request.request_id)
        asset = self.state.assets.get(request.asset_key)
        taken = self.state.transferred.get(request.asset_key, 0)
        error = ""
        if not request.to_account:
            error = "no account to transfer to (to_account is empty)"
        elif request.amount_fen <= 0:
            error = f"the amount to transfer must be positive, not {request.amount_fen} fen"
        elif asset is None:
            error = f"unknown asset {request.asset_key}"
        elif AssetKind(asset.kind) not in LIQUID_KINDS:
            error = f"asset {request.asset_key} is {asset.kind}, not money: it is not transferred"
        elif asset.value_fen <= taken:
            error = f"nothing left on {request.asset_key}: {taken} fen transferred already"
        elif self._chance("reject", request.request_id) < self.settings.reject_rate:
            error = "the bank refused the transfer"
        if error or asset is None:
            feedback.status, feedback.error = "rejected", error
            return feedback
        amount = min(request.amount_fen, asset.value_fen - taken)
        self._take(request.asset_key, amount)
        feedback.status = "transferred"
        feedback.transferred_amount_fen = amount
        feedback.bank_reference = self._bank_reference(request.request_id)
        return feedback

    def _bank_reference(self, request_id: str) -> str:
        digest = hashlib.sha256(f"{self.settings.seed}|transfer|{request_id}".encode())
        return f"TR{digest.hexdigest()[:18].upper()}"

    async def _submit(
        self, kind: str, request: _Submission, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bool:
        """Take the request (answered once, on its first submission); whether it was new."""
        if not request.request_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request_id is empty")
        first = self._register(request.request_id, kind, request)
        if first:
            self._deliver(self._answer(request))
        await self._maybe_hang(request.request_id)
        return first

    async def SubmitQuery(  # noqa: N802 (gRPC method name)
        self, request: pb.SubmitQueryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SubmitQueryResponse:
        first = await self._submit("query", request, context)
        return pb.SubmitQueryResponse(request_id=request.request_id, first_submission=first)

    async def SubmitQueries(  # noqa: N802
        self, request: pb.SubmitQueriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SubmitQueriesResponse:
        queries = request.queries
        if not queries or len(queries) > MAX_QUERIES_PER_CALL:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"queries: 1 to {MAX_QUERIES_PER_CALL} per call, not {len(queries)}",
            )
        if unnamed := [n for n, query in enumerate(queries) if not query.request_id]:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"queries[{unnamed[0]}].request_id is empty (nothing was taken)",
            )
        answers = []
        for query in queries:
            first = self._register(query.request_id, "query", query)
            if first:
                self._deliver(self._answer(query))
            answers.append(
                pb.SubmitQueryResponse(request_id=query.request_id, first_submission=first)
            )
        # A call hangs as often as a single submission does (judged on its first query).
        await self._maybe_hang(queries[0].request_id)
        return pb.SubmitQueriesResponse(queries=answers)

    async def SubmitControl(  # noqa: N802
        self, request: pb.SubmitControlRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SubmitControlResponse:
        first = await self._submit("control", request, context)
        return pb.SubmitControlResponse(request_id=request.request_id, first_submission=first)

    async def SubmitTransfer(  # noqa: N802
        self, request: pb.SubmitTransferRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SubmitTransferResponse:
        first = await self._submit("transfer", request, context)
        return pb.SubmitTransferResponse(request_id=request.request_id, first_submission=first)

    def feedback_ready(self) -> int:
        """Feedback that could be fetched now (a simulation waits until none is left)."""
        now = self.clock.now()
        return sum(1 for f in self.state.feedback.values() if f.ready_at <= now)

    async def FetchFeedback(  # noqa: N802
        self, request: pb.FetchFeedbackRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.FetchFeedbackResponse:
        kinds = set(request.kinds)
        if unknown := kinds - set(KINDS):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unknown kinds {sorted(unknown)}: a kind is one of {', '.join(KINDS)}",
            )
        now = self.clock.now()
        # Each caller fetches the answers to its own requests: a caller that acknowledged
        # another's feedback as unknown would lose it for that other.
        ready = sorted(
            (f for f in self.state.feedback.values()
             if f.ready_at <= now and (not kinds or f.kind in kinds)),
            key=lambda f: f.ready_at,
        )  # fmt: skip
        limit = request.max if request.max > 0 else 100
        return pb.FetchFeedbackResponse(feedback=[f.message for f in ready[:limit]])

    async def AckFeedback(  # noqa: N802
        self, request: pb.AckFeedbackRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.AckFeedbackResponse:
        acknowledged = [i for i in request.feedback_ids if self.state.feedback.pop(i, None)]
        if acknowledged and self.journal is not None:
            self.journal.append({"kind": "ack", "ids": acknowledged})
        return pb.AckFeedbackResponse(acknowledged=len(acknowledged))


class GatewayServer:
    def __init__(
        self,
        settings: GatewaySettings | None = None,
        clock: Clock | None = None,
        auth: AuthSettings | None = None,
    ) -> None:
        self._settings = settings or GatewaySettings()
        clock = clock or SystemClock()
        # Like every gRPC port of the platform, the gateway answers service credentials only
        # (the outside systems it stands in for accept no anonymous caller either).
        authority = TokenAuthority(auth or AuthSettings(), clock)
        self._server = grpc.aio.server(interceptors=[AuthInterceptor(authority)])
        self._health = HealthServicer()
        self.gateway = AgencyGateway(self._settings, clock)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        agency_gateway_pb2_grpc.add_AgencyGatewayServiceServicer_to_server(
            self.gateway, self._server
        )
        # The notice systems (SMS, 12368, court app) are stood in for by the same process.
        self.notices = NoticeGateway(
            self._settings.seed, NoticeGateway.journal_beside(self._settings.journal)
        )
        notice_gateway_pb2_grpc.add_NoticeGatewayServiceServicer_to_server(
            self.notices, self._server
        )
        enable_reflection(self._server, [
            "grpc.health.v1.Health", "zhixing.v1.AgencyGatewayService",
            "zhixing.v1.NoticeGatewayService",
        ])  # fmt: skip
        self.grpc_port = 0

    async def start(self) -> None:
        address = f"{self._settings.host}:{self._settings.grpc_port}"
        self.grpc_port = self._server.add_insecure_port(address)
        await self._server.start()
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info("agency gateway started", grpc_port=self.grpc_port)

    async def stop(self) -> None:
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace=1)
        if self.gateway.journal is not None:
            self.gateway.journal.close()
        self.notices.close()

    async def serve_forever(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        load_reference_data()
        await self.start()
        freeze_startup_heap()
        await stop.wait()
        await self.stop()
