"""What every service is made of, and the host that runs one.

A service's ``bootstrap.py`` builds a ``ServiceContext`` (clock, Redis, Kafka publisher,
token authority, its key space), its HTTP app, gRPC servicers, consumers and background
loops, and hands them to ``ServiceHost``, which runs them in one event loop and stops them
in order: stop taking requests, finish the batches in flight, drain the outbox, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar, cast

import grpc
import redis.asyncio as aioredis
import structlog
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.trace import Tracer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from zhixing import tracing
from zhixing.access import AccessRecorder
from zhixing.auth import AuthInterceptor, ScopeError, ServiceCredential, TokenAuthority
from zhixing.bounds import control_character_in
from zhixing.bus import EventConsumer
from zhixing.clock import Clock, SystemClock
from zhixing.courts import directory
from zhixing.errors import CommandError, SafeJSONResponse, error_response
from zhixing.events import new_event
from zhixing.http_protocol import BoundedHttpToolsProtocol
from zhixing.outbox import Outbox, OutboxRelay, forget_backlog, observe_backlog
from zhixing.projection import BatchHandler, Projection
from zhixing.publisher import EventPublisher
from zhixing.rules import catalogue
from zhixing.settings import AuthSettings, KafkaSettings, RedisSettings, ServiceSettings
from zhixing.state import KeySpace, connect
from zhixing.topics import Topic
from zhixing.v1 import envelope_pb2

__all__ = [
    "DEPENDENCY_RETRY_MAX_S",
    "ERROR_RESPONSES",
    "MAX_QUERY_BYTES",
    "MAX_REQUEST_BODY_BYTES",
    "MAX_URL_PATH_BYTES",
    "REDIS_RETRY_AFTER_S",
    "Background",
    "ErrorBody",
    "GrpcRegistrar",
    "ServiceContext",
    "ServiceHost",
    "create_http_app",
    "enable_reflection",
    "registered_services",
    "run_async",
]

log = structlog.get_logger(__name__)

BACKLOG_READ_S = 1.0
"""How long a scrape waits for the outbox's backlog (``observe_backlog``) before it answers
without it: well within Prometheus's scrape timeout (10 s by default)."""


@dataclass
class ServiceContext:
    """The shared dependencies of one service, built once in its bootstrap."""

    name: str
    clock: Clock
    kafka: KafkaSettings
    redis: aioredis.Redis
    keys: KeySpace
    publisher: EventPublisher
    tokens: TokenAuthority
    outbox: Outbox
    tracer: Tracer | None = None  # None: tracing is off (zhixing.tracing)

    @classmethod
    def build(
        cls,
        name: str,
        *,
        clock: Clock | None = None,
        kafka: KafkaSettings | None = None,
        redis: RedisSettings | None = None,
        auth: AuthSettings | None = None,
    ) -> ServiceContext:
        clock = clock or SystemClock()
        kafka = kafka or KafkaSettings()
        redis = redis or RedisSettings()
        keys = KeySpace(redis.key_prefix, name)
        tracer = tracing.tracer(name)
        return cls(
            name=name,
            clock=clock,
            kafka=kafka,
            redis=connect(redis),
            keys=keys,
            publisher=EventPublisher(kafka, tracer=tracer),
            tokens=TokenAuthority(auth or AuthSettings(), clock),
            outbox=Outbox(keys),
            tracer=tracer,
        )

    def service_credential(self) -> ServiceCredential:
        """What this service presents on its gRPC calls to another service or the gateway."""
        return ServiceCredential(self.tokens, self.name, self.clock)

    def consumer(
        self, projection: str, topics: Sequence[Topic], handler: BatchHandler
    ) -> EventConsumer:
        """A consumer whose group is ``<service>.<projection>``."""
        return EventConsumer(
            group=f"{self.name}.{projection}",
            topics=topics,
            handler=handler,
            kafka=self.kafka,
            redis=self.redis,
            keys=self.keys,
            publisher=self.publisher,
            tracer=self.tracer,
        )

    def consumer_of(self, *projections: Projection) -> EventConsumer:
        """One consumer, group ``<service>.projections``, feeding several projections: each
        batch is fetched and decoded once and applied to all of them in one transaction.
        Each keeps the offsets and applied ids it would keep alone (``<service>.<name>``),
        so merging projections into one consumer, or splitting them, needs no migration."""
        return EventConsumer(
            group=f"{self.name}.projections",
            projections=[replace(p, name=f"{self.name}.{p.name}") for p in projections],
            kafka=self.kafka,
            redis=self.redis,
            keys=self.keys,
            publisher=self.publisher,
            tracer=self.tracer,
        )

    def stage(
        self, pipe: Pipeline, payload: Message, *, aggregate_id: str, court_code: str,
        actor: envelope_pb2.Actor, correlation_id: str = "", causation_id: str = "",
    ) -> None:  # fmt: skip
        """Queue ``payload`` as an event in the outbox, on the transaction ``pipe`` is in:
        it is published only if the state change it records is written."""
        event = new_event(
            payload, aggregate_id=aggregate_id, court_code=court_code, actor=actor,
            clock=self.clock, correlation_id=correlation_id, causation_id=causation_id,
        )  # fmt: skip
        self.outbox.stage(pipe, event)

    def outbox_relay(self) -> OutboxRelay:
        return OutboxRelay(redis=self.redis, outbox=self.outbox, publisher=self.publisher)


