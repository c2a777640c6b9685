"""Intake's handlers on the in-memory repository: what each command records and stages,
and what it refuses (no Kafka, no Redis)."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from services.intake.domain import ClosureMethod, FileCase
from services.intake.handlers import FILING_GROUP_MAX, Filed, IdempotencyConflict, Intake
from services.intake.repository import CaseRecords, CaseStatus
from tests.factories import START, filing
from tests.fakes import in_memory_context, person, staged_types
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, NotFound, Unavailable

CLERK = person(Role.CLERK)


def intake() -> Intake:
    ctx = in_memory_context("intake", SimulatedClock(START))
    return Intake(ctx, CaseRecords(ctx.redis, ctx.keys))


async def test_filing_dockets_numbers_and_stages_the_filing() -> None:
    handlers = intake()
    first = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
    second = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
    assert first.created and first.status is CaseStatus.FILED
    assert first.case_number == "（2026）苏1283执1号"
    assert second.case_number == "（2026）苏1283执2号"  # one sequence per court, type, year
    record = await handlers.records.read(first.case_id)
    assert record is not None and record.filed is not None
    assert record.filed.claim_amount_fen == 12_345_600
    types = await staged_types(handlers.ctx)
    assert types.count("CaseFiled") == 2 and types.count("CaseNumberIssued") == 2


async def test_an_idempotency_key_returns_the_first_filing_and_refuses_another_body() -> None:
    handlers = intake()
    body = FileCase(**filing())
    first = await handlers.receive(body, identity=CLERK, idempotency_key="k1", docket=True)
    again = await handlers.receive(body, identity=CLERK, idempotency_key="k1", docket=True)
    assert (again.case_id, again.created) == (first.case_id, False)
    changed = FileCase(**filing(claim_amount_fen=1))
    with pytest.raises(IdempotencyConflict):
        await handlers.receive(changed, identity=CLERK, idempotency_key="k1", docket=True)
    assert (await staged_types(handlers.ctx)).count("CaseFiled") == 1


def counting_transactions(handlers: Intake) -> list[int]:
    """How many transactions the handlers run, counted as they run."""
    counted: list[int] = []
    transact = handlers.records.transact

    async def counted_transact(*args: Any, **kwargs: Any) -> Any:
        counted.append(1)
        return await transact(*args, **kwargs)

    handlers.records.transact = counted_transact  # type: ignore[method-assign]
    return counted


async def test_filings_made_together_are_numbered_in_order_and_committed_together() -> None:
    handlers = intake()
    transactions = counting_transactions(handlers)
    many = FILING_GROUP_MAX + 30  # more than one group holds
    filed = await asyncio.gather(*(
        handlers.receive(FileCase(**filing(claim_amount_fen=n + 1)), identity=CLERK, docket=True)
        for n in range(many)
    ))  # fmt: skip
    # Each filing its own number, in the order they were made, none missing.
    assert [f.case_number for f in filed] == [f"（2026）苏1283执{n}号" for n in range(1, many + 1)]
    for n, one in enumerate(filed):
        record = await handlers.records.read(one.case_id)
        assert record is not None and record.filed is not None
        assert (record.filed.claim_amount_fen, record.get("receipt_number")) == (
            n + 1, f"（2026）苏1283收{n + 1}号"
        )  # fmt: skip
    assert (await staged_types(handlers.ctx)).count("CaseFiled") == many
    # Made together, they were committed together: FILING_GROUP_MAX a transaction.
    assert len(transactions) == 2
    later = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
    assert later.case_number == f"（2026）苏1283执{many + 1}号"


async def test_a_key_repeated_in_one_group_files_once_and_refuses_another_body() -> None:
    handlers = intake()
    body, changed = FileCase(**filing()), FileCase(**filing(claim_amount_fen=1))
    # Made together, the five are committed in one transaction.
    _, first, again, refused, other = await asyncio.gather(
        handlers.receive(FileCase(**filing()), identity=CLERK, docket=True),
        handlers.receive(body, identity=CLERK, idempotency_key="k1", docket=True),
        handlers.receive(body, identity=CLERK, idempotency_key="k1", docket=True),
        handlers.receive(changed, identity=CLERK, idempotency_key="k1", docket=True),
        handlers.receive(changed, identity=CLERK, docket=True),
        return_exceptions=True,
    )
    assert isinstance(first, Filed) and isinstance(again, Filed) and isinstance(other, Filed)
    assert (again.case_id, again.created, again.case_number) == (
        first.case_id, False, first.case_number
    )  # fmt: skip
    assert isinstance(refused, IdempotencyConflict)
    assert first.case_number == "（2026）苏1283执2号"
    assert other.case_number == "（2026）苏1283执3号"  # the refused one took no number
    assert (await staged_types(handlers.ctx)).count("CaseFiled") == 3


def held_transactions(handlers: Intake) -> asyncio.Event:
    """Hold each of the handlers' transactions until the event returned is set."""
    transact, released = handlers.records.transact, asyncio.Event()

    async def held(*args: Any, **kwargs: Any) -> Any:
        await released.wait()
        return await transact(*args, **kwargs)

    handlers.records.transact = held  # type: ignore[method-assign]
    return released


