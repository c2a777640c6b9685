"""The gateway's gRPC server."""

from __future__ import annotations

import asyncio
import signal

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = structlog.get_logger(__name__)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIXING_AGENCY_GATEWAY_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind gRPC to")
    grpc_port: int = Field(50060, ge=0, le=65535, description="gRPC port (0: any free port)")


class GatewayServer:
    def __init__(self, settings: GatewaySettings | None = None) -> None:
        self._settings = settings or GatewaySettings()
        self._server = grpc.aio.server()
        self._health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self.grpc_port = 0

    async def start(self) -> None:
        address = f"{self._settings.host}:{self._settings.grpc_port}"
        self.grpc_port = self._server.add_insecure_port(address)
        await self._server.start()
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info("agency gateway started", grpc_port=self.grpc_port)

    async def stop(self) -> None:
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace=5)

    async def serve_forever(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()
