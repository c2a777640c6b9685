"""A listing that comes newest first, a page at a time (``zhixing.paging``), checked the
same way for each service that lists so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from zhixing.clock import Clock, SimulatedClock
from zhixing.paging import Page


async def check_newest_first_by_pages(
    clock: Clock, make: Callable[[int], Awaitable[str]],
    list_page: Callable[..., Awaitable[Page[dict[str, Any]]]], id_field: str,
) -> None:  # fmt: skip
    """Three records made a minute apart (``make(n)`` returns the id) come as the two newest,
    then, after the first page's cursor, the oldest and no further cursor."""
    assert isinstance(clock, SimulatedClock)
    made = []
    for n in range(3):
        made.append(await make(n))
        clock.advance(dt.timedelta(minutes=1))
    first = await list_page(limit=2)
    assert [r[id_field] for r in first.items] == [made[2], made[1]]
    assert first.next_cursor is not None
    rest = await list_page(limit=2, after=first.next_cursor)
    assert ([r[id_field] for r in rest.items], rest.next_cursor) == ([made[0]], None)
