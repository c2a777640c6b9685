"""The command centre's handlers on the in-memory repository: who issues a command action
on which case, the reply it asks for, and the receiving court's steps."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from services.command.domain import Action
from services.command.handlers import CommandActions
from services.command.projections import CaseOverviews
from tests.factories import START, case_closed_event, case_filed_event
from tests.fakes import in_memory_context, person, project, staged_types
from tests.pages import check_newest_first_by_pages
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.events import Event
from zhixing.projection import Transaction

COMMAND = person(Role.COMMAND, "苏12", "cmd-1")
TAIXING = person(Role.OFFICER, "苏1283", "o-1")


async def actions() -> CommandActions:
    ctx = in_memory_context("command", SimulatedClock(START))
    overviews = CaseOverviews(ctx.redis, ctx.keys)
    async with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # type: ignore[no-untyped-call]
        filed: Event[Any] = case_filed_event("case-1")
        await overviews([filed], Transaction(ctx.redis, pipe, ctx.keys))
        await pipe.execute()
    return CommandActions(ctx, overviews)


async def test_an_urge_asks_for_a_reply_within_the_rules_limit_and_is_answered() -> None:
    handlers = await actions()
    with pytest.raises(Invalid, match=r"command\.urge-reply"):
        await handlers.issue(identity=COMMAND, action=Action.URGE, case_id="case-1",
                             instruction="请加快", reply_working_days=999)  # fmt: skip
    issued = await handlers.issue(identity=COMMAND, action=Action.URGE, case_id="case-1",
                                  instruction="请加快", reply_working_days=3)  # fmt: skip
    command_id = issued["command_id"]
    assert (issued["target_court"], issued["status"]) == ("苏1283", "issued")
    with pytest.raises(ScopeError):  # the issuing court does not answer its own order
        await handlers.acknowledge(command_id, identity=person(Role.OFFICER, "苏12"))
    await handlers.acknowledge(command_id, identity=TAIXING)
    await handlers.reply(command_id, "已加快", identity=TAIXING)
    types = await staged_types(handlers.ctx)
    assert types == ["CommandIssued", "CommandAcknowledged", "UrgeReplied"]


async def test_only_a_command_centre_above_the_case_issues() -> None:
    handlers = await actions()
    for who, refusal in (
        (person(Role.COMMAND, "苏1283"), ScopeError),  # a basic court issues none
        (person(Role.OFFICER, "苏12"), ScopeError),  # not the command role
        (person(Role.COMMAND, "苏02"), NotFound),  # another jurisdiction
    ):
        with pytest.raises(refusal):
            await handlers.issue(identity=who, action=Action.URGE, case_id="case-1",
                                 instruction="x", reply_working_days=1)  # fmt: skip
    with pytest.raises(Invalid, match="elevation moves the case to the issuing court"):
        await handlers.issue(identity=COMMAND, action=Action.ELEVATE, case_id="case-1",
                             instruction="提级", reply_working_days=None,
                             to_court="苏1283")  # fmt: skip
    assert await staged_types(handlers.ctx) == []


async def test_a_closed_case_is_neither_urged_elevated_nor_designated_but_may_be_corrected() -> (
    None
):
    # Moving it would move its history (its breaches) to a court that had no part in it; an
    # urge would open clocks no one clears and tell the parties the closed case is hurried.
    handlers = await actions()
    await project(handlers.ctx, handlers.overviews, case_closed_event("case-1", "执行完毕"))
    for action, to_court, reply in (
        (Action.ELEVATE, None, None), (Action.DESIGNATE, "苏1282", None), (Action.URGE, None, 3),
    ):  # fmt: skip
        with pytest.raises(Conflict, match=rf"a {action.value}.* on a closed case.*case\.close"):
            await handlers.issue(identity=COMMAND, action=action, case_id="case-1",
                                 instruction="x", reply_working_days=reply,
                                 to_court=to_court)  # fmt: skip
    assert await staged_types(handlers.ctx) == []
    # A wrongful closure is what a correction (¶28) is for.
    await handlers.issue(identity=COMMAND, action=Action.CORRECTION_LETTER, case_id="case-1",
                         instruction="纠正", reply_working_days=3)  # fmt: skip
    assert await staged_types(handlers.ctx) == ["CommandIssued"]


async def test_a_debtors_closed_cases_are_neither_proposed_nor_brought_together() -> None:
    handlers = await actions()  # case-1 at 苏1283
    debtor = case_filed_event("case-2", court="苏1282")
    debtor.payload.debtors.add(id_number="D-1")
    first = case_filed_event("case-3", court="苏1283")
    first.payload.debtors.add(id_number="Ｄ-1")  # as a filing kept before was: full width
    await project(handlers.ctx, handlers.overviews, debtor, first)
    assert [p["debtor_id"] for p in await handlers.proposals(COMMAND)] == ["D-1"]
    await project(handlers.ctx, handlers.overviews, case_closed_event("case-2", "执行完毕"))
    assert await handlers.proposals(COMMAND) == []  # one open case left, in one court
    with pytest.raises(Conflict, match=r"debtor D-1 has no open cases in several courts .*closed"):
        await handlers.bring_together(
            identity=COMMAND, action=Action.CONSOLIDATE, debtor_id=" ｄ-1 ", to_court="苏1283",
            instruction="集中",
        )  # fmt: skip
    assert await staged_types(handlers.ctx) == []


async def test_the_listing_comes_newest_first_a_page_at_a_time() -> None:
    handlers = await actions()

    async def make(n: int) -> str:
        command = await handlers.issue(identity=COMMAND, action=Action.URGE, case_id="case-1",
                                       instruction=f"第{n}次", reply_working_days=3)  # fmt: skip
        issued: str = command["command_id"]
        return issued

    listing = functools.partial(handlers.list_for, TAIXING)
    await check_newest_first_by_pages(handlers.ctx.clock, make, listing, "command_id")
