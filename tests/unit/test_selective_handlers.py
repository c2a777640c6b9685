"""A handler that names the event types it handles (``handles``: the consumer gives it
those alone) names every type its code tests for, and no other: a type added to its
``isinstance`` tests but not to ``handles`` would never reach it."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Sequence

import pytest
from google.protobuf.message import Message

from services.asset_control.reactions import CaseIntake, ControlTerms, EntrustedControls
from services.credit.reactions import CaseFacts as CreditCaseFacts
from services.credit.reactions import RequeryFacts
from services.deadlines.engine import MOVE_EVENTS, signalled_types
from services.deadlines.escalation import ANSWER_EVENTS
from services.funds.reactions import AssetFacts
from services.funds.reactions import CaseFacts as FundsCaseFacts
from services.intake.reactions import IntakeReactions
from services.notification.domain import NODES
from services.notification.reactions import NodeFacts
from zhixing.breaches import OnBreach, OnWarning
from zhixing.clock_events import CARRIERS
from zhixing.events import Event, registered_event_types
from zhixing.known_cases import KnownCases, OnCaseMoved
from zhixing.projection import Projection, Transaction, check_handled, handled_types
from zhixing.rules import catalogue
from zhixing.topics import CASE_EVENTS, CLOCK_SIGNAL_TOPICS, DEADLINE_EVENTS, topic_for_aggregate
from zhixing.v1 import deadline_events_pb2

SELECTIVE = [
    OnBreach, OnWarning, KnownCases, OnCaseMoved, FundsCaseFacts, AssetFacts,
    CreditCaseFacts, RequeryFacts, IntakeReactions, CaseIntake, EntrustedControls, ControlTerms,
]  # fmt: skip


def types_tested_in(handler: type) -> set[str]:
    """The class names in the ``isinstance`` tests of the handler's ``__call__``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(handler.__call__)))
    names: set[str] = set()

    def collect(node: ast.expr) -> None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            collect(node.left)
            collect(node.right)
        elif isinstance(node, ast.Tuple):
            for element in node.elts:
                collect(element)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
            collect(node.args[1])
    return names


@pytest.mark.parametrize("handler", SELECTIVE, ids=lambda h: f"{h.__module__}.{h.__name__}")
def test_a_handler_handles_exactly_the_types_it_tests_for(handler: type) -> None:
    """(And the carrier of a type it tests for, such as the ClocksOpened a ClockOpened
    comes in, which ``clock_events.each_payload`` opens.)"""
    declared = {payload.__name__ for payload in handler.handles}  # type: ignore[attr-defined]
    tested = types_tested_in(handler)
    carriers = {CARRIERS[f"zhixing.v1.{name}"].rpartition(".")[2] for name in tested
                if f"zhixing.v1.{name}" in CARRIERS}  # fmt: skip
    assert declared == tested | carriers


def test_the_notices_handle_their_node_table_too() -> None:
    """NodeFacts looks its payloads up in the node table besides its isinstance tests."""
    declared = {payload.__name__ for payload in NodeFacts.handles}
    assert declared == types_tested_in(NodeFacts) | {payload.__name__ for payload in NODES}


class TakesEverything:
    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None: ...


def test_the_consumer_reads_the_full_event_type_names() -> None:
    assert handled_types(OnBreach({})) == frozenset({"zhixing.v1.ClockBreached"})
    assert handled_types(TakesEverything()) is None  # naming none, it is given every event


def test_a_projection_may_not_handle_what_its_topics_do_not_carry() -> None:
    check_handled(Projection("breaches", [DEADLINE_EVENTS], OnBreach({})))
    with pytest.raises(ValueError, match=r"zhixing\.v1\.ClockBreached, an event of topic"):
        check_handled(Projection("breaches", [CASE_EVENTS], OnBreach({})))


class ClockOpenings:
    """Names the old single ClockOpened only: it would miss every ClocksOpened."""

    handles: tuple[type[Message], ...] = (deadline_events_pb2.ClockOpened,)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None: ...


class BothOpenings(ClockOpenings):
    handles = (deadline_events_pb2.ClockOpened, deadline_events_pb2.ClocksOpened)


def test_a_type_now_carried_inside_another_must_be_named_with_its_carrier() -> None:
    with pytest.raises(ValueError, match=r"but not zhixing\.v1\.ClocksOpened"):
        check_handled(Projection("openings", [DEADLINE_EVENTS], ClockOpenings()))
    check_handled(Projection("openings", [DEADLINE_EVENTS], BothOpenings()))


BY_EVENT = catalogue().by_event()  # what ``ClockRules.by_event`` holds


def test_the_deadline_engine_is_given_every_event_a_clock_rule_a_move_or_an_answer_names() -> None:
    """The engine reads every domain topic but acts on few of its events: it names them
    from the catalogue (``signalled_types``), so a rule's event is never passed over."""
    handled = {payload.DESCRIPTOR.name for payload in signalled_types(BY_EVENT)}
    on_read_topics = {
        event_type.name.rsplit(".", 1)[-1] for event_type in registered_event_types()
        if topic_for_aggregate(event_type.aggregate_type) in CLOCK_SIGNAL_TOPICS
    }  # fmt: skip
    named = set(BY_EVENT) | MOVE_EVENTS | ANSWER_EVENTS
    assert handled == named & on_read_topics
    assert {"AssetFound", "CaseHandlingCourtChanged", "SupervisionTaskAnswered"} <= handled
    assert not {"NetworkQueryStarted", "ClockBreached", "ClocksOpened"} & handled


def test_the_deadline_engine_handles_only_what_its_topics_carry() -> None:
    class Engine(TakesEverything):
        handles = signalled_types(BY_EVENT)

    check_handled(Projection("clocks", CLOCK_SIGNAL_TOPICS, Engine()))
