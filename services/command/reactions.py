"""What the command service does when another service's event calls for it."""

from __future__ import annotations

from services.command.handlers import CommandActions
from zhixing.breaches import OnBreach


def reconsideration_lapses(actions: CommandActions) -> OnBreach:
    """When a command's time to ask for reconsideration (rule ``command.reconsideration``)
    passes unused, the command stands."""
    return OnBreach(
        {
            "command.reconsideration": lambda breached, _: actions.close_reconsideration(
                breached.clock.subject_id
            )
        }
    )
