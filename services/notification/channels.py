"""How a notice reaches a party: one interface for every channel (SMS, the 12368 line, the
court app), and its implementation over the outside notice gateway
(``NoticeGatewayService``, which the agency gateway stand-in answers). A real connector
implements ``NoticeChannel`` instead.

``send`` answers a ``Receipt`` (delivered) or a ``Refusal`` (refused for good: an empty
number, no app account); a passing fault (timeout, UNAVAILABLE) raises
``ChannelUnavailable`` and the notice is sent again after the backoff. Sending an id again
is harmless: the gateway returns the first answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import grpc

from services.notification.handlers import Outgoing
from services.notification.settings import CHANNELS, NotificationSettings
from zhixing.auth import ServiceCredential
from zhixing.v1 import notice_gateway_pb2 as pb
from zhixing.v1 import notice_gateway_pb2_grpc


@dataclass(frozen=True)
class Receipt:
    receipt_id: str


@dataclass(frozen=True)
class Refusal:
    reason: str


class ChannelUnavailable(Exception):
    """The channel did not answer (timeout, connection refused, UNAVAILABLE): try again."""


class NoticeChannel(Protocol):
    async def send(self, notice: Outgoing) -> Receipt | Refusal: ...


class NoticeGatewayClient:
    """One gRPC connection to the notice gateway, with the service's credential."""

    def __init__(self, settings: NotificationSettings, credential: ServiceCredential) -> None:
        self._timeout_s = settings.call_timeout_s
        self._credential = credential
        self._channel = grpc.aio.insecure_channel(settings.gateway_target)
        self._stub = notice_gateway_pb2_grpc.NoticeGatewayServiceStub(self._channel)

    async def send(self, channel: str, notice: Outgoing) -> Receipt | Refusal:
        request = pb.SendNoticeRequest(
            notice_id=notice.notice_id, channel=channel, court_code=notice.court_code,
            case_number=notice.case_number, recipient_name=notice.recipient_name,
            recipient_ref=notice.recipient_ref, text=notice.text,
        )  # fmt: skip
        try:
            reply = await self._stub.SendNotice(
                request, timeout=self._timeout_s, metadata=self._credential.metadata()
            )
        except grpc.aio.AioRpcError as exc:
            raise ChannelUnavailable(f"{exc.code().name}: {exc.details()}") from None
        if reply.delivered:
            return Receipt(reply.receipt_id)
        return Refusal(reply.refusal or "refused")

    async def close(self) -> None:
        await self._channel.close(grace=None)


@dataclass(frozen=True)
class GatewayChannel:
    """One channel (``sms``, ``hotline_12368``, ``court_app``) through the gateway."""

    name: str
    gateway: NoticeGatewayClient

    async def send(self, notice: Outgoing) -> Receipt | Refusal:
        return await self.gateway.send(self.name, notice)


def gateway_channels(gateway: NoticeGatewayClient) -> Mapping[str, NoticeChannel]:
    return {name: GatewayChannel(name, gateway) for name in CHANNELS}
