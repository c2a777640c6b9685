"""uvloop's refusal to write to a transport it has closed, which our clients of Redis
(``zhixing.state``) and of Kafka (``zhixing.kafka_connections``) report as a lost
connection.

uvloop, which our services run on (``zhixing.service.run_async``), raises ``RuntimeError``
("unable to perform operation on <TCPTransport closed=True ...>; the handler is closed")
when a request is written to a transport the server has just closed; asyncio's own loop
raises ``OSError`` there, which both libraries take for a lost connection and retry
(MagicStack/uvloop#506)."""

from __future__ import annotations

__all__ = ["CLOSED_TRANSPORT", "is_closed_transport"]

CLOSED_TRANSPORT = "the handler is closed"
"""What uvloop's RuntimeError says of a write to a transport already closed."""


def is_closed_transport(exc: BaseException) -> bool:
    """Whether ``exc`` is uvloop's refusal to write to a transport it has closed, and not
    another ``RuntimeError`` (a closed event loop: a bug, to be raised as such)."""
    return isinstance(exc, RuntimeError) and CLOSED_TRANSPORT in str(exc)
