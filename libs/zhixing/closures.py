"""A closed case (结案) takes no new enforcement measure: no control, no deduction, no new
disposal, no entrustment. Closure is for good (a 终本 case is resumed as a new 执恢 case,
never reopened), so the services that act on a case keep its closure from ``CaseClosed``
and refuse with the rule that bars the act:

- a case ended this round (终结本次执行, 终本): property found later is controlled in the
  执恢 case that resumes it (rule ``zhongben.after-ruling``: the applicant may resume at
  any time; 终本规定 art 9);
- a case closed any other way (执行完毕, 终结执行, 销案, 不予执行, 驳回申请): enforcement is
  over (rule ``case.close``).

Acts that keep things as they are or settle what was done stay allowed: a release, a
renewal (a 终本 case keeps its seizures, and a lapse would harm the applicant), a sale or
a deduction already under way answering, money arriving and being paid out. Credit keeps
its own rule (a 终本 case still takes measures against a debtor who has not performed:
``services.credit.domain.require_open``).
"""

from __future__ import annotations

from collections.abc import Mapping

from zhixing.errors import Conflict

__all__ = ["AFTER_RULING", "CASE_CLOSE", "ENDED_THIS_ROUND", "closure_of", "refuse_if_closed"]

ENDED_THIS_ROUND = "终结本次执行"
"""``CaseClosed.method`` of a case ended this round (终本)."""
CASE_CLOSE = "case.close"
AFTER_RULING = "zhongben.after-ruling"


def closure_of(method: str, closed_on: str) -> dict[str, str]:
    """A closure as the services keep it (``refuse_if_closed`` reads it)."""
    return {"closed_as": method, "closed_on": closed_on}


def refuse_if_closed(kept: Mapping[str, str], case: str, act: str) -> None:
    """Refuse ``act`` (409) on ``case`` (its number, or id) if ``kept`` holds its closure
    (``closure_of``), naming the rule that bars it."""
    method = kept.get("closed_as", "")
    if not method:
        return
    on = kept.get("closed_on", "")
    if method == ENDED_THIS_ROUND:
        raise Conflict(
            f"case {case} ended this round (终本) on {on}: {act} is for the 执恢 case that "
            f"resumes it; resume enforcement first (rule {AFTER_RULING})"
        )
    raise Conflict(
        f"case {case} was closed as {method} on {on}: {act} on a closed case is refused "
        f"(rule {CASE_CLOSE})"
    )
