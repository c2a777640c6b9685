"""What the dispute coordinator does on other services' events."""

from __future__ import annotations

from services.dispute_coordinator.handlers import Disputes
from zhixing.breaches import OnBreach


def reconsideration_lapses(disputes: Disputes) -> OnBreach:
    """A court's time to ask for reconsideration of the plan (rule
    ``dispute.plan-reconsideration``) ran out: the plan binds it. The clock is one per
    court; its id ends with the court's code."""
    return OnBreach(
        {
            "dispute.plan-reconsideration": lambda breached, _: disputes.close_reconsideration(
                breached.clock.subject_id, breached.clock.clock_id.rsplit(":", 1)[-1]
            )
        }
    )