def filing_task(handlers: Intake, claim_amount_fen: int = 12_345_600) -> asyncio.Task[Filed]:
    body = FileCase(**filing(claim_amount_fen=claim_amount_fen))
    return asyncio.create_task(handlers.receive(body, identity=CLERK, docket=True))


async def test_a_filing_whose_caller_went_away_before_its_turn_is_not_filed() -> None:
    handlers = intake()
    released = held_transactions(handlers)
    first = filing_task(handlers)
    for _ in range(3):
        await asyncio.sleep(0)  # the first is taken up, its commit held
    gone, last = filing_task(handlers, 7), filing_task(handlers)
    await asyncio.sleep(0)  # both wait for the next transaction
    gone.cancel()
    await asyncio.sleep(0)
    released.set()
    assert [(await first).case_number, (await last).case_number] == [
        "（2026）苏1283执1号", "（2026）苏1283执2号"
    ]  # fmt: skip
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert (await staged_types(handlers.ctx)).count("CaseFiled") == 2


async def test_a_caller_gone_during_its_commit_is_filed_with_the_others() -> None:
    handlers = intake()
    released = held_transactions(handlers)
    calls = [filing_task(handlers, n) for n in (1, 2, 3)]
    for _ in range(3):
        await asyncio.sleep(0)  # the three are taken up together, their commit held
    calls[1].cancel()
    released.set()
    first, last = await calls[0], await calls[2]
    with pytest.raises(asyncio.CancelledError):
        await calls[1]
    assert (first.case_number, last.case_number) == ("（2026）苏1283执1号", "（2026）苏1283执3号")
    assert (await staged_types(handlers.ctx)).count("CaseFiled") == 3  # the second's too


async def test_filings_of_two_replicas_made_together_take_each_number_once() -> None:
    one = intake()
    other = Intake(one.ctx, CaseRecords(one.ctx.redis, one.ctx.keys))  # the same Redis
    filed = await asyncio.gather(*(
        replica.receive(FileCase(**filing()), identity=CLERK, docket=True)
        for _ in range(10) for replica in (one, other)
    ))  # fmt: skip
    assert sorted(int(f.case_number.split("执")[1][:-1]) for f in filed) == list(range(1, 21))
    assert (await staged_types(one.ctx)).count("CaseFiled") == 20  # staged once each


async def test_a_sequence_s_acts_take_turns_on_a_lock_forgotten_when_none_holds_it() -> None:
    handlers = intake()
    holding: list[str] = []
    turns: list[str] = []
    release = {name: asyncio.Event() for name in ("a", "b", "c", "d")}

    async def act(name: str) -> None:
        async with handlers.sequence_lock("seq"):
            holding.append(name)
            turns.append(",".join(holding))
            await release[name].wait()
            holding.remove(name)

    async def settle() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    a, b, gone = asyncio.create_task(act("a")), asyncio.create_task(act("b")), None
    await settle()
    gone = asyncio.create_task(act("c"))  # it goes away while waiting for its turn
    await settle()
    gone.cancel()
    release["a"].set()
    await settle()  # b holds it now
    d = asyncio.create_task(act("d"))  # comes while b holds it
    await settle()
    release["b"].set()
    release["d"].set()
    await asyncio.gather(a, b, d)
    assert turns == ["a", "b", "d"]  # one at a time, in their order; the gone one never
    with pytest.raises(asyncio.CancelledError):
        await gone
    await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
    assert handlers._sequence_locks == {}  # none kept once no act holds or waits for it


async def test_each_filing_made_together_is_made_in_its_callers_context() -> None:
    # The trace of a filing's events is its request's, though one task commits them all.
    handlers = intake()
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller")
    made_in: dict[str, str] = {}
    event = handlers.event

    def recording(payload: Any, case_id: str, *args: Any, **kwargs: Any) -> Any:
        made_in[case_id] = caller.get("none")
        return event(payload, case_id, *args, **kwargs)

    handlers.event = recording  # type: ignore[method-assign]

    async def file_as(name: str) -> str:
        caller.set(name)
        filed = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
        return filed.case_id

    names = [f"request-{n}" for n in range(5)]
    case_ids = await asyncio.gather(*(file_as(name) for name in names))
    assert [made_in[case_id] for case_id in case_ids] == names


async def test_callers_are_told_when_intake_stops_before_their_filings_commit() -> None:
    handlers = intake()
    released = held_transactions(handlers)
    calls = [filing_task(handlers, n) for n in (1, 2)]
    for _ in range(3):
        await asyncio.sleep(0)  # taken up together, their commit held
    (drainer,) = handlers._drainers.values()
    drainer.cancel()  # the process stops
    # (A bound on the wait: a caller left waiting would otherwise hang the suite.)
    async with asyncio.timeout(10):
        for call in calls:
            with pytest.raises(Unavailable, match="being committed: it may have been filed"):
                await call
    # Cancelled before it ran, a sequence's task leaves no caller waiting either.
    late = filing_task(handlers)
    await asyncio.sleep(0)
    (drainer,) = handlers._drainers.values()
    drainer.cancel()
    async with asyncio.timeout(10):
        with pytest.raises(Unavailable, match="waited to be committed: it was not filed"):
            await late
    released.set()
    again = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
    assert again.case_number == "（2026）苏1283执1号"  # nothing was filed before
    assert handlers._drainers == {} and handlers._waiting == {}


