"""Redis state helpers shared by every service's projections.

Every key lives under ``<deployment prefix><service>:`` so services never touch each
other's data and tests never touch each other's keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import AbstractConnection, add_debug_log_for_connection_failure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, RedisError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from zhixing.settings import RedisSettings
from zhixing.uvloop_writes import is_closed_transport

__all__ = [
    "KeySpace",
    "as_bytes",
    "as_text",
    "connect",
    "read_hashes",
    "text_hash",
    "transact",
    "watch_and_read",
]


class KeySpace:
    """Builds the keys of one service: ``KeySpace("t1:", "intake").key("case", id)``."""

    def __init__(self, prefix: str, service: str) -> None:
        if not service or ":" in service:
            raise ValueError(f"service name {service!r} must be non-empty and contain no ':'")
        self.service = service
        self.base = f"{prefix}{service}:"

    def key(self, *parts: str) -> str:
        for part in parts:
            if not part:
                raise ValueError(f"empty key part in {parts!r}")
        return self.base + ":".join(parts)


T = TypeVar("T")


async def transact(
    redis: aioredis.Redis, watch: list[str], body: Callable[[Pipeline], Awaitable[T]]
) -> T:
    """Run ``body`` in an optimistic transaction over ``watch``, again on conflict.

    ``body`` reads through the pipeline (immediate mode), then calls ``pipe.multi()`` and
    queues its writes; if it returns without calling it, nothing is written. Exceptions
    it raises (a refused command) leave nothing written.

    The WATCH goes with the body's first command through ``pipe``, in one round trip (see
    ``_TransactionPipeline``): what the body reads of the watched keys, it reads through
    ``pipe``, never through another client before its first command on ``pipe``.
    """
    while True:
        try:
            async with _TransactionPipeline(
                redis.connection_pool, redis.response_callbacks, True, None
            ) as pipe:
                if watch:
                    pipe.watch_with_first_command(watch)
                result = await body(pipe)
                if pipe.explicit_transaction:
                    await pipe.execute()
                return result
        except WatchError:
            continue


class _TransactionPipeline(Pipeline):
    """A transaction's pipeline whose WATCH is sent with the first command the body sends
    through it, in one write, where redis-py sends it alone and waits for its reply: one
    round trip fewer per transaction whose body starts by reading (issue 19). The first
    command comes after the WATCH on the wire, so it, and all that follows, is watched as
    before. A body that sends nothing before ``multi()`` has its WATCH sent alone before
    the EXEC, as before. Until the first command, ``pipe.watching`` is False and
    ``pipe.connection`` None. The first command goes as a plain command: redis-py's
    HIMPORT preparation and its OpenTelemetry metrics, neither of which we use, are not
    applied to it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._unsent_watch: tuple[str, ...] = ()

    def watch_with_first_command(self, keys: Sequence[str]) -> None:
        self._unsent_watch = tuple(keys)

    def take_unsent_watch(self) -> tuple[str, ...]:
        keys, self._unsent_watch = self._unsent_watch, ()
        return keys

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._unsent_watch and not self.explicit_transaction:
            return self.immediate_execute_command(*args, **kwargs)  # as when watching
        return super().execute_command(*args, **kwargs)

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        keys = self.take_unsent_watch()
        if not keys:
            return await super().immediate_execute_command(*args, **options)  # type: ignore[no-untyped-call]
        try:
            if args[0] == "WATCH":  # the body watches more keys: all in one WATCH
                return await super().immediate_execute_command("WATCH", *keys, *args[1:])  # type: ignore[no-untyped-call]
            (reply,) = await _watch_and_send(self, keys, [(args, options)])
            return reply
        except BaseException:
            if not self.watching:  # the WATCH was not answered: it goes with the next try
                self._unsent_watch = keys
            raise

    async def unwatch(self) -> bool:  # type: ignore[override]  # (typed as the command)
        """Forget keys not yet watched, as UNWATCH forgets those that are."""
        self._unsent_watch = ()
        return await super().unwatch()  # type: ignore[no-untyped-call, no-any-return]

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        keys = self.take_unsent_watch()
        if keys:  # nothing was sent through the pipe before MULTI: the WATCH alone first
            await super().immediate_execute_command("WATCH", *keys)  # type: ignore[no-untyped-call]
        return await super().execute(raise_on_error)

    async def reset(self) -> None:  # type: ignore[override]  # (typed as the RESET command)
        self._unsent_watch = ()
        await super().reset()  # type: ignore[no-untyped-call]


