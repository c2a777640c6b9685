"""Routes of the transfer of disposal (移送处置权) to the priority creditor's court
(法释〔2016〕6号 items 1–2): the request and the answer. Both courts read the request and its
answer on the asset (``GET /v1/assets/{asset_id}``, field ``transfer``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.asset_control.handlers import AssetControl
from zhixing.auth import CurrentIdentity
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
    reason: Annotated[str, Field(max_length=2000)] = Field("", description="Required when refused")


class TransferView(BaseModel):
    """A request to transfer the disposal of a first seizure, and its answer."""

    status: str = Field(description="pending, agreed or refused")
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
