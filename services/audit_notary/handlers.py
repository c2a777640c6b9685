"""The audit notary (公证): anchors the command service's audit chain outside its Redis.

It follows the chain from the records the command service publishes with every batch
(``AuditRecordsAppended`` on ``zhixing.audit.records``): each record must be the next
position, link to the one before and match its own hash, or the notary raises an alarm and
signs nothing more. It keeps the RFC 6962 leaf hash of every record, and signs checkpoints
(size, Merkle root, last record hash, time) with an Ed25519 key read from a file that no
Redis ever holds, published on ``zhixing.audit.checkpoints``. From the leaf hashes it
answers inclusion proofs (one record in a checkpoint) and consistency proofs (a checkpoint
extends an earlier one). Its records are kept by ``repository.NotaryRecords``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.audit_notary.repository import NotaryRecords
from zhixing.anchor import ChainFollower, load_signing_key, sign_checkpoint
from zhixing.courts import SUPREME_COURT
from zhixing.errors import Conflict, NotFound
from zhixing.events import Event
from zhixing.merkle import Frontier, consistency_proof, inclusion_proof, root_of
from zhixing.polling import PollingWorker
from zhixing.projection import Transaction
from zhixing.service import ServiceContext
from zhixing.v1 import audit_events_pb2, envelope_pb2

log = structlog.get_logger(__name__)

ACTOR = envelope_pb2.Actor(
    kind=envelope_pb2.ACTOR_KIND_SERVICE, id="svc:audit_notary", role="service"
)


class NotarySettings(BaseSettings):
    """Where the signing key is, and how often the notary signs."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_AUDIT_", extra="ignore")

    signing_key_file: Path = Field(
        Path(".data/keys/audit-signing.pem"),
        description="PEM Ed25519 private key of the notary (never in Redis); `zhixing audit "
        "keygen` writes a pair",
    )
    checkpoint_interval_s: float = Field(
        60.0, ge=0, description="Sign at most this often (injected clock), when records grew"
    )
    checkpoint_records: int = Field(
        1000, ge=1, description="... or as soon as this many records were appended unsigned"
    )
    poll_interval_s: float = Field(
        1.0, gt=0, description="Wall-clock pause between looks at the chain's growth"
    )


