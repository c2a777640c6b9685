"""Intake's command handlers. Each records its state change and its events atomically
(state + outbox in one Redis transaction); the outbox relay publishes the events."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from redis.exceptions import WatchError

from services.intake.domain import FileCase
from services.intake.repository import CaseRecords
from zhixing.auth import Identity, Role, ScopeError, require_role, require_scope
from zhixing.clock import china_today
from zhixing.events import new_event
from zhixing.service import ServiceContext
from zhixing.state import as_text


class IdempotencyConflict(Exception):
    """The idempotency key was used before for a different filing."""


@dataclass(frozen=True, slots=True)
class Filed:
    case_id: str
    created: bool


async def file_case(
    cmd: FileCase,
    *,
    identity: Identity,
    ctx: ServiceContext,
    records: CaseRecords,
    idempotency_key: str | None = None,
) -> Filed:
    """File ``cmd``; with an idempotency key a repeated request returns the first case."""
    require_role(identity, Role.CLERK)
    require_scope(identity, cmd.court_code, write=True)
    if identity.court_code != cmd.court_code:
        raise ScopeError(
            f"a clerk of {identity.court_code} files cases of that court only, not {cmd.court_code}"
        )
    fingerprint = hashlib.sha256(cmd.model_dump_json().encode()).hexdigest()
    idem_key = records.idempotency_key(cmd.court_code, idempotency_key) if idempotency_key else None
    while True:
        case_id = str(uuid.uuid4())
        payload = cmd.to_event(
            case_id=case_id, received_on=cmd.received_on or china_today(ctx.clock)
        )
        event = new_event(
            payload,
            aggregate_id=case_id,
            court_code=cmd.court_code,
            actor=identity.as_actor(),
            clock=ctx.clock,
        )
        try:
            async with ctx.redis.pipeline(transaction=True) as pipe:
                if idem_key is not None:
                    await pipe.watch(idem_key)
                    previous = await pipe.get(idem_key)
                    if previous is not None:
                        previous_case, _, previous_fingerprint = as_text(previous).partition("|")
                        if previous_fingerprint != fingerprint:
                            raise IdempotencyConflict(
                                f"Idempotency-Key {idempotency_key!r} was used for another filing "
                                f"(case {previous_case})"
                            )
                        return Filed(previous_case, created=False)
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(
                    records.case_key(case_id),
                    mapping={"filed": payload.SerializeToString(), "court_code": cmd.court_code},
                )
                if idem_key is not None:
                    pipe.set(idem_key, f"{case_id}|{fingerprint}")
                ctx.outbox.stage(pipe, event)
                await pipe.execute()
                return Filed(case_id, created=True)
        except WatchError:
            continue  # the same key was filed concurrently: read what won
