"""Intake's HTTP and gRPC API on a real host (Kafka, Redis, HTTP, gRPC)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from services.intake.bootstrap import bootstrap
from tests.conftest import Isolated, read_topic
from tests.factories import filing
from tests.polling import eventually
from tools.demo import resident_id
from zhixing.auth import Role, TokenAuthority
from zhixing.builder import Infrastructure
from zhixing.clock import SystemClock, china_today
from zhixing.events import decode_event
from zhixing.service import ServiceHost
from zhixing.settings import ServiceSettings
from zhixing.topics import CASE_EVENTS
from zhixing.v1 import case_events_pb2, intake_service_pb2, intake_service_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake(isolated: Isolated) -> AsyncIterator[ServiceHost]:
    host = bootstrap(
        Infrastructure(
            kafka=isolated.kafka,
            redis=isolated.redis_settings,
            auth=isolated.auth,
            ports=ServiceSettings(http_port=0, grpc_port=0),
        )
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
    """Intake's data keys; the leader lease (held while the service runs) is not data."""
    lease = f"{isolated.prefix}intake:leader".encode()
    keys = isolated.redis.scan_iter(match=f"{isolated.prefix}intake:*")
    return [key async for key in keys if key != lease]


async def test_a_filed_case_reads_back_by_http_and_grpc(
    client: httpx.AsyncClient, tokens: TokenAuthority, intake: ServiceHost
) -> None:
    response = await client.post("/v1/cases", json=filing(), headers=bearer(tokens))
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]

    read = await client.get(f"/v1/cases/{case_id}", headers=bearer(tokens, "苏12", Role.COMMAND))
    assert read.status_code == 200
    # Answered in the spelling the filing was made in: money a number of fen, a party's kind
    # as accepted (organisation), not int64's JSON string nor the protobuf's enum name.
    assert read.json()["claim_amount_fen"] == 12345600
    assert read.json()["costs_fen"] == filing().get("costs_fen", 0)
    assert read.json()["debtors"][0]["kind"] == filing()["debtors"][0]["kind"] == "organisation"

    async with grpc.aio.insecure_channel(f"127.0.0.1:{intake.grpc_port}") as channel:
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)
        credential = tokens.issue_service("command")
        reply = await stub.GetCase(
            intake_service_pb2.GetCaseRequest(case_id=case_id),
            metadata=[("authorization", f"Bearer {credential}")],
        )
        assert reply.case.court_code == "苏1283"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetCase(intake_service_pb2.GetCaseRequest(case_id=case_id))
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        # gRPC serves platform services: a person's genuine token is refused there.
        person = tokens.issue(subject="t", court_code="苏1283", role=Role.OFFICER)
        with pytest.raises(grpc.aio.AioRpcError) as person_refused:
            await stub.GetCase(
                intake_service_pb2.GetCaseRequest(case_id=case_id),
                metadata=[("authorization", f"Bearer {person}")],
            )
        assert person_refused.value.code() is grpc.StatusCode.PERMISSION_DENIED


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
        (lambda b: {**b, "court_code": "苏9999"}, ["body", "court_code"], "not in the court"),
        (lambda b: {**b, "debtors": []}, ["body", "debtors"], "at least 1"),
        (lambda b: {**b, "received_on": "2999-01-01"}, ["body", "received_on"], "after today"),
        (lambda b: {**b, "case_type_code": "民"}, ["body", "case_type_code"], "Input should be"),
        (lambda b: {**b, "costs_fen": -1}, ["body", "costs_fen"], "greater than or equal"),
        (
            lambda b: {**b, "asset_leads": [{"description": "房产", "channel": "moon"}]},
            ["body", "asset_leads", 0, "channel"],
            "Input should be",
        ),
    ],
    ids=[
        "check-digit",
        "zero-amount",
        "fraction",
        "string-amount",
        "no-account",
        "court",
        "unknown-court",
        "no-debtor",
        "future-receipt",
        "type-code",
        "negative-costs",
        "lead-channel",
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


async def test_fifty_concurrent_filings_on_two_replicas_get_numbers_without_gap_or_duplicate(
    isolated: Isolated, tokens: TokenAuthority
) -> None:
    async def file_all(host: ServiceHost, bodies: list[dict[str, Any]]) -> list[str]:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{host.http_port}", timeout=60
        ) as client:
            responses = await asyncio.gather(
                *(client.post("/v1/cases", json=b, headers=bearer(tokens)) for b in bodies)
            )
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        return [r.json()["case_number"] for r in responses]

    year = china_today(SystemClock()).year
    # Two replicas on one Redis: each serialises its own filings, and the two meet on the
    # sequence's WATCH.
    replicas = [await started(isolated), await started(isolated)]
    try:
        halves = await asyncio.gather(*(file_all(host, [filing()] * 25) for host in replicas))
    finally:
        for host in replicas:
            await host.stop()
    numbers = halves[0] + halves[1]
    assert len(numbers) == 50
    assert set(numbers) == {f"（{year}）苏1283执{n}号" for n in range(1, 51)}

    host = await started(isolated)  # a restart continues the sequence
    try:
        after = await file_all(host, [filing(), filing(case_type_code="执保")])
    finally:
        await host.stop()
    # 执保 (preservation) has its own sequence.
    assert after == [f"（{year}）苏1283执51号", f"（{year}）苏1283执保1号"]


