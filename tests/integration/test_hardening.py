"""What issue 13 found broken, each kept fixed: unbounded inputs, a late act not shown late,
errors missing from the OpenAPI, an unauthenticated gateway, a 500 when Redis is down, a dead
broker reported healthy and flooding the log."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from services.agency_gateway.server import GatewayState
from services.intake.bootstrap import bootstrap as intake_bootstrap
from tests.conftest import Isolated
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import until_query
from tests.polling import eventually
from tools.demo import credit_code
from tools.devinfra import ROOT, LocalKafka, LocalRedis, create_topics, free_port
from zhixing.assets import CHANNELS
from zhixing.audit import AuditChain
from zhixing.auth import Role
from zhixing.bounds import MAX_AMOUNT_FEN, MAX_PARTIES
from zhixing.builder import Infrastructure
from zhixing.service import ERROR_RESPONSES, MAX_REQUEST_BODY_BYTES
from zhixing.settings import RedisSettings, ServiceSettings
from zhixing.state import KeySpace
from zhixing.v1 import agency_gateway_pb2, agency_gateway_pb2_grpc

pytestmark = pytest.mark.integration


def debtors(count: int) -> list[dict[str, str]]:
    return [{"kind": "organisation", "name": f"公司{n}", "id_number": credit_code(n)}
            for n in range(1, count + 1)]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "status", "where"),
    [
        ({"claim_amount_fen": 10**30}, 422, ["body", "claim_amount_fen"]),
        ({"claim_amount_fen": MAX_AMOUNT_FEN + 1}, 422, ["body", "claim_amount_fen"]),
        ({"costs_fen": 2**63 - 1}, 422, ["body", "costs_fen"]),
        ({"receiving_account": "6" * 65}, 422, ["body", "receiving_account"]),
        ({"receiving_account": "6" * (1024 * 1024)}, 413, None),
        ({"debtors": debtors(MAX_PARTIES + 1)}, 422, ["body", "debtors"]),
        ({"debtors": debtors(20_000)}, 413, None),
        ({"legal_document": {"type": "民事判决书", "issuing_court": "泰兴市人民法院",
                             "number": "（2026）苏1283民初9号", "date": "2026-03-03"}},
         422, ["body", "legal_document", "date"]),  # the day after the filing
        ({"legal_document": {"type": "民事判决书", "issuing_court": "泰兴市人民法院",
                             "number": "（2026）苏1283民初9号", "date": "2026-02-20"},
          "received_on": "2026-02-10"}, 422, ["body", "legal_document", "date"]),
    ],
    ids=["claim-1e30", "claim-over-bound", "costs-int64", "account-65", "account-1MB",
         "debtors-101", "debtors-20000", "document-in-future", "document-after-receipt"],
)  # fmt: skip
async def test_out_of_bounds_filings_are_refused_naming_the_field_and_write_nothing(
    isolated: Isolated, tmp_path: Path, overrides: dict[str, Any], status: int,
    where: list[str] | None,
) -> None:  # fmt: skip
    async with platform_stack(isolated, tmp_path, with_command=False) as stack:
        async with stack.client(stack.intake) as http:
            refused = await http.post(
                "/v1/cases", json=filing(**overrides), headers=stack.headers(Role.CLERK)
            )
            assert refused.status_code == status, refused.text[:300]
            detail = refused.json()["detail"]
            if where is None:
                assert str(MAX_REQUEST_BODY_BYTES) in detail
            else:
                assert [e["loc"] for e in detail] == [where]
        written = [
            k async for k in isolated.redis.scan_iter(match=f"{isolated.prefix}intake:case*")
        ]
        assert written == []


async def test_an_over_long_path_or_query_is_refused_before_any_route(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_command=False) as stack:
        async with stack.client(stack.intake) as http:
            long_path = await http.get("/v1/cases/" + "x" * 2000)
            long_query = await http.get("/v1/cases/x", params={"q": "y" * 5000})
        assert long_path.status_code == 414 and "URL path" in long_path.json()["detail"]
        assert long_query.status_code == 414 and "query" in long_query.json()["detail"]


async def test_every_route_documents_the_shared_error_responses(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_entrustment=True, with_disputes=True,
                              with_funds=True, with_credit=True, with_supervision=True,
                              with_notification=True) as stack:  # fmt: skip
        hosts = [stack.intake, stack.assets, stack.commander, stack.entrustment, stack.disputes,
                 stack.funds, stack.credit, stack.supervision, stack.notification]  # fmt: skip
        for host in hosts:
            assert host is not None
            spec = host.http.openapi()
            assert "ErrorBody" in spec["components"]["schemas"]
            for path, operations in spec["paths"].items():
                for method, operation in operations.items():
                    documented = set(operation["responses"])
                    expected = {str(code) for code in ERROR_RESPONSES}
                    assert expected <= documented, f"{host.ctx.name} {method} {path}"
                    refusal = operation["responses"]["409"]["content"]["application/json"]
                    assert refusal["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


async def test_a_case_docketed_after_its_limit_is_shown_breached(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Received 31 days ago, docketed today: the 7-day docketing clock never fired a timer
    before the act, and yet the case is shown breached, in the clocks and in the figures."""
    async with platform_stack(isolated, tmp_path) as stack:
        received_on = (stack.clock.now() - dt.timedelta(days=31)).date().isoformat()
        clerk = stack.headers(Role.CLERK)
        command = stack.headers(Role.COMMAND, "苏12")
        async with stack.client(stack.intake) as http:
            received = await http.post(
                "/v1/applications", json=filing(received_on=received_on), headers=clerk
            )
            assert received.status_code == 201, received.text
            case_id = received.json()["case_id"]
            docketed = await http.post(f"/v1/applications/{case_id}/docket", headers=clerk)
            assert docketed.status_code == 200, docketed.text

        async with stack.client(stack.commander) as http:

            async def shown_breached() -> bool:
                clocks = (await http.get(f"/v1/subjects/{case_id}/clocks", headers=command)).json()
                docket = [c for c in clocks if c["rule_id"] == "intake.docket"]
                return bool(docket) and docket[0]["status"] == "cleared" and docket[0]["breached"]

            await eventually(shown_breached)

            async def counted() -> bool:
                figures = (await http.get("/v1/figures/苏1283", headers=command)).json()
                return bool(figures["counts"]["clocks_breached"] >= 1)

            await eventually(counted)


