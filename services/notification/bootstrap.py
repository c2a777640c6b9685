"""Wires the notification service."""

from __future__ import annotations

from collections.abc import Mapping

from services.notification.channels import NoticeChannel, NoticeGatewayClient, gateway_channels
from services.notification.handlers import Notices
from services.notification.http_api import page, router
from services.notification.reactions import NodeFacts
from services.notification.reads import Reads
from services.notification.repository import NotificationRecords
from services.notification.settings import NotificationSettings
from services.notification.worker import NoticeSender
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.service import ServiceHost
from zhixing.topics import ASSET_EVENTS, CASE_EVENTS, COMMAND_EVENTS, FUNDS_EVENTS

ABOUT = About(
    name="notification",
    title="Zhixing notification (告知当事人)",
    description="Each node of a case told to its parties (SMS, the 12368 line, the court app) "
    "with receipts; undelivered notices listed for the court; the public progress page "
    "opened with a case query code (案件查询码).",
)


def bootstrap(
    infra: Infrastructure | None = None,
    *,
    settings: NotificationSettings | None = None,
    channels: Mapping[str, NoticeChannel] | None = None,
) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    ctx = service.ctx
    settings = settings or NotificationSettings()
    records = NotificationRecords(ctx.redis, ctx.keys)
    notices = Notices(ctx, records, settings)
    service.routes(router, page, reads=Reads(ctx, records, settings), notices=notices)
    service.react("nodes", [CASE_EVENTS, ASSET_EVENTS, FUNDS_EVENTS, COMMAND_EVENTS],
                  NodeFacts(notices))  # fmt: skip
    if channels is None:
        gateway = NoticeGatewayClient(settings, ctx.service_credential())
        service.run(NoticeSender(notices, gateway_channels(gateway), close=gateway.close))
    else:
        service.run(NoticeSender(notices, channels))
    return service.build()
