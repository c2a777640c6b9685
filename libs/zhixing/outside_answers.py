"""The bounds of what the outside systems answer (总对总/点对点 queries, controls, banks'
deductions): an answer is an input like any request, and is bounded like one (issue 13).

An answer outside them cannot be applied as given: a value beyond ``MAX_AMOUNT_FEN`` could
overflow a case's sums (protobuf's int64 refuses them, and the worker would fail on the
same answer round after round, applying nothing else), an unknown asset kind cannot be
recorded, and an answer of endless assets would pass Kafka's message limit. Such an answer
is applied as a failed one that names what is wrong (``bounded``): a query is asked again
and, if its answers stay out of bounds, reported failing; a refusal of a control or of a
deduction fails it with that reason for an officer to see. An answer that says the outside
system acted (a control took effect, money was transferred) is never made a failure, which
would let the act be asked for again: asset control holds such a control for what was
asked, and the funds service keeps such a deduction as taken, unrecorded, for review.
"""

from __future__ import annotations

from zhixing.assets import AssetKind
from zhixing.bounds import MAX_AMOUNT_FEN, MAX_ID, MAX_NAME, MAX_TEXT
from zhixing.v1 import agency_gateway_pb2 as pb

__all__ = [
    "CONTROL_STATUSES",
    "MAX_ASSETS_PER_ANSWER",
    "QUERY_STATUSES",
    "TRANSFER_STATUSES",
    "bounded",
    "failed_answer",
    "fault_of",
]

MAX_ASSETS_PER_ANSWER = 1000
"""Assets one channel's answer for one debtor may report: far above what a registry holds
for one person or company, and few enough that an answer's events stay small."""

QUERY_STATUSES = frozenset({"found", "none", "failed"})
CONTROL_STATUSES = frozenset({"controlled", "rejected", "failed"})
TRANSFER_STATUSES = frozenset({"transferred", "rejected", "failed"})
"""What an answer may say, by the kind of request it answers (a failed answer of any kind
is how the gateway, and ``bounded``, report an answer that could not be had)."""

_KINDS = frozenset(kind.value for kind in AssetKind)


def fault_of(feedback: pb.Feedback, statuses: frozenset[str]) -> str | None:
    """What puts ``feedback``, an answer to a request whose answers say one of
    ``statuses``, out of bounds, in words an officer can act on; or None."""
    if feedback.status not in statuses:
        return f"the status {_shown(feedback.status)} is none of {', '.join(sorted(statuses))}"
    if len(feedback.error) > MAX_TEXT:
        return f"its error text has {len(feedback.error)} characters, more than {MAX_TEXT}"
    for name in ("control_ref", "bank_reference"):
        if len(getattr(feedback, name)) > MAX_ID:
            return f"its {name} has more than {MAX_ID} characters"
    for name in ("controlled_amount_fen", "transferred_amount_fen"):
        if not 0 <= getattr(feedback, name) <= MAX_AMOUNT_FEN:
            return f"its {name} {getattr(feedback, name)} is not within 0..{MAX_AMOUNT_FEN}"
    if len(feedback.assets) > MAX_ASSETS_PER_ANSWER:
        return (
            f"it reports {len(feedback.assets)} assets, more than the {MAX_ASSETS_PER_ANSWER} "
            "one answer may"
        )
    if feedback.assets and feedback.status != "found":
        return f"it says {feedback.status} yet reports {len(feedback.assets)} assets"
    for n, asset in enumerate(feedback.assets):
        if fault := _asset_fault(asset):
            return f"asset {n} ({_shown(asset.asset_key)}): {fault}"
    return None


def _asset_fault(asset: pb.AgencyAsset) -> str | None:
    if not 1 <= len(asset.asset_key) <= MAX_NAME:
        return f"its asset_key has {len(asset.asset_key)} characters, not 1..{MAX_NAME}"
    if asset.kind not in _KINDS:
        return f"the kind {_shown(asset.kind)} is not an asset kind"
    if not 0 <= asset.value_fen <= MAX_AMOUNT_FEN:
        return f"its value_fen {asset.value_fen} is not within 0..{MAX_AMOUNT_FEN}"
    if len(asset.description) > MAX_TEXT:
        return f"its description has more than {MAX_TEXT} characters"
    for name in ("holder_id", "location_division"):
        if len(getattr(asset, name)) > MAX_ID:
            return f"its {name} has more than {MAX_ID} characters"
    return None


def bounded(feedback: pb.Feedback, statuses: frozenset[str]) -> pb.Feedback:
    """``feedback`` itself, or, when it is out of bounds (``fault_of``), a failed answer to
    the same request that says why."""
    fault = fault_of(feedback, statuses)
    return feedback if fault is None else failed_answer(feedback, fault)


def failed_answer(feedback: pb.Feedback, fault: str) -> pb.Feedback:
    """A failed answer in place of ``feedback``, which cannot be applied as given because of
    ``fault``: its ids kept (so it is acknowledged and matched like the original), the
    outside system's own error kept after the fault, cut short."""
    said = f" (its error: {_shown(feedback.error, 200)})" if feedback.error else ""
    return pb.Feedback(
        feedback_id=feedback.feedback_id,
        request_id=feedback.request_id,
        status="failed",
        error=f"the outside system's answer is out of bounds: {fault}{said}",
    )


def _shown(text: str, most: int = 40) -> str:
    """A text from outside, quoted and cut short enough for a message."""
    return repr(text if len(text) <= most else text[:most] + "…")