async def started(isolated: Isolated) -> ServiceHost:
    host = bootstrap(
        Infrastructure(
            kafka=isolated.kafka,
            redis=isolated.redis_settings,
            auth=isolated.auth,
            ports=ServiceSettings(http_port=0, grpc_port=0),
        )
    )
    await host.start()
    return host


async def test_an_application_is_received_then_docketed_or_refused_once(
    client: httpx.AsyncClient, tokens: TokenAuthority, isolated: Isolated
) -> None:
    received = await client.post("/v1/applications", json=filing(), headers=bearer(tokens))
    assert received.status_code == 201
    assert received.json()["status"] == "received" and received.json()["case_number"] == ""
    case_id = received.json()["case_id"]
    docketed = await client.post(f"/v1/applications/{case_id}/docket", headers=bearer(tokens))
    assert docketed.status_code == 200
    assert docketed.json()["case_number"].endswith("执1号")
    again = await client.post(f"/v1/applications/{case_id}/docket", headers=bearer(tokens))
    assert again.status_code == 409
    assert "already filed" in again.json()["detail"]

    other = await client.post("/v1/applications", json=filing(), headers=bearer(tokens))
    other_id = other.json()["case_id"]
    refused = await client.post(
        f"/v1/applications/{other_id}/refusal",
        json={"reason": "不符合受理条件"},
        headers=bearer(tokens),
    )
    assert refused.status_code == 204
    late = await client.post(f"/v1/applications/{other_id}/docket", headers=bearer(tokens))
    assert late.status_code == 409
    view = await client.get(f"/v1/cases/{other_id}", headers=bearer(tokens))
    assert view.json()["status"] == "refused" and "case_number" not in view.json()

    # The refused application used no number: the next docketed case gets 2.
    filed = await client.post("/v1/cases", json=filing(), headers=bearer(tokens))
    assert filed.json()["case_number"].endswith("执2号")

    # The outbox relay publishes after the answers: wait for it, then nothing more.
    expected = Counter(ApplicationReceived=3, CaseFiled=2, CaseNumberIssued=2, DocketRefused=1)
    names: Counter[str] = Counter()

    async def published() -> bool:
        events = [decode_event(r.value) for r in await read_topic(isolated, CASE_EVENTS.name)]
        names.clear()
        names.update(e.event_type.rsplit(".", 1)[-1] for e in events)
        return names.total() >= expected.total()

    await eventually(published)
    assert names == expected


async def test_a_minor_debtor_may_be_filed_against_but_is_flagged(
    client: httpx.AsyncClient, tokens: TokenAuthority
) -> None:
    today = china_today(SystemClock())
    child = resident_id("321283", today.replace(year=today.year - 12), 5)
    body = filing(debtors=[{"kind": "natural_person", "name": "李小", "id_number": child}])
    response = await client.post("/v1/cases", json=body, headers=bearer(tokens))
    assert response.status_code == 201
    assert response.json()["flags"] == [f"minor_debtor:{child}"]
    adult = resident_id("321283", today.replace(year=today.year - 30), 6)
    body = filing(debtors=[{"kind": "natural_person", "name": "李大", "id_number": adult}])
    response = await client.post("/v1/cases", json=body, headers=bearer(tokens))
    assert response.json()["flags"] == []


async def test_officer_assignment_then_the_execution_notice_with_account_and_hotline(
    client: httpx.AsyncClient, tokens: TokenAuthority, isolated: Isolated
) -> None:
    case_id = (await client.post("/v1/cases", json=filing(), headers=bearer(tokens))).json()[
        "case_id"
    ]
    officer = bearer(tokens, role=Role.OFFICER)
    early = await client.post(f"/v1/cases/{case_id}/execution-notice", headers=officer)
    assert early.status_code == 409 and "assign one first" in early.json()["detail"]
    outsider = await client.post(
        f"/v1/cases/{case_id}/assignment",
        json={"officer_id": "o-1"},
        headers=bearer(tokens, "苏1282", Role.LEADER),
    )
    assert outsider.status_code == 404
    leader = bearer(tokens, role=Role.LEADER)
    assigned = await client.post(
        f"/v1/cases/{case_id}/assignment", json={"officer_id": "o-1"}, headers=leader
    )
    assert assigned.status_code == 204
    twice = await client.post(
        f"/v1/cases/{case_id}/assignment", json={"officer_id": "o-2"}, headers=leader
    )
    assert twice.status_code == 409
    served = await client.post(f"/v1/cases/{case_id}/execution-notice", headers=officer)
    assert served.status_code == 200, served.text
    view = (await client.get(f"/v1/cases/{case_id}", headers=officer)).json()
    assert view["officer_id"] == "o-1" and view["notice_served_on"]

    events = [decode_event(r.value) for r in await read_topic(isolated, CASE_EVENTS.name)]
    notice = next(e.payload for e in events if e.event_type.endswith("ExecutionNoticeServed"))
    assert isinstance(notice, case_events_pb2.ExecutionNoticeServed)
    assert notice.hotline == "12368"
    assert notice.case_account == view["case_account"]
