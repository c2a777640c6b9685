"""How asset control reaches the outside query and control systems: the ``AgencyClient``
interface, and its gRPC implementation against the agency gateway. A real connector to
总对总/点对点 implements the same calls."""

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

FEEDBACK_KINDS = ("query", "control")
"""The kinds of request asset control submits, whose feedback it fetches."""


AgencyUnavailable = GatewayUnavailable
"""The call did not get an answer (timeout, connection refused, server error)."""


class AgencyClient(Protocol):
    async def submit_queries(self, requests: Sequence[pb.SubmitQueryRequest]) -> None:
        """A case's queries together; all taken, or ``AgencyUnavailable`` (submitting
        the same request ids again is harmless)."""

    async def submit_control(self, request: pb.SubmitControlRequest) -> None: ...

    async def fetch_feedback(self, max_items: int) -> Sequence[pb.Feedback]:
        """Feedback ready for asset control's requests (queries, controls), none other."""

    async def ack_feedback(self, feedback_ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class AgencySettings(PollingSettings):
    """Where the outside systems are, and how patiently asset control talks to them."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_AGENCY_", extra="ignore")

    target: str = Field(AGENCY_GATEWAY_TARGET, description="host:port of the agency gateway")
    call_timeout_s: float = Field(2.0, gt=0, description="Deadline of one gRPC call")
    feedback_timeout_s: float = Field(
        600.0, gt=0, description="Resubmit a request with no feedback after this long"
    )
    max_attempts: int = Field(
        5, ge=1, description="Tries per channel before it is reported as failing"
    )
    backoff_base_s: float = Field(30.0, gt=0, description="First retry delay; doubles per try")
    backoff_max_s: float = Field(3600.0, gt=0, description="Longest retry delay")
    max_in_flight: int = Field(
        16,
        ge=1,
        description="Submissions the worker has open at once: a case's queries (one call) "
        "or one control (each holds a Redis connection while it records the outcome)",
    )

    def backoff_s(self, attempts: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempts - 1)))


class GrpcAgencyClient(GatewayClient):
    """The agency gateway over gRPC (``zhixing.gateway_client``), fetching only the answers
    to asset control's own requests: the worker acknowledges every feedback it fetched, an
    unknown one too, so a transfer's answer fetched here would be lost to the funds service
    that asked for it."""

    def __init__(self, settings: AgencySettings, credential: ServiceCredential) -> None:
        super().__init__(settings.target, settings.call_timeout_s, credential, FEEDBACK_KINDS)
