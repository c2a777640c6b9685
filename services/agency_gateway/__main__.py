from services.agency_gateway.server import GatewayServer
from zhixing.logs import configure_logging
from zhixing.service import run_async


async def main() -> None:
    # gRPC's aio server binds to the running loop, so it is built inside it.
    await GatewayServer().serve_forever()


configure_logging("agency_gateway")
run_async(main())