async def watch_and_read(
    pipe: Pipeline, watch: Sequence[str], reads: Sequence[tuple[str, ...]]
) -> list[Any]:
    """WATCH ``watch`` on ``pipe`` and run ``reads`` (commands, e.g. ``("MGET", *keys)``)
    right after it on the same connection, in one round trip instead of two; their replies,
    in order, as ``pipe.mget`` and the like would give them.

    The reads come after the WATCH on the wire, so what they see is watched, as when the
    two are sent one after the other. Like redis-py's ``watch``: a connection lost before
    the WATCH's reply is retried by the client's retry policy; lost after it, the watch is
    gone and ``WatchError`` tells ``transact`` to run its body again. A refused read is
    raised once every reply has been read, so the connection stays in step."""
    if pipe.explicit_transaction:
        raise RedisError("Cannot issue a WATCH after a MULTI")
    if isinstance(pipe, _TransactionPipeline):  # the keys ``transact`` was given, too
        watch = (*pipe.take_unsent_watch(), *watch)
    if not watch:
        raise ValueError("watch_and_read needs at least one key to watch")
    return await _watch_and_send(pipe, watch, [(read, {}) for read in reads])


async def _watch_and_send(
    pipe: Pipeline, watch: Sequence[str], commands: Sequence[tuple[Sequence[Any], dict[str, Any]]]
) -> list[Any]:
    """``WATCH watch`` and ``commands`` (each its arguments and redis-py's options for its
    reply) in one write on ``pipe``'s connection; the commands' replies (see
    ``watch_and_read``)."""
    connection = pipe.connection
    if connection is None:
        connection = await pipe.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        pipe.connection = connection
    sent: list[tuple[Sequence[Any], dict[str, Any]]] = [(("WATCH", *watch), {}), *commands]

    async def send_and_read() -> list[Any]:
        await connection.send_packed_command(connection.pack_commands(a for a, _ in sent))
        refused: ResponseError | None = None
        replies: list[Any] = []
        for args, options in sent:
            try:
                # Pipeline.parse_response marks the pipeline as watching on the WATCH's reply.
                replies.append(await pipe.parse_response(connection, args[0], **options))
            except ResponseError as exc:
                refused = refused or exc
                replies.append(None)
        if refused is not None:
            raise refused
        return replies[1:]

    async def lost(error: Exception) -> None:
        await connection.disconnect(error=error)  # closed for an error, as redis-py records it
        if pipe.watching:  # the WATCH was answered, and died with the connection
            await pipe.reset()  # type: ignore[no-untyped-call]
            raise WatchError(f"A {type(error).__name__} occurred while watching keys")

    replies: list[Any] = await connection.retry.call_with_retry(send_and_read, lost)
    return replies


def connect(settings: RedisSettings) -> aioredis.Redis:
    """A client for the configured Redis; replies are bytes (callers decode what they read).

    Its connections pack commands with hiredis and report a write to a transport the server
    has closed as a lost connection (see ``_OurConnection``)."""
    pool = aioredis.ConnectionPool.from_url(settings.url, decode_responses=False)
    pool.connection_class = _ours(pool.connection_class)
    return aioredis.Redis.from_pool(pool)


