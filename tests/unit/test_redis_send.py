"""Our Redis connections' send (``zhixing.state._OurConnection.send_packed_command``) is a
copy of redis-py 8.1's with two changes (see its docstring); this holds the copy to the
original it was taken from."""

from __future__ import annotations

import hashlib
import inspect

import redis
from redis.asyncio.connection import AbstractConnection

# The digest of redis-py 8.1.0's AbstractConnection.send_packed_command.
TAKEN_FROM = "baaeabd916209157db40455f034a0bac6fb3e2db902271313e0702bcbc678321"


def test_the_send_we_took_over_is_still_the_one_redis_py_has() -> None:
    """When redis-py changes its send, ours would hide the change. Compare the two, carry
    the change into ours (or drop ours, if redis-py no longer bounds the write with
    ``asyncio.wait_for``), then put the new digest here."""
    source = inspect.getsource(AbstractConnection.send_packed_command)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == TAKEN_FROM, f"redis {redis.__version__} changed send_packed_command"
