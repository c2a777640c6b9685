"""The deployment files agree with the services the platform runs."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.devinfra import ROOT
from tools.localrun import SERVICES

K8S = ROOT / "deploy" / "k8s"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_compose_runs_every_service_on_its_default_ports(spec: Any) -> None:
    service = compose()["services"][spec.name]
    assert service["command"] == ["python", "-m", f"services.{spec.name}"]
    published = {p.split(":")[0] for p in service["ports"]}
    expected = {str(spec.grpc_port)} | ({str(spec.http_port)} if spec.http_port else set())
    assert published == expected


def manifests(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_k8s_deploys_every_service_non_root_with_probes_and_limits(spec: Any) -> None:
    docs = manifests(K8S / f"{spec.name.replace('_', '-')}.yaml")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", f"services.{spec.name}"]
    assert {"readinessProbe", "livenessProbe"} <= set(container)
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    ports = {p["containerPort"] for p in container["ports"]}
    assert spec.grpc_port in ports
    assert any(d["kind"] == "Service" for d in docs)
