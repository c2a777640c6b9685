"""Repeated log lines are held back (a dead broker once wrote thousands a second)."""

import logging

from zhixing.logs import CoordinatorWarmUpFilter, RepeatFilter


def record(msg: object, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_message_is_written_once_per_window_then_counted() -> None:
    now = [0.0]
    repeats = RepeatFilter(window_s=10, now=lambda: now[0])
    assert repeats.filter(record("Unable connect to node %s", 1))
    written = [repeats.filter(record("Unable connect to node %s", n)) for n in range(1000)]
    assert not any(written)
    assert repeats.filter(record("another message"))  # another template is its own
    assert repeats.filter(record("Unable connect to node %s", 1, name="zhixing.bus"))
    now[0] = 10.0
    next_one = record("Unable connect to node %s", 2)
    assert repeats.filter(next_one)
    assert next_one.getMessage() == "Unable connect to node 2 (and 1000 like it held back)"


def test_structlog_events_repeat_by_their_event_name() -> None:
    now = [0.0]
    repeats = RepeatFilter(window_s=10, now=lambda: now[0])
    assert repeats.filter(record({"event": "consume failed", "timestamp": "t1"}))
    assert not repeats.filter(record({"event": "consume failed", "timestamp": "t2"}))
    now[0] = 11.0
    later = record({"event": "consume failed", "timestamp": "t3"})
    assert repeats.filter(later)
    assert isinstance(later.msg, dict) and later.msg["held_back"] == 1


def test_a_coordinator_warming_up_is_no_error_on_a_start_but_is_one_a_minute_later() -> None:
    name = "aiokafka.consumer.group_coordinator"
    logging.getLogger(name).setLevel(logging.WARNING)  # as configure_logging leaves it
    now = [0.0]
    warm = CoordinatorWarmUpFilter(warm_up_s=60, now=lambda: now[0])
    text = "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    starting = record(text, name=name)
    assert not warm.filter(starting) and starting.levelno == logging.INFO  # not written
    other = record("Heartbeat failed: unexpected error", name=name)
    assert warm.filter(other) and other.levelno == logging.ERROR  # other errors stay
    now[0] = 61.0
    later = record(text, name=name)
    assert warm.filter(later) and later.levelno == logging.ERROR
