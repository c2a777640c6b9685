"""Builders of valid domain data for tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tools.demo import credit_code, resident_id
from zhixing.clock import SimulatedClock
from zhixing.events import Event, new_event
from zhixing.v1 import case_events_pb2, dispute_events_pb2, envelope_pb2

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in China

ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_PERSON, id="clerk-1", court_code="苏1283", role="clerk"
)


def case_filed_event(
    case_id: str, *, court: str = "苏1283", amount: int = 100, clock: SimulatedClock | None = None
) -> Event[case_events_pb2.CaseFiled]:
    payload = case_events_pb2.CaseFiled(
        case_id=case_id, court_code=court, case_type_code="执", claim_amount_fen=amount
    )
    return new_event(
        payload,
        aggregate_id=case_id,
        court_code=court,
        actor=ACTOR,
        clock=clock or SimulatedClock(START),
    )


def case_closed_event(
    case_id: str, method: str, *, closed_on: str = "2026-02-27", court: str = "苏1283"
) -> Event[case_events_pb2.CaseClosed]:
    closed = case_events_pb2.CaseClosed(case_id=case_id, method=method, closed_on=closed_on)
    return new_event(closed, aggregate_id=case_id, court_code=court, actor=ACTOR,
                     clock=SimulatedClock(START))  # fmt: skip


def stop_ordered_event(
    case_id: str, *, court: str = "苏1283", dispute_id: str = "d-1"
) -> Event[dispute_events_pb2.EnforcementStopOrdered]:
    """A dispute's stop order (执行规定 art 68) of ``court`` on the case."""
    ordered = dispute_events_pb2.EnforcementStopOrdered(
        dispute_id=dispute_id, court_code=court, case_ids=[case_id], reason="两院冲突"
    )
    return new_event(ordered, aggregate_id=dispute_id, court_code=court, actor=ACTOR,
                     clock=SimulatedClock(START))  # fmt: skip


def filing(court: str = "苏1283", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "court_code": court,
        "case_type_code": "执",
        "legal_document": {
            "type": "民事判决书",
            "issuing_court": "泰兴市人民法院",
            "number": "（2026）苏1283民初1号",
            "date": "2026-01-10",
        },
        "applicants": [
            {
                "kind": "natural_person",
                "name": "张三",
                "id_number": resident_id("321283", date(1998, 5, 5), 17),
            }
        ],
        "debtors": [{"kind": "organisation", "name": "某某有限公司", "id_number": credit_code(7)}],
        "claim_amount_fen": 12_345_600,
        "receiving_account": "6222 0212 0000 0001",
    }
    body.update(overrides)
    return body


def full_width(text: str) -> str:
    """``text``'s digits and X as a Chinese input method types them full width (０…９, Ｘ)."""
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
