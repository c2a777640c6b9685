"""The whole platform as processes (``python -m services.<name>``), as `make run` starts it.

A case posted to intake travels intake → outbox → Kafka → command's projection and audit
chain, asset control's network query against the agency gateway, and the other services'
known-case projections; every service answers health,
metrics and OpenAPI; SIGTERM stops each cleanly.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import Isolated
from tests.e2e.conftest import Running
from tests.factories import filing
from tests.polling import eventually
from tools.demo import demo_filings, load_demo
from tools.devinfra import ROOT
from tools.localrun import SERVICES
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SystemClock
from zhixing.state import KeySpace
from zhixing.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    court_directory_pb2,
    court_directory_pb2_grpc,
)

pytestmark = pytest.mark.e2e

HTTP_SERVICES = [s.name for s in SERVICES if s.http_port is not None]
# The services that know the cases (the notary and the deadlines service know events and
# clocks, not cases).
CASE_SERVICES = [name for name in HTTP_SERVICES if name not in ("audit_notary", "deadlines")]
# Where a service shows a case, when not at /v1/cases/{case_id} (funds: the case's account,
# opened from the filing; credit: the case's restrictions and listings, none yet;
# supervision: its interference records, none yet; notification: its notices to the parties).
CASE_VIEWS = {
    "funds": "/v1/cases/{case_id}/funds",
    "credit": "/v1/cases/{case_id}/credit",
    "supervision": "/v1/cases/{case_id}/interference",
    "notification": "/v1/cases/{case_id}/notices",
}


def token(court: str, role: Role, isolated: Isolated) -> str:
    return TokenAuthority(isolated.auth, SystemClock()).issue(
        subject="e2e", court_code=court, role=role
    )


def service_auth(isolated: Isolated) -> list[tuple[str, str]]:
    """gRPC metadata with a service credential (gRPC ports serve services only)."""
    credential = TokenAuthority(isolated.auth, SystemClock()).issue_service("e2e")
    return [("authorization", f"Bearer {credential}")]


async def test_a_filed_case_reaches_command_and_every_service(
    platform: Running, isolated: Isolated
) -> None:
    clerk = {"Authorization": f"Bearer {token('苏1283', Role.CLERK, isolated)}"}
    command = {"Authorization": f"Bearer {token('苏12', Role.COMMAND, isolated)}"}
    async with httpx.AsyncClient() as client:
        filed = await client.post(
            f"{platform.http['intake']}/v1/cases", json=filing(), headers=clerk
        )
        assert filed.status_code == 201, filed.text
        case_id = filed.json()["case_id"]

        async def projected_everywhere() -> bool:
            for name in CASE_SERVICES:
                view = CASE_VIEWS.get(name, "/v1/cases/{case_id}").format(case_id=case_id)
                url = f"{platform.http[name]}{view}"
                if (await client.get(url, headers=command)).status_code != 200:
                    return False
            return True

        await eventually(projected_everywhere)

        # Asset control queried every channel of the gateway process over gRPC.
        async def queried() -> bool:
            url = f"{platform.http['asset_control']}/v1/cases/{case_id}"
            return bool(
                (await client.get(url, headers=command)).json()["query_status"] == "completed"
            )

        await eventually(queried)
        overview = (
            await client.get(f"{platform.http['command']}/v1/cases/{case_id}", headers=command)
        ).json()
        assert overview["court_code"] == "苏1283"
        assert overview["node"] == "filed"
        assert overview["claim_amount_fen"] == 12345600  # money: a number of fen everywhere
        assert overview["case_number"] == overview["label"] != ""

        other_jurisdiction = {"Authorization": f"Bearer {token('苏02', Role.COMMAND, isolated)}"}
        hidden = await client.get(
            f"{platform.http['command']}/v1/cases/{case_id}", headers=other_jurisdiction
        )
        assert hidden.status_code == 404

    async with grpc.aio.insecure_channel(platform.grpc["command"]) as channel:
        stub = command_service_pb2_grpc.CommandServiceStub(channel)
        reply = await stub.GetCaseOverview(
            command_service_pb2.GetCaseOverviewRequest(case_id=case_id),
            metadata=service_auth(isolated),
        )
        assert reply.overview.court_code == "苏1283"
        with pytest.raises(grpc.aio.AioRpcError) as person:
            await stub.GetCaseOverview(
                command_service_pb2.GetCaseOverviewRequest(case_id=case_id),
                metadata=[("authorization", command["Authorization"])],
            )
        assert person.value.code() is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as forged:
            await stub.GetCaseOverview(
                command_service_pb2.GetCaseOverviewRequest(case_id=case_id),
                metadata=[("authorization", "Bearer not.a.token")],
            )
        assert forged.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_every_service_serves_health_metrics_and_docs(platform: Running) -> None:
    async with httpx.AsyncClient() as client:
        healths: dict[str, dict[str, Any]] = {}

        async def all_started() -> bool:
            # A service answers "starting" until its consumers have joined (twelve processes
            # starting on two cores may take a while); then each must say ok, nothing else.
            for name in HTTP_SERVICES:
                healths[name] = (await client.get(f"{platform.http[name]}/healthz")).json()
            return all(h.get("checks", {}).get("kafka") != "starting" for h in healths.values())

        await eventually(all_started)
        for name in HTTP_SERVICES:
            base = platform.http[name]
            assert healths[name] == {
                "service": name,
                "status": "ok",
                "checks": {"redis": "ok", "kafka": "ok"},
            }
            metrics = await client.get(f"{base}/metrics")
            assert metrics.status_code == 200 and "python_info" in metrics.text
            openapi = await client.get(f"{base}/openapi.json")
            assert openapi.json()["info"]["title"].startswith("Zhixing")
    for name, address in platform.grpc.items():
        async with grpc.aio.insecure_channel(address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
            # Server reflection answers without a credential, naming what the port serves.
            served = await reflected_services(channel)
            assert {"grpc.health.v1.Health", REFLECTION} <= served, (name, served)
            assert name != "intake" or "zhixing.v1.IntakeService" in served, served
            assert name != "agency_gateway" or "zhixing.v1.NoticeGatewayService" in served


REFLECTION = "grpc.reflection.v1alpha.ServerReflection"


async def reflected_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    calls = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    async for answer in calls:
        return {s.name for s in answer.list_services_response.service}
    return set()


def audit_verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "zhixing"), "audit", "verify"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


async def test_the_audit_chain_records_events_and_zhixing_audit_verify_catches_tampering(
    platform: Running, isolated: Isolated
) -> None:
    clerk = {"Authorization": f"Bearer {token('苏1283', Role.CLERK, isolated)}"}
    async with httpx.AsyncClient() as client:
        for n in range(3):
            body = filing(claim_amount_fen=100 + n)
            response = await client.post(
                f"{platform.http['intake']}/v1/cases", json=body, headers=clerk
            )
            assert response.status_code == 201
    records = KeySpace(isolated.prefix, "command").key("audit", "records")

    async def filings_audited() -> bool:
        # The chain also holds what the filings caused (the clocks they opened).
        chain = [json.loads(r) for r in await isolated.redis.lrange(records, 0, -1)]
        filed = sum(bool(r["event_type"] == "zhixing.v1.CaseFiled") for r in chain)
        return filed == 3

    await eventually(filings_audited)
    intact = audit_verify(platform.env)
    assert intact.returncode == 0, intact.stderr
    assert "audit chain intact:" in intact.stdout

    stored = await isolated.redis.lindex(records, 1)
    assert stored is not None
    second = json.loads(stored)
    second["payload"]["claim_amount_fen"] = "999999"
    await isolated.redis.lset(records, 1, json.dumps(second, ensure_ascii=False))
    broken = audit_verify(platform.env)
    assert broken.returncode == 1
    assert "BROKEN at record 1" in broken.stderr


async def test_sigterm_stops_every_service_cleanly(platform: Running) -> None:
    for process in platform.processes.values():
        process.send_signal(signal.SIGTERM)
    for name, process in platform.processes.items():
        assert await asyncio.to_thread(process.wait, 30) == 0, name


async def test_the_demo_loads_through_the_public_api_once(
    platform: Running, isolated: Isolated
) -> None:
    tokens = TokenAuthority(isolated.auth, SystemClock())
    first = await asyncio.to_thread(load_demo, platform.http["intake"], tokens)
    again = await asyncio.to_thread(load_demo, platform.http["intake"], tokens)
    assert first == again and len(set(first)) == len(demo_filings())
    command = {"Authorization": f"Bearer {token('苏12', Role.COMMAND, isolated)}"}
    async with httpx.AsyncClient() as client:
        views = [
            (await client.get(f"{platform.http['intake']}/v1/cases/{c}", headers=command)).json()
            for c in first
        ]
    assert all(v["case_number"] for v in views)
    advanced = [v for v in views if v.get("notice_served_on")]
    assert advanced and all(v["officer_id"].startswith("demo-officer-") for v in advanced)

    # The command centre's page is served, with its charts, and its board shows the demo.
    base = platform.http["command"]
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{base}/dashboard/")
        assert page.status_code == 200 and "执行指挥中心" in page.text
        assert (await client.get(f"{base}/dashboard/vendor/echarts.min.js")).status_code == 200

        async def on_the_board() -> bool:
            tree = (await client.get(f"{base}/v1/board/tree", headers=command)).json()
            return bool(tree["root"]["total"]["open_cases"] == len(first))

        await eventually(on_the_board)


async def test_the_court_directory_answers_over_grpc(platform: Running, isolated: Isolated) -> None:
    auth = service_auth(isolated)
    async with grpc.aio.insecure_channel(platform.grpc["command"]) as channel:
        stub = court_directory_pb2_grpc.CourtDirectoryServiceStub(channel)
        court = (
            await stub.GetCourt(court_directory_pb2.GetCourtRequest(code="苏1283"), metadata=auth)
        ).court
        assert (court.name, court.level, court.superior) == ("泰兴市人民法院", "基层", "苏12")
        path = await stub.GetPathToTop(
            court_directory_pb2.GetPathToTopRequest(code="苏1283"), metadata=auth
        )
        assert [c.code for c in path.courts] == ["苏1283", "苏12", "苏", "最高法"]
        children = await stub.ListChildren(
            court_directory_pb2.ListChildrenRequest(code="苏12"), metadata=auth
        )
        assert "苏1282" in [c.code for c in children.courts]
        common = await stub.GetCommonSuperior(
            court_directory_pb2.GetCommonSuperiorRequest(codes=["苏02", "苏0281"]), metadata=auth
        )
        assert common.court.code == "苏"
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.GetCourt(court_directory_pb2.GetCourtRequest(code="苏9999"), metadata=auth)
        assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
        assert "苏9999" in (unknown.value.details() or "")
