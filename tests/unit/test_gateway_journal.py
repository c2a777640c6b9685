"""The agency gateway keeps what it accepted across a restart, as the outside systems do."""

from pathlib import Path
from typing import Any

from services.agency_gateway.server import AgencyGateway, GatewaySettings, Journal
from tests.factories import START
from tools.demo import credit_code
from zhixing.clock import SimulatedClock
from zhixing.v1 import agency_gateway_pb2 as pb

CONTEXT: Any = None  # the servicer methods use the context only to refuse bad requests


def gateway(journal: Path) -> AgencyGateway:
    return AgencyGateway(GatewaySettings(journal=journal, latency_ms=0), SimulatedClock(START))


async def test_accepted_requests_and_unacknowledged_feedback_survive_a_restart(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "gateway.jsonl"
    query = pb.SubmitQueryRequest(request_id="q.c1.1.0.1", case_id="c1", channel="bank",
                                  debtor_id_number=credit_code(7))  # fmt: skip
    first = gateway(journal)
    accepted = await first.SubmitQuery(query, CONTEXT)
    assert accepted.first_submission
    before = (await first.FetchFeedback(pb.FetchFeedbackRequest(max=10), CONTEXT)).feedback

    restarted = gateway(journal)
    again = await restarted.SubmitQuery(query, CONTEXT)
    assert not again.first_submission  # it remembers the request: no second answer
    after = (await restarted.FetchFeedback(pb.FetchFeedbackRequest(max=10), CONTEXT)).feedback
    assert [f.SerializeToString() for f in after] == [f.SerializeToString() for f in before]

    acked = await restarted.AckFeedback(
        pb.AckFeedbackRequest(feedback_ids=[f.feedback_id for f in after]), CONTEXT
    )
    assert acked.acknowledged == len(after) == 1
    assert (await gateway(journal).FetchFeedback(pb.FetchFeedbackRequest(), CONTEXT)).feedback == []


async def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    journal = tmp_path / "gateway.jsonl"
    first = gateway(journal)
    query = pb.SubmitQueryRequest(
        request_id="q.c2.1.0.1", channel="bank", debtor_id_number=credit_code(8)
    )
    await first.SubmitQuery(query, CONTEXT)
    with journal.open("a") as file:
        file.write('{"kind": "feedback", "data": "AAA')  # a crash mid-write
    restarted = gateway(journal)
    assert "q.c2.1.0.1" in restarted.state.requests


async def test_a_request_journaled_without_its_answer_is_answered_at_restart(
    tmp_path: Path,
) -> None:
    """Killed between journaling a request and its answer: a resubmission of the id is not
    answered again, so the restart answers it (found by the crash campaign)."""
    journal = tmp_path / "gateway.jsonl"
    query = pb.SubmitQueryRequest(request_id="q.c3.1.2.1", case_id="c3", channel="bank",
                                  debtor_id_number=credit_code(9))  # fmt: skip
    torn = Journal(journal)
    torn.record("query", query)  # the request's line; the crash came before the answer's
    torn.close()

    restarted = gateway(journal)
    again = await restarted.SubmitQuery(query, CONTEXT)
    assert not again.first_submission
    answers = (await restarted.FetchFeedback(pb.FetchFeedbackRequest(max=10), CONTEXT)).feedback
    assert [f.request_id for f in answers] == ["q.c3.1.2.1"]
    # Answered once: the answer is journaled, so a second restart does not answer again.
    assert (
        len((await gateway(journal).FetchFeedback(pb.FetchFeedbackRequest(), CONTEXT)).feedback)
        == 1
    )
