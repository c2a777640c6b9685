"""What durability costs: intake's API latency at the fixed filing rate with Redis writing
its AOF with ``appendfsync always`` (a write is on disk before it is answered) and with
``everysec`` (the last second may be lost on a power loss), each on a Redis of its own.

Run alone with ``python -m bench.durability``; ``make bench`` records it as
``intake_api_p50_ms_fsync_always`` and friends.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import intake_assets
from tools.devinfra import LocalKafka, LocalRedis, free_port
from zhixing.service import run_async


async def intake_latency_by_fsync(bootstrap: str, runs: int) -> dict[str, list[float]]:
    """``{"<policy>.<p50|p99>": [ms per run]}`` for both policies, runs interleaved."""
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="zhixing-fsync-") as tmp:
        for run in range(runs):
            for policy in ("always", "everysec"):
                redis = LocalRedis(Path(tmp) / f"{policy}-{run}", port=free_port(),
                                   append_only=True, appendfsync=policy)  # fmt: skip
                redis.start()
                try:
                    measured = await intake_assets.query_latency(bootstrap, redis.url)
                finally:
                    redis.stop()
                figures.setdefault(f"{policy}.p50", []).append(measured["api_p50_ms"])
                figures.setdefault(f"{policy}.p99", []).append(measured["api_p99_ms"])
    return figures


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="zhixing-fsync-kafka-") as tmp:
        kafka = LocalKafka(Path(tmp), port=free_port(), controller_port=free_port())
        kafka.start()
        try:
            figures = await intake_latency_by_fsync(kafka.bootstrap_servers, runs=1)
        finally:
            kafka.stop()
    for key, values in sorted(figures.items()):
        print(f"intake_api {key}: {', '.join(f'{v:.1f}' for v in values)} ms")


if __name__ == "__main__":
    run_async(main())
