"""The agency gateway's transfers (扣划): money taken from an account the queries found,
never more than is left on it, under a bank reference that a duplicated delivery and a
restart keep; and each caller fetches the feedback of its own kinds of request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

import grpc
import pytest

from services.agency_gateway.server import AgencyGateway, GatewayServer, GatewaySettings, Journal
from services.asset_control.agency import AgencySettings, GrpcAgencyClient
from tests.factories import START
from tools.demo import credit_code
from zhixing.auth import ServiceCredential, TokenAuthority
from zhixing.clock import SimulatedClock
from zhixing.settings import AuthSettings
from zhixing.v1 import agency_gateway_pb2 as pb

CONTEXT: Any = None  # the servicer methods use the context only to refuse bad requests
DEBTOR = credit_code(3)  # a bank deposit and a house, with the default seed
CASE_ACCOUNT = "32050188000000001283"


def gateway(journal: Path | None = None, **faults: Any) -> AgencyGateway:
    settings = GatewaySettings(journal=journal, latency_ms=0, **faults)
    return AgencyGateway(settings, SimulatedClock(START))


async def found(gw: AgencyGateway, channel: str) -> pb.AgencyAsset:
    """The first asset a query of DEBTOR on ``channel`` finds."""
    query = pb.SubmitQueryRequest(request_id=f"q.{channel}", case_id="c1", channel=channel,
                                  debtor_id_number=DEBTOR)  # fmt: skip
    await gw.SubmitQuery(query, CONTEXT)
    answers = await fetch(gw, "query")
    await gw.AckFeedback(pb.AckFeedbackRequest(feedback_ids=[f.feedback_id for f in answers]),
                         CONTEXT)  # fmt: skip
    return next(f.assets[0] for f in answers if f.request_id == query.request_id)


def transfer(request_id: str, asset_key: str, amount_fen: int) -> pb.SubmitTransferRequest:
    return pb.SubmitTransferRequest(request_id=request_id, case_id="c1", court_code="苏1283",
                                    asset_key=asset_key, amount_fen=amount_fen,
                                    to_account=CASE_ACCOUNT)  # fmt: skip


async def fetch(gw: AgencyGateway, *kinds: str) -> list[pb.Feedback]:
    request = pb.FetchFeedbackRequest(max=100, kinds=kinds)
    return list((await gw.FetchFeedback(request, CONTEXT)).feedback)


async def answer_to(gw: AgencyGateway, request: pb.SubmitTransferRequest) -> pb.Feedback:
    await gw.SubmitTransfer(request, CONTEXT)
    return next(f for f in await fetch(gw, "transfer") if f.request_id == request.request_id)


async def test_a_transfer_is_answered_with_the_amount_and_a_deterministic_bank_reference() -> None:
    gw = gateway()
    deposit = await found(gw, "bank")
    accepted = await gw.SubmitTransfer(transfer("t.c1.1", deposit.asset_key, 1_000), CONTEXT)
    assert accepted.first_submission
    again = await gw.SubmitTransfer(transfer("t.c1.1", deposit.asset_key, 1_000), CONTEXT)
    assert not again.first_submission  # a resubmission moves no money twice
    (answer,) = await fetch(gw, "transfer")
    assert (answer.status, answer.transferred_amount_fen) == ("transferred", 1_000)
    assert answer.bank_reference and not answer.error

    # The same seed and request id give the same reference; another request another one.
    other = gateway()
    await found(other, "bank")
    assert (await answer_to(other, transfer("t.c1.1", deposit.asset_key, 1_000))).bank_reference \
        == answer.bank_reference  # fmt: skip
    second = await answer_to(other, transfer("t.c1.2", deposit.asset_key, 1_000))
    assert second.bank_reference != answer.bank_reference


async def test_a_duplicated_delivery_keeps_the_bank_reference_under_a_new_feedback_id() -> None:
    gw = gateway(duplicate_rate=1.0)
    deposit = await found(gw, "bank")
    await gw.SubmitTransfer(transfer("t.c1.1", deposit.asset_key, 1_000), CONTEXT)
    first, twin = await fetch(gw, "transfer")
    assert first.feedback_id != twin.feedback_id
    assert (first.request_id, first.bank_reference, first.transferred_amount_fen) \
        == (twin.request_id, twin.bank_reference, twin.transferred_amount_fen)  # fmt: skip
    assert gw.state.transferred[deposit.asset_key] == 1_000  # taken once


async def test_an_account_gives_what_is_left_then_nothing() -> None:
    gw = gateway()
    deposit = await found(gw, "bank")
    balance = deposit.value_fen
    most = await answer_to(gw, transfer("t.c1.1", deposit.asset_key, balance - 100))
    assert most.transferred_amount_fen == balance - 100
    rest = await answer_to(gw, transfer("t.c1.2", deposit.asset_key, 5_000))
    assert (rest.status, rest.transferred_amount_fen) == ("transferred", 100)  # partial
    empty = await answer_to(gw, transfer("t.c1.3", deposit.asset_key, 1))
    assert (empty.status, empty.transferred_amount_fen, empty.bank_reference) == ("rejected", 0, "")
    assert "nothing left" in empty.error


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"asset_key": "bank:unknown"}, "unknown asset"),
        ({"asset_key": "HOUSE"}, "not money"),
        ({"to_account": ""}, "to_account"),
        ({"amount_fen": 0}, "positive"),
        ({"amount_fen": -5}, "positive"),
    ],
)
async def test_a_transfer_that_cannot_be_done_is_rejected(
    change: dict[str, Any], error: str
) -> None:
    gw = gateway()
    deposit, house = await found(gw, "bank"), await found(gw, "real_estate")
    request = transfer("t.c1.1", deposit.asset_key, 1_000)
    for name, value in change.items():
        setattr(request, name, house.asset_key if value == "HOUSE" else value)
    answer = await answer_to(gw, request)
    assert answer.status == "rejected" and error in answer.error
    assert not answer.bank_reference and gw.state.transferred.get(deposit.asset_key, 0) == 0


async def test_the_bank_may_refuse_a_transfer() -> None:
    gw = gateway(reject_rate=1.0)
    deposit = await found(gw, "bank")
    answer = await answer_to(gw, transfer("t.c1.1", deposit.asset_key, 1_000))
    assert (answer.status, answer.error) == ("rejected", "the bank refused the transfer")


async def test_a_restart_keeps_what_was_taken_and_answers_a_transfer_left_unanswered(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "gateway.jsonl"
    first = gateway(journal)
    deposit = await found(first, "bank")
    balance = deposit.value_fen
    taken = await answer_to(first, transfer("t.c1.1", deposit.asset_key, balance - 300))
    await first.AckFeedback(pb.AckFeedbackRequest(feedback_ids=[taken.feedback_id]), CONTEXT)
    assert first.journal is not None
    first.journal.record("transfer", transfer("t.c1.2", deposit.asset_key, 200))  # then killed
    first.journal.close()

    restarted = gateway(journal)
    assert restarted.state.transferred[deposit.asset_key] == balance - 300 + 200
    (late,) = await fetch(restarted, "transfer")  # the acknowledged one stays acknowledged
    assert (late.request_id, late.status, late.transferred_amount_fen) \
        == ("t.c1.2", "transferred", 200)  # fmt: skip
    rest = await answer_to(restarted, transfer("t.c1.3", deposit.asset_key, 1_000))
    assert rest.transferred_amount_fen == 100  # what is left after both

    again = gateway(journal)  # a second restart counts each transfer once
    assert again.state.transferred[deposit.asset_key] == balance
    assert len(await fetch(again, "transfer")) == 2  # t.c1.2 and t.c1.3, not yet acknowledged


async def test_each_caller_fetches_the_feedback_of_its_own_kinds() -> None:
    gw = gateway()
    deposit = await found(gw, "bank")
    await gw.SubmitTransfer(transfer("t.c1.1", deposit.asset_key, 1_000), CONTEXT)
    await gw.SubmitQuery(pb.SubmitQueryRequest(request_id="q.again", channel="bank",
                                               debtor_id_number=DEBTOR), CONTEXT)  # fmt: skip
    freeze = pb.SubmitControlRequest(request_id="c.1", asset_key=deposit.asset_key,
                                     measure="freeze", amount_fen=1)  # fmt: skip
    await gw.SubmitControl(freeze, CONTEXT)
    assert [f.request_id for f in await fetch(gw, "query", "control")] == ["q.again", "c.1"]
    assert [f.request_id for f in await fetch(gw, "transfer")] == ["t.c1.1"]
    assert len(await fetch(gw)) == 3  # no kinds: every kind

    class Refusing:
        async def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
            raise ValueError(code, details)

    with pytest.raises(ValueError, match="unknown kinds"):
        await gw.FetchFeedback(pb.FetchFeedbackRequest(kinds=["payment"]), Refusing())  # type: ignore[arg-type]


@asynccontextmanager
async def served(
    clock: SimulatedClock, latency_ms: int = 0
) -> AsyncIterator[tuple[GatewayServer, GrpcAgencyClient]]:
    """The gateway served over gRPC on a free port, and asset control's client of it."""
    server = GatewayServer(GatewaySettings(grpc_port=0, latency_ms=latency_ms), clock,
                           AuthSettings())  # fmt: skip
    await server.start()
    credential = ServiceCredential(TokenAuthority(AuthSettings(), clock), "asset_control", clock)
    client = GrpcAgencyClient(AgencySettings(target=f"127.0.0.1:{server.grpc_port}"), credential)
    try:
        yield server, client
    finally:
        await client.close()
        await server.stop()


async def test_asset_control_does_not_fetch_the_answers_to_transfers() -> None:
    """Asset control acknowledges every feedback it fetched, an unknown one too: were it
    to fetch a transfer's answer, the funds service would never see it."""
    async with served(SimulatedClock(START)) as (server, client):
        gw = server.gateway
        deposit = await found(gw, "bank")
        await gw.SubmitTransfer(transfer("t.c1.1", deposit.asset_key, 1_000), CONTEXT)
        await client.submit_queries([pb.SubmitQueryRequest(request_id="q.mine", channel="bank",
                                                           debtor_id_number=DEBTOR)])  # fmt: skip
        assert [f.request_id for f in await client.fetch_feedback(100)] == ["q.mine"]
        assert [f.request_id for f in await fetch(gw, "transfer")] == ["t.c1.1"]


def test_the_journal_reads_back_a_transfer(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "gateway.jsonl")
    journal.record("transfer", transfer("t.c1.1", "bank:x", 5))
    journal.close()
    ((kind, message, _),) = list(Journal.replay(tmp_path / "gateway.jsonl"))
    assert kind == "transfer" and isinstance(message, pb.SubmitTransferRequest)
    assert message.to_account == CASE_ACCOUNT
