"""Structured logs: one JSON object per line on stderr, for our code and every library."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import structlog

from zhixing.settings import PlatformSettings

__all__ = [
    "REPEAT_WINDOW_S",
    "WARM_UP_S",
    "CoordinatorWarmUpFilter",
    "RepeatFilter",
    "configure_logging",
]

REPEAT_WINDOW_S = 10.0
"""The same message from the same logger is written once per window; the next one written
says how many were held back. A dead broker made every service write thousands of
identical lines a second (issue 13); one line per window says the same."""


class RepeatFilter(logging.Filter):
    """Holds back a record that repeats (same logger, level and message template) within
    ``window_s`` of the last one written, and counts it into the next one written."""

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, now: Callable[[], float] = time.monotonic
    ):
        super().__init__()
        self._window_s = window_s
        self._now = now  # wall-clock pacing of output, not domain time
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # structlog hands over its event dict (with a fresh timestamp): its event names it.
        event = record.msg.get("event") if isinstance(record.msg, dict) else record.msg
        template = event if isinstance(event, str) else repr(event)[:200]
        key = (record.name, record.levelno, template)
        now = self._now()
        last = self._last.get(key)
        if last is not None and now - last[0] < self._window_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        if held and isinstance(record.msg, dict):
            record.msg["held_back"] = held
        elif held:
            record.msg = f"{record.getMessage()} (and {held} like it held back)"
            record.args = None
        if len(self._last) > 10_000:  # bounded: forget the oldest templates
            self._last.clear()
        self._last[key] = (now, 0)
        return True


WARM_UP_S = 60.0
"""How long after a service starts the broker's group coordinator may be unavailable without
it being an error: a broker just started elects its coordinators first (seconds)."""

_WARMING_UP = ("GroupCoordinatorNotAvailableError", "NotCoordinatorForGroupError")


class CoordinatorWarmUpFilter(logging.Filter):
    """aiokafka logs "Group Coordinator Request failed: GroupCoordinatorNotAvailableError"
    at error level while a fresh broker elects its coordinators: on a healthy start that is
    routine, so within ``warm_up_s`` of the start it is written at info level (and so not at
    all while aiokafka's own level is warning). Later it stays an error: a coordinator gone
    for a minute is one."""

    def __init__(self, warm_up_s: float = WARM_UP_S, now: Callable[[], float] = time.monotonic):
        super().__init__()
        self._now = now  # wall-clock age of the process, not domain time
        self._until = now() + warm_up_s

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or self._now() >= self._until:
            return True
        if not any(name in record.getMessage() for name in _WARMING_UP):
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def configure_logging(service: str, settings: PlatformSettings | None = None) -> None:
    settings = settings or PlatformSettings()
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # JSON lines carry the traceback as text; the console renderer prints it.
                *([structlog.processors.format_exc_info] if settings.log_json else []),
                renderer,
            ],
        )
    )
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # aiokafka is chatty about routine group membership at INFO.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiokafka.consumer.group_coordinator").addFilter(CoordinatorWarmUpFilter())
    structlog.contextvars.bind_contextvars(service=service)
