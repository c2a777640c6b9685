"""How the funds service reaches the banks' deduction (扣划) systems: the ``TransferClient``
interface, and its gRPC implementation against the agency gateway stand-in. A real
connector implements the same calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zhixing.auth import ServiceCredential
from zhixing.gateway_client import GatewayClient, GatewayUnavailable
from zhixing.polling import PollingSettings
from zhixing.ports import AGENCY_GATEWAY_TARGET
from zhixing.v1 import agency_gateway_pb2 as pb

TRANSFER = "transfer"
"""The kind of request whose feedback this service fetches (asset control fetches its own)."""


TransferUnavailable = GatewayUnavailable
"""The call got no answer (timeout, connection refused, server error)."""


class TransferClient(Protocol):
    async def submit_transfer(self, request: pb.SubmitTransferRequest) -> None: ...

    async def fetch_feedback(self, max_items: int) -> Sequence[pb.Feedback]: ...

    async def ack_feedback(self, feedback_ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class TransferSettings(PollingSettings):
    """Where the deduction systems are, and how patiently the funds service asks them."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_FUNDS_TRANSFER_", extra="ignore")

    target: str = Field(AGENCY_GATEWAY_TARGET, description="host:port of the agency gateway")
    call_timeout_s: float = Field(2.0, gt=0, description="Deadline of one gRPC call")
    answer_timeout_s: float = Field(
        600.0, gt=0, description="Send a deduction again when it has no answer after this long"
    )
    max_attempts: int = Field(
        5, ge=1, description="Sends of one deduction before it is reported as failed"
    )


class GrpcTransferClient(GatewayClient):
    """The agency gateway over gRPC (``zhixing.gateway_client``), fetching the answers to
    transfers only."""

    def __init__(self, settings: TransferSettings, credential: ServiceCredential) -> None:
        super().__init__(settings.target, settings.call_timeout_s, credential, [TRANSFER])
