import asyncio

from services.agency_gateway.server import GatewayServer
from zhixing.logs import configure_logging

configure_logging("agency_gateway")
asyncio.run(GatewayServer().serve_forever())
