"""Listings come in pages (review of issue 17: a jurisdiction's register, petitions,
officers, entrustments and disputes grow without end). A page holds at most ``limit`` items
in the listing's order; when more follow, the response's ``X-Next-Cursor`` header carries
the cursor of the next page (``?after=`` it). The cursor is the sort key of the page's last
item, so a page read later starts where the earlier one ended even when records were added
meanwhile. A cursor is not signed: one made by hand only moves where a page starts, among
the items the caller may read anyway; a value that is no cursor is 422."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Response

from zhixing.errors import Invalid

__all__ = [
    "DEFAULT_PAGE", "MAX_PAGE", "NEXT_CURSOR", "After", "Limit", "Page", "by_fields",
    "not_a_cursor", "page", "send_cursor",
]  # fmt: skip

T = TypeVar("T")

MAX_PAGE = 1000
"""The most items one page carries."""

DEFAULT_PAGE = 200

NEXT_CURSOR = "X-Next-Cursor"
"""The response header naming the next page's cursor (absent on the last page)."""

_MAX_CURSOR = 600

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]
After = Annotated[
    str | None,
    Query(max_length=_MAX_CURSOR, description=f"The cursor of the next page ({NEXT_CURSOR})"),
]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _encode(key: Sequence[str]) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise not_a_cursor()
    return tuple(key)


def not_a_cursor() -> Invalid:
    """The refusal of an ``after`` that is no cursor (a listing with cursors of its own
    refuses with it too)."""
    return Invalid("after is not a cursor (X-Next-Cursor of an earlier page)",
                   loc=("query", "after"))  # fmt: skip


def page(
    items: Sequence[T], key: Callable[[T], tuple[str, ...]], *, limit: int,
    after: str | None = None, descending: bool = False,
) -> Page[T]:  # fmt: skip
    """The page of ``items`` (sorted by ``key``, a unique sort key, descending if so) that
    follows the cursor ``after`` (from the start without one)."""
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        mark = _decode(after)
        ordered = [i for i in ordered if (key(i) < mark if descending else key(i) > mark)]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return Page(chosen, _encode(key(chosen[-1])) if more and chosen else None)


def by_fields(*names: str) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    """The sort key of records (JSON objects) by their fields ``names``, in order: the last
    should be the record's id, so that the key is unique."""

    def key(record: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(record[name]) for name in names)

    return key


def send_cursor(response: Response, found: Page[T]) -> None:
    """Name the next page in ``response``'s headers, when there is one."""
    if found.next_cursor is not None:
        response.headers[NEXT_CURSOR] = found.next_cursor
