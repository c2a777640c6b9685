"""Waiting for other processes (Kafka consumers, services) to reach a state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 60) -> None:
    """Poll ``check`` until it holds; fail with TimeoutError after ``within_s``."""
    async with asyncio.timeout(within_s):
        while not await check():
            await asyncio.sleep(0.05)
