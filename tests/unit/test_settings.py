import pytest
from pydantic import ValidationError

from zhixing.settings import DEV_AUTH_SECRET, DEV_SERVICE_SECRET, AuthSettings, service_settings


@pytest.mark.parametrize("env", ["test", "prod"])
def test_default_secret_is_refused_outside_dev(env: str) -> None:
    with pytest.raises(ValidationError, match="development default"):
        AuthSettings(secret=DEV_AUTH_SECRET, env=env)


def test_default_secret_is_accepted_in_dev() -> None:
    assert AuthSettings(secret=DEV_AUTH_SECRET, env="dev").secret.get_secret_value()


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        AuthSettings(secret="short", env="dev")


def test_service_ports_default_and_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert service_settings("intake", http_port=8001, grpc_port=50052).http_port == 8001
    monkeypatch.setenv("ZHIXING_INTAKE_HTTP_PORT", "18001")
    settings = service_settings("intake", http_port=8001, grpc_port=50052)
    assert (settings.http_port, settings.grpc_port) == (18001, 50052)


@pytest.mark.parametrize("env", ["test", "prod"])
def test_default_service_secret_is_refused_outside_dev(env: str) -> None:
    with pytest.raises(ValidationError, match="ZHIXING_AUTH_SERVICE_SECRET still holds"):
        AuthSettings(secret="s" * 40, service_secret=DEV_SERVICE_SECRET, env=env)


def test_people_and_services_never_share_a_key() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        AuthSettings(secret="k" * 40, service_secret="k" * 40, env="dev")
