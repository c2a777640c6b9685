"""Asset control's HTTP API: a case's query and assets, control, disposal and leads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.asset_control.handlers import AssetControl
from services.asset_control.transfer_domain import readers
from services.asset_control.transfers_api import TransferView
from zhixing.assets import AssetKind, Channel, Measure, PriceMethod, SaleMode
from zhixing.auth import CurrentIdentity, may_read, require_visible
from zhixing.bounds import MAX_ID, Days, Fen
from zhixing.v1 import agency_gateway_pb2 as agency_pb

router = APIRouter(prefix="/v1", tags=["assets"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ControlIn(_Body):
    amount_fen: Fen | None = Field(
        None, description="Exact amount to freeze (money only; other assets are taken whole)"
    )
    control_ref: Annotated[str, Field(max_length=100)] = Field(
        "", description="Ruling or notice number of an offline control done by hand"
    )
    measure: Measure | None = Field(
        None, description="freeze, seize or detain; the usual one for the asset if left out"
    )


class Reason(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class PriceStart(_Body):
    method: PriceMethod


class PriceFixed(_Body):
    price_fen: Fen


class SaleIn(_Body):
    mode: SaleMode = SaleMode.ONLINE_AUCTION
    reason: Annotated[str, Field(max_length=2000)] = ""


class SaleCompletionIn(_Body):
    proceeds_fen: Fen = Field(description="What the buyer paid, in fen")
    sale_reference: Annotated[str, Field(min_length=1, max_length=MAX_ID)] = Field(
        description="The auction platform's or the sale's reference (one receipt per reference)"
    )


class SelfDisposalIn(_Body):
    days: Days


class LeadIn(_Body):
    description: Annotated[str, Field(min_length=1, max_length=500)]
    channel: Channel | None = None
    urgent: bool = False


class AssetIn(_Body):
    """An asset found by verifying a lead."""

    kind: AssetKind
    asset_key: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(min_length=1, max_length=500)]
    value_fen: Fen
    online_control: bool = False
    location_division: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None
    holder_id: Annotated[str, Field(max_length=18)] = ""


class LeadVerification(_Body):
    found: AssetIn | None = Field(None, description="The asset, if the lead proved true")


class RequeryView(BaseModel):
    """One re-query after 终本."""

    number: int = Field(description="1 for the first re-query after the ruling")
    round: int = Field(description="The network query round it ran")
    started_on: str
    status: str = Field(description="running, completed, or superseded (never fully answered)")
    new_assets: int = Field(
        description="Assets of value held by no control: new ones and known ones available again"
    )
    notice: str = Field(description="What the applicant was told, once completed")


class ZhongbenView(BaseModel):
    """The case's re-query after 终本 (zhongben.requery, zhongben.requery-span)."""

    ruling_number: str
    ruled_on: str
    status: str = Field(description="requerying, period_ended or resumed")
    requeries_done: int
    requeries_in_span: int = Field(description="How many re-queries the span holds")
    requeries: list[RequeryView]
    last_result: str = Field(description="The latest completed re-query's notice, if any")
    resumed_on: str
    resumed_as: str = Field(description="The 执恢 case number, once resumed")


