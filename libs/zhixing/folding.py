"""One script call for a transaction's many writes.

A consumer's batch writes its projections in one MULTI/EXEC: often hundreds of HSETs,
ZADDs and SADDs. redis-py packs each command and parses each reply on its own (a timeout
context per reply), and in the profile of the command service that per-command cost was a
third of the process. ``fold_writes`` replaces each run of plain commands queued on a
transaction with one call of a script that runs them in order: the same writes, in the
same order, in the same transaction (the WATCH still guards it), with one reply. As in
MULTI, a command that fails (a key of the wrong type) does not stop those after it, and the
transaction's reply carries the first failure. Unlike MULTI, a malformed command (unknown,
or with the wrong number of arguments) does not abort the others: the platform's commands
are built by redis-py's typed methods, which do not queue malformed ones.

The folded commands' replies are lost, so fold only a transaction whose caller ignores
them (the consumer's does). Script calls already queued (EVALSHA) stay as they are: a script
cannot call another. A Redis script may touch keys it was not given in ``KEYS`` only on a
single Redis, not a Redis Cluster; the platform's transactions (WATCH over several keys)
already need one Redis per service (``docs/scaling.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio.client import Pipeline

__all__ = ["MAX_FOLDED_ARGS", "fold_writes"]

# Each queued command is ARGV[i] = its length, then its name and arguments. As in MULTI, a
# command that fails does not stop the ones after it; the first failure is the reply.
_RUN_IN_ORDER = """
local i, n, failed = 1, #ARGV, nil
while i <= n do
  local count = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + count))
  if type(reply) == 'table' and reply.err and not failed then
    failed = reply.err
  end
  i = i + count + 1
end
if failed then
  return redis.error_reply(failed)
end
return n
"""

MAX_FOLDED_ARGS = 4_000
"""Longest command folded (name and arguments): Lua's ``unpack`` gives at most about
8,000 values; a longer command is sent as it is."""

Command = tuple[tuple[Any, ...], Mapping[str, Any]]
_NOT_FOLDED = ("EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "SCRIPT")


def fold_writes(pipe: Pipeline) -> int:
    """Fold the plain commands queued on ``pipe`` (a transaction) into calls of one script;
    returns how many were folded."""
    stack: list[Command] = pipe.command_stack
    rewritten: list[Command] = []
    run: list[tuple[Command, tuple[Any, ...]]] = []  # each as queued, and as folded
    folded = 0

    def flush() -> None:
        nonlocal folded
        if len(run) > 1:
            argv: list[Any] = []
            for _, args in run:
                argv += [len(args), *args]
            # EVAL with the script's text, not EVALSHA: redis-py would send SCRIPT
            # EXISTS before every such transaction (a round trip each) to be sure Redis
            # has it. Redis caches the script by its hash; its text is about 350 bytes.
            rewritten.append((("EVAL", _RUN_IN_ORDER, 0, *argv), {}))
            folded += len(run)
        else:
            rewritten.extend(queued for queued, _ in run)  # one alone goes as it was
        run.clear()

    for args, options in stack:
        # redis-py queues a command with a subcommand ("XGROUP CREATE") as one string.
        words = (args[0].decode() if isinstance(args[0], bytes) else str(args[0])).split()
        name = words[0]
        # A read's only option names its keys (client-side caching); any other option
        # shapes the reply or the send, so the command goes as it is.
        plain = not (options.keys() - {"keys"})
        if not plain or name.upper() in _NOT_FOLDED or len(args) > MAX_FOLDED_ARGS:
            flush()
            rewritten.append((args, options))
        else:
            run.append(((args, options), (*words, *args[1:])))
    flush()
    if folded:
        pipe.command_stack = rewritten
    return folded
