"""Refusals of a command, as every service raises them: each says what is wrong and, for
bad input, where (``loc``, as FastAPI's own validation errors do). ``create_http_app`` turns
them into HTTP responses: 404, 409, 422 or 503 with the message."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

__all__ = [
    "CommandError",
    "Conflict",
    "Invalid",
    "NotFound",
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


def error_response(exc: CommandError) -> JSONResponse:
    detail: Any = str(exc)
    if exc.loc:  # the shape of FastAPI's validation errors, so clients parse one shape
        detail = [{"loc": list(exc.loc), "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=exc.status)
