"""Routes of the transfer of disposal (移送处置权) to the priority creditor's court
(法释〔2016〕6号 items 1–2): the request, the answer, and the reading of both. The asset's
courts read them on the asset too (``GET /v1/assets/{asset_id}``, field ``transfer``); the
requesting court reads only the request and its answer here, never the asset itself, until
the disposal is transferred to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.asset_control.handlers import AssetControl
from services.asset_control.transfer_domain import transfer_readers
from zhixing.auth import CurrentIdentity, may_read, require_visible
from zhixing.bounds import MAX_ID

router = APIRouter(prefix="/v1", tags=["assets"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TransferRequestIn(_Body):
    requesting_case_number: Annotated[str, Field(min_length=1, max_length=MAX_ID)] = Field(
        description="The requesting court's case enforcing the priority claim (案号)"
    )
    priority_claim: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="The claim ranking before the first seizure on the asset (e.g. the "
        "mortgage) and the judgment confirming it"
    )


class TransferAnswerIn(_Body):
    agreed: bool = Field(description="True: the disposal moves to the requesting court")
    reason: Annotated[str, Field(max_length=2000)] = Field(
        "",
        description="Required when refused: the legal reason for keeping the disposal (e.g. "
        "the priority claim is not established, or the disposal is under way), sent to the "
        "requesting court",
    )


class TransferView(BaseModel):
    """A request to transfer the disposal of a first seizure, and its answer."""

    status: str = Field(
        description="pending, agreed, refused, or closed (the first seizure was released or "
        "lapsed before the answer: the service closed the request, agreed false)"
    )
    first_court: str = Field(description="The court of the first seizure (首先查封法院)")
    requesting_court: str = Field(description="The priority creditor's court (优先债权执行法院)")
    requesting_case_number: str
    priority_claim: str
    first_seized_on: str = Field(description="The day the first seizure took effect")
    requested_by: str
    requested_on: str
    agreed: bool | None = Field(description="The answer, once given")
    reason: str
    answered_by: str
    answered_on: str


def _control(request: Request) -> AssetControl:
    control: AssetControl = request.app.state.asset_control
    return control


@router.post(
    "/assets/{asset_id}/disposal-transfer-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Ask the first-seizing court to transfer the disposal (priority creditor's court)",
)
async def request_transfer(
    asset_id: str, body: TransferRequestIn, identity: CurrentIdentity, request: Request
) -> TransferView:
    transfer = await _control(request).transfers.request(
        asset_id, body.requesting_case_number, body.priority_claim, identity=identity
    )
    return TransferView.model_validate(transfer)


@router.get(
    "/assets/{asset_id}/disposal-transfer-requests",
    summary="The last request to transfer the disposal and its answer (both courts)",
)
async def get_transfer(asset_id: str, identity: CurrentIdentity, request: Request) -> TransferView:
    asset = await _control(request).records.asset(asset_id)
    transfer = asset.get("transfer") if asset else None
    courts = transfer_readers(asset) if asset and transfer else []
    court = next((c for c in courts if may_read(identity, c)), None)
    # An asset without a request, and one the caller may not read, are both unknown.
    require_visible(identity, court, f"disposal transfer of asset {asset_id}")
    assert transfer is not None
    return TransferView.model_validate(transfer)


@router.post(
    "/assets/{asset_id}/disposal-transfer-requests/answer",
    summary="Agree to transfer the disposal, or refuse with a reason (first-seizing court)",
)
async def answer_transfer(
    asset_id: str, body: TransferAnswerIn, identity: CurrentIdentity, request: Request
) -> TransferView:
    transfer = await _control(request).transfers.answer(
        asset_id, body.agreed, body.reason, identity=identity
    )
    return TransferView.model_validate(transfer)
