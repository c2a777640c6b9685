"""Intake's HTTP and gRPC API on a real host (Kafka, Redis, HTTP, gRPC)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from services.intake.bootstrap import bootstrap
from tests.conftest import Isolated
from tests.factories import filing
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SystemClock
from zhixing.service import ServiceHost
from zhixing.settings import ServiceSettings
from zhixing.v1 import intake_service_pb2, intake_service_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake(isolated: Isolated) -> AsyncIterator[ServiceHost]:
    host = bootstrap(
        kafka=isolated.kafka,
        redis=isolated.redis_settings,
        auth=isolated.auth,
        ports=ServiceSettings(http_port=0, grpc_port=0),
    )
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
def tokens(isolated: Isolated) -> TokenAuthority:
    return TokenAuthority(isolated.auth, SystemClock())


def bearer(
    tokens: TokenAuthority, court: str = "苏1283", role: Role = Role.CLERK
) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.issue(subject='t', court_code=court, role=role)}"}


@pytest.fixture
async def client(intake: ServiceHost) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{intake.http_port}") as client:
        yield client


async def intake_keys(isolated: Isolated) -> list[bytes]:
    return [k async for k in isolated.redis.scan_iter(match=f"{isolated.prefix}intake:*")]


async def test_a_filed_case_reads_back_by_http_and_grpc(
    client: httpx.AsyncClient, tokens: TokenAuthority, intake: ServiceHost
) -> None:
    response = await client.post("/v1/cases", json=filing(), headers=bearer(tokens))
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]

    read = await client.get(f"/v1/cases/{case_id}", headers=bearer(tokens, "苏12", Role.COMMAND))
    assert read.status_code == 200
    assert read.json()["claim_amount_fen"] == "12345600"
    assert read.json()["debtors"][0]["kind"] == "PARTY_KIND_ORGANISATION"

    async with grpc.aio.insecure_channel(f"127.0.0.1:{intake.grpc_port}") as channel:
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)
        token = tokens.issue(subject="t", court_code="苏1283", role=Role.OFFICER)
        reply = await stub.GetCase(
            intake_service_pb2.GetCaseRequest(case_id=case_id),
            metadata=[("authorization", f"Bearer {token}")],
        )
        assert reply.case.court_code == "苏1283"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetCase(intake_service_pb2.GetCaseRequest(case_id=case_id))
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def bad_check_digit(body: dict[str, Any]) -> dict[str, Any]:
    person = dict(body["applicants"][0])
    last = person["id_number"][-1]
    person["id_number"] = person["id_number"][:-1] + ("1" if last != "1" else "2")
    return {**body, "applicants": [person]}


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (bad_check_digit, ["body", "applicants", 0], "resident ID"),
        (lambda b: {**b, "claim_amount_fen": 0}, ["body", "claim_amount_fen"], "greater than 0"),
        (lambda b: {**b, "claim_amount_fen": 1.5}, ["body", "claim_amount_fen"], "integer"),
        (lambda b: {**b, "claim_amount_fen": "100"}, ["body", "claim_amount_fen"], "integer"),
        (
            lambda b: {k: v for k, v in b.items() if k != "receiving_account"},
            ["body", "receiving_account"],
            "required",
        ),
        (lambda b: {**b, "court_code": "苏99999"}, ["body", "court_code"], "not a court code"),
        (lambda b: {**b, "debtors": []}, ["body", "debtors"], "at least 1"),
    ],
    ids=[
        "check-digit",
        "zero-amount",
        "fraction",
        "string-amount",
        "no-account",
        "court",
        "no-debtor",
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    client: httpx.AsyncClient, tokens: TokenAuthority, isolated: Isolated, change: Any,
    where: list[Any], says: str,
) -> None:  # fmt: skip
    response = await client.post("/v1/cases", json=change(filing()), headers=bearer(tokens))
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][: len(where)] == where and says in e["msg"] for e in errors), errors
    assert await intake_keys(isolated) == []


@pytest.mark.parametrize(
    ("court", "role", "status"),
    [
        ("苏1282", Role.CLERK, 403),  # another basic court
        ("苏12", Role.OVERSEER, 403),  # read-only
        ("苏12", Role.COMMAND, 403),  # filing is a clerk's act
    ],
)
async def test_filing_outside_ones_court_or_role_is_refused(
    client: httpx.AsyncClient, tokens: TokenAuthority, isolated: Isolated,
    court: str, role: Role, status: int,
) -> None:  # fmt: skip
    response = await client.post("/v1/cases", json=filing(), headers=bearer(tokens, court, role))
    assert response.status_code == status
    assert response.json()["detail"]
    assert await intake_keys(isolated) == []


async def test_no_token_or_a_forged_one_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/cases", json=filing())).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    assert (await client.post("/v1/cases", json=filing(), headers=forged)).status_code == 401


async def test_another_courts_case_is_not_visible(
    client: httpx.AsyncClient, tokens: TokenAuthority
) -> None:
    case_id = (await client.post("/v1/cases", json=filing(), headers=bearer(tokens))).json()[
        "case_id"
    ]
    other = await client.get(f"/v1/cases/{case_id}", headers=bearer(tokens, "苏1282"))
    assert other.status_code == 404


async def test_a_repeated_request_with_its_idempotency_key_files_once(
    client: httpx.AsyncClient, tokens: TokenAuthority
) -> None:
    headers = {**bearer(tokens), "Idempotency-Key": "req-1"}
    first = await client.post("/v1/cases", json=filing(), headers=headers)
    again = await client.post("/v1/cases", json=filing(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    changed = await client.post("/v1/cases", json=filing(claim_amount_fen=5), headers=headers)
    assert changed.status_code == 409
    assert "another filing" in changed.json()["detail"]
