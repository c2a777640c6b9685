"""The whole platform as processes, as `make run` starts it, for the end-to-end tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Isolated
from tests.polling import eventually
from tools.devinfra import ROOT, free_port
from tools.localrun import SERVICES


@dataclass
class Running:
    http: dict[str, str]
    grpc: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    env: dict[str, str]


@pytest.fixture
async def platform(isolated: Isolated) -> AsyncIterator[Running]:
    env = isolated.env()
    http, grpc_addresses = {}, {}
    for spec in SERVICES:
        grpc_port = free_port()
        env[f"{spec.env_prefix}GRPC_PORT"] = str(grpc_port)
        grpc_addresses[spec.name] = f"127.0.0.1:{grpc_port}"
        if spec.http_port is not None:
            http_port = free_port()
            env[f"{spec.env_prefix}HTTP_PORT"] = str(http_port)
            http[spec.name] = f"http://127.0.0.1:{http_port}"
    env["ZHIXING_AGENCY_TARGET"] = grpc_addresses["agency_gateway"]
    # Funds' deductions go to this gateway too, never to one at the default port (a `make run`).
    env["ZHIXING_FUNDS_TRANSFER_TARGET"] = grpc_addresses["agency_gateway"]
    env["ZHIXING_AGENCY_GATEWAY_LATENCY_MS"] = "100"
    processes = {
        spec.name: subprocess.Popen(
            [sys.executable, "-m", f"services.{spec.name}"], cwd=ROOT, env=env
        )
        for spec in SERVICES
    }
    running = Running(http, grpc_addresses, processes, env)
    try:
        async with httpx.AsyncClient() as client:
            for name, url in http.items():

                async def healthy(url: str = url, name: str = name) -> bool:
                    if processes[name].poll() is not None:
                        raise AssertionError(f"{name} exited with {processes[name].returncode}")
                    try:
                        return (await client.get(f"{url}/healthz")).status_code == 200
                    except httpx.HTTPError:
                        return False

                await eventually(healthy)
        yield running
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
