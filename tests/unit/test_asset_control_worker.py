"""Asset control's agency worker on the in-memory repository: a case's due queries go to
the outside systems in one call, and a call that fails counts a try against each of them
(retried with backoff), with nothing sent when nothing is due."""

from __future__ import annotations

from collections.abc import Sequence

from services.asset_control.agency import AgencySettings, AgencyUnavailable
from services.asset_control.handlers import AssetControl
from services.asset_control.worker import AgencyWorker
from tests.unit.test_asset_control_handlers import asset_control, file
from tools.demo import credit_code
from zhixing.assets import CHANNELS
from zhixing.v1 import agency_gateway_pb2 as agency_pb


class Outside:
    """The outside systems as the worker sees them: they record each call, or fail it."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[list[agency_pb.SubmitQueryRequest]] = []
        self.error = error

    async def submit_queries(self, requests: Sequence[agency_pb.SubmitQueryRequest]) -> None:
        self.calls.append(list(requests))
        if self.error is not None:
            raise AgencyUnavailable(self.error)

    async def submit_control(self, request: agency_pb.SubmitControlRequest) -> None:
        raise AssertionError("no control is due in these tests")

    async def fetch_feedback(self, max_items: int) -> Sequence[agency_pb.Feedback]:
        return []

    async def ack_feedback(self, feedback_ids: Sequence[str]) -> None:
        return None

    async def close(self) -> None:
        return None


async def filed_with_two_debtors() -> AssetControl:
    control = asset_control()
    await file(control, "c1", 10_000, debtors=2)
    return control


async def test_a_case_s_due_queries_go_in_one_call_and_wait_for_their_answers() -> None:
    control = await filed_with_two_debtors()
    outside = Outside()
    worker = AgencyWorker(control, outside, AgencySettings())
    # A round takes at most a debtor's worth of a case's units (schedule.SHARE_PER_CASE),
    # sent in one call.
    assert await worker.submit_due() == len(CHANNELS)
    assert await worker.submit_due() == len(CHANNELS)
    assert [len(call) for call in outside.calls] == [len(CHANNELS), len(CHANNELS)]
    sent = [q for call in outside.calls for q in call]
    assert len({q.request_id for q in sent}) == len(sent) == 2 * len(CHANNELS)
    assert {q.debtor_id_number for q in sent} == {credit_code(7), credit_code(8)}
    case = await control.records.case("c1")
    assert case is not None
    assert {u["status"] for u in case["query"]["units"]} == {"submitted"}
    # Nothing is due again until the feedback timeout: no further call.
    assert await worker.submit_due() == 0 and len(outside.calls) == 2


async def test_a_failed_call_counts_a_try_against_each_of_its_queries() -> None:
    control = await filed_with_two_debtors()
    outside = Outside(error="UNAVAILABLE: connection refused")
    worker = AgencyWorker(control, outside, AgencySettings())
    await worker.submit_due()
    await worker.submit_due()  # the second debtor's channels
    assert len(outside.calls) == 2
    case = await control.records.case("c1")
    assert case is not None
    units = case["query"]["units"]
    assert {(u["status"], u["tries"]) for u in units} == {("pending", 1)}
    assert {u["error"] for u in units} == {"UNAVAILABLE: connection refused"}
    assert await worker.submit_due() == 0  # retried after the backoff, not at once