class Background(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


MAX_REQUEST_BODY_BYTES = 512 * 1024
"""Largest request body any route takes: a filing at every bound of ``zhixing.bounds`` is
far smaller; anything larger is refused (413) before it is read into memory."""

MAX_URL_PATH_BYTES = 1024
"""Longest URL path (ids in paths are at most ``bounds.MAX_ID`` characters)."""

MAX_QUERY_BYTES = 4096
"""Longest query string (filters, a court code, paging)."""

REDIS_RETRY_AFTER_S = 5
"""What a 503 tells a client to wait when the store is unreachable."""


class ErrorBody(BaseModel):
    """Every refusal: ``detail`` says what is wrong; for bad input, a list naming each field
    (``loc``) as FastAPI's validation errors do."""

    detail: str | list[dict[str, Any]]
    unmet_rules: list[str] | None = Field(
        None, description="When a gate refused: the rule id of each condition not met"
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request is malformed"},
    401: {"model": ErrorBody, "description": "Missing, forged or expired token"},
    403: {"model": ErrorBody, "description": "Outside the caller's court or role"},
    404: {"model": ErrorBody, "description": "No such thing within the caller's jurisdiction"},
    409: {"model": ErrorBody, "description": "The thing's state does not allow the act"},
    413: {"model": ErrorBody, "description": "The request body is too large"},
    414: {"model": ErrorBody, "description": "The URL path or query string is too long"},
    503: {
        "model": ErrorBody,
        "description": "A dependency is unavailable; nothing was written (see Retry-After)",
    },
}
"""The refusals every route may give, documented once for all of them (issue 13)."""


class _RequestLimits:
    """Refuses an over-long URL path (414) or an over-large body (413) before the route
    runs: the declared length is checked first, a streamed body as it arrives."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("raw_path") or scope["path"].encode()) > MAX_URL_PATH_BYTES:
            await _refuse(send, 414, f"the URL path is longer than {MAX_URL_PATH_BYTES} bytes")
            return
        if len(scope.get("query_string") or b"") > MAX_QUERY_BYTES:
            await _refuse(send, 414, f"the query string is longer than {MAX_QUERY_BYTES} bytes")
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        too_large = f"the request body is larger than {MAX_REQUEST_BODY_BYTES} bytes"
        if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BODY_BYTES:
            await _refuse(send, 413, too_large)
            return
        received = 0
        started = False

        async def counted_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_REQUEST_BODY_BYTES:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await _refuse(send, 413, too_large)


class _BodyTooLarge(Exception):
    pass


_MAY_HOLD_NOT_TEXT = re.compile(rb"\\u|\x7f|\xc2[\x80-\x9f]")
"""What a JSON body holding a character of ``bounds.NOT_TEXT`` shows in its bytes: an escape
(a raw C0 character is not JSON), a raw DEL or a raw C1 character."""


class _TextOnly:
    """Refuses (422, naming the field) a JSON body whose text holds a character no person
    types (``bounds.NOT_TEXT``: control characters, lone surrogates) before any route reads
    it, so no record, event, export or SMS ever holds one. Bodies are bounded (413 above)
    and read whole here; one that cannot hold such a character passes unparsed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        ending: Any = None  # a disconnect read while reading the body, passed on after it
        while True:
            message = await receive()
            if message["type"] != "http.request":
                ending = message
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _MAY_HOLD_NOT_TEXT.search(body):
            try:
                decoded = json.loads(body)
            except (ValueError, RecursionError):  # not JSON: the route's own parsing answers
                decoded = None
            if (hit := control_character_in(decoded, ("body",))) is not None:
                loc, char = hit
                what = ("a lone surrogate (half of a UTF-16 pair)" if 0xD800 <= ord(char) <= 0xDFFF
                        else "a control character")  # fmt: skip
                await _refuse_invalid(send, list(loc), f"holds the character U+{ord(char):04X}, "
                                      f"{what}: no text may hold it")  # fmt: skip
                return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return ending if ending is not None else await receive()

        await self.app(scope, replay, send)


async def _refuse_invalid(send: Any, loc: list[Any], msg: str) -> None:
    """A 422 shaped as FastAPI's own (``detail``: a list of ``loc``, ``msg``, ``type``)."""
    body = json.dumps(
        {"detail": [{"type": "value_error", "loc": loc, "msg": msg}]}, ensure_ascii=True
    ).encode()
    await send({"type": "http.response.start", "status": 422, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Any, status_code: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_http_app(ctx: ServiceContext, *, title: str, description: str) -> FastAPI:
    """A FastAPI app with health, metrics, OpenAPI docs and the platform's error mapping."""
    # The app's router adds ERROR_RESPONSES to every route it is given, routers included
    # later too: one shared set of documented refusals, so clients and fuzzers rely on it.
    app = FastAPI(title=title, description=description, version="0.1.0", responses=ERROR_RESPONSES)
    app.state.token_authority = ctx.tokens
    app.state.ready = False
    app.state.tasks = []
    app.add_middleware(_TextOnly)  # inside the limits: it reads a body they bounded
    app.add_middleware(_RequestLimits)
    # Refusals and overseers' reads go into the audit trail (zhixing.access).
    app.add_middleware(AccessRecorder, service=ctx.name, publisher=ctx.publisher, clock=ctx.clock)
    # Outermost: each request's latency, and with tracing on its SERVER span.
    app.add_middleware(tracing.RequestObserver, service=ctx.name, tracer=ctx.tracer)

    @app.get("/healthz", tags=["ops"], summary="Liveness and readiness")
    async def healthz() -> JSONResponse:
        checks = {"redis": "ok", "kafka": "starting"}
        if app.state.ready:
            checks["kafka"] = (
                "ok" if await ctx.publisher.broker_reachable() else "error: no broker answers"
            )
        stopped = [t.get_name() for t in app.state.tasks if t.done()]
        if app.state.ready and stopped:
            checks["tasks"] = f"stopped: {', '.join(stopped)}"
        try:
            await ctx.redis.ping()
        except Exception as exc:
            checks["redis"] = f"error: {exc}"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"service": ctx.name, "status": "ok" if healthy else "unavailable", "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.exception_handler(ScopeError)
    async def scope_error(request: Request, exc: ScopeError) -> JSONResponse:
        request.scope.setdefault("state", {})["refusal"] = str(exc)
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(CommandError)
    async def command_error(request: Request, exc: CommandError) -> JSONResponse:
        return error_response(exc)

    # FastAPI's own reply, written so that an input it quotes always encodes.
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)

    # Redis unreachable: a transaction that did not reach EXEC wrote nothing, so the client
    # is told to come back, not that the platform failed (issue 13).
    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("store unavailable", path=request.url.path, error=str(exc))
        return JSONResponse(
            {"detail": "the platform's store (Redis) is unavailable; nothing was written, "
             "try again later"},
            status_code=503,
            headers={"Retry-After": str(REDIS_RETRY_AFTER_S)},
        )  # fmt: skip

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def metrics() -> Response:
        try:
            async with asyncio.timeout(BACKLOG_READ_S):
                await observe_backlog(ctx.redis, ctx.outbox, ctx.name)
        except Exception as exc:  # Redis away or slow: the rest is still worth scraping
            forget_backlog(ctx.name)
            log.warning("outbox backlog not read", error=str(exc) or type(exc).__name__)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


GrpcRegistrar = Callable[[grpc.aio.Server], None]


class _NamingServer:
    """Stands for the server while a registrar adds its servicer, noting the service's full
    name (generated code adds handlers by name) and passing everything on."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.names: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
        self.names += [h.service_name() for h in handlers if hasattr(h, "service_name")]
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, name: str, handlers: Any) -> None:
        self.names.append(name)
        # Newer generated code registers by name too; grpc's stubs do not know the method.
        self._server.add_registered_method_handlers(name, handlers)  # type: ignore[attr-defined]


def registered_services(register: GrpcRegistrar, server: grpc.aio.Server) -> list[str]:
    """Run ``register`` on ``server``; the full names of the services it added."""
    naming = _NamingServer(server)
    register(cast(grpc.aio.Server, naming))
    return list(dict.fromkeys(naming.names))


def enable_reflection(server: grpc.aio.Server, services: Sequence[str]) -> None:
    """gRPC server reflection beside health (``grpcurl list`` works): it describes the
    services this port serves, nothing of any court's data, and answers without a
    credential like health (``UNAUTHENTICATED_METHOD_PREFIXES``)."""
    names = [*dict.fromkeys(services), reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)


T = TypeVar("T")


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn inside a host that owns the signals: it must not capture SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class ServiceHost:
    ctx: ServiceContext
    http: FastAPI
    ports: ServiceSettings
    grpc_services: Sequence[GrpcRegistrar] = ()
    consumers: Sequence[EventConsumer] = ()
    background: Sequence[Background] = ()
    http_port: int = 0
    grpc_port: int = 0
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _uvicorn: uvicorn.Server | None = None
    _grpc: grpc.aio.Server | None = None
    _health: HealthServicer | None = None

    async def start(self) -> None:
        ctx = self.ctx
        # A service started while Redis or Kafka is down (a restart during an outage) waits
        # for them, saying so, instead of exiting (the crash campaign found it exiting).
        await _until_up("redis", ctx.redis.ping)
        await _until_up("kafka", ctx.publisher.start)
        for consumer in self.consumers:
            await _until_up("kafka", consumer.start)
        self._tasks += [asyncio.create_task(c.run(), name=c.group) for c in self.consumers]
        self._tasks += [
            asyncio.create_task(b.run(), name=type(b).__name__) for b in self.background
        ]

        self._grpc = grpc.aio.server(interceptors=[AuthInterceptor(ctx.tokens)])
        self._health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._grpc)
        served = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        for register in self.grpc_services:
            served += registered_services(register, self._grpc)
        enable_reflection(self._grpc, served)
        self.grpc_port = self._grpc.add_insecure_port(f"{self.ports.host}:{self.ports.grpc_port}")
        await self._grpc.start()

        config = uvicorn.Config(
            self.http,
            host=self.ports.host,
            port=self.ports.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            # httptools, not "auto": a missing httptools must fail the start, not fall back
            # to the pure-Python h11 at several times the CPU per request; with h11's bound
            # on a request's head (zhixing.http_protocol).
            http=BoundedHttpToolsProtocol,
            # Open streams (the dashboard's server-sent events) must not hold a stop forever.
            timeout_graceful_shutdown=5,
            # The peer is the client: uvicorn would otherwise believe X-Forwarded-For from
            # any local process. A service that must see through a proxy says which proxies
            # it trusts itself (the notification service's progress page does).
            proxy_headers=False,
        )
        self._uvicorn = _EmbeddedUvicorn(config)
        serving = asyncio.create_task(self._uvicorn.serve(), name="http")
        self._tasks.append(serving)
        # uvicorn offers no event for "listening"; poll its flag, and fail if it gave up.
        while not self._uvicorn.started:
            if serving.done():
                raise RuntimeError(
                    f"{ctx.name}: HTTP server failed to start on port {self.ports.http_port}"
                )
            await asyncio.sleep(0.01)
        self.http_port = self._uvicorn.servers[0].sockets[0].getsockname()[1]

        self.http.state.tasks = list(self._tasks)
        self.http.state.ready = True
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "service started", http_port=self.http_port, grpc_port=self.grpc_port, name=ctx.name
        )

    async def stop(self) -> None:
        self.http.state.ready = False
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._grpc is not None:
            await self._grpc.stop(grace=5)
        for consumer in self.consumers:
            await consumer.stop()
        for loop in self.background:
            loop.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.publisher.stop()
        await self.ctx.redis.aclose()
        await asyncio.to_thread(tracing.flush, self.ctx.name)  # a down collector waits
        log.info("service stopped", name=self.ctx.name)

    async def serve_forever(self) -> None:
        """Start, then run until SIGINT or SIGTERM, then stop gracefully. A signal while
        still waiting for Redis or Kafka ends the wait and the process."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        load_reference_data()
        starting = asyncio.create_task(self.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            await self.ctx.redis.aclose()
            return
        starting.result()
        freeze_startup_heap()
        # A task that ends by itself (a loop or consumer that crashed) ends the process, so
        # its supervisor (Kubernetes, make run) starts it again; /healthz said so meanwhile.
        done, _ = await asyncio.wait({stopping, *self._tasks}, return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:
            for task in done:
                failure = None if task.cancelled() else task.exception()
                log.error("a task of the service ended; stopping the process",
                          task=task.get_name(), exc_info=failure)  # fmt: skip
            stopping.cancel()
            await self.stop()
            raise SystemExit(1)
        await self.stop()


def freeze_startup_heap() -> None:
    """Put every object alive once a service has started (its modules, classes, routes,
    the rule catalogue and the court directory: over 100,000 objects) beyond the cyclic
    garbage collector's reach, as CPython's documentation of ``gc.freeze`` suggests.

    Without it, every full collection walks them all again, which takes 70 to 150 ms here:
    a request or a batch that meets one waits that long, and that was the p99 of the
    dashboard and of a filing. The collection just before takes startup's garbage (it
    pauses the loop once, as one of those collections did). A frozen object is still freed
    when its last reference goes; only one caught in a reference cycle dropped later would
    stay, which could be an object of the requests or batches in flight at that instant: a
    bounded, one-off cost.
    """
    gc.collect()
    gc.freeze()


def load_reference_data() -> None:
    """The court directory and the rule catalogue, loaded on first use otherwise: loaded
    before a service starts, a bad file stops it before it serves, no request waits for
    them, and they are among what ``freeze_startup_heap`` freezes."""
    directory()
    catalogue()


DEPENDENCY_RETRY_MAX_S = 5.0


async def _until_up(dependency: str, connect: Callable[[], Awaitable[Any]]) -> None:
    """Call ``connect`` until it succeeds, pausing 0.5 s, doubling to 5 s, between tries."""
    pause = 0.5
    while True:
        try:
            await connect()
            return
        except (RedisConnectionError, RedisTimeoutError, KafkaError, OSError) as exc:
            log.warning("waiting for a dependency to start", dependency=dependency,
                        error=str(exc), retry_in_s=pause)  # fmt: skip
            await asyncio.sleep(pause)
            pause = min(DEPENDENCY_RETRY_MAX_S, pause * 2)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a process's main coroutine on uvloop where it is installed (a faster event loop
    for a service that is mostly network I/O), else on asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or a minimal install
        return asyncio.run(main)
    return uvloop.run(main)
