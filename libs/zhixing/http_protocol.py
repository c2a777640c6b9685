"""The services' HTTP protocol: uvicorn's httptools parser with a bound on a request's head.

uvicorn parses HTTP with httptools (C) when asked, several times cheaper per request than
the pure-Python h11. But h11 refuses a request whose head (request line and headers) grows
past 16 KiB, and uvicorn's httptools protocol has no such bound: a client could make a
service buffer headers without end. This protocol refuses a head that is still incomplete
after ``MAX_HEAD_BYTES`` (h11's bound) with a 400, as uvicorn refuses a request it cannot
parse, and closes the connection. A body is not counted: only bytes that arrive while the
head is open, after the chunk that completes it is parsed.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_HEAD_BYTES", "BoundedHttpToolsProtocol"]

MAX_HEAD_BYTES = 16 * 1024
HEAD_TOO_LARGE = "Request head too large."


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Between requests the next head has begun as far as the bound goes: its first bytes
        # may come before the parser reports its beginning.
        self._head_open = True
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._head_open or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self.logger.warning(HEAD_TOO_LARGE)
            self.send_400_response(HEAD_TOO_LARGE)
