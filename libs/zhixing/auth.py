"""Identity: signed tokens naming the person or service, their court and their role.

Tokens are HS256 JWTs. Expiry is judged against the injected clock, not the wall clock,
so a simulated year can keep its tokens valid and tests can make one expire.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import grpc
import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zhixing.clock import Clock
from zhixing.courts import (
    SUPREME_COURT,
    UnknownCourtCode,
    covers,
    known_court_code,
    parse_court_code,
)
from zhixing.errors import Invalid, NotFound
from zhixing.settings import AuthSettings
from zhixing.v1 import envelope_pb2

__all__ = [
    "CLOCK_SKEW",
    "INTERFERENCE_REGISTER_READERS",
    "READ_ONLY_ROLES",
    "SERVICE_AUDIENCE",
    "UNAUTHENTICATED_METHOD_PREFIXES",
    "AuthError",
    "AuthInterceptor",
    "CurrentIdentity",
    "Identity",
    "PrincipalKind",
    "Role",
    "ScopeError",
    "ServiceCredential",
    "TokenAuthority",
    "VerifiedCredentials",
    "current_identity",
    "grpc_identity",
    "may_read",
    "readable_court",
    "require_handling_court",
    "require_role",
    "require_scope",
    "require_visible",
]


class Role(StrEnum):
    CLERK = "clerk"  # 立案/书记员: files cases and entrustments
    OFFICER = "officer"  # 执行员/法官: handles cases
    COMMAND = "command"  # 指挥中心: an intermediate court's command centre
    LEADER = "leader"  # 院领导: a court's leader (执行局长 or 分管院领导)
    PRESIDENT = "president"  # 院长: the court president, who alone extends a case's limit
    SUPERVISOR = "supervisor"  # 专人: answers escalated clocks of the court (¶8, ¶12)
    FINANCE = "finance"  # 财务: approves and makes payouts of case funds (分段办理)
    COORDINATOR = "coordinator"  # 争议协调人
    AGENCY = "agency"  # an outside agency party to a dispute
    OVERSEER = "overseer"  # 检察监督: the procuratorate's supervision, read only
    DISCIPLINE = "discipline"  # 纪检监察: discipline inspection, read only; the register
    SERVICE = "service"  # another platform service


READ_ONLY_ROLES = frozenset({Role.OVERSEER, Role.DISCIPLINE})
"""Overseers (¶34, ¶36): they read within their jurisdiction, and every read is recorded."""

INTERFERENCE_REGISTER_READERS = frozenset({Role.DISCIPLINE, Role.COMMAND})
"""Who reads the interference register (干预过问案件登记, ¶36): discipline inspection and the
command centres. No one else learns from anywhere, the access log included, which cases it
names or who read them."""

CLOCK_SKEW = timedelta(minutes=1)
"""How far ahead of this service's clock a token's issue time may be (another host's clock)."""


class PrincipalKind(StrEnum):
    PERSON = "person"
    SERVICE = "service"


class AuthError(Exception):
    """The token is missing, malformed, forged or expired (401)."""


class ScopeError(Exception):
    """The identity is genuine but may not do this (403)."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    kind: PrincipalKind
    court_code: str
    role: Role
    expires_at: datetime

    def as_actor(self) -> envelope_pb2.Actor:
        kind = (
            envelope_pb2.ACTOR_KIND_SERVICE
            if self.kind is PrincipalKind.SERVICE
            else envelope_pb2.ACTOR_KIND_PERSON
        )
        return envelope_pb2.Actor(
            kind=kind, id=self.subject, court_code=self.court_code, role=self.role.value
        )


SERVICE_AUDIENCE = "zhixing-services"
"""The audience of service credentials: a person's token never carries it."""


class TokenAuthority:
    """Issues and verifies people's tokens and platform services' credentials.

    The two are signed with different keys (``AuthSettings.secret`` and
    ``service_secret``): a token is verified with the key its ``kind`` claim names, so a
    person's token that claims to be a service fails its signature check, and ``issue``
    refuses to mint a person with the service role.
    """

    def __init__(self, settings: AuthSettings, clock: Clock) -> None:
        self._secrets = {
            PrincipalKind.PERSON: settings.secret.get_secret_value(),
            PrincipalKind.SERVICE: settings.service_secret.get_secret_value(),
        }
        self._issuer = settings.issuer
        self._ttl = timedelta(seconds=settings.token_ttl_seconds)
        self._clock = clock

    def issue(
        self,
        *,
        subject: str,
        court_code: str,
        role: Role,
        ttl: timedelta | None = None,
    ) -> str:
        """A person's token. Service credentials come from ``issue_service`` only."""
        if role is Role.SERVICE:
            raise ValueError("a person cannot hold the service role; use issue_service")
        parse_court_code(court_code)
        return self._sign(PrincipalKind.PERSON, subject, court_code, role, ttl)

    def issue_service(self, service: str, *, ttl: timedelta | None = None) -> str:
        """The credential a platform service presents to another (gRPC calls)."""
        if not service or len(service) > 64:
            raise ValueError("a service name is 1 to 64 characters")
        return self._sign(PrincipalKind.SERVICE, f"svc:{service}", SUPREME_COURT, Role.SERVICE, ttl)

    def _sign(
        self, kind: PrincipalKind, subject: str, court_code: str, role: Role,
        ttl: timedelta | None,
    ) -> str:  # fmt: skip
        now = self._clock.now()
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "kind": kind.value,
            "court": court_code,
            "role": role.value,
            "iat": int(now.timestamp()),
            "exp": int((now + (ttl or self._ttl)).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        if kind is PrincipalKind.SERVICE:
            claims["aud"] = SERVICE_AUDIENCE
        return jwt.encode(claims, self._secrets[kind], algorithm="HS256")

    def expired(self, identity: Identity) -> bool:
        """Whether ``identity``'s token has expired by this authority's clock."""
        return self._clock.now() >= identity.expires_at

    def verify(self, token: str) -> Identity:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            kind = PrincipalKind(str(unverified.get("kind")))
        except jwt.PyJWTError as exc:
            raise AuthError(f"token is invalid: {exc}") from None
        except ValueError:
            raise AuthError(
                "token claims are invalid: 'kind' is neither person nor service"
            ) from None
        try:
            claims = jwt.decode(
                token,
                self._secrets[kind],
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=SERVICE_AUDIENCE if kind is PrincipalKind.SERVICE else None,
                # Expiry and issue time are checked below against the injected clock (PyJWT
                # would judge them on the wall clock, refusing a simulated future's tokens).
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["exp", "iat", "sub", "iss"],
                },
            )
        except jwt.InvalidSignatureError:
            raise AuthError("token signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"token is invalid: {exc}") from None
        now = self._clock.now()
        try:
            expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            issued_at = datetime.fromtimestamp(int(claims["iat"]), tz=now.tzinfo)
        except (TypeError, ValueError, OverflowError, OSError):
            raise AuthError("token times (exp, iat) must be integers") from None
        if now >= expires_at:
            raise AuthError(f"token expired at {expires_at.isoformat()}")
        if issued_at > now + CLOCK_SKEW:
            raise AuthError(f"token issued in the future, at {issued_at.isoformat()}")
        try:
            court = parse_court_code(str(claims.get("court", ""))).code
            role = Role(str(claims.get("role")))
        except (UnknownCourtCode, ValueError) as exc:
            raise AuthError(f"token claims are invalid: {exc}") from None
        if (role is Role.SERVICE) != (kind is PrincipalKind.SERVICE):
            raise AuthError(
                "token claims are invalid: only a service credential has role 'service'"
            )
        return Identity(str(claims["sub"]), kind, court, role, expires_at)


def require_scope(identity: Identity, court_code: str, *, write: bool) -> None:
    """Refuse unless ``identity`` may read (or write) the business of ``court_code``.

    A basic court acts on its own cases, an intermediate or high court on its jurisdiction;
    read-only roles never write; platform services act everywhere. An outside agency has no
    court business at all: it sees only the disputes it is party to, which the dispute
    coordinator checks by the agency's own identity (``Role.AGENCY`` never passes here).
    """
    if identity.role is Role.AGENCY:
        raise ScopeError("an agency sees only the disputes it is party to")
    if write and identity.role in READ_ONLY_ROLES:
        raise ScopeError(f"role {identity.role.value!r} is read-only")
    if identity.role is Role.SERVICE and identity.kind is PrincipalKind.SERVICE:
        return
    if not covers(identity.court_code, court_code):
        raise ScopeError(f"court {identity.court_code} has no jurisdiction over court {court_code}")


def may_read(identity: Identity, court_code: str) -> bool:
    """Whether ``identity`` may read the business of ``court_code`` (``require_scope``)."""
    try:
        require_scope(identity, court_code, write=False)
    except ScopeError:
        return False
    return True


def require_visible(identity: Identity, court_code: str | None, what: str) -> None:
    """HTTP 404 unless the thing exists (``court_code`` is its court, None when missing)
    and lies within the identity's jurisdiction: another court's record reads as missing,
    so its existence is not revealed."""
    if court_code is not None and may_read(identity, court_code):
        return
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {what} in your jurisdiction")


def readable_court(identity: Identity, court: str | None) -> str:
    """The court a listing or report asks for (``?court=``; default the caller's), as the
    directory spells it: 422 naming the query's field if the directory does not know it, 404
    if it lies outside the caller's jurisdiction."""
    code = court or identity.court_code
    try:
        found = known_court_code(code)
    except ValueError as exc:
        raise Invalid(str(exc), loc=("query", "court")) from None
    require_visible(identity, found, f"court {code}")
    return found


def require_handling_court(identity: Identity, court_code: str, what: str) -> None:
    """Refuse unless ``identity`` belongs to the court handling ``what``: a court above sees
    it but acts on it through command actions only (403); another court, or a court below,
    is told it does not exist (404)."""
    try:
        require_scope(identity, court_code, write=True)
    except ScopeError:
        try:  # one who may read it is told why not; anyone else, that it does not exist
            require_scope(identity, court_code, write=False)
        except ScopeError:
            raise NotFound(f"no {what} in your jurisdiction") from None
        raise
    if identity.court_code != court_code:
        raise ScopeError(
            f"{what} is handled by {court_code}; {identity.court_code} acts on it through "
            "command actions only"
        )


def require_role(identity: Identity, *roles: Role) -> None:
    if identity.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise ScopeError(f"role {identity.role.value!r} may not do this (allowed: {allowed})")


# --- FastAPI -----------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False)


def _authority(request: Request) -> TokenAuthority:
    authority: TokenAuthority = request.app.state.token_authority
    return authority


async def current_identity(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The caller, from its bearer token. A coroutine though it never waits: FastAPI runs
    a plain function dependency in a worker thread, and the hop there and back cost every
    request more than checking an HS256 token does."""
    state = request.scope.setdefault("state", {})  # read by zhixing.access's recorder
    if credentials is None or credentials.scheme.lower() != "bearer":
        state["refusal"] = "missing bearer token (Authorization: Bearer <token>)"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, state["refusal"], headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        identity = _authority(request).verify(credentials.credentials)
    except AuthError as exc:
        state["refusal"] = str(exc)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    state["identity"] = identity
    # One choke point before any route runs: an outside agency reaches only the service that
    # holds the disputes it is party to (which then checks the party itself).
    if identity.role is Role.AGENCY and not getattr(request.app.state, "admits_agencies", False):
        state["refusal"] = "an agency sees only the disputes it is party to"
        raise HTTPException(status.HTTP_403_FORBIDDEN, state["refusal"])
    return identity


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


# --- gRPC --------------------------------------------------------------------------------

_grpc_identity: contextvars.ContextVar[Identity] = contextvars.ContextVar("grpc_identity")

UNAUTHENTICATED_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.",
)


def grpc_identity() -> Identity:
    """The caller of the current gRPC request, as checked by ``AuthInterceptor``."""
    return _grpc_identity.get()


class ServiceCredential:
    """The credential one service presents on its gRPC calls, renewed before it expires."""

    RENEW_BEFORE = timedelta(minutes=10)

    def __init__(self, authority: TokenAuthority, service: str, clock: Clock) -> None:
        self._authority = authority
        self._service = service
        self._clock = clock
        self._token = ""
        self._renew_at = clock.now()

    def metadata(self) -> list[tuple[str, str]]:
        """gRPC call metadata carrying the credential."""
        now = self._clock.now()
        if not self._token or now >= self._renew_at:
            self._token = self._authority.issue_service(self._service)
            self._renew_at = self._authority.verify(self._token).expires_at - self.RENEW_BEFORE
        return [("authorization", f"Bearer {self._token}")]


class VerifiedCredentials:
    """Service credentials verified once and trusted until they expire.

    Verifying a JWT (two decodes and an HMAC) on every gRPC call was a few per cent of a
    busy service's CPU (issue 19), and the same few credentials come back on every call:
    each service presents one until it renews it hours later. A credential is kept by its
    exact text, so an edited or re-signed one is verified afresh; expiry is judged on the
    injected clock at each call, as ``TokenAuthority.verify`` judges it.
    """

    LIMIT = 64
    """Credentials kept at most (a platform's dozen services, each renewing hours apart);
    beyond it, the one kept longest is verified again when it next comes."""

    def __init__(self, authority: TokenAuthority) -> None:
        self._authority = authority
        self._kept: dict[str, Identity] = {}  # in the order first verified

    def __len__(self) -> int:
        return len(self._kept)

    def identity(self, token: str) -> Identity:
        """The identity ``token`` proves; AuthError if it proves none (now)."""
        kept = self._kept.get(token)
        if kept is not None and not self._authority.expired(kept):
            return kept
        self._kept.pop(token, None)
        identity = self._authority.verify(token)
        if identity.kind is PrincipalKind.SERVICE:  # people are refused on gRPC anyway
            if len(self._kept) >= self.LIMIT:
                del self._kept[next(iter(self._kept))]
            self._kept[token] = identity
        return identity


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Rejects gRPC calls without a valid service credential (health checks excepted).

    gRPC ports serve the platform's services only; people use the HTTP APIs, where their
    court and role are checked route by route.
    """

    def __init__(self, authority: TokenAuthority) -> None:
        self._credentials = VerifiedCredentials(authority)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = handler_call_details.method
        if method.startswith(UNAUTHENTICATED_METHOD_PREFIXES):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = str(metadata.get("authorization", ""))
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise AuthError("missing bearer token in 'authorization' metadata")
            identity = self._credentials.identity(token)
        except AuthError as exc:
            return _abort_handler(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        if identity.kind is not PrincipalKind.SERVICE:
            return _abort_handler(
                grpc.StatusCode.PERMISSION_DENIED,
                "gRPC ports serve platform services only; people use the HTTP API",
            )
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def with_identity(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            _grpc_identity.set(identity)
            try:
                return await inner(request, context)  # type: ignore[arg-type]
            except ScopeError as exc:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))

        return grpc.unary_unary_rpc_method_handler(
            with_identity,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _abort_handler(code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler[Any, Any]:
    async def abort(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(code, message)

    return grpc.unary_unary_rpc_method_handler(abort)
