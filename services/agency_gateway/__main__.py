import asyncio

from services.agency_gateway.server import GatewayServer
from zhixing.logs import configure_logging


async def main() -> None:
    # gRPC's aio server binds to the running loop, so it is built inside it.
    await GatewayServer().serve_forever()


configure_logging("agency_gateway")
asyncio.run(main())
