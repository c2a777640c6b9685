"""Our Redis connections' send (``zhixing.state._OurConnection.send_packed_command``) is a
copy of redis-py 8.2's with two changes (see its docstring); this holds the copy to the
original it was taken from."""

from __future__ import annotations

import hashlib
import inspect

import redis
from redis.asyncio.connection import AbstractConnection

# The digest of redis-py 8.2.0's AbstractConnection.send_packed_command (8.1.0's was
# baaeabd9…: 8.2 logs each failure at debug level, reports an ETIMEDOUT from the OS as a
# lost connection, and checks the transport before writing).
TAKEN_FROM = "63b7216a33101c84a2dbab1f84be0f1e7b242ce7289771faa706c4b907f88367"


def test_the_send_we_took_over_is_still_the_one_redis_py_has() -> None:
    """When redis-py changes its send, ours would hide the change. Compare the two, carry
    the change into ours (or drop ours, if redis-py no longer bounds the write with
    ``asyncio.wait_for``), then put the new digest here."""
    source = inspect.getsource(AbstractConnection.send_packed_command)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == TAKEN_FROM, f"redis {redis.__version__} changed send_packed_command"
