"""Transfer of disposal (移送处置权) to the priority creditor's court, 法释〔2016〕6号 items 1–2:
the pure rules (no I/O).

The court of the first seizure (首先查封法院) disposes of the asset. A court enforcing a
claim that ranks before it on the asset (a mortgage, a priority right: 优先债权执行法院) may
ask for the disposal once more than the catalogue's days (disposal.transfer-request-gate)
have passed since the first seizure and no sale has started (no auction notice, no sale by
agreement); the first-seizing court answers within its clock (disposal.transfer-answer).

What moves on agreement is the right to dispose of the asset, with what item 3 lets the
receiving court do under the transfer letter: price it, sell it, and keep it seized (renew
the control). So the first seizure's case asset is handled by the requesting court from
then on (its ``court_code``, and its clocks through AssetCourtChanged); the first seizure
stays the first seizure of its case (``case_id``), and that case stays with its own court.
The record keeps ``transfer``: the request and its answer, read by both courts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.asset_control.domain import AssetStatus
from zhixing.assets import LIQUID_KINDS, AssetKind
from zhixing.errors import Conflict
from zhixing.periods import Unit, add_months
from zhixing.rules import Period

REQUEST_GATE = "disposal.transfer-request-gate"
ANSWER_CLOCK = "disposal.transfer-answer"


class TransferStatus:
    PENDING = "pending"
    AGREED = "agreed"
    REFUSED = "refused"
    # The first seizure ended (released, lapsed) while the request awaited its answer.
    CLOSED = "closed"


class TransferRefused(Conflict):
    """A request the gate refuses (409); the message names the rule."""

    def __init__(self, why: str) -> None:
        super().__init__(f"{why} (rule {REQUEST_GATE}, 法释〔2016〕6号 item 1)")


def first_day_allowed(first_seized_on: dt.date, period: Period) -> dt.date:
    """The first day on which more than ``period`` has passed since the first seizure.

    The seizure's day is not counted and a day period ends on its Nth day (RULES.md
    "Counting periods"), so "more than N days" holds from the day after. The rest-day
    extension of a period's last day is not applied: it gives the one who must act more
    time, and here it would only make the priority creditor wait longer.
    """
    if period.unit is Unit.CALENDAR_DAYS:
        last = first_seized_on + dt.timedelta(days=period.limit)
    elif period.unit is Unit.CALENDAR_MONTHS:
        last = add_months(first_seized_on, period.limit)
    else:
        raise ValueError(f"{REQUEST_GATE} is counted in days or months, not {period.unit}")
    return last + dt.timedelta(days=1)


def is_first_seizure(record: dict[str, Any], queue: list[str]) -> bool:
    """Whether ``record`` is the control in effect that presides over its outside asset."""
    return (
        record["status"] == AssetStatus.CONTROLLED
        and bool(queue)
        and queue[0] == record["asset_id"]
    )


def has_standing(record: dict[str, Any], waiting: list[dict[str, Any]], court: str) -> bool:
    """Whether ``court`` may ask for the disposal of ``record``: it holds a waiting seizure
    (轮候) on the same outside asset, for the case enforcing its priority claim. Only such
    a court learns of the first seizure through its own seizure; any other is answered as
    if the asset did not exist, so a request cannot be used to read another court's asset."""
    return any(
        w["court_code"] == court
        and w["asset_key"] == record["asset_key"]
        and w["status"] == AssetStatus.WAITING
        for w in waiting
    )


def seizure_day(record: dict[str, Any]) -> str:
    """The first seizure's day (ISO), or "" if the record does not keep it.

    ``controlled_on`` is set whenever a control takes effect (at once, by hand, or a
    waiting seizure's promotion) since the transfer of disposal was built. A control that
    took effect before then keeps no day at all (no other field of the record is dated),
    so nothing is guessed: the request is refused, saying how the day can be shown."""
    return str(record.get("controlled_on") or "")


