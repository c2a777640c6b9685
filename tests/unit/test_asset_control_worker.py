"""Asset control's agency worker on the in-memory repository: a case's due queries go to
the outside systems in one call, with other cases' as a call holds, and a call that fails
counts a try against each of its queries (retried with backoff), the other calls' recorded;
nothing is sent when nothing is due. Due controls are read and
recorded together, each sent on its own; their feedback is applied together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from services.asset_control import worker as worker_module
from services.asset_control.agency import AgencySettings, AgencyUnavailable
from services.asset_control.domain import MAX_FAILED_REQUESTS_KEPT, asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.worker import AgencyWorker
from tests.fakes import staged, staged_types
from tests.unit.test_asset_control_handlers import (
    DEPOSIT,
    OFFICER,
    answer,
    asset_control,
    file,
)
from tools.demo import credit_code
from zhixing.assets import CHANNELS
from zhixing.errors import Conflict
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as asset_pb


class Outside:
    """The outside systems as the worker sees them: they record each call, or fail it (a
    control's call fails if its asset key is in ``refusing``)."""

    def __init__(
        self, error: str | None = None, refusing: frozenset[str] = frozenset(),
        broken: frozenset[str] = frozenset(), refusing_cases: frozenset[str] = frozenset(),
        broken_cases: frozenset[str] = frozenset(),
    ) -> None:  # fmt: skip
        self.calls: list[list[agency_pb.SubmitQueryRequest]] = []
        self.controls: list[agency_pb.SubmitControlRequest] = []
        self.error = error
        self.refusing = refusing
        self.broken = broken  # asset keys whose call fails unexpectedly (a bug)
        # Cases whose queries' call the outside system refuses, or fails unexpectedly.
        self.refusing_cases = refusing_cases
        self.broken_cases = broken_cases

    async def submit_queries(self, requests: Sequence[agency_pb.SubmitQueryRequest]) -> None:
        self.calls.append(list(requests))
        cases = {query.case_id for query in requests}
        if self.error is not None:
            raise AgencyUnavailable(self.error)
        if cases & self.refusing_cases:
            raise AgencyUnavailable("UNAVAILABLE: the bank's system is down")
        if cases & self.broken_cases:
            raise RuntimeError("a bug in the client")

    async def submit_control(self, request: agency_pb.SubmitControlRequest) -> None:
        self.controls.append(request)
        if request.asset_key in self.refusing:
            raise AgencyUnavailable("UNAVAILABLE: the bank's system is down")
        if request.asset_key in self.broken:
            raise RuntimeError("a bug in the client")

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


async def units_of(control: AssetControl, case_id: str) -> set[tuple[str, int]]:
    case = await control.records.case(case_id)
    assert case is not None
    return {(u["status"], u["tries"]) for u in case["query"]["units"]}


async def test_cases_due_queries_share_calls_as_a_call_holds_each_case_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    control = asset_control()
    for case_id in ("c1", "c2", "c3", "c4"):
        await file(control, case_id, 10_000)
    outside = Outside()
    worker = AgencyWorker(control, outside, AgencySettings())
    # A call holds a case and a half's queries: the second case goes whole in the next call
    # (cut by the number of queries alone, it would be split).
    monkeypatch.setattr(worker_module, "MAX_QUERIES_PER_CALL", len(CHANNELS) * 3 // 2)
    assert await worker.submit_due() == 4 * len(CHANNELS)
    assert [len(call) for call in outside.calls] == [len(CHANNELS)] * 4
    for call in outside.calls:
        assert len({query.case_id for query in call}) == 1
    for case_id in ("c1", "c2", "c3", "c4"):
        assert await units_of(control, case_id) == {("submitted", 1)}
    assert await worker.submit_due() == 0


async def test_a_call_takes_no_more_cases_than_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    control = asset_control()
    for case_id in ("c1", "c2", "c3", "c4", "c5"):
        await file(control, case_id, 10_000)
    outside = Outside()
    worker = AgencyWorker(control, outside, AgencySettings())
    monkeypatch.setattr(worker_module, "CASES_PER_CALL", 2)
    assert await worker.submit_due() == 5 * len(CHANNELS)
    cases_per_call = sorted(len({query.case_id for query in call}) for call in outside.calls)
    assert cases_per_call == [1, 2, 2]
    assert sum(len(call) for call in outside.calls) == 5 * len(CHANNELS)


async def test_a_case_whose_record_cannot_be_read_holds_up_no_other() -> None:
    control = asset_control()
    for case_id in ("c1", "c2"):
        await file(control, case_id, 10_000)
    broken = await control.records.case("c2")
    assert broken is not None
    del broken["debtors"]  # a record this code cannot read
    async with control.records.redis.pipeline(transaction=True) as pipe:
        control.records.put(pipe, control.records.case_key("c2"), broken)
        await pipe.execute()
    outside = Outside()
    worker = AgencyWorker(control, outside, AgencySettings())
    assert await worker.submit_due() == 2 * len(CHANNELS)  # due, the broken case's too
    assert {query.case_id for call in outside.calls for query in call} == {"c1"}
    assert await units_of(control, "c1") == {("submitted", 1)}


async def test_a_case_whose_outcome_cannot_be_recorded_holds_up_no_other() -> None:
    control = asset_control()
    for case_id in ("c1", "c2"):
        await file(control, case_id, 10_000)
    due: dict[str, list[str]] = {}
    for member in await control.query.due_work():
        due.setdefault(member.split("|")[1], []).append(member)
    requests = await control.query.query_requests(due)
    broken = await control.records.case("c2")
    assert broken is not None
    for unit in broken["query"]["units"]:
        del unit["tries"]  # a record this code cannot apply the outcome to
    async with control.records.redis.pipeline(transaction=True) as pipe:
        control.records.put(pipe, control.records.case_key("c2"), broken)
        await pipe.execute()
    with pytest.raises(KeyError, match="tries"):  # raised, after the other case's is kept
        await control.query.queries_submitted({
            case_id: [(member, query.request_id, None) for member, query in sent]
            for case_id, sent in requests.items()
        })  # fmt: skip
    assert await units_of(control, "c1") == {("submitted", 1)}


async def test_a_failed_call_of_several_counts_a_try_against_its_own_cases_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    control = asset_control()
    for case_id in ("c1", "c2"):
        await file(control, case_id, 10_000)
    outside = Outside(refusing_cases=frozenset({"c2"}))
    worker = AgencyWorker(control, outside, AgencySettings())
    monkeypatch.setattr(worker_module, "MAX_QUERIES_PER_CALL", len(CHANNELS))
    await worker.submit_due()
    assert len(outside.calls) == 2
    assert await units_of(control, "c1") == {("submitted", 1)}
    assert await units_of(control, "c2") == {("pending", 1)}  # retried after the backoff


async def test_a_query_call_failing_unexpectedly_is_raised_after_the_others_are_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    control = asset_control()
    for case_id in ("c1", "c2"):
        await file(control, case_id, 10_000)
    outside = Outside(broken_cases=frozenset({"c2"}))
    worker = AgencyWorker(control, outside, AgencySettings())
    monkeypatch.setattr(worker_module, "MAX_QUERIES_PER_CALL", len(CHANNELS))
    with pytest.raises(RuntimeError, match="a bug in the client"):
        await worker.submit_due()
    assert await units_of(control, "c1") == {("submitted", 1)}
    # The broken call's outcome is unknown: its queries stay due, sent again next round.
    assert await units_of(control, "c2") == {("pending", 0)}
    outside.broken_cases = frozenset()
    assert await worker.submit_due() == len(CHANNELS)
    assert await units_of(control, "c2") == {("submitted", 1)}


SECOND_DEPOSIT = agency_pb.AgencyAsset(
    asset_key="bank_deposit:d2", kind="bank_deposit", description="存款", value_fen=4_000,
    online_control=True, location_division="321283",
)  # fmt: skip


async def with_two_deposits_frozen(settings: AgencySettings) -> tuple[AssetControl, list[str]]:
    """A case whose query found two deposits online: both frozen at once, pending with the
    outside system; its query units all answered."""
    control = AssetControl(asset_control().ctx, settings)
    await file(control, "c1", 10_000)
    await answer(control, "c1", {"bank": [DEPOSIT, SECOND_DEPOSIT]})
    return control, [asset_id_for("c1", a.asset_key) for a in (DEPOSIT, SECOND_DEPOSIT)]


async def due_at(control: AssetControl, asset_id: str) -> float | None:
    score = await control.records.redis.zscore(control.records.work.controls_key, f"c|{asset_id}")
    return None if score is None else float(score)


async def test_due_controls_are_each_sent_and_a_refused_one_retried_after_its_backoff() -> None:
    settings = AgencySettings()
    control, (first, second) = await with_two_deposits_frozen(settings)
    outside = Outside(refusing=frozenset({SECOND_DEPOSIT.asset_key}))
    worker = AgencyWorker(control, outside, settings)
    assert await worker.submit_due() == 2
    assert {c.asset_key for c in outside.controls} == {DEPOSIT.asset_key, SECOND_DEPOSIT.asset_key}
    now = control.now_ms()
    for asset_id, wait_s in ((first, settings.feedback_timeout_s), (second, settings.backoff_s(1))):
        record = await control.records.asset(asset_id)
        assert record is not None
        assert (record["status"], record["control_tries"]) == ("control_pending", 1)
        assert await due_at(control, asset_id) == now + int(wait_s * 1000)
    assert await worker.submit_due() == 0  # each waits: for feedback, or its backoff


async def test_a_control_refused_at_its_last_try_fails_and_the_asset_is_open_again() -> None:
    control, (first, second) = await with_two_deposits_frozen(AgencySettings(max_attempts=1))
    outside = Outside(refusing=frozenset({SECOND_DEPOSIT.asset_key}))
    worker = AgencyWorker(control, outside, AgencySettings(max_attempts=1))
    await worker.submit_due()
    failed = await control.records.asset(second)
    assert failed is not None and failed["status"] == "found"
    assert failed["failure"] == "UNAVAILABLE: the bank's system is down"
    assert await due_at(control, second) is None
    assert (await staged_types(control.ctx)).count("ControlFailed") == 1
    sent = await control.records.asset(first)
    assert sent is not None and sent["status"] == "control_pending"


def controlled(request_id: str, amount_fen: int, n: int = 0) -> agency_pb.Feedback:
    return agency_pb.Feedback(feedback_id=f"fc-{request_id}-{n}", request_id=request_id,
                              status="controlled", controlled_amount_fen=amount_fen,
                              control_ref=f"ref-{request_id}")  # fmt: skip


async def test_controls_taking_effect_together_each_count_against_their_case_once() -> None:
    """Two controls of one case in one feedback batch, one for less than asked (the
    balance was lower), and the first repeated: each is applied once, on the case as the
    one before left it."""
    control, (first, second) = await with_two_deposits_frozen(AgencySettings())
    records = [record for a in (first, second) if (record := await control.records.asset(a))]
    assert len(records) == 2
    asked = [r["amount_fen"] for r in records]
    case_before = await control.records.case("c1")
    assert case_before is not None
    one, two = (r["control_request"] for r in records)
    outcomes = await control.apply_feedback_batch(
        [controlled(one, asked[0]), controlled(two, asked[1] - 500), controlled(one, asked[0], 1)]
    )
    assert outcomes == ["controlled", "controlled", "duplicate"]
    case = await control.records.case("c1")
    assert case is not None
    assert case["reserved_fen"] == case_before["reserved_fen"] - 500
    for asset_id, amount in ((first, asked[0]), (second, asked[1] - 500)):
        record = await control.records.asset(asset_id)
        assert record is not None
        assert (record["status"], record["amount_fen"]) == ("controlled", amount)
        assert await due_at(control, asset_id) is None
    assert (await staged_types(control.ctx)).count("AssetControlled") == 2
    again = await control.apply_feedback_batch([controlled(two, asked[1] - 500, 2)])
    assert again == ["duplicate"]


async def failed_at_its_last_try() -> tuple[AssetControl, str, str]:
    """A case's second deposit, whose freeze the outside system refused at its last try:
    (control, the asset, the failed request)."""
    control, (_, second) = await with_two_deposits_frozen(AgencySettings(max_attempts=1))
    worker = AgencyWorker(control, Outside(refusing=frozenset({SECOND_DEPOSIT.asset_key})),
                          AgencySettings(max_attempts=1))  # fmt: skip
    await worker.submit_due()
    failed = await control.records.asset(second)
    assert failed is not None and failed["status"] == "found"
    return control, second, failed["control_request"]


async def outside_holds(control: AssetControl, asset_id: str) -> list[dict[str, Any]]:
    record = await control.records.asset(asset_id)
    assert record is not None
    holds: list[dict[str, Any]] = record.get("outside_holds", [])
    return holds


@pytest.mark.parametrize("then", ["declined", "controlled again"])
async def test_a_control_failed_here_that_took_effect_outside_is_kept_until_an_act_answers_it(
    then: str,
) -> None:
    control, asset_id, request_id = await failed_at_its_last_try()
    case_before = await control.records.case("c1")
    assert await control.apply_feedback_batch([controlled(request_id, 3_000)]) == ["held_outside"]
    (hold,) = await outside_holds(control, asset_id)
    assert (hold["control_ref"], hold["reported_amount_fen"], hold["answered"]) == (
        f"ref-{request_id}", 3_000, ""
    )  # fmt: skip
    assert await control.records.case("c1") == case_before  # nothing counted as held
    (told,) = [e.payload for e in await staged(control.ctx)
               if isinstance(e.payload, asset_pb.ControlTookEffectAfterFailure)]  # fmt: skip
    assert (told.asset_id, told.request_id, told.control_ref) == (asset_id, request_id,
                                                                  f"ref-{request_id}")  # fmt: skip
    # Told once, however often the answer is delivered.
    assert await control.apply_feedback_batch([controlled(request_id, 3_000, 1)]) == ["duplicate"]
    assert (await staged_types(control.ctx)).count("ControlTookEffectAfterFailure") == 1
    # The officer's next act answers it, and it is kept with that answer.
    if then == "declined":
        await control.controls.decline(asset_id, "外部冻结已解除", identity=OFFICER)
        (hold,) = await outside_holds(control, asset_id)
        assert hold["answered"] == "declined: 外部冻结已解除"
        return
    await control.controls.control(asset_id, identity=OFFICER, amount_fen=3_000, control_ref="")
    again = await control.records.asset(asset_id)
    assert again is not None and again["status"] == "control_pending"
    assert (await outside_holds(control, asset_id))[0]["answered"] == ""  # not yet
    new_request = again["control_request"]
    assert await control.apply_feedback_batch([controlled(new_request, 3_000)]) == ["controlled"]
    (hold,) = await outside_holds(control, asset_id)
    assert hold["answered"].startswith(f"a control took effect since (ref-{new_request})")


async def test_an_answer_to_a_failed_request_is_known_after_the_asset_was_controlled_again(
) -> None:  # fmt: skip
    control, asset_id, first_request = await failed_at_its_last_try()
    await control.controls.control(asset_id, identity=OFFICER, amount_fen=3_000, control_ref="")
    pending = await control.records.asset(asset_id)
    assert pending is not None and pending["control_request"] != first_request
    # The first request's answer comes while the second waits for its own.
    assert await control.apply_feedback_batch([controlled(first_request, 3_000)]) == [
        "held_outside"
    ]
    (hold,) = await outside_holds(control, asset_id)
    assert (hold["request_id"], hold["answered"]) == (first_request, "")
    record = await control.records.asset(asset_id)
    assert record is not None and record["status"] == "control_pending"  # unchanged


async def controlled_again(control: AssetControl, asset_id: str) -> str:
    """The asset controlled again, the control taking effect: its request."""
    await control.controls.control(asset_id, identity=OFFICER, amount_fen=3_000, control_ref="")
    pending = await control.records.asset(asset_id)
    assert pending is not None
    await control.apply_feedback_batch([controlled(pending["control_request"], 3_000)])
    request_id: str = pending["control_request"]
    return request_id


async def test_a_hold_answered_after_the_asset_was_released_is_answered_by_a_decline() -> None:
    control, asset_id, first_request = await failed_at_its_last_try()
    await controlled_again(control, asset_id)
    # An answer to the first request while the second holds the asset; the release answers it.
    await control.apply_feedback_batch([controlled(first_request, 3_000)])
    await control.controls.release(asset_id, "案款已到位", identity=OFFICER)
    (hold,) = await outside_holds(control, asset_id)
    assert hold["answered"] == "released: 案款已到位"
    # Delivered again once the asset is released: told already, nothing new to answer.
    assert await control.apply_feedback_batch([controlled(first_request, 3_000, 1)]) == [
        "duplicate"
    ]
    with pytest.raises(Conflict, match="is released, not found and open"):
        await control.controls.decline(asset_id, "无", identity=OFFICER)


async def test_a_hold_found_after_a_release_may_be_declined_with_its_reason() -> None:
    control, asset_id, first_request = await failed_at_its_last_try()
    second_request = await controlled_again(control, asset_id)
    await control.controls.release(asset_id, "案款已到位", identity=OFFICER)
    assert await control.apply_feedback_batch([controlled(first_request, 3_000)]) == [
        "held_outside"
    ]
    await control.controls.decline(asset_id, "已通知银行解除冻结", identity=OFFICER)
    record = await control.records.asset(asset_id)
    assert record is not None and record["status"] == "declined"
    (hold,) = await outside_holds(control, asset_id)
    assert hold["answered"] == "declined: 已通知银行解除冻结"
    # The control that took effect, its answer delivered again: not a hold found outside.
    again = controlled(second_request, 3_000, 1)
    assert await control.apply_feedback_batch([again]) == ["duplicate"]
    assert (await staged_types(control.ctx)).count("ControlTookEffectAfterFailure") == 1


async def test_a_refusal_and_a_control_in_one_batch_are_each_applied() -> None:
    control, (first, second) = await with_two_deposits_frozen(AgencySettings())
    records = [await control.records.asset(a) for a in (first, second)]
    assert records[0] is not None and records[1] is not None
    refused = agency_pb.Feedback(feedback_id="fr", request_id=records[0]["control_request"],
                                 status="rejected", error="账户已销户")  # fmt: skip
    unknown = agency_pb.Feedback(feedback_id="fu", request_id="c|no-such-asset|1",
                                 status="controlled")  # fmt: skip
    took = controlled(records[1]["control_request"], records[1]["amount_fen"])
    assert await control.apply_feedback_batch([refused, unknown, took]) == [
        "rejected", "unknown", "controlled"
    ]  # fmt: skip
    open_again = await control.records.asset(first)
    assert open_again is not None and open_again["status"] == "found"
    held = await control.records.asset(second)
    assert held is not None and held["status"] == "controlled"


async def test_a_call_failing_unexpectedly_is_raised_after_the_others_are_recorded() -> None:
    settings = AgencySettings()
    control, (first, second) = await with_two_deposits_frozen(settings)
    worker = AgencyWorker(control, Outside(broken=frozenset({SECOND_DEPOSIT.asset_key})), settings)
    with pytest.raises(RuntimeError, match="a bug in the client"):
        await worker.submit_due()
    sent = await control.records.asset(first)
    assert sent is not None and sent["control_tries"] == 1  # waits for its feedback
    unsent = await control.records.asset(second)
    assert unsent is not None and unsent["control_tries"] == 0  # due again: sent next round
    assert await due_at(control, second) is not None


async def test_an_unanswered_hold_is_kept_past_the_failed_requests_an_asset_keeps() -> None:
    """An asset keeps its last MAX_FAILED_REQUESTS_KEPT failed requests; a hold found
    outside that nobody has answered is kept when more failures than that come after it,
    beside the holds found since (up to MAX_OUTSIDE_HOLDS_KEPT)."""
    settings = AgencySettings(max_attempts=1)
    control, asset_id, first_request = await failed_at_its_last_try()
    assert await control.apply_feedback_batch([controlled(first_request, 3_000)]) == [
        "held_outside"
    ]
    worker = AgencyWorker(control, Outside(refusing=frozenset({SECOND_DEPOSIT.asset_key})),
                          settings)  # fmt: skip
    for _ in range(MAX_FAILED_REQUESTS_KEPT):
        await control.controls.control(asset_id, identity=OFFICER, amount_fen=3_000,
                                       control_ref="")  # fmt: skip
        await worker.submit_due()
    record = await control.records.asset(asset_id)
    assert record is not None and record["status"] == "found"
    assert first_request not in record["failed_requests"]  # no longer kept
    last_request = record["failed_requests"][-1]
    assert await control.apply_feedback_batch([controlled(last_request, 3_000)]) == ["held_outside"]
    holds = await outside_holds(control, asset_id)
    assert [(h["request_id"], h["answered"]) for h in holds] == [
        (first_request, ""), (last_request, "")
    ]  # fmt: skip
    await control.controls.decline(asset_id, "外部冻结均已解除", identity=OFFICER)
    assert [h["answered"] for h in await outside_holds(control, asset_id)] == [
        "declined: 外部冻结均已解除"
    ] * 2
