from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_SECRET, TEST_SERVICE_SECRET
from tests.factories import START
from zhixing.auth import (
    SERVICE_AUDIENCE,
    AuthError,
    CurrentIdentity,
    PrincipalKind,
    Role,
    ScopeError,
    ServiceCredential,
    TokenAuthority,
    VerifiedCredentials,
    may_read,
    require_handling_court,
    require_scope,
)
from zhixing.clock import SimulatedClock
from zhixing.errors import NotFound
from zhixing.settings import AuthSettings


def authority(clock: SimulatedClock, secret: str = TEST_SECRET) -> TokenAuthority:
    return TokenAuthority(AuthSettings(secret=secret, env="test"), clock)


def test_a_genuine_token_names_its_court_and_role() -> None:
    tokens = authority(SimulatedClock(START))
    identity = tokens.verify(tokens.issue(subject="c1", court_code="苏1283", role=Role.CLERK))
    assert (identity.subject, identity.court_code, identity.role) == ("c1", "苏1283", Role.CLERK)


def test_a_token_signed_with_another_secret_is_forged() -> None:
    clock = SimulatedClock(START)
    forged = authority(clock, "another-secret-" + "y" * 40).issue(
        subject="c1", court_code="苏1283", role=Role.COMMAND
    )
    with pytest.raises(AuthError, match="signature"):
        authority(clock).verify(forged)


def test_an_edited_token_is_forged() -> None:
    tokens = authority(SimulatedClock(START))
    header, payload, signature = tokens.issue(
        subject="c1", court_code="苏1283", role=Role.CLERK
    ).split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    with pytest.raises(AuthError):
        tokens.verify(tampered)


def test_a_token_expires_on_the_injected_clock() -> None:
    clock = SimulatedClock(START)
    tokens = authority(clock)
    token = tokens.issue(subject="c1", court_code="苏1283", role=Role.CLERK, ttl=timedelta(hours=1))
    tokens.verify(token)
    clock.advance(timedelta(hours=1))
    with pytest.raises(AuthError, match="expired"):
        tokens.verify(token)


def test_token_times_are_judged_on_the_injected_clock_not_the_wall_clock() -> None:
    # A simulated year may run ahead of today: its tokens are valid on its own clock.
    clock = SimulatedClock(START + timedelta(days=5 * 365))
    tokens = authority(clock)
    identity = tokens.verify(tokens.issue(subject="c1", court_code="苏1283", role=Role.CLERK))
    assert identity.subject == "c1"
    # A token issued later than the verifier's clock (beyond a minute of skew) is refused.
    later = authority(SimulatedClock(clock.now() + timedelta(minutes=5)))
    with pytest.raises(AuthError, match="issued in the future"):
        tokens.verify(later.issue(subject="c1", court_code="苏1283", role=Role.CLERK))
    skewed = authority(SimulatedClock(clock.now() + timedelta(seconds=30)))
    tokens.verify(skewed.issue(subject="c1", court_code="苏1283", role=Role.CLERK))


def test_basic_court_acts_on_its_own_cases_only() -> None:
    clerk = authority(SimulatedClock(START))
    who = clerk.verify(clerk.issue(subject="u", court_code="苏1283", role=Role.CLERK))
    require_scope(who, "苏1283", write=True)
    with pytest.raises(ScopeError, match="no jurisdiction"):
        require_scope(who, "苏1282", write=False)


def test_intermediate_court_acts_on_its_jurisdiction_only() -> None:
    tokens = authority(SimulatedClock(START))
    command = tokens.verify(tokens.issue(subject="u", court_code="苏12", role=Role.COMMAND))
    require_scope(command, "苏1283", write=True)
    with pytest.raises(ScopeError):
        require_scope(command, "苏0281", write=False)


def test_overseers_read_but_never_write() -> None:
    tokens = authority(SimulatedClock(START))
    overseer = tokens.verify(tokens.issue(subject="u", court_code="苏12", role=Role.OVERSEER))
    require_scope(overseer, "苏1283", write=False)
    with pytest.raises(ScopeError, match="read-only"):
        require_scope(overseer, "苏1283", write=True)


def app_with_identity(tokens: TokenAuthority) -> httpx.AsyncClient:
    app = FastAPI()
    app.state.token_authority = tokens

    @app.get("/whoami")
    def whoami(who: CurrentIdentity) -> dict[str, str]:
        return {"court": who.court_code}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit")


async def test_http_dependency_refuses_missing_forged_and_expired_tokens() -> None:
    clock = SimulatedClock(START)
    tokens = authority(clock)
    good = tokens.issue(subject="u", court_code="苏1283", role=Role.CLERK, ttl=timedelta(minutes=5))
    forged = authority(clock, "z" * 40).issue(subject="u", court_code="苏1283", role=Role.CLERK)
    async with app_with_identity(tokens) as client:
        ok = await client.get("/whoami", headers={"Authorization": f"Bearer {good}"})
        assert ok.json() == {"court": "苏1283"}
        missing = await client.get("/whoami")
        assert missing.status_code == 401 and "missing bearer token" in missing.json()["detail"]
        refused = await client.get("/whoami", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401
        clock.advance(timedelta(minutes=5))
        expired = await client.get("/whoami", headers={"Authorization": f"Bearer {good}"})
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]


