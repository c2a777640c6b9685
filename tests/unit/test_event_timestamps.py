"""Events' timestamps, built without ``Timestamp.FromDatetime`` (a third of its cost), are
the ones it builds: aware instants in any zone, naive ones read as UTC, before 1970 too."""

from __future__ import annotations

import datetime as dt
import random

from google.protobuf.timestamp_pb2 import Timestamp

from zhixing.clock import CHINA_TZ
from zhixing.events import timestamp


def reference(instant: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(instant)
    return stamp


def test_timestamps_equal_what_from_datetime_builds() -> None:
    draw = random.Random(19)
    zones = [dt.UTC, CHINA_TZ, dt.timezone(dt.timedelta(hours=-5, minutes=-30)), None]
    for _ in range(20_000):
        seconds = draw.uniform(-2_000_000_000, 4_000_000_000)
        instant = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=seconds, microseconds=draw.randrange(1_000_000))  # fmt: skip
        zone = draw.choice(zones)
        instant = instant.replace(tzinfo=None) if zone is None else instant.astimezone(zone)
        assert timestamp(instant) == reference(instant), instant
