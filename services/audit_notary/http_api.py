"""The notary's HTTP API: the latest signed checkpoint, and proofs against it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from services.audit_notary.handlers import Notary
from zhixing.anchor import checkpoint_view
from zhixing.auth import CurrentIdentity
from zhixing.errors import NotFound

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def _notary(request: Request) -> Notary:
    notary: Notary = request.app.state.notary
    return notary


@router.get("/checkpoint", summary="The latest signed checkpoint of the audit chain")
async def checkpoint(identity: CurrentIdentity, request: Request) -> dict[str, Any]:
    """Size, Merkle root (RFC 6962), last record hash, time, key id, and the Ed25519
    signature over ``signed_text``. Verify it with the notary's public key, obtained out of
    band (`zhixing audit keygen` writes it beside the private key)."""
    latest = await _notary(request).latest()
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return checkpoint_view(latest)


@router.get("/records/{seq}/proof", summary="Proof that one record is in a signed checkpoint")
async def record_proof(
    seq: Annotated[int, Path(ge=0, le=2**62)],
    identity: CurrentIdentity,
    request: Request,
    size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    """The record's leaf hash (SHA-256 of 0x00 and the record's canonical JSON), its audit
    path and the root of the tree of ``size`` records (default: the latest checkpoint).
    Nothing of the record's content is given: the overseer hashes the record they hold."""
    return await _notary(request).inclusion(seq, size)


@router.get("/consistency", summary="Proof that a later checkpoint extends an earlier one")
async def consistency(
    identity: CurrentIdentity,
    request: Request,
    from_size: Annotated[int, Query(alias="from", ge=1, le=2**62)],
    to_size: Annotated[int | None, Query(alias="to", ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    return await _notary(request).consistency(from_size, to_size)