@pytest.mark.parametrize(
    ("court", "role", "refusal"),
    [
        ("苏1283", Role.OFFICER, None),  # the handling court acts
        ("苏12", Role.COMMAND, ScopeError),  # the court above sees it, acts by command actions
        ("苏1282", Role.OFFICER, NotFound),  # a sibling court is not told it exists
        ("苏12", Role.OVERSEER, ScopeError),  # read only
    ],
)
def test_only_the_handling_court_acts_on_its_business(
    court: str, role: Role, refusal: type[Exception] | None
) -> None:
    tokens = authority(SimulatedClock(START))
    who = tokens.verify(tokens.issue(subject="u", court_code=court, role=role))
    if refusal is None:
        require_handling_court(who, "苏1283", "case c1")
    else:
        with pytest.raises(refusal):
            require_handling_court(who, "苏1283", "case c1")


# --- service credentials and agencies (issue 13) ------------------------------------------


def test_a_person_cannot_be_issued_the_service_role() -> None:
    with pytest.raises(ValueError, match="service role"):
        authority(SimulatedClock(START)).issue(subject="u", court_code="苏1283", role=Role.SERVICE)


def test_a_service_credential_is_signed_with_the_service_key_and_acts_everywhere() -> None:
    tokens = authority(SimulatedClock(START))
    service = tokens.verify(tokens.issue_service("asset_control"))
    assert (service.kind, service.role, service.subject) == (
        PrincipalKind.SERVICE,
        Role.SERVICE,
        "svc:asset_control",
    )
    require_scope(service, "浙0102", write=True)


def forge(claims: dict[str, object], secret: str) -> str:
    now = int(START.timestamp())
    base = {"iss": "zhixing", "sub": "mallory", "court": "苏1283", "iat": now, "exp": now + 600}
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        # a person's key cannot sign a service credential, whatever the claims say
        {"kind": "service", "role": "service", "aud": SERVICE_AUDIENCE},
        {"kind": "service", "role": "service"},
        # nor can a person's token carry the service role (the CLI once minted these)
        {"kind": "person", "role": "service"},
    ],
)
def test_a_service_identity_signed_with_the_person_key_is_refused(
    claims: dict[str, object],
) -> None:
    tokens = authority(SimulatedClock(START))
    with pytest.raises(AuthError):
        tokens.verify(forge(claims, TEST_SECRET))


def test_a_service_key_cannot_sign_a_person() -> None:
    tokens = authority(SimulatedClock(START))
    with pytest.raises(AuthError):  # verified with the person key: the signature fails
        tokens.verify(forge({"kind": "person", "role": "command"}, TEST_SERVICE_SECRET))
    with pytest.raises(AuthError, match="only a service credential"):
        tokens.verify(forge({"kind": "service", "role": "command", "aud": SERVICE_AUDIENCE},
                            TEST_SERVICE_SECRET))  # fmt: skip


def test_an_agency_has_no_court_business() -> None:
    tokens = authority(SimulatedClock(START))
    agency = tokens.verify(tokens.issue(subject="公安局", court_code="苏1283", role=Role.AGENCY))
    with pytest.raises(ScopeError, match="disputes it is party to"):
        require_scope(agency, "苏1283", write=False)
    assert not may_read(agency, "苏1283")


async def test_an_agency_is_refused_by_every_service_but_the_dispute_coordinator() -> None:
    tokens = authority(SimulatedClock(START))
    agency = tokens.issue(subject="公安局", court_code="苏1283", role=Role.AGENCY)
    async with app_with_identity(tokens) as client:
        refused = await client.get("/whoami", headers={"Authorization": f"Bearer {agency}"})
        assert refused.status_code == 403 and "disputes" in refused.json()["detail"]


def test_a_service_credential_is_renewed_before_it_expires() -> None:
    clock = SimulatedClock(START)
    credential = ServiceCredential(authority(clock), "asset_control", clock)
    first = credential.metadata()
    assert credential.metadata() == first
    clock.advance(timedelta(hours=8))  # the default lifetime
    renewed = credential.metadata()
    assert renewed != first
    authority(clock).verify(renewed[0][1].removeprefix("Bearer "))


def test_a_kept_service_credential_still_expires_on_the_injected_clock() -> None:
    clock = SimulatedClock(START)
    tokens = authority(clock)
    credentials = VerifiedCredentials(tokens)
    token = tokens.issue_service("intake", ttl=timedelta(minutes=5))
    assert credentials.identity(token).subject == "svc:intake"
    assert credentials.identity(token).subject == "svc:intake"  # kept, still genuine
    clock.advance(timedelta(minutes=5))
    with pytest.raises(AuthError, match="expired"):
        credentials.identity(token)


def test_a_kept_credential_edited_or_signed_with_another_key_is_refused() -> None:
    clock = SimulatedClock(START)
    tokens = authority(clock)
    credentials = VerifiedCredentials(tokens)
    token = tokens.issue_service("intake")
    credentials.identity(token)
    header, payload, signature = token.split(".")
    edited = ".".join(
        (header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"))
    )
    with pytest.raises(AuthError):
        credentials.identity(edited)
    other = TokenAuthority(
        AuthSettings(secret=TEST_SECRET, service_secret="another-service-secret-" * 2, env="test"),
        clock,
    ).issue_service("intake")
    with pytest.raises(AuthError, match="signature"):
        credentials.identity(other)


def test_the_credentials_kept_are_bounded() -> None:
    tokens = authority(SimulatedClock(START))
    credentials = VerifiedCredentials(tokens)
    for n in range(VerifiedCredentials.LIMIT + 5):
        assert credentials.identity(tokens.issue_service(f"svc{n}")).subject == f"svc:svc{n}"
    assert len(credentials) == VerifiedCredentials.LIMIT
    person = tokens.issue(subject="c1", court_code="苏1283", role=Role.CLERK)
    credentials.identity(person)  # verified, never kept: gRPC refuses people
    assert len(credentials) == VerifiedCredentials.LIMIT
