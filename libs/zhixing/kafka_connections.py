"""What our processes change in aiokafka's connections to the brokers: a write to a
transport uvloop has closed is a lost connection, as it is on asyncio's own loop.

uvloop, which our services run on, raises ``RuntimeError`` when a request is written to a
transport the broker has just closed (``zhixing.uvloop_writes``); asyncio's own loop raises
``OSError`` there, which aiokafka's connection reports as ``KafkaConnectionError`` and every
caller retries (aio-libs/aiokafka#1038, open). Unreported, the ``RuntimeError`` ended the
consumer group's coordinator ("Unexpected error in coordinator routine"), the consumer
failed with it and the service stopped itself: the crash campaign met it when it killed the
broker. Reported, it is what every other lost connection is: the connection is closed, the
request fails with ``KafkaConnectionError``, and aiokafka connects again.

The change is made once, to aiokafka's connection class, when this module is imported:
every module of ours that builds an aiokafka client imports it (``zhixing.bus``,
``zhixing.publisher``, ``zhixing.audit_check``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError

from zhixing.uvloop_writes import is_closed_transport

__all__ = ["mend"]


def _closed_transport_is_lost(
    write: Callable[..., Any],
) -> Callable[..., Any]:
    """``write`` (a connection's request send: it writes at once and returns what to await)
    reporting uvloop's closed transport as aiokafka reports an ``OSError`` there."""

    @functools.wraps(write)
    def send(self: AIOKafkaConnection, *args: Any, **kwargs: Any) -> Any:
        try:
            return write(self, *args, **kwargs)
        except RuntimeError as exc:
            if not is_closed_transport(exc):
                raise
            self.close(reason=CloseReason.CONNECTION_BROKEN, exc=exc)
            raise KafkaConnectionError(
                f"Connection at {self.host}:{self.port} broken: {exc}"
            ) from exc

    send.__zhixing_mended__ = True  # type: ignore[attr-defined]
    return send


def mend() -> None:
    """Make the change (done when this module is imported; once, however often called)."""
    for name in ("send", "_send_sasl_token"):
        write = getattr(AIOKafkaConnection, name)
        if not getattr(write, "__zhixing_mended__", False):  # imported once, mended once
            setattr(AIOKafkaConnection, name, _closed_transport_is_lost(write))


mend()
