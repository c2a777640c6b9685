"""Refusals of a command, as every service raises them: each says what is wrong and, for
bad input, where (``loc``, as FastAPI's own validation errors do). ``create_http_app`` turns
them into HTTP responses: 404, 409, 422 or 503 with the message."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

__all__ = [
    "CommandError",
    "Conflict",
    "Invalid",
    "NotFound",
    "SafeJSONResponse",
    "Unavailable",
    "error_response",
]


class CommandError(Exception):
    status = 400

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class NotFound(CommandError):
    status = 404


class Conflict(CommandError):
    """The thing's state does not allow the act (a second docketing, an over-seizure)."""

    status = 409


class Invalid(CommandError):
    """Input that is well-formed but wrong, found by the handler (a balance exceeded)."""

    status = 422


class Unavailable(CommandError):
    """The act could not be done now (the service is stopping): try again (503)."""

    status = 503


class SafeJSONResponse(JSONResponse):
    """JSON as FastAPI writes it (UTF-8), save for text that UTF-8 cannot hold: a refusal
    may quote what the client sent, and a lone surrogate ("\\ud800" in the request's JSON)
    made the reply fail to encode, a 500 for a 422. Then every non-ASCII character is
    escaped (``\\uXXXX``): the same JSON to any parser."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, indent=None,
                              separators=(",", ":")).encode("ascii")  # fmt: skip


def error_response(exc: CommandError) -> JSONResponse:
    detail: Any = str(exc)
    if exc.loc:  # the shape of FastAPI's validation errors, so clients parse one shape
        detail = [{"loc": list(exc.loc), "msg": str(exc), "type": "value_error"}]
    return SafeJSONResponse({"detail": detail}, status_code=exc.status)
