"""Wires the audit notary service."""

from __future__ import annotations

from services.audit_notary.handlers import CheckpointLoop, Notary, NotarySettings, signing_key
from services.audit_notary.http_api import router
from zhixing.builder import About, HostBuilder, Infrastructure
from zhixing.projection import Projection
from zhixing.service import ServiceHost
from zhixing.topics import AUDIT_RECORDS

ABOUT = About(
    name="audit_notary",
    title="Zhixing audit notary (留痕公证)",
    description="Signed checkpoints of the audit chain, and Merkle proofs against them.",
)


def bootstrap(
    infra: Infrastructure | None = None, *, notary: NotarySettings | None = None
) -> ServiceHost:
    service = HostBuilder(ABOUT, infra)
    settings = notary or NotarySettings()
    anchor = Notary(service.ctx, signing_key(settings), settings)
    service.routes(router, notary=anchor)
    service.project(Projection("chain", [AUDIT_RECORDS], anchor))
    service.run(CheckpointLoop(anchor))
    return service.build()