class Notary:
    def __init__(
        self, ctx: ServiceContext, key: Ed25519PrivateKey, settings: NotarySettings,
        chain: str = "command",
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.settings = settings
        self.records = NotaryRecords(ctx.redis, ctx.keys, chain)
        self.key = key
        self.chain = chain
        self._frontier = Frontier()  # the signer's tree, caught up from the leaves

    # --- following the chain (a projection of zhixing.audit.records) ---------------------

    async def state(self) -> tuple[int, str, str]:
        return await self.records.state()

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        size, last_hash, alarm = await self.state()
        follower = ChainFollower(size, last_hash)
        leaves: list[bytes] = []
        for event in events:
            if not isinstance(appended := event.payload, audit_events_pb2.AuditRecordsAppended):
                continue
            if appended.chain != self.chain or alarm:
                continue
            for offset, raw in enumerate(appended.records):
                seq = appended.first_seq + offset
                if seq < follower.size:
                    continue  # already followed (a batch published again)
                try:
                    leaves.append(follower.follow(raw))
                except ValueError as exc:
                    alarm = f"the chain broke at record {seq}: {exc}"
                    log.error("AUDIT CHAIN BROKEN: the notary signs nothing more", reason=alarm)
                    break
        self.records.followed(tx.pipe, leaves, follower.size, follower.last_hash, alarm)

    # --- signing --------------------------------------------------------------------------

    async def latest(self) -> audit_events_pb2.AuditCheckpoint | None:
        return await self.records.latest()

    async def checkpoint(self, *, force: bool = False) -> audit_events_pb2.AuditCheckpoint | None:
        """Sign the chain as followed so far if it grew (and the interval passed, or enough
        records are unsigned, or ``force``); the new checkpoint, or None."""
        size, last_hash, alarm = await self.state()
        if alarm:
            return None
        latest = await self.latest()
        signed_size = latest.size if latest else 0
        if size <= signed_size:
            return None
        now = self.ctx.clock.now()
        if not force and latest is not None:
            since = now - latest.signed_at.ToDatetime(tzinfo=dt.UTC)
            interval = dt.timedelta(seconds=self.settings.checkpoint_interval_s)
            if since < interval and size - signed_size < self.settings.checkpoint_records:
                return None
        if self._frontier.size > size:
            self._frontier = Frontier()  # the leaves were rebuilt (a replay): catch up anew
        for leaf in await self.records.leaves(self._frontier.size, size - 1):
            self._frontier.append(leaf)
        root = self._frontier.root()
        signed = sign_checkpoint(
            self.key, chain=self.chain, size=size, root=root, last_record_hash=last_hash, at=now
        )
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            self.records.save_checkpoint(pipe, signed)
            self.ctx.stage(pipe, signed, aggregate_id=self.chain, court_code=SUPREME_COURT,
                           actor=ACTOR)  # fmt: skip
            await pipe.execute()
        log.info("audit checkpoint signed", size=size, root=signed.root)
        return signed

    # --- proofs -----------------------------------------------------------------------------

    async def _leaves(self, size: int) -> list[bytes]:
        return await self.records.leaves(0, size - 1)

    async def _signed_size(self, size: int | None) -> tuple[int, audit_events_pb2.AuditCheckpoint]:
        latest = await self.latest()
        if latest is None:
            raise NotFound("no checkpoint has been signed yet")
        if size is None:
            return latest.size, latest
        if not 0 < size <= latest.size:
            raise Conflict(f"size {size} is not within the signed chain (1 to {latest.size})")
        return size, latest

    async def inclusion(self, seq: int, size: int | None) -> dict[str, object]:
        """The audit path of record ``seq`` in the tree of ``size`` records (default: the
        latest checkpoint's), with that tree's root."""
        tree_size, latest = await self._signed_size(size)
        if not 0 <= seq < tree_size:
            raise NotFound(f"record {seq} is not among the {tree_size} records proven")
        leaves = await self._leaves(tree_size)
        return {
            "seq": seq, "size": tree_size, "leaf_hash": leaves[seq].hex(),
            "root": root_of(leaves).hex(),
            "proof": [h.hex() for h in inclusion_proof(seq, leaves)],
            "checkpoint_size": latest.size, "checkpoint_root": latest.root,
        }  # fmt: skip

    async def consistency(self, old_size: int, new_size: int | None) -> dict[str, object]:
        tree_size, _ = await self._signed_size(new_size)
        if not 0 < old_size <= tree_size:
            raise Conflict(f"from must be 1 to {tree_size}")
        leaves = await self._leaves(tree_size)
        return {
            "from": old_size, "to": tree_size,
            "from_root": root_of(leaves[:old_size]).hex(), "to_root": root_of(leaves).hex(),
            "proof": [h.hex() for h in consistency_proof(old_size, leaves)],
        }  # fmt: skip


class CheckpointLoop(PollingWorker):
    """Signs checkpoints as the chain grows, one look per ``poll_interval_s`` (wall-clock
    time), whatever the last look signed."""

    name = "checkpoints"

    def __init__(self, notary: Notary) -> None:
        super().__init__(notary.settings.poll_interval_s)
        self.notary = notary

    async def step(self) -> int:
        await self.notary.checkpoint()
        return 0  # rest a whole interval between looks


def signing_key(settings: NotarySettings) -> Ed25519PrivateKey:
    try:
        return load_signing_key(settings.signing_key_file)
    except FileNotFoundError:
        raise SystemExit(
            f"the audit notary's signing key {settings.signing_key_file} is missing; "
            "`zhixing audit keygen` writes a key pair (ZHIXING_AUDIT_SIGNING_KEY_FILE)"
        ) from None