def check_disposable(record: dict[str, Any], queue: list[str]) -> None:
    """Refuse (409, naming the gate) unless ``record`` is still a first seizure in effect
    whose disposal has not begun: checked on the request, and again on agreeing, since the
    seizure may have ended or a sale started while the request awaited its answer."""
    asset_id = record["asset_id"]
    if not is_first_seizure(record, queue):
        raise TransferRefused(
            f"asset {asset_id} is not under a first seizure (首先查封) in effect: it is "
            f"{record['status']}"
        )
    if AssetKind(record["kind"]) in LIQUID_KINDS:
        raise TransferRefused("money is deducted, not disposed of: there is no disposal to move")
    if record.get("sale_mode") or record.get("self_disposal_days"):
        raise TransferRefused(
            f"the disposal of asset {asset_id} has begun (the sale or the debtor's own sale "
            "started: an auction notice is out)"
        )


def check_request(
    record: dict[str, Any], queue: list[str], requesting_court: str, today: dt.date,
    period: Period,
) -> str:  # fmt: skip
    """The first seizure's day if a transfer of ``record``'s disposal may be asked for by
    ``requesting_court`` today; else the refusal, naming the gate. The caller checked the
    court's standing (``has_standing``) first."""
    asset_id = record["asset_id"]
    transfer = record.get("transfer") or {}
    if transfer.get("status") == TransferStatus.PENDING:
        raise TransferRefused(
            f"a transfer of the disposal of asset {asset_id} was asked for already by court "
            f"{transfer['requesting_court']} on {transfer['requested_on']} and awaits its answer"
        )
    if transfer.get("status") == TransferStatus.AGREED:
        raise TransferRefused(
            f"the disposal of asset {asset_id} was transferred already to court "
            f"{transfer['requesting_court']}"
        )
    check_disposable(record, queue)
    seized_on = seizure_day(record)
    if not seized_on:
        raise TransferRefused(
            f"the day of the first seizure of asset {asset_id} was not recorded (it was seized "
            "before the platform kept the day): ask court "
            f"{record['court_code']} by letter with the seizure ruling, as 法释〔2016〕6号 "
            "item 1 provides / 首封日期未记录，请持查封裁定书面商请首先查封法院"
        )
    first = dt.date.fromisoformat(seized_on)
    allowed = first_day_allowed(first, period)
    if today < allowed:
        raise TransferRefused(
            f"first seized on {seized_on}: {period.describe()} have not passed; a transfer "
            f"may be asked for from {allowed.isoformat()} / 首先查封之日起未满期限"
        )
    return seized_on


def pending_transfer(record: dict[str, Any], answering_court: str) -> dict[str, Any]:
    """The request awaiting ``answering_court``'s answer, or the refusal."""
    transfer = record.get("transfer") or {}
    if transfer.get("status") != TransferStatus.PENDING:
        raise Conflict(
            f"no transfer of the disposal of asset {record['asset_id']} awaits an answer"
        )
    if transfer["first_court"] != answering_court:
        raise Conflict(f"the request is answered by court {transfer['first_court']}")
    return transfer


def readers(record: dict[str, Any]) -> list[str]:
    """The courts that read the asset: its court, and the first court of a transfer (the
    case's court). The requesting court reads the asset once it disposes of it (then it is
    the asset's court), never by asking: it reads its request and the answer through
    ``transfer_readers``."""
    transfer = record.get("transfer") or {}
    courts = [record["court_code"], transfer.get("first_court")]
    return [c for c in dict.fromkeys(courts) if c]


def transfer_readers(record: dict[str, Any]) -> list[str]:
    """The courts that read the request of a transfer and its answer: the asset's readers
    and the court that asked, whatever the answer (a refusal tells it why)."""
    transfer = record.get("transfer") or {}
    courts = [record["court_code"], transfer.get("first_court"), transfer.get("requesting_court")]
    return [c for c in dict.fromkeys(courts) if c]