async def test_the_agency_gateway_answers_service_credentials_only(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_command=False) as stack:
        target = f"127.0.0.1:{stack.gateway.grpc_port}"
        async with grpc.aio.insecure_channel(target) as channel:
            stub = agency_gateway_pb2_grpc.AgencyGatewayServiceStub(channel)
            fetch = agency_gateway_pb2.FetchFeedbackRequest(max=10)
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await stub.FetchFeedback(fetch)
            assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.aio.AioRpcError) as person:
                await stub.AckFeedback(agency_gateway_pb2.AckFeedbackRequest(feedback_ids=["x"]),
                                       metadata=_bearer(stack, person=True))  # fmt: skip
            assert person.value.code() is grpc.StatusCode.PERMISSION_DENIED
            reply = await stub.FetchFeedback(fetch, metadata=_bearer(stack, person=False))
            assert list(reply.feedback) == []


def _bearer(stack: Stack, *, person: bool) -> list[tuple[str, str]]:
    token = (
        stack.tokens.issue(subject="u", court_code="苏12", role=Role.COMMAND)
        if person
        else stack.tokens.issue_service("test")
    )
    return [("authorization", f"Bearer {token}")]


async def test_with_redis_down_a_filing_gets_503_and_nothing_is_written(
    isolated: Isolated, tmp_path: Path
) -> None:
    store = LocalRedis(tmp_path / "redis", port=free_port(), append_only=True)
    store.start()
    host = intake_bootstrap(
        Infrastructure(
            kafka=isolated.kafka,
            redis=RedisSettings(url=store.url, key_prefix=isolated.prefix),
            auth=isolated.auth,
            ports=ServiceSettings(http_port=0, grpc_port=0),
        )
    )
    await host.start()
    try:
        tokens = host.ctx.tokens
        clerk = {"Authorization": "Bearer " + tokens.issue(subject="c", court_code="苏1283",
                                                           role=Role.CLERK)}  # fmt: skip
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
            assert store.process is not None
            store.process.kill()  # a crash, not a shutdown
            store.process.wait()
            down = await http.post("/v1/cases", json=filing(), headers=clerk)
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"].isdigit()
            assert "nothing was written" in down.json()["detail"]
            health = await http.get("/healthz")
            assert health.status_code == 503 and health.json()["checks"]["redis"] != "ok"

            store.process = None
            store.start()
            assert [
                k async for k in host.ctx.redis.scan_iter(match=f"{isolated.prefix}*case*")
            ] == []
            again = await http.post("/v1/cases", json=filing(), headers=clerk)
            assert again.status_code == 201, again.text
    finally:
        await host.stop()
        store.stop()