async def test_a_filing_that_cannot_be_made_fails_alone_and_takes_no_number() -> None:
    handlers = intake()
    make = handlers._filing

    def failing(filing_: Any, *args: Any) -> Any:
        if filing_.cmd.claim_amount_fen == 13:
            raise ValueError("cannot be made")
        return make(filing_, *args)

    handlers._filing = failing  # type: ignore[method-assign,assignment]
    outcomes = await asyncio.gather(
        *(handlers.receive(FileCase(**filing(claim_amount_fen=n)), identity=CLERK, docket=True)
          for n in (12, 13, 14)),
        return_exceptions=True,
    )  # fmt: skip
    assert isinstance(outcomes[1], ValueError)
    assert [o.case_number for o in (outcomes[0], outcomes[2]) if isinstance(o, Filed)] == [
        "（2026）苏1283执1号", "（2026）苏1283执2号"
    ]  # fmt: skip


async def test_a_group_whose_transaction_fails_fails_each_filing_and_writes_nothing() -> None:
    handlers = intake()
    transact = handlers.records.transact

    async def down(*args: Any, **kwargs: Any) -> Any:
        failure = ConnectionError("Redis is down")
        failure.add_note("while committing a group of filings")
        raise failure

    handlers.records.transact = down  # type: ignore[method-assign]
    outcomes = await asyncio.gather(*(
        handlers.receive(FileCase(**filing()), identity=CLERK, docket=True) for _ in range(5)
    ), return_exceptions=True)  # fmt: skip
    assert all(isinstance(o, ConnectionError) for o in outcomes), outcomes
    # Each caller raises an error of its own (a traceback each), caused by Redis's one.
    assert len({id(o) for o in outcomes}) == 5
    assert len({id(o.__cause__) for o in outcomes if isinstance(o, BaseException)}) == 1
    # Its notes are each caller's own: one caller's note shows on no other's.
    first, second = outcomes[0], outcomes[1]
    assert isinstance(first, BaseException) and isinstance(second, BaseException)
    first.add_note("seen by the first caller")
    assert second.__notes__ == ["while committing a group of filings"]
    handlers.records.transact = transact  # type: ignore[method-assign]
    assert await staged_types(handlers.ctx) == []
    again = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)
    assert again.case_number == "（2026）苏1283执1号"


async def test_only_a_clerk_of_the_court_files() -> None:
    handlers = intake()
    with pytest.raises(ScopeError):
        await handlers.receive(FileCase(**filing()), identity=person(Role.OFFICER), docket=True)
    with pytest.raises(ScopeError):
        other_court = person(Role.CLERK, court="苏1282")
        await handlers.receive(FileCase(**filing()), identity=other_court, docket=True)
    assert await staged_types(handlers.ctx) == []


async def test_an_application_is_docketed_or_refused_once() -> None:
    handlers = intake()
    received = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=False)
    assert received.status is CaseStatus.RECEIVED and not received.case_number
    refused = await handlers.receive(FileCase(**filing()), identity=CLERK, docket=False)
    docketed = await handlers.docket(received.case_id, identity=CLERK)
    assert docketed.case_number == "（2026）苏1283执1号"
    with pytest.raises(Conflict):
        await handlers.docket(received.case_id, identity=CLERK)
    await handlers.refuse(refused.case_id, "不属于本院管辖", identity=CLERK)
    record = await handlers.records.read(refused.case_id)
    assert record is not None and record.status is CaseStatus.REFUSED
    with pytest.raises(NotFound):
        await handlers.docket("no-such-case", identity=CLERK)


async def test_after_filing_officer_notice_and_closure_in_their_order() -> None:
    handlers = intake()
    case_id = (await handlers.receive(FileCase(**filing()), identity=CLERK, docket=True)).case_id
    officer = person(Role.OFFICER)
    with pytest.raises(Conflict, match="no officer yet"):
        await handlers.serve_notice(case_id, identity=officer)
    with pytest.raises(ScopeError):  # an officer does not assign
        await handlers.assign_officer(case_id, "o-1", "一组", identity=officer)
    await handlers.assign_officer(case_id, "o-1", "一组", identity=CLERK)
    with pytest.raises(Conflict, match="already assigned"):
        await handlers.assign_officer(case_id, "o-2", "二组", identity=CLERK)
    assert await handlers.serve_notice(case_id, identity=officer) == "2026-03-02"
    await handlers.close(case_id, ClosureMethod.PERFORMED, identity=officer)
    with pytest.raises(Conflict, match="closed"):
        await handlers.close(case_id, ClosureMethod.PERFORMED, identity=officer)
    types = await staged_types(handlers.ctx)
    assert types[-3:] == ["OfficerAssigned", "ExecutionNoticeServed", "CaseClosed"]
