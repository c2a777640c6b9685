"""The deployment files agree with the services the platform runs."""

from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tools.devinfra import ROOT
from tools.localrun import SERVICES
from zhixing.ports import DEFAULT_PORTS

K8S = ROOT / "deploy" / "k8s"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_compose_runs_every_service_on_its_default_ports(spec: Any) -> None:
    service = compose()["services"][spec.name]
    assert service["command"] == ["python", "-m", f"services.{spec.name}"]
    expected = {str(spec.grpc_port)} | ({str(spec.http_port)} if spec.http_port else set())
    assert {tuple(p.split(":")) for p in service["ports"]} == {(p, p) for p in expected}
    assert service["environment"][f"ZHIXING_{spec.name.upper()}_HOST"] == "0.0.0.0"


GATEWAY_GRPC = DEFAULT_PORTS["agency_gateway"].grpc
TARGETS = ("ZHIXING_AGENCY_TARGET", "ZHIXING_FUNDS_TRANSFER_TARGET",
           "ZHIXING_NOTIFICATION_GATEWAY_TARGET")  # fmt: skip


def test_every_target_of_the_agency_gateway_names_its_port() -> None:
    named = [
        value for service in compose()["services"].values()
        for name, value in (service.get("environment") or {}).items() if name in TARGETS
    ] + [
        entry["value"] for path in K8S.glob("*.yaml") for doc in manifests(path)
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
        for entry in container.get("env", []) if entry["name"] in TARGETS
    ]  # fmt: skip
    assert len(named) >= 6  # asset control, funds and notification in both
    assert all(value.endswith(f":{GATEWAY_GRPC}") for value in named), named


def manifests(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_k8s_deploys_every_service_non_root_with_probes_and_limits(spec: Any) -> None:
    docs = [doc for path in sorted(K8S.glob("*.yaml")) for doc in manifests(path)]
    deployments = [
        d for d in docs if d["kind"] == "Deployment"
        and d["spec"]["template"]["spec"]["containers"][0]["command"][-1] == f"services.{spec.name}"
    ]  # fmt: skip
    assert deployments
    expected = {spec.grpc_port} | ({spec.http_port} if spec.http_port else set())
    for deployment in deployments:  # intake's: one of role all, one answering
        # Its own pods alone: a selector matching another Deployment's pods would fight it.
        selects = deployment["spec"]["selector"]["matchLabels"].items()
        assert [d for d in deployments if selects <= pod_labels(d).items()] == [deployment]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"services.{spec.name}"]
        assert {"readinessProbe", "livenessProbe"} <= set(container)
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {p["containerPort"] for p in container["ports"]} == expected
        # Bound on every interface, or the kubelet's probes never reach it.
        host = {"name": f"ZHIXING_{spec.name.upper()}_HOST", "value": "0.0.0.0"}
        assert host in container["env"]
        # Every volume mounted, and a writable /tmp on the read-only root (an export's
        # workbook is written there before it is sent).
        mounted = {m["name"]: m for m in container.get("volumeMounts", [])}
        assert {v["name"] for v in pod.get("volumes", [])} == set(mounted)
        (tmp,) = [v for v in pod["volumes"] if mounted[v["name"]]["mountPath"] == "/tmp"]
        assert "emptyDir" in tmp and not mounted[tmp["name"]].get("readOnly")
    # Every service has exactly one Deployment of role all (its consumers and loops).
    roles = [role_of(d, spec.name) for d in deployments]
    assert roles.count("all") == 1, roles
    # Its processes are configured alike but for the role: an answering one missing a
    # setting (another service's address, say) would answer otherwise.
    settings = {settings_of(d, spec.name) for d in deployments}
    assert len(settings) == 1, settings
    (service,) = [
        d for d in docs
        if d["kind"] == "Service" and d["metadata"]["name"] == spec.name.replace("_", "-")
    ]  # fmt: skip
    assert {p["port"] for p in service["spec"]["ports"]} == expected
    # Its requests go to its answering processes where it has them.
    selector = service["spec"]["selector"].items()
    (routed,) = [d for d in deployments if selector <= pod_labels(d).items()]
    assert role_of(routed, spec.name) == ("answer" if "answer" in roles else "all")


def test_the_audit_notary_reads_its_signing_key_from_the_secret_mounted() -> None:
    (deployment,) = [d for d in manifests(K8S / "audit-notary.yaml") if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (secret,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName")
                 == "zhixing-audit-key"]  # fmt: skip
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == secret["name"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    key_file = PurePosixPath(env["ZHIXING_AUDIT_SIGNING_KEY_FILE"])
    assert key_file.parent == PurePosixPath(mount["mountPath"]) and mount["readOnly"] is True
    # The file the Secret is made from (the manifest's comment) keeps its name in the mount.
    assert key_file.name == "audit-signing.pem"


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def settings_of(deployment: dict[str, Any], service: str) -> str:
    """A Deployment's pod as it runs the service (image, command, configuration, ports,
    probes, volumes and their mounts, security), its role, name and resources left out."""
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = [e for e in container.get("env", []) if e["name"] != f"ZHIXING_{service.upper()}_ROLE"]
    kept = {key: value for key, value in container.items() if key not in ("name", "resources")}
    return repr((kept | {"env": sorted(env, key=lambda e: e["name"])}, pod.get("volumes"),
                 pod.get("securityContext")))  # fmt: skip


def role_of(deployment: dict[str, Any], service: str) -> str:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    named = {entry["name"]: entry.get("value") for entry in container.get("env", [])}
    return str(named.get(f"ZHIXING_{service.upper()}_ROLE", "all"))