class _OurConnection(AbstractConnection):
    """What our clients' connections change in redis-py's asyncio connections."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        """The command in Redis's protocol, packed by hiredis (C) where redis-py's asyncio
        connection packs it in Python (its synchronous one uses hiredis already): the same
        bytes for every argument we send (str, bytes, int, float; checked in
        ``tests/unit/test_redis_packing.py``), about 2 µs instead of 7 for a typical HSET,
        a seventh of the command service's CPU before (issue 19)."""
        # As redis-py does: a command name of several words ("CONFIG GET") goes as several.
        first = args[0]
        if isinstance(first, str):
            args = (*first.encode().split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]  # type: ignore[arg-type]  # (stub: one argument)
        except TypeError as exc:
            # hiredis refuses a bytearray, which redis-py sends as its bytes; it is converted
            # only then, not looked for in every command.
            if any(isinstance(a, bytearray) for a in args):
                return self.pack_command(
                    *(bytes(a) if isinstance(a, bytearray) else a for a in args)
                )
            # None, a bool, an object: refused as redis-py refuses them
            raise DataError(f"Invalid input in command {args[0]!r}: {exc}") from exc

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        """Redis-py's send (8.2), with two changes.

        **A cancellation is never lost.** Redis-py bounds the write with
        ``asyncio.wait_for`` whenever the connection has a socket timeout, and redis-py 8
        gives every connection one (5 s). On Python 3.11, ``wait_for`` returns the send's
        result when the send completes in the loop turn its task is cancelled in, and the
        cancellation is lost (python/cpython#86296). A task looping on ``GET`` outlived its
        cancellation in 119–148 of 300 tries, and a stopping service waited for ever on
        it (a lease keeper, found in CI). The write is bounded here by ``asyncio.timeout``,
        which runs it in the calling task: the same bound, no task per command, and the
        cancellation raised at the next suspension.

        **A write to a closed transport is a lost connection.** uvloop, which our services
        run on, raises ``RuntimeError`` ("the handler is closed") when a command is written
        to a transport the server has just closed; asyncio's own loop raises ``OSError``
        there, which redis-py reports as ``ConnectionError`` and retries
        (MagicStack/uvloop#506). Unreported, a Redis restart met mid-command was a 500 to
        the caller (found by the crash campaign: a filing's WATCH, then the reset's
        UNWATCH) and a handler's failure to the event bus, which dead-letters events.
        Reported, it is what every other lost connection is: retried, then a 503 or a
        retried batch."""
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        writer = self._writer
        # Every failure leaves the connection closed: a command half written cannot be
        # taken back, and the next one would follow its bytes. Each is logged first (at
        # debug level, as redis-py does), while the connection can still be described.
        try:
            if writer is None or writer.transport.is_closing():  # closed since it connected
                raise RedisConnectionError("Connection closed by the server before write")
            async with asyncio.timeout(self.socket_timeout or None):
                writer.writelines(command)
                await writer.drain()
        except TimeoutError as exc:  # before OSError: on 3.11 TimeoutError is an OSError
            add_debug_log_for_connection_failure(self, exc, "writing command")
            await self.disconnect(nowait=True)
            if exc.errno is not None:  # ETIMEDOUT from the OS: the connection is dead
                raise RedisConnectionError(
                    f"Error {exc.errno} while writing to socket. {exc.strerror}."
                ) from exc
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            add_debug_log_for_connection_failure(self, exc, "writing command")
            await self.disconnect(nowait=True)
            errno, message = exc.args[:2] if len(exc.args) >= 2 else ("UNKNOWN", exc)
            raise RedisConnectionError(
                f"Error {errno} while writing to socket. {message}."
            ) from exc
        except RuntimeError as exc:
            add_debug_log_for_connection_failure(self, exc, "writing command")
            await self.disconnect(nowait=True)
            if not is_closed_transport(exc):
                raise  # another failure (a closed loop): a bug, not Redis going away
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except (TypeError, AttributeError) as exc:
            # Python 3.12 to 3.13.9 and 3.14.0 let these out of a transport whose
            # connection was lost mid-write (python/cpython#136234, redis/redis-py#4287).
            # Looked at before disconnecting, which closes the transport: on an open one
            # they are a bug, and raised as such.
            lost = writer is not None and writer.transport.is_closing()
            add_debug_log_for_connection_failure(self, exc, "writing command")
            await self.disconnect(nowait=True)
            if lost:
                raise RedisConnectionError("Connection closed by the server while writing") from exc
            raise
        except BaseException as exc:  # a cancellation mid-write; a lost connection above
            add_debug_log_for_connection_failure(self, exc, "writing command")
            await self.disconnect(nowait=True)
            raise


_OURS: dict[type[Any], type[Any]] = {}


def _ours(connection_class: type[Any]) -> type[Any]:
    """``connection_class`` (TCP, TLS or Unix socket, as the URL says) with our changes;
    one class per kind, however many clients connect."""
    if connection_class not in _OURS:
        _OURS[connection_class] = type(
            f"Our{connection_class.__name__}", (_OurConnection, connection_class), {}
        )
    return _OURS[connection_class]


# redis-py types every reply as ``bytes | str`` (it depends on decode_responses); our clients
# return bytes, and these make that explicit where replies are read.
def as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def text_hash(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash reply with its fields and values as text."""
    return {as_text(k): as_text(v) for k, v in raw.items()}


async def read_hashes(redis: aioredis.Redis, keys: Sequence[str]) -> list[dict[str, str]]:
    """Several hashes in one round trip, as text, in the order of ``keys`` (an absent key
    reads as an empty hash)."""
    if not keys:
        return []
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return [text_hash(raw) for raw in await pipe.execute()]
