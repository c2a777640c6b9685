"""Idempotency-Key: a client that may send a creating POST again (a timeout, a lost answer)
names the request with an ``Idempotency-Key`` header, and a repeat creates nothing new.

The key is kept per service, scope (what is created) and court (and, where the records are
not for every colleague's eyes, per person), with the id of what the
first request created and a fingerprint of its body: the same key with the same body gets
the first result again (200 instead of 201); with another body it is refused
(``IdempotencyConflict``, 409), since the client reused a key for a different request.

The check and the record of the key happen in the creating transaction (the key watched),
so two concurrent requests with one key create one thing. Keys are kept as long as what
they created (no expiry): a retry however late finds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, is_dataclass
from typing import Annotated, Any

from fastapi import Header
from redis.asyncio.client import Pipeline

from zhixing.errors import Conflict
from zhixing.state import KeySpace, as_text

__all__ = [
    "MAX_IDEMPOTENCY_KEY",
    "Idempotency",
    "IdempotencyConflict",
    "IdempotencyKey",
]

MAX_IDEMPOTENCY_KEY = 200
"""The longest key a client may send (a UUID is 36 characters)."""

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1, max_length=MAX_IDEMPOTENCY_KEY,
        description="Names the request: sent again with the same body, it creates nothing "
        "new and answers 200 with the first result; with another body, 409",
    ),
]  # fmt: skip
"""The ``Idempotency-Key`` request header of a creating route."""


class IdempotencyConflict(Conflict):
    """The idempotency key was used before for a different request."""


@dataclass(frozen=True)
class Idempotency:
    """One request's key: where it is kept, and the fingerprint of the request's body."""

    key: str  # the Redis key
    client_key: str  # the header's value, for messages
    fingerprint: str

    @classmethod
    def of(
        cls, keys: KeySpace, scope: str, court_code: str, client_key: str | None,
        request: str | bytes, *, owner: str = "",
    ) -> Idempotency | None:  # fmt: skip
        """The key of a request naming ``client_key`` (None without one) in ``scope`` at
        ``court_code``; ``request`` is the body as sent (the same request, the same text).
        With ``owner`` (the caller), the key is the caller's alone: another person reusing
        it neither gets the first result nor learns what it created."""
        if not client_key:
            return None
        raw = request.encode() if isinstance(request, str) else request
        # The owner hashed: a name with a colon in it cannot run into another's key.
        by = hashlib.sha256(owner.encode()).hexdigest()[:32]
        parts = (scope, court_code, "by", by, client_key) if owner else (
            scope, court_code, client_key)  # fmt: skip
        return cls(
            key=keys.key("idempotency", *parts),
            client_key=client_key,
            fingerprint=hashlib.sha256(raw).hexdigest(),
        )

    @classmethod
    def of_request(
        cls, keys: KeySpace, scope: str, court_code: str, client_key: str | None, *,
        owner: str, **request: Any,
    ) -> Idempotency | None:  # fmt: skip
        """``of``, the request given as what was asked (dataclasses and dates as JSON, its
        fingerprint), the key the caller's alone (``owner``)."""
        body = json.dumps(
            {name: asdict(value) if is_dataclass(value) and not isinstance(value, type)
             else value for name, value in request.items()},
            sort_keys=True, default=str, ensure_ascii=False,
        )  # fmt: skip
        return cls.of(keys, scope, court_code, client_key, body, owner=owner)

    async def previous(self, pipe: Pipeline, *, what: str, named: str) -> str | None:
        """The id the first request with this key created (read in the transaction, before
        ``multi``); None the first time. A different request with the key is refused: the
        message says it was used for another ``what`` (the ``named`` thing it created)."""
        return self.previous_of(await pipe.get(self.key), what=what, named=named)

    def previous_of(self, raw: bytes | str | None, *, what: str, named: str) -> str | None:
        """``previous`` from the key's value, read by the caller (with the transaction's
        other reads, after the WATCH of ``key``)."""
        if raw is None:
            return None
        previous_id, _, fingerprint = as_text(raw).partition("|")
        if fingerprint != self.fingerprint:
            raise IdempotencyConflict(
                f"Idempotency-Key {self.client_key!r} was used for another {what} "
                f"({named} {previous_id})"
            )
        return previous_id

    def remember(self, pipe: Pipeline, created_id: str) -> None:
        """Keep the key with what the request created (in the creating transaction)."""
        pipe.set(self.key, f"{created_id}|{self.fingerprint}")
