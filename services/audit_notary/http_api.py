"""The notary's HTTP API: the latest signed checkpoint, and proofs against it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.audit_notary.handlers import Notary
from zhixing.anchor import checkpoint_view
from zhixing.auth import CurrentIdentity
from zhixing.errors import NotFound

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class Checkpoint(BaseModel):
    """A signed checkpoint of the audit chain."""

    chain: str
    size: int = Field(description="Records covered")
    root: str = Field(description="RFC 6962 Merkle root of their leaf hashes, hex")
    last_record_hash: str
    signed_at: str = Field(description="RFC 3339")
    key_id: str
    signature: str = Field(description="Ed25519 signature over signed_text, hex")
    signed_text: str


class InclusionProof(BaseModel):
    seq: int
    size: int = Field(description="Records in the tree the proof is against")
    leaf_hash: str
    root: str
    proof: list[str] = Field(description="The audit path, leaf to root, hex")
    checkpoint_size: int
    checkpoint_root: str


class ConsistencyProof(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    from_root: str
    to_root: str
    proof: list[str]


def _notary(request: Request) -> Notary:
    notary: Notary = request.app.state.notary
    return notary


@router.get("/checkpoint", summary="The latest signed checkpoint of the audit chain")
async def checkpoint(identity: CurrentIdentity, request: Request) -> Checkpoint:
    """Size, Merkle root (RFC 6962), last record hash, time, key id, and the Ed25519
    signature over ``signed_text``. Verify it with the notary's public key, obtained out of
    band (`zhixing audit keygen` writes it beside the private key)."""
    latest = await _notary(request).latest()
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return Checkpoint.model_validate(checkpoint_view(latest))


@router.get("/records/{seq}/proof", summary="Proof that one record is in a signed checkpoint")
async def record_proof(
    seq: Annotated[int, Path(ge=0, le=2**62)],
    identity: CurrentIdentity,
    request: Request,
    size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> InclusionProof:
    """The record's leaf hash (SHA-256 of 0x00 and the record's canonical JSON), its audit
    path and the root of the tree of ``size`` records (default: the latest checkpoint).
    Nothing of the record's content is given: the overseer hashes the record they hold."""
    return InclusionProof.model_validate(await _notary(request).inclusion(seq, size))


@router.get("/consistency", summary="Proof that a later checkpoint extends an earlier one")
async def consistency(
    identity: CurrentIdentity,
    request: Request,
    from_size: Annotated[int, Query(alias="from", ge=1, le=2**62)],
    to_size: Annotated[int | None, Query(alias="to", ge=1, le=2**62)] = None,
) -> ConsistencyProof:
    return ConsistencyProof.model_validate(await _notary(request).consistency(from_size, to_size))
