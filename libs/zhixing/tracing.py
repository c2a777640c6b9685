"""OpenTelemetry traces that follow one case across the platform; off unless configured.

With an OTLP endpoint set (``ZHIXING_TRACING_ENDPOINT`` or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``, see ``TracingSettings``), each service exports:

* a SERVER span per HTTP request (``zhixing.service``), continuing a caller's
  ``traceparent`` header when it sends one;
* the trace context of the span that staged an event, in the envelope's ``trace_context``
  (W3C ``traceparent``), written when the event is built (``zhixing.events.new_event``);
* a PRODUCER span per event the publisher sends (the outbox relay's included), child of
  the staging span: the gap between the two is the time the event waited in the outbox;
  the envelope then carries the producer span's context;
* a CONSUMER span per event a consumer applies (``zhixing.bus``), child of the producer
  span, from the batch's start to its commit; events a handler stages for an event it
  applies (its ``causation_id``) carry that span's context, so the next hop continues
  the same trace.

Off, nothing of this is built: ``tracer()`` gives None, the hooks test it once per request
or batch, and no envelope carries a trace context. The audit chain never includes the trace
context (``zhixing.audit.audit_record`` copies named fields only).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer, set_span_in_context, use_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Histogram

from zhixing.settings import TracingSettings
from zhixing.v1 import envelope_pb2

__all__ = [
    "REQUEST_SECONDS",
    "RequestObserver",
    "applying",
    "configure",
    "consumer_span",
    "context_of",
    "enabled",
    "flush",
    "reset",
    "stamp",
    "stamp_span",
    "tracer",
]

_PROPAGATOR = TraceContextTextMapPropagator()

REQUEST_SECONDS = Histogram(
    "zhixing_http_request_seconds",
    "Time to answer an HTTP request, to the response's last byte (a stream: its whole life)",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf")),
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_configured = False
_processor: Callable[[], SpanProcessor] | None = None  # None: tracing is off
_sample_ratio = 1.0
_exports_on_exit = False
_providers: dict[str, TracerProvider] = {}

# While a consumer applies a batch: each event's CONSUMER span, by event id,
# so what a handler stages for an event (its causation id) continues that event's trace.
_applying: ContextVar[Mapping[str, Span] | None] = ContextVar("zhixing_applying", default=None)


def configure(
    settings: TracingSettings | None = None, *, exporter: SpanExporter | None = None
) -> bool:
    """Turn tracing on when ``settings`` (read from the environment when not given) name an
    endpoint, or when a test gives its own ``exporter`` (spans exported as each ends).
    Returns whether tracing is on. Providers made before are shut down first."""
    global _configured, _processor, _sample_ratio, _exports_on_exit
    reset()
    _configured = True
    if exporter is not None:
        _processor = lambda: SimpleSpanProcessor(exporter)  # noqa: E731
        return True
    settings = settings or TracingSettings()
    if not settings.endpoint:
        return False
    # Imported only when on: the exporter pulls in an HTTP client a service without
    # tracing has no use for.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url = settings.traces_url
    _exports_on_exit = True
    _sample_ratio = settings.sample_ratio
    _processor = lambda: BatchSpanProcessor(OTLPSpanExporter(endpoint=url))  # noqa: E731
    return True


def reset() -> None:
    """Tracing off; spans not yet exported are flushed first."""
    global _configured, _processor, _sample_ratio, _exports_on_exit
    for provider in _providers.values():
        provider.shutdown()
    _providers.clear()
    _configured = False
    _processor = None
    _sample_ratio = 1.0
    _exports_on_exit = False


def enabled() -> bool:
    return _processor is not None


def tracer(service: str) -> Tracer | None:
    """The tracer of ``service`` (its spans name it as ``zhixing-<service>``), or None when
    tracing is off. The environment is read on the first call, unless ``configure`` was."""
    if not _configured:
        configure()
    if _processor is None:
        return None
    provider = _providers.get(service)
    if provider is None:
        # One provider per service, so services run in one process (tests, the simulator)
        # still show as themselves; a deployed process runs one.
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": f"zhixing-{service}", "service.namespace": "zhixing"}
            ),
            sampler=ParentBased(TraceIdRatioBased(_sample_ratio)),
            shutdown_on_exit=_exports_on_exit,
        )
        provider.add_span_processor(_processor())
        _providers[service] = provider
    return provider.get_tracer("zhixing")


def flush(service: str) -> None:
    """Export what ``service``'s spans are still waiting (at a stop)."""
    provider = _providers.get(service)
    if provider is not None:
        provider.force_flush(timeout_millis=5000)


def stamp(carrier: MutableMapping[str, str], causation_id: str = "") -> None:
    """Write into ``carrier`` (an envelope's ``trace_context``) the context an event is
    caused in: the CONSUMER span of the event ``causation_id`` names when a consumer is
    applying it, else the current span. Nothing is written when there is none."""
    if _processor is None:
        return
    causes = _applying.get()
    cause = causes.get(causation_id) if causes and causation_id else None
    _PROPAGATOR.inject(carrier, context=set_span_in_context(cause) if cause else None)


def stamp_span(carrier: MutableMapping[str, str], span: Span) -> None:
    """Write ``span``'s context into ``carrier``."""
    _PROPAGATOR.inject(carrier, context=set_span_in_context(span))


def context_of(carrier: Mapping[str, str]) -> Context:
    """The context an envelope's ``trace_context`` (or a request's headers) carries."""
    return _PROPAGATOR.extract(carrier)


def consumer_span(
    tracer: Tracer,
    group: str,
    topic: str,
    partition: int,
    offset: int,
    envelope: envelope_pb2.EventEnvelope,
) -> Span:
    """The CONSUMER span of one event a consumer group applies, child of the span its
    envelope names (the producer's); open until the consumer's batch is written."""
    return tracer.start_span(
        f"process {envelope.event_type}",
        context=context_of(envelope.trace_context),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": group,
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "zhixing.event_id": envelope.event_id,
            "zhixing.aggregate_id": envelope.aggregate_id,
            "zhixing.court_code": envelope.court_code,
        },
    )


@contextlib.contextmanager
def applying(spans: Mapping[str, Span]) -> Iterator[None]:
    """While a consumer applies a batch: each event's CONSUMER span, by event id."""
    token = _applying.set(spans or None)
    try:
        yield
    finally:
        _applying.reset(token)


class RequestObserver:
    """ASGI middleware, outermost in every service's app (``zhixing.service``): observes
    each request's latency in ``REQUEST_SECONDS`` by route template, and with tracing on
    wraps it in a SERVER span (continuing a ``traceparent`` header) that is current while
    the route runs, so events it stages carry it. Neither the path's ids nor the query are
    recorded: the route template names the request."""

    def __init__(self, app: Any, *, service: str, tracer: Tracer | None = None) -> None:
        self.app = app
        self._service = service
        self._tracer = tracer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        span = None
        if self._tracer is not None:
            carrier = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in scope.get("headers") or ()
                if name in (b"traceparent", b"tracestate")
            }
            span = self._tracer.start_span(
                method,
                context=context_of(carrier),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "zhixing.service": self._service},
            )
        try:
            if span is None:
                await self.app(scope, receive, observed_send)
            else:
                with use_span(span, end_on_exit=False):
                    await self.app(scope, receive, observed_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            REQUEST_SECONDS.labels(self._service, method, route, str(status)).observe(elapsed)
            if span is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                span.end()
