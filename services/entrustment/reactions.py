"""What the entrustment service does on other services' events."""

from __future__ import annotations

from services.entrustment.handlers import Entrustments
from zhixing.breaches import OnBreach
from zhixing.known_cases import OnCaseMoved


def case_moves(entrustments: Entrustments) -> OnCaseMoved:
    """A case moved to another court by a command action: its matters follow."""
    return OnCaseMoved(entrustments.follow_case)


def start_breaches(entrustments: Entrustments) -> OnBreach:
    """Not started in time (rule ``entrustment.start``): the entrusting court may ask the
    superior for an order."""
    return OnBreach(
        {
            "entrustment.start": lambda breached, _: entrustments.mark_start_overdue(
                breached.clock.subject_id
            )
        }
    )
