"""One filing's trace crosses services: the intake request's SERVER span, the outbox relay's
PRODUCER span and the consumers' spans in other services share one trace id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.conftest import Isolated
from tests.factories import filing
from tests.integration.platform_stack import platform_stack
from tests.polling import eventually
from zhixing import tracing
from zhixing.auth import Role

pytestmark = pytest.mark.integration


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.configure(exporter=spans)
    yield spans
    tracing.reset()


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


async def test_a_filings_request_and_the_consumers_in_other_services_share_one_trace(
    isolated: Isolated, tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    async with platform_stack(isolated, tmp_path, with_deadlines=True) as stack:
        body = filing()
        async with stack.client(stack.intake) as client:
            response = await client.post(
                "/v1/cases", json=body, headers=stack.headers(Role.CLERK, body["court_code"])
            )
        assert response.status_code == 201, response.text
        case_id = response.json()["case_id"]

        def in_the_trace() -> list[ReadableSpan]:
            (request,) = [
                s for s in exporter.get_finished_spans()
                if s.kind is SpanKind.SERVER and s.name == "POST /v1/cases"
            ]  # fmt: skip
            assert request.context is not None
            return [
                s for s in exporter.get_finished_spans()
                if s.context is not None and s.context.trace_id == request.context.trace_id
            ]  # fmt: skip

        def consumed_by(service: str, kind: str) -> bool:
            return any(
                s.kind is SpanKind.CONSUMER
                and service_of(s) == f"zhixing-{service}"
                and s.name == f"process zhixing.v1.{kind}"
                for s in in_the_trace()
            )

        async def followed() -> bool:
            # The filing reaches asset control and the deadlines service as CaseFiled; the
            # query asset control then starts is a second hop, traced on to the deadlines.
            return (
                consumed_by("asset_control", "CaseFiled")
                and consumed_by("deadlines", "CaseFiled")
                and consumed_by("command", "NetworkQueryStarted")
            )

        await eventually(followed, within_s=30)
        spans = in_the_trace()
        producers = [s for s in spans if s.kind is SpanKind.PRODUCER]
        assert any(service_of(s) == "zhixing-intake" for s in producers)
        assert any(service_of(s) == "zhixing-asset_control" for s in producers)
        filed = [s for s in spans if s.kind is SpanKind.CONSUMER and "CaseFiled" in s.name]
        assert all(s.attributes and s.attributes["zhixing.aggregate_id"] == case_id for s in filed)
        # Each consumer span continues its producer's: the outbox wait and each hop show.
        by_id = {s.context.span_id: s for s in spans if s.context is not None}
        for span in filed:
            assert span.parent is not None
            assert by_id[span.parent.span_id].kind is SpanKind.PRODUCER
