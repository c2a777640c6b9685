"""Sums of money (whole fen) kept in Redis counters that cannot overflow.

A Redis counter is a signed 64-bit integer (``HINCRBY`` refuses to pass it), and
``zhixing.bounds`` bounds the amounts of one case, not the sum of every claim a court has
filed over the years. So a sum is kept as two counters: ``<name>:hi``, whole units of
``SPLIT_FEN`` (10^9 fen, 一千万元), and ``<name>:lo``, the rest. An amount (an int64 at
most) adds under 10^10 to the one and under 10^9 to the other, so each takes more than
9×10^8 additions of the largest amount an event can carry to overflow (and more than 10^9
of any amount a request may give, ``MAX_AMOUNT_FEN``); the sum read back is exact, a
Python integer. A negative amount (money leaving a part) takes the same path with both
parts negative.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio.client import Pipeline

__all__ = ["SPLIT_FEN", "add_fen", "fen_of", "yuan"]

SPLIT_FEN = 10**9


def add_fen(pipe: Pipeline, key: str, name: str, fen: int) -> None:
    """Queue adding ``fen`` (may be negative) to the sum ``name`` of the hash ``key``."""
    high, low = divmod(abs(fen), SPLIT_FEN)
    sign = -1 if fen < 0 else 1
    if high:
        pipe.hincrby(key, f"{name}:hi", sign * high)
    if low:
        pipe.hincrby(key, f"{name}:lo", sign * low)


def fen_of(fields: Mapping[str, str], name: str) -> int:
    """The sum ``name`` of a hash read as text (0 when never added to)."""
    return int(fields.get(f"{name}:hi") or 0) * SPLIT_FEN + int(fields.get(f"{name}:lo") or 0)


def yuan(fen: int, *, grouped: bool = True, unit: str = "元") -> str:
    """Whole fen as people read yuan: ``1,234.50元``; ``grouped=False, unit=""`` gives
    ``1234.50``, the figure a spreadsheet reads as a number. Exact (no float)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}{unit}" if grouped else f"{sign}{whole}.{cents:02d}{unit}"
