"""OpenTelemetry traces (zhixing.tracing): a SERVER span per request, the staging span's
context in the envelope, consumer spans continuing it, and nothing at all when off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.factories import ACTOR, START, case_filed_event
from tests.fakes import in_memory_context, staged
from zhixing import tracing
from zhixing.audit import GENESIS_HASH, audit_record
from zhixing.clock import SimulatedClock
from zhixing.events import new_event
from zhixing.service import create_http_app
from zhixing.settings import TracingSettings
from zhixing.v1 import case_events_pb2


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    assert tracing.configure(exporter=spans)
    yield spans
    tracing.reset()


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def ids(header: str) -> str:
    """A traceparent without its flags (the SDK may set more than "sampled")."""
    return header.rsplit("-", 1)[0]


def app_staging_a_filing(ctx: Any) -> Any:
    app = create_http_app(ctx, title="unit", description="unit")
    router = APIRouter()

    @router.post("/v1/cases/{case_id}")
    async def file(case_id: str, request: Request) -> dict[str, str]:
        payload = case_events_pb2.CaseFiled(case_id=case_id, court_code="苏1283")
        async with ctx.redis.pipeline(transaction=True) as pipe:
            pipe.multi()
            ctx.stage(pipe, payload, aggregate_id=case_id, court_code="苏1283", actor=ACTOR)
            await pipe.execute()
        return {"case_id": case_id}

    app.include_router(router)
    return app


async def post(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as http:
        return await http.post(path, headers=headers)


async def test_a_request_has_a_server_span_and_its_staged_event_carries_the_context(
    exporter: InMemorySpanExporter,
) -> None:
    ctx = in_memory_context("intake", SimulatedClock(START))
    ctx.tracer = tracing.tracer("intake")
    response = await post(app_staging_a_filing(ctx), "/v1/cases/c-1")
    assert response.status_code == 200

    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.name == "POST /v1/cases/{case_id}"  # the route, not the case's id
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/v1/cases/{case_id}"
    assert span.attributes["http.response.status_code"] == 200
    assert span.resource.attributes["service.name"] == "zhixing-intake"
    (event,) = await staged(ctx)
    assert span.context is not None
    assert list(event.envelope.trace_context) == ["traceparent"]
    assert ids(event.envelope.trace_context["traceparent"]) == ids(
        traceparent(span.context.trace_id, span.context.span_id)
    )


async def test_a_callers_traceparent_is_continued(exporter: InMemorySpanExporter) -> None:
    ctx = in_memory_context("intake", SimulatedClock(START))
    ctx.tracer = tracing.tracer("intake")
    caller = traceparent(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7)
    await post(app_staging_a_filing(ctx), "/v1/cases/c-2", {"traceparent": caller})
    (span,) = exporter.get_finished_spans()
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert span.parent.span_id == 0x00F067AA0BA902B7


def test_an_event_staged_for_an_applied_event_continues_its_consumer_span(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = tracing.tracer("deadlines")
    assert tracer is not None
    with tracer.start_as_current_span("request"):
        cause = case_filed_event("c-3")
    consumer = tracing.consumer_span(tracer, "deadlines.clocks", "cases", 0, 7, cause.envelope)
    with tracing.applying({cause.event_id: consumer}):
        payload = case_events_pb2.CaseFiled(case_id="c-4", court_code="苏1283")
        caused = new_event(payload, aggregate_id="c-4", court_code="苏1283", actor=ACTOR,
                           clock=SimulatedClock(START), causation_id=cause.event_id)  # fmt: skip
    consumer.end()
    request, process = exporter.get_finished_spans()
    assert process.kind is SpanKind.CONSUMER
    assert process.parent is not None and request.context is not None
    assert process.parent.span_id == request.context.span_id  # the producer's context
    assert process.context is not None
    assert process.context.trace_id == request.context.trace_id
    assert ids(caused.envelope.trace_context["traceparent"]) == ids(
        traceparent(process.context.trace_id, process.context.span_id)
    )


def test_off_without_an_endpoint_nothing_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("ZHIXING_TRACING_ENDPOINT", raising=False)
    try:
        assert not tracing.configure()
        assert tracing.tracer("intake") is None
        assert not tracing.enabled()
        assert len(case_filed_event("c-5").envelope.trace_context) == 0
    finally:
        tracing.reset()


def test_the_standard_otlp_variable_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIXING_TRACING_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert TracingSettings().traces_url == "http://collector:4318/v1/traces"
    monkeypatch.setenv("ZHIXING_TRACING_ENDPOINT", "http://jaeger:4318")
    assert TracingSettings().traces_url == "http://jaeger:4318/v1/traces"
    assert TracingSettings(endpoint="http://c:4318").traces_url == "http://c:4318/v1/traces"


def test_the_audit_record_leaves_the_trace_context_out(exporter: InMemorySpanExporter) -> None:
    tracer = tracing.tracer("intake")
    assert tracer is not None
    with tracer.start_as_current_span("request"):
        traced = case_filed_event("c-6")
    assert traced.envelope.trace_context
    untraced = case_filed_event("c-6")
    untraced.envelope.event_id = traced.event_id
    untraced.envelope.correlation_id = traced.envelope.correlation_id
    record = audit_record(traced, seq=0, prev_hash=GENESIS_HASH)
    assert "trace_context" not in record and "traceparent" not in str(record)
    assert record["hash"] == audit_record(untraced, seq=0, prev_hash=GENESIS_HASH)["hash"]