async def test_asset_control_asks_again_for_what_was_outstanding(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Queries sent to a gateway that then lost them are asked again when asset control
    starts, not after the feedback timeout (the simulated clock stands still here)."""
    async with platform_stack(isolated, tmp_path, with_command=False,
                              gateway={"latency_ms": 3_600_000}) as stack:  # fmt: skip
        async with stack.client(stack.intake) as http:
            filed = await http.post("/v1/cases", json=filing(), headers=stack.headers(Role.CLERK))
        case_id = filed.json()["case_id"]

        async def all_sent() -> bool:
            case = await stack.control.records.case(case_id)
            units = case["query"]["units"] if case else []
            return bool(units) and all(u["status"] == "submitted" for u in units)

        await eventually(all_sent)
        stack.gateway.gateway.state = GatewayState()  # the outside system lost them
        stack.gateway.gateway.settings.latency_ms = 0
        assert await stack.control.query.ask_again_for_outstanding() == len(CHANNELS)
        await until_query(stack, case_id, "completed")


async def test_refusals_and_overseers_reads_are_kept_in_the_access_log_and_the_audit_chain(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path) as stack:
        async with stack.client(stack.intake) as http:
            filed = await http.post("/v1/cases", json=filing(), headers=stack.headers(Role.CLERK))
            case_id = filed.json()["case_id"]
            assert (await http.get(f"/v1/cases/{case_id}")).status_code == 401
            agency = stack.headers(Role.AGENCY, "苏1283", subject="agency:tax")
            assert (await http.get(f"/v1/cases/{case_id}", headers=agency)).status_code == 403
            overseer = stack.headers(Role.OVERSEER, "苏12", subject="纪检 李某")
            assert (await http.get(f"/v1/cases/{case_id}", headers=overseer)).status_code == 200

        leader = stack.headers(Role.LEADER, "苏1283")
        supreme = stack.headers(Role.OVERSEER, "最高法")
        async with stack.client(stack.commander) as http:

            async def logged() -> bool:
                own = await http.get("/v1/access-log", headers=leader)
                above = await http.get("/v1/access-log", params={"court": "苏12"},
                                       headers=stack.headers(Role.OVERSEER, "苏12"))  # fmt: skip
                top = await http.get("/v1/access-log", params={"jurisdiction": "false"},
                                     headers=supreme)  # fmt: skip
                refused = [e for e in own.json()["entries"] if e["status"] == 403]
                reads = [e for e in above.json()["entries"] if e["subject"] == "纪检 李某"]
                anonymous = [e for e in top.json()["entries"] if e["status"] == 401]
                return bool(refused and reads and anonymous)

            await eventually(logged)
            entries = (await http.get("/v1/access-log", headers=leader)).json()["entries"]
            refused = next(e for e in entries if e["status"] == 403)
            assert refused["subject"] == "agency:tax" and "disputes" in refused["reason"]
            assert refused["path"] == f"/v1/cases/{case_id}" and refused["service"] == "intake"
            clerk = stack.headers(Role.CLERK, "苏1283")
            assert (await http.get("/v1/access-log", headers=clerk)).status_code == 403

        chain = AuditChain(isolated.redis, KeySpace(isolated.prefix, "command"))

        async def in_the_chain() -> bool:
            return bool(await chain.records_of([refused["event_id"]]))

        await eventually(in_the_chain)


async def test_with_the_broker_down_healthz_answers_503_and_the_log_is_not_flooded(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Intake as its own process (its logging as `make run` configures it, at INFO) against a
    broker of its own: killed with SIGKILL, /healthz says 503 with ``checks.kafka`` an error
    (it said "ok" while the broker was dead), the log stays quiet (it wrote about 18,000
    lines in 10 s: the repeated lines are held back), and once the broker is started again
    /healthz says 200."""
    broker = LocalKafka(tmp_path / "kafka", port=free_port(), controller_port=free_port(),
                        heap="512m")  # fmt: skip
    broker.start()
    log_file = tmp_path / "intake.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        await create_topics(broker.bootstrap_servers, isolated.prefix)
        http_port = free_port()
        env = {
            **isolated.env(),
            "ZHIXING_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "ZHIXING_INTAKE_HTTP_PORT": str(http_port),
            "ZHIXING_INTAKE_GRPC_PORT": str(free_port()),
            "ZHIXING_LOG_LEVEL": "INFO",
        }
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.intake"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as http:
            health: dict[str, Any] = {}

            async def answers(status: int) -> bool:
                assert process is not None and process.poll() is None, log_file.read_text()
                try:
                    answer = await http.get("/healthz")
                except httpx.HTTPError:
                    return False
                health.clear()
                health.update(answer.json())
                return answer.status_code == status

            await eventually(lambda: answers(200), within_s=60)
            assert health["checks"] == {"redis": "ok", "kafka": "ok"}

            assert broker.process is not None
            broker.process.kill()  # a crash, not a shutdown
            broker.process.wait()
            broker.process = None
            lines_before = _lines(log_file)
            await eventually(lambda: answers(503), within_s=30)
            assert health["status"] == "unavailable"
            assert health["checks"]["kafka"].startswith("error"), health
            assert health["checks"]["redis"] == "ok"

            await asyncio.sleep(10)  # the broker stays dead; the service keeps trying
            assert await answers(503) and health["checks"]["kafka"].startswith("error")
            # About 10 lines are written (each repeated line once per 10-s window, saying how
            # many like it were held back); unfiltered, this one service wrote about 900.
            written = _lines(log_file) - lines_before
            assert written < 200, f"{written} log lines while the broker was down"
            assert process.poll() is None, "intake died with its broker"

            broker.start()
            await eventually(lambda: answers(200), within_s=90)
            assert health["checks"] == {"redis": "ok", "kafka": "ok"}
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        broker.stop()


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for _ in file)
