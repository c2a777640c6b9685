"""Anchoring the audit trail outside the Redis it is kept in (issue 13).

The chain in Redis proves nothing to someone who can write that Redis: they can rewrite a
record, re-hash every record after it and the head, and the chain still links. So:

- the audit notary (``services/audit_notary``) rebuilds the chain's RFC 6962 Merkle tree
  from the records the command service publishes to Kafka, and signs checkpoints of it
  (size, root, last record hash, time) with an Ed25519 key that no Redis ever holds;
- ``zhixing audit verify`` checks the chain in Redis against the latest signed checkpoint
  and against the Kafka events it was built from;
- ``zhixing audit watch`` keeps the last checkpoint it trusted and reports any rewrite,
  truncation or fork of what it had trusted.

A checkpoint is signed as a few lines of text (``checkpoint_text``), in the spirit of the
transparency logs' signed notes: readable, and verifiable with any Ed25519 tool.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.timestamp_pb2 import Timestamp

from zhixing.audit import GENESIS_HASH, record_hash
from zhixing.merkle import leaf_hash, root_of
from zhixing.v1 import audit_events_pb2

__all__ = [
    "CHECKPOINT_FORMAT",
    "COMPARED_FIELDS",
    "ChainFollower",
    "Trusted",
    "check_against_checkpoint",
    "check_against_log",
    "checkpoint_text",
    "checkpoint_view",
    "key_id",
    "leaves_of",
    "load_public_key",
    "load_signing_key",
    "sign_checkpoint",
    "signature_valid",
    "watch_once",
    "write_key_pair",
]

CHECKPOINT_FORMAT = "zhixing-audit-checkpoint/v1"


# --- keys ---------------------------------------------------------------------------------


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} does not hold an Ed25519 public key")
    return key


def write_key_pair(private_path: Path, public_path: Path) -> None:
    """A new key pair; the private key file is readable by its owner only."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- checkpoints --------------------------------------------------------------------------


def checkpoint_text(checkpoint: audit_events_pb2.AuditCheckpoint) -> bytes:
    """What is signed: format, chain, size, root, last record hash, time, one per line."""
    lines = [
        CHECKPOINT_FORMAT,
        checkpoint.chain,
        str(checkpoint.size),
        checkpoint.root,
        checkpoint.last_record_hash,
        checkpoint.signed_at.ToJsonString(),
    ]
    return ("\n".join(lines) + "\n").encode()


def sign_checkpoint(
    key: Ed25519PrivateKey, *, chain: str, size: int, root: bytes, last_record_hash: str,
    at: dt.datetime,
) -> audit_events_pb2.AuditCheckpoint:  # fmt: skip
    signed_at = Timestamp()
    signed_at.FromDatetime(at)
    checkpoint = audit_events_pb2.AuditCheckpoint(
        chain=chain, size=size, root=root.hex(), last_record_hash=last_record_hash,
        signed_at=signed_at, key_id=key_id(key.public_key()),
    )  # fmt: skip
    checkpoint.signature = key.sign(checkpoint_text(checkpoint))
    return checkpoint


def signature_valid(
    public_key: Ed25519PublicKey, checkpoint: audit_events_pb2.AuditCheckpoint
) -> bool:
    try:
        public_key.verify(checkpoint.signature, checkpoint_text(checkpoint))
    except InvalidSignature:
        return False
    return checkpoint.key_id == key_id(public_key)


def checkpoint_view(checkpoint: audit_events_pb2.AuditCheckpoint) -> dict[str, Any]:
    return {
        "chain": checkpoint.chain,
        "size": checkpoint.size,
        "root": checkpoint.root,
        "last_record_hash": checkpoint.last_record_hash,
        "signed_at": checkpoint.signed_at.ToJsonString(),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature.hex(),
        "signed_text": checkpoint_text(checkpoint).decode(),
    }


# --- the chain's tree ---------------------------------------------------------------------


def leaves_of(raw_records: Iterable[bytes]) -> list[bytes]:
    """The Merkle leaf hash of each record (its canonical JSON, as stored)."""
    return [leaf_hash(raw) for raw in raw_records]


