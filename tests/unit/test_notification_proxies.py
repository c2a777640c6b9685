"""The progress page's per-address limit behind reverse proxies: the client is read from
X-Forwarded-For only when the peer is a configured trusted proxy, and then it is the
rightmost entry no trusted proxy wrote; a client's own entries are never believed."""

from __future__ import annotations

import ipaddress

import httpx
from fastapi import FastAPI

from services.notification import domain
from services.notification.http_api import router
from services.notification.reads import Reads, client_address
from tests.unit.test_notification_handlers import SETTINGS, World, filed

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.7")]


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    assert client_address("203.0.113.5", ["198.51.100.1"], PROXIES) == "203.0.113.5"
    assert client_address("10.0.0.2", ["198.51.100.1"], []) == "10.0.0.2"
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"
    assert client_address(None, [], PROXIES) == "unknown"
    # Two proxies: the client's own (spoofed) entry on the left is passed over.
    chain = ["1.1.1.1, 198.51.100.1", "192.0.2.7"]
    assert client_address("10.0.0.2", chain, PROXIES) == "198.51.100.1"
    # Garbage where a proxy's entry should be: the last good address.
    assert client_address("10.0.0.2", ["198.51.100.1, not-an-ip"], PROXIES) == "10.0.0.2"
    assert client_address("10.0.0.2", ["10.9.9.9"], PROXIES) == "10.9.9.9"
    assert client_address("::ffff:10.0.0.2", ["198.51.100.1"], PROXIES) == "198.51.100.1"


async def lookups(world: World, peer: str, forwarded: list[str]) -> list[int]:
    settings = SETTINGS.model_copy(
        update={"progress_limit_per_address": 1, "progress_trusted_proxies": PROXIES}
    )
    app = FastAPI()
    app.include_router(router)
    app.state.reads = Reads(world.ctx, world.records, settings)
    code = domain.query_code(SETTINGS.secret, "case-1", "a0")
    transport = httpx.ASGITransport(app=app, client=(peer, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://notification") as http:
        return [
            (await http.get("/v1/progress", params={"code": code},
                            headers={"X-Forwarded-For": f})).status_code
            for f in forwarded
        ]  # fmt: skip


async def test_behind_a_trusted_proxy_each_party_has_its_own_bucket() -> None:
    world = World()
    await world.deliver(world.event(filed()))
    assert await lookups(world, "10.0.0.2", ["198.51.100.1", "198.51.100.2"]) == [200, 200]
    assert await lookups(world, "10.0.0.2", ["198.51.100.1"]) == [429]


async def test_an_untrusted_peer_is_counted_by_itself_whatever_it_forwards() -> None:
    world = World()
    await world.deliver(world.event(filed()))
    assert await lookups(world, "203.0.113.9", ["198.51.100.1", "198.51.100.2"]) == [200, 429]
