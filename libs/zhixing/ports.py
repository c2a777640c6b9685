"""Each service's default ports, in one table: its bootstrap, the command service's link to
the deadlines service, the agency gateway's callers and ``make run`` read them here.

The gRPC ports lie below 20000 on purpose. Linux gives an outgoing connection a local port
from its ephemeral range (``net.ipv4.ip_local_port_range``, 32768–60999 by default): a
service whose port lay there (the customary 50051…) could find it taken by any connection on
the host, the demo's history or a test run, before it bound it. And the tests, benchmarks
and simulations pick the ports of the processes they start from 20000–32767
(``tools.devinfra.free_port``): a run of them beside ``make run`` takes none of these.
Each port is overridden by ``ZHIXING_<SERVICE>_HTTP_PORT`` and ``_GRPC_PORT``
(``zhixing.settings.service_settings``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AGENCY_GATEWAY_TARGET", "DEFAULT_PORTS", "Ports"]


@dataclass(frozen=True)
class Ports:
    http: int | None  # None: no HTTP API (the agency gateway)
    grpc: int


DEFAULT_PORTS: Mapping[str, Ports] = {
    "command": Ports(8000, 19051),
    "intake": Ports(8001, 19052),
    "asset_control": Ports(8002, 19053),
    "dispute_coordinator": Ports(8003, 19054),
    "entrustment": Ports(8004, 19055),
    "audit_notary": Ports(8005, 19056),
    "deadlines": Ports(8006, 19057),
    "funds": Ports(8007, 19058),
    "credit": Ports(8008, 19059),
    "supervision": Ports(8009, 19061),
    "notification": Ports(8010, 19062),
    "agency_gateway": Ports(None, 19060),
}
"""The order ``make run`` starts them in."""

AGENCY_GATEWAY_TARGET = f"127.0.0.1:{DEFAULT_PORTS['agency_gateway'].grpc}"
"""Where the outside systems' stand-in answers by default (queries, controls, the banks'
deductions, the notice systems)."""