@dataclass
class ChainFollower:
    """Follows a chain record by record, as the notary does: each record must be the
    next position, link to the one before and match its own hash."""

    size: int = 0
    last_hash: str = GENESIS_HASH

    def follow(self, raw: bytes) -> bytes:
        """Append one record; its leaf hash. ValueError says what breaks the chain."""
        try:
            record = json.loads(raw)
        except ValueError:
            raise ValueError(f"record {self.size} is not JSON") from None
        if record.get("seq") != self.size:
            raise ValueError(f"record {record.get('seq')} arrived where {self.size} was due")
        if record.get("prev_hash") != self.last_hash:
            raise ValueError(f"record {self.size} does not link to record {self.size - 1}")
        if record.get("hash") != record_hash(record):
            raise ValueError(f"record {self.size}'s content does not match its hash")
        self.size += 1
        self.last_hash = record["hash"]
        return leaf_hash(raw)


def check_against_checkpoint(
    leaves: Sequence[bytes], checkpoint: audit_events_pb2.AuditCheckpoint
) -> str | None:
    """What is wrong with the chain (its records' leaf hashes) given the signed checkpoint,
    or None."""
    if len(leaves) < checkpoint.size:
        return (f"TRUNCATED: the chain holds {len(leaves)} records; a signed checkpoint "
                f"covers {checkpoint.size}")  # fmt: skip
    if root_of(leaves[: checkpoint.size]).hex() != checkpoint.root:
        return (f"REWRITTEN: the first {checkpoint.size} records do not have the root the "
                f"notary signed at {checkpoint.signed_at.ToJsonString()}")  # fmt: skip
    return None


# --- the Kafka log ------------------------------------------------------------------------

COMPARED_FIELDS = ("event_type", "aggregate_type", "aggregate_id", "court_code", "occurred_at")


def check_against_log(
    records: Sequence[Mapping[str, Any]], logged: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Each record against the event it was built from (by event id): one line per record
    that has no event in the log, or whose fields or payload differ."""
    problems = []
    for record in records:
        event = logged.get(record["event_id"])
        where = f"record {record['seq']} ({record['event_id']})"
        if event is None:
            problems.append(f"{where}: no such event in the Kafka log")
            continue
        for name in COMPARED_FIELDS:
            if record.get(name) != event.get(name):
                problems.append(f"{where}: {name} is {record.get(name)!r}, the log says "
                                f"{event.get(name)!r}")  # fmt: skip
        if record.get("payload") != event.get("payload"):
            problems.append(f"{where}: its payload differs from the logged event's")
    return problems


# --- the watcher --------------------------------------------------------------------------


@dataclass
class Trusted:
    """The last checkpoint a watcher trusted."""

    size: int
    root: str
    signed_at: str

    @classmethod
    def load(cls, path: Path) -> Trusted | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(int(data["size"]), str(data["root"]), str(data["signed_at"]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.__dict__))
        temporary.replace(path)


def watch_once(
    trusted: Trusted | None,
    checkpoint: audit_events_pb2.AuditCheckpoint | None,
    public_key: Ed25519PublicKey,
    raw_records: Sequence[bytes],
) -> tuple[Trusted | None, list[str]]:
    """One look: the new trust, and the alarms (empty when all is well).

    - FORGED: the newest checkpoint's signature is not the notary's key;
    - ROLLED BACK: it covers fewer records than one already trusted;
    - FORK: it does not extend what was trusted (its tree at the trusted size differs);
    - TRUNCATED / REWRITTEN: the chain in Redis no longer holds what was trusted or signed.
    """
    alarms: list[str] = []
    leaves = leaves_of(raw_records)
    # Whether the chain still holds what was trusted, computed once for both checks below.
    trusted_held = trusted is None or root_of(leaves[: trusted.size]).hex() == trusted.root
    if checkpoint is not None and not signature_valid(public_key, checkpoint):
        alarms.append("FORGED: the newest checkpoint is not signed by the notary's key")
        checkpoint = None
    if trusted is not None:
        if len(leaves) < trusted.size:
            alarms.append(f"TRUNCATED: the chain holds {len(leaves)} records; {trusted.size} "
                          "were trusted")  # fmt: skip
        elif not trusted_held:
            alarms.append(f"REWRITTEN: the first {trusted.size} records no longer have the "
                          "trusted root")  # fmt: skip
        if checkpoint is not None and checkpoint.size < trusted.size:
            alarms.append(f"ROLLED BACK: the newest checkpoint covers {checkpoint.size} "
                          f"records; {trusted.size} were trusted")  # fmt: skip
            checkpoint = None
    if checkpoint is not None:
        problem = check_against_checkpoint(leaves, checkpoint)
        if problem is not None:
            alarms.append(problem)
        elif not trusted_held:
            alarms.append("FORK: the newest checkpoint does not extend the trusted one")
    if alarms or checkpoint is None:
        return trusted, alarms
    return Trusted(checkpoint.size, checkpoint.root, checkpoint.signed_at.ToJsonString()), []