class CaseSummary(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    needed_fen: int = Field(description="Claim + costs, in fen")
    reserved_fen: int = Field(description="Value held by controls, in fen")
    query_status: str = Field(description="running or completed")
    query_round: int = Field(description="1 at filing; each re-query after 终本 is the next")
    asset_count: int
    zhongben: ZhongbenView | None = Field(None, description="After a 终本 ruling only")


class QueryUnit(BaseModel):
    """One debtor on one channel."""

    model_config = ConfigDict(extra="allow")

    debtor: int
    channel: str
    status: str = Field(description="pending, submitted, answered or failed")
    attempts: int = Field(description="Request ids used")
    tries: int = Field(description="Submissions")
    error: str
    asset_count: int
    outcome: str | None = Field(None, description="found or none, once answered")


class NetworkQueryView(BaseModel):
    round: int
    status: str = Field(description="running or completed")
    units: list[QueryUnit]


class OutsideHoldView(BaseModel):
    request_id: str = Field(description="The failed control's request, which was answered")
    control_ref: str = Field(description="The outside system's reference for the hold")
    reported_amount_fen: int = Field(description="What it reported it holds (0: out of bounds)")
    reported_at: str
    answered: str = Field(
        description="The act on the asset since, which answers it (a control taking effect, a "
        "decline and its reason); empty: none yet"
    )


class AssetView(BaseModel):
    """An asset of a case; the fields of later steps (control, price, sale) appear as they
    happen."""

    model_config = ConfigDict(extra="allow")

    asset_id: str
    case_id: str
    court_code: str
    channel: str
    kind: str
    asset_key: str
    description: str
    holder_id: str
    value_fen: int
    control_mode: str = Field(description="online or offline")
    term_class: str
    location_division: str
    source: str = Field(description="query, lead or entrustment")
    status: str = Field(description="found, control_pending, controlled, waiting, declined, "
                        "released or lapsed")  # fmt: skip
    amount_fen: int = Field(description="Held by the control, in fen")
    reported_amount_fen: int | None = Field(
        None,
        description="What the outside system reported the control holds, when that is not "
        "what it holds (a freeze larger than asked, property reported at another value)",
    )
    transfer: TransferView | None = Field(
        None,
        description="A request to transfer its disposal to a priority creditor's court "
        "(法释〔2016〕6号), and the answer: read by both courts",
    )
    outside_holds: list[OutsideHoldView] = Field(
        default_factory=list,
        description="Controls failed here (refused, or sent too often unanswered) that the "
        "outside system then answered as taken effect: the asset may be held there with no "
        "control on record. The officer's next act answers each: a control again (check "
        "that the outside holds it once), or a decline with its reason (released there)",
    )


class LeadView(BaseModel):
    model_config = ConfigDict(extra="allow")

    lead_id: str
    case_id: str
    court_code: str
    description: str
    channel: str
    urgent: bool
    status: str = Field(description="received, verifying or verified")


class CaseAssets(BaseModel):
    case_id: str
    case_number: str
    court_code: str
    needed_fen: int
    reserved_fen: int
    query: NetworkQueryView
    assets: list[AssetView]
    leads: list[LeadView]


class ControlResult(BaseModel):
    asset_id: str
    status: str
    amount_fen: int


def _control(request: Request) -> AssetControl:
    control: AssetControl = request.app.state.asset_control
    return control


@router.get("/cases/{case_id}", summary="A case as asset control knows it: need and query")
async def get_case(case_id: str, identity: CurrentIdentity, request: Request) -> CaseSummary:
    case = await _control(request).records.case(case_id)
    require_visible(identity, case["court_code"] if case else None, f"case {case_id}")
    assert case is not None
    return CaseSummary(
        case_id=case_id,
        case_number=case["case_number"],
        court_code=case["court_code"],
        needed_fen=case["needed_fen"],
        reserved_fen=case["reserved_fen"],
        query_status=case["query"]["status"],
        query_round=case["query"]["round"],
        asset_count=len(case["assets"]),
        zhongben=_zhongben_view(case.get("zhongben"), _control(request).requery.allowed),
    )


def _zhongben_view(state: dict[str, Any] | None, allowed: int) -> ZhongbenView | None:
    if state is None:
        return None
    completed = [r for r in state["requeries"] if r["status"] == "completed"]
    return ZhongbenView.model_validate({
        **state,
        "requeries_done": len(state["requeries"]),
        "requeries_in_span": allowed,
        "last_result": completed[-1]["notice"] if completed else "",
    })  # fmt: skip


@router.get("/cases/{case_id}/assets", summary="A case's network query, assets and leads")
async def case_assets(case_id: str, identity: CurrentIdentity, request: Request) -> CaseAssets:
    control = _control(request)
    case = await control.records.case(case_id)
    require_visible(identity, case["court_code"] if case else None, f"case {case_id}")
    assert case is not None
    leads = [await control.records.lead(lead_id) for lead_id in case["leads"]]
    return CaseAssets.model_validate({
        "case_id": case_id,
        "case_number": case["case_number"],
        "court_code": case["court_code"],
        "needed_fen": case["needed_fen"],
        "reserved_fen": case["reserved_fen"],
        "query": case["query"],
        "assets": await control.records.assets_of(case),
        "leads": [lead for lead in leads if lead is not None],
    })  # fmt: skip


@router.get("/assets/{asset_id}", summary="One asset of a case")
async def get_asset(asset_id: str, identity: CurrentIdentity, request: Request) -> AssetView:
    asset = await _control(request).records.asset(asset_id)
    # Both courts of a transfer of its disposal read it (the request, the answer).
    court = next((c for c in readers(asset) if may_read(identity, c)), None) if asset else None
    require_visible(identity, court, f"asset {asset_id}")
    assert asset is not None
    return AssetView.model_validate(asset)


@router.post("/assets/{asset_id}/control", summary="Freeze, seize or detain (¶13, ¶15)")
async def control_asset(
    asset_id: str, body: ControlIn, identity: CurrentIdentity, request: Request
) -> ControlResult:
    done = await _control(request).controls.control(
        asset_id,
        identity=identity,
        amount_fen=body.amount_fen,
        control_ref=body.control_ref,
        measure=body.measure,
    )
    return ControlResult.model_validate(done)


@router.post(
    "/assets/{asset_id}/over-seizure-exception",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Approve controlling an indivisible asset beyond the need (leader)",
)
async def approve_exception(
    asset_id: str, body: Reason, identity: CurrentIdentity, request: Request
) -> None:
    await _control(request).controls.approve_exception(asset_id, body.reason, identity=identity)


@router.post(
    "/assets/{asset_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Decide not to control an asset found",
)
async def decline(asset_id: str, body: Reason, identity: CurrentIdentity, request: Request) -> None:
    await _control(request).controls.decline(asset_id, body.reason, identity=identity)


@router.post(
    "/assets/{asset_id}/renewal",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Renew a control before its term ends (续行)",
)
async def renew(asset_id: str, identity: CurrentIdentity, request: Request) -> None:
    await _control(request).controls.renew(asset_id, identity=identity)


@router.post(
    "/assets/{asset_id}/release",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Release a control (解除); the next waiting seizure takes effect",
)
async def release(asset_id: str, body: Reason, identity: CurrentIdentity, request: Request) -> None:
    await _control(request).controls.release(asset_id, body.reason, identity=identity)


@router.post(
    "/assets/{asset_id}/reference-price",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Start fixing the disposal reference price (¶16)",
)
async def start_price(
    asset_id: str, body: PriceStart, identity: CurrentIdentity, request: Request
) -> None:
    await _control(request).disposal.start_reference_price(asset_id, body.method, identity=identity)


@router.post(
    "/assets/{asset_id}/reference-price/fixed",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Record the fixed reference price",
)
async def fix_price(
    asset_id: str, body: PriceFixed, identity: CurrentIdentity, request: Request
) -> None:
    await _control(request).disposal.fix_reference_price(
        asset_id, body.price_fen, identity=identity
    )


@router.post(
    "/assets/{asset_id}/sale",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Approve and start the sale: online auction first (¶18); not by the controller",
)
async def start_sale(
    asset_id: str, body: SaleIn, identity: CurrentIdentity, request: Request
) -> None:
    await _control(request).disposal.start_sale(asset_id, body.mode, body.reason, identity=identity)


@router.post(
    "/assets/{asset_id}/sale/completion",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Record the sale concluded (成交) and its proceeds; the same again changes nothing",
)
async def complete_sale(
    asset_id: str, body: SaleCompletionIn, identity: CurrentIdentity, request: Request
) -> None:
    await _control(request).disposal.complete_sale(
        asset_id, body.proceeds_fen, body.sale_reference, identity=identity
    )


@router.post(
    "/assets/{asset_id}/self-disposal",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Permit the debtor to sell the asset himself (¶17)",
)
async def self_disposal(
    asset_id: str, body: SelfDisposalIn, identity: CurrentIdentity, request: Request
) -> None:
    await _control(request).disposal.permit_self_disposal(asset_id, body.days, identity=identity)


@router.post(
    "/cases/{case_id}/leads",
    status_code=status.HTTP_201_CREATED,
    summary="Record an asset lead (urgent: the clock of asset.urgent-lead runs)",
)
async def add_lead(
    case_id: str, body: LeadIn, identity: CurrentIdentity, request: Request
) -> dict[str, str]:
    lead_id = await _control(request).leads.add_lead(
        case_id,
        body.description,
        body.channel.value if body.channel else "",
        body.urgent,
        identity=identity,
    )
    return {"lead_id": lead_id}


@router.post(
    "/leads/{lead_id}/verification-start",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Start verifying a lead",
)
async def start_verification(lead_id: str, identity: CurrentIdentity, request: Request) -> None:
    await _control(request).leads.start_lead_verification(lead_id, identity=identity)


@router.post("/leads/{lead_id}/verification", summary="Record what verifying a lead found")
async def verify_lead(
    lead_id: str, body: LeadVerification, identity: CurrentIdentity, request: Request
) -> dict[str, str]:
    found = body.found
    asset = None
    if found is not None:
        asset = agency_pb.AgencyAsset(
            asset_key=found.asset_key,
            kind=found.kind.value,
            description=found.description,
            holder_id=found.holder_id,
            value_fen=found.value_fen,
            online_control=found.online_control,
            location_division=found.location_division or "",
        )
    asset_id = await _control(request).leads.verify_lead(lead_id, asset, identity=identity)
    return {"lead_id": lead_id, "asset_id": asset_id}


@router.post(
    "/cases/{case_id}/queries/retry",
    summary="Try the channels that kept failing again",
)
async def retry_channels(
    case_id: str, identity: CurrentIdentity, request: Request
) -> dict[str, int]:
    retried = await _control(request).query.retry_failed_channels(case_id, identity=identity)
    return {"channels_retried": retried}
