"""The agency gateway takes a case's queries in one call (SubmitQueries), each as a single
submission is taken, and refuses a call it cannot take whole before taking any of it."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
import pytest

from services.agency_gateway.server import AgencyGateway, GatewaySettings
from tests.factories import START
from tools.demo import credit_code
from zhixing.clock import SimulatedClock
from zhixing.gateway_client import MAX_QUERIES_PER_CALL
from zhixing.v1 import agency_gateway_pb2 as pb

DEBTOR = credit_code(3)  # a bank deposit and a house, with the default seed


class Refusing:
    async def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise ValueError(code, details)


REFUSING: Any = Refusing()


def query(request_id: str, channel: str) -> pb.SubmitQueryRequest:
    return pb.SubmitQueryRequest(request_id=request_id, case_id="c1", court_code="苏1283",
                                 channel=channel, debtor_id_number=DEBTOR)  # fmt: skip


async def answers(gw: AgencyGateway) -> dict[str, pb.Feedback]:
    ready = list((await gw.FetchFeedback(pb.FetchFeedbackRequest(max=100), REFUSING)).feedback)
    assert len({f.request_id for f in ready}) == len(ready)  # one answer per request
    return {f.request_id: f for f in ready}


async def test_a_case_s_queries_in_one_call_are_answered_as_one_by_one() -> None:
    together = AgencyGateway(GatewaySettings(latency_ms=0), SimulatedClock(START))
    alone = AgencyGateway(GatewaySettings(latency_ms=0), SimulatedClock(START))
    queries = [query("q.c1.1.0.1", "bank"), query("q.c1.1.1.1", "real_estate")]
    reply = await together.SubmitQueries(pb.SubmitQueriesRequest(queries=queries), REFUSING)
    assert [(r.request_id, r.first_submission) for r in reply.queries] == [
        ("q.c1.1.0.1", True), ("q.c1.1.1.1", True),
    ]  # fmt: skip
    for one in queries:
        await alone.SubmitQuery(one, REFUSING)
    batch, single = await answers(together), await answers(alone)
    assert batch.keys() == single.keys() == {"q.c1.1.0.1", "q.c1.1.1.1"}
    for request_id, feedback in batch.items():
        assert feedback.status == single[request_id].status
        assert list(feedback.assets) == list(single[request_id].assets)
    assert any(f.assets for f in batch.values())  # the debtor has assets to compare

    # The same ids again (a caller that timed out): taken, not answered twice.
    again = await together.SubmitQueries(pb.SubmitQueriesRequest(queries=queries), REFUSING)
    assert [r.first_submission for r in again.queries] == [False, False]
    assert (await answers(together)).keys() == batch.keys()


@pytest.mark.parametrize(
    ("queries", "refusal"),
    [
        ([], f"1 to {MAX_QUERIES_PER_CALL} per call, not 0"),
        ([query(f"q.{n}", "bank") for n in range(MAX_QUERIES_PER_CALL + 1)], "not 801"),
        ([query("q.1", "bank"), query("", "bank")], r"queries\[1\].request_id is empty"),
    ],
)
async def test_a_call_it_cannot_take_whole_is_refused_and_nothing_is_taken(
    queries: list[pb.SubmitQueryRequest], refusal: str
) -> None:
    gw = AgencyGateway(GatewaySettings(latency_ms=0), SimulatedClock(START))
    with pytest.raises(ValueError, match=refusal):
        await gw.SubmitQueries(pb.SubmitQueriesRequest(queries=queries), REFUSING)
    assert await answers(gw) == {}
