import pytest
from pydantic import ValidationError

from services.command.board_api import SupervisionLink
from services.supervision.bootstrap import SupervisionSettings
from tools.devinfra import BELOW_EPHEMERAL
from zhixing.ports import DEFAULT_PORTS
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
    own = DEFAULT_PORTS["intake"]
    settings = service_settings("intake")
    assert (settings.http_port, settings.grpc_port) == (own.http, own.grpc)
    monkeypatch.setenv("ZHIXING_INTAKE_HTTP_PORT", "18001")
    settings = service_settings("intake")
    assert (settings.http_port, settings.grpc_port) == (18001, own.grpc)


def test_no_two_services_share_a_default_port_and_nothing_else_takes_one_first() -> None:
    """A port from 32768 up may be taken by any outgoing connection on the host first, and
    one the tests hand out (``free_port``) by a test run beside ``make run``."""
    ports = [p for own in DEFAULT_PORTS.values() for p in (own.http, own.grpc) if p is not None]
    assert len(set(ports)) == len(ports)
    assert all(0 < port < 32768 and port not in BELOW_EPHEMERAL for port in ports)


@pytest.mark.parametrize("env", ["test", "prod"])
def test_default_service_secret_is_refused_outside_dev(env: str) -> None:
    with pytest.raises(ValidationError, match="ZHIXING_AUTH_SERVICE_SECRET still holds"):
        AuthSettings(secret="s" * 40, service_secret=DEV_SERVICE_SECRET, env=env)


def test_people_and_services_never_share_a_key() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        AuthSettings(secret="k" * 40, service_secret="k" * 40, env="dev")


def test_the_dashboard_and_the_supervision_service_find_each_other_where_they_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dashboard (command's page) calls the supervision service from the browser: the
    link follows supervision's port setting, and supervision allows command's origin."""
    monkeypatch.setenv("ZHIXING_SUPERVISION_HTTP_PORT", "18009")
    monkeypatch.setenv("ZHIXING_COMMAND_HTTP_PORT", "18000")
    assert SupervisionLink().supervision_url == "http://127.0.0.1:18009"
    assert "http://127.0.0.1:18000" in SupervisionSettings().cors_origins
