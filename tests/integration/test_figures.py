"""The command centre's figures: counted from events, per court and per jurisdiction, and
the same after the projection is wiped and rebuilt by replaying the topics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Isolated
from tests.factories import ACTOR
from tests.integration.platform_stack import MONDAY_9AM
from tests.integration.test_deadlines import CommandCentre, command_host
from tests.polling import eventually
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SimulatedClock
from zhixing.events import new_event
from zhixing.publisher import EventPublisher
from zhixing.v1 import asset_events_pb2, case_events_pb2

pytestmark = pytest.mark.integration

VIEWS = (("苏1283", False), ("苏1282", False), ("苏12", True))


def history(clock: SimulatedClock) -> list[Any]:
    """Three cases: two at 泰兴 (one frozen, one closed as 执行完毕 after 30 days), one at
    靖江 (closed as 终结本次执行 after 100 days)."""

    def event(payload: Any, aggregate: str, court: str) -> Any:
        return new_event(payload, aggregate_id=aggregate, court_code=court, actor=ACTOR,
                         clock=clock)  # fmt: skip

    filed = [
        case_events_pb2.CaseFiled(case_id=f"c{n}", court_code=court, case_type_code="执",
                                  claim_amount_fen=1000, filed_on="2026-03-02")
        for n, court in ((1, "苏1283"), (2, "苏1283"), (3, "苏1282"))
    ]  # fmt: skip
    return [
        *(event(f, f.case_id, f.court_code) for f in filed),
        event(asset_events_pb2.AssetControlled(asset_id="a1", case_id="c1", amount_fen=500),
              "a1", "苏1283"),
        event(case_events_pb2.CaseClosed(case_id="c2", method="执行完毕", closed_on="2026-04-01"),
              "c2", "苏1283"),
        event(case_events_pb2.CaseClosed(case_id="c3", method="终结本次执行",
                                         closed_on="2026-06-10"), "c3", "苏1282"),
    ]  # fmt: skip


async def figures(host: CommandCentre, tokens: TokenAuthority, court: str, whole: bool) -> Any:
    token = tokens.issue(subject="c", court_code="苏12", role=Role.COMMAND)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.http_port}") as http:
        answer = await http.get(
            f"/v1/figures/{court}", params={"jurisdiction": whole},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


async def wipe_projection(isolated: Isolated, projection: str) -> None:
    """Delete a command-service projection and its consumer's offsets, so the next host
    rebuilds it by replaying the topics from the start."""
    prefix = f"{isolated.prefix}command:"
    own = (f"{prefix}{projection}", f"{prefix}consumer:command.{projection}")
    doomed = [
        key async for key in isolated.redis.scan_iter(match=f"{prefix}*", count=1000)
        if key.decode().startswith(own)
    ]  # fmt: skip
    assert doomed, f"nothing of the {projection} projection to wipe"
    await isolated.redis.delete(*doomed)


async def test_figures_count_per_court_and_jurisdiction_and_survive_a_replay(
    isolated: Isolated, publisher: EventPublisher, tmp_path: Path
) -> None:
    clock = SimulatedClock(MONDAY_9AM)
    tokens = TokenAuthority(isolated.auth, clock)
    await publisher.publish_many(history(clock))
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def counted() -> bool:
            counts = (await figures(host, tokens, "苏12", True))["counts"]
            # Settled: 4 clocks per filed case opened, the two closed cases' 6-month clocks
            # cleared (in time).
            return bool(
                counts["closed"] == 2 and counts["controlled_cases"] == 1
                and counts["clocks_opened"] == 12 and counts["closed_in_time"] == 2
            )  # fmt: skip

        await eventually(counted)
        taixing = await figures(host, tokens, "苏1283", False)
        assert taixing["counts"]["filed"] == 2 and taixing["counts"]["closed"] == 1
        assert taixing["rates"]["结案率"] == 0.5
        assert taixing["rates"]["执行完毕率"] == 1.0
        assert taixing["rates"]["保全率"] == 0.5
        assert taixing["rates"]["平均结案用时"] == 30.0
        assert taixing["rates"]["实际到位率"] is None and taixing["rates"]["notes"]["实际到位率"]
        whole = await figures(host, tokens, "苏12", True)
        assert whole["counts"]["filed"] == 3
        assert whole["rates"]["终本率"] == 0.5
        assert whole["rates"]["平均结案用时"] == 65.0  # (30 + 100) / 2
        before = {court: await figures(host, tokens, court, whole)
                  for court, whole in VIEWS}  # fmt: skip
    finally:
        await host.stop()

    await wipe_projection(isolated, "figures")
    host = command_host(isolated, clock, tmp_path)
    await host.start()
    try:

        async def rebuilt() -> bool:
            after = {court: await figures(host, tokens, court, whole)
                     for court, whole in VIEWS}  # fmt: skip
            return after == before

        await eventually(rebuilt)
    finally:
        await host.stop()
