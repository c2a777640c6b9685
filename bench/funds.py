"""Case funds (案款) under load, with every service as a process on the bench's Kafka and
Redis (the platform of ``bench/intake_assets.py``, the funds service among them):

* ``funds_payouts_per_s``: notices paid per second through
  ``POST /v1/cases/{id}/notices/{notice_id}/payout`` by 32 concurrent finance clients; each
  case was filed, its account opened, a receipt recorded and noticed to finance beforehand;
* the funds process's peak resident memory (VmHWM) at the end of that run.

Run alone with ``python -m bench.funds`` (``ZHIXING_BENCH_PAYOUTS`` scales it); ``make
bench`` records it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from bench import intake_assets
from tools.devinfra import throwaway_infrastructure
from zhixing.auth import Role
from zhixing.logs import configure_logging
from zhixing.service import run_async
from zhixing.settings import PlatformSettings

PAYOUTS = int(os.environ.get("ZHIXING_BENCH_PAYOUTS", 1000))
CONCURRENCY = 32
ACCOUNT_WAIT_S = 120.0

T = TypeVar("T")


async def pooled(items: list[T], work: Callable[[T], Awaitable[Any]]) -> list[Any]:
    """``work`` on every item, ``CONCURRENCY`` at a time, results in the items' order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> Any:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def payouts_per_s(bootstrap: str, redis_url: str) -> dict[str, float]:
    async with (
        intake_assets.platform(bootstrap, redis_url) as running,
        httpx.AsyncClient(timeout=60) as client,
    ):
        clerk = intake_assets.headers()
        officer = intake_assets.headers(Role.OFFICER, "bench-officer")
        finance = intake_assets.headers(Role.FINANCE, "bench-finance")
        funds = running.funds_url

        async def file(n: int) -> str:
            response = await client.post(
                f"{running.intake_url}/v1/cases", json=intake_assets.body(n), headers=clerk
            )
            assert response.status_code == 201, response.text
            case_id: str = response.json()["case_id"]
            return case_id

        async def account(case_id: str) -> str:
            deadline = time.monotonic() + ACCOUNT_WAIT_S
            while True:
                try:
                    response = await client.get(f"{funds}/v1/cases/{case_id}/funds",
                                                headers=finance)  # fmt: skip
                except httpx.TransportError:  # still starting
                    response = None
                if response is not None and response.status_code == 200:
                    number: str = response.json()["account_number"]
                    return number
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the funds service opened no account for {case_id}")
                await asyncio.sleep(0.2)

        async def receipt(n: int) -> tuple[str, str]:
            case_id = case_ids[n]
            response = await client.post(f"{funds}/v1/receipts", headers=finance, json={
                "account_number": accounts[n], "bank_reference": f"BENCH-IN-{n}",
                "amount_fen": 1_000_000 + n, "payer": "某公司",
            })  # fmt: skip
            assert response.status_code == 201, response.text
            return case_id, response.json()["payment"]["payment_id"]

        async def notice(paid_in: tuple[str, str]) -> tuple[str, dict[str, Any]]:
            case_id, payment_id = paid_in
            response = await client.post(
                f"{funds}/v1/cases/{case_id}/payments/{payment_id}/notice", headers=officer
            )
            assert response.status_code == 201, response.text
            return case_id, response.json()

        async def payout(noticed: tuple[str, dict[str, Any]]) -> None:
            case_id, issued = noticed
            response = await client.post(
                f"{funds}/v1/cases/{case_id}/notices/{issued['notice_id']}/payout",
                headers=finance,
                json={"amount_fen": issued["amount_fen"], "to_account": issued["to_account"],
                      "bank_reference": f"BENCH-OUT-{issued['notice_id']}"},
            )  # fmt: skip
            assert response.status_code == 201, response.text

        case_ids: list[str] = await pooled(list(range(PAYOUTS)), file)
        accounts: list[str] = await pooled(case_ids, account)
        notices = await pooled(await pooled(list(range(PAYOUTS)), receipt), notice)
        started = time.perf_counter()
        await pooled(notices, payout)
        elapsed = time.perf_counter() - started
        peak = running.peak_rss_mb()["funds"]
    return {"payouts_per_s": PAYOUTS / elapsed, "peak_rss_mb": peak}


async def main() -> None:
    configure_logging("bench", PlatformSettings(log_level="WARNING", log_json=False))
    with throwaway_infrastructure("zhixing-bench-funds-") as (bootstrap_servers, redis_url):
        measured = await payouts_per_s(bootstrap_servers, redis_url)
    print(f"funds_payouts_per_s: {measured['payouts_per_s']:.1f} ({PAYOUTS} payouts)")
    print(f"peak_rss_mb funds (payouts run): {measured['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    run_async(main())
