"""A filing at the bounds (a hundred applicants and a hundred debtors, names of the longest)
through the real stack: another case filed just after has its filing notices delivered
while the large one's are still being sent (the sender takes a few of each case in turn),
and the large case's notices are read a page at a time (``X-Next-Cursor``), every notice
once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from services.notification.settings import NotificationSettings
from tests.conftest import Isolated
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import file_case
from tests.polling import eventually
from tools.demo import credit_code, resident_id
from zhixing.auth import Role
from zhixing.bounds import MAX_NAME, MAX_PARTIES
from zhixing.paging import NEXT_CURSOR

pytestmark = pytest.mark.integration

COURT = "苏1283"
SETTINGS = NotificationSettings(
    query_code_secret="a-test-query-code-secret-of-32-characters-or-more", poll_interval_s=0.05,
)  # fmt: skip


def largest_filing() -> dict[str, Any]:
    name = "某" * (MAX_NAME - 4)
    return filing(
        COURT,
        applicants=[{"kind": "natural_person", "name": f"{name}{n:04d}",
                     "id_number": resident_id("321283", dt.date(1998, 1, 1), n + 1)}
                    for n in range(MAX_PARTIES)],
        debtors=[{"kind": "organisation", "name": f"{name}{n:04d}",
                  "id_number": credit_code(1000 + n)} for n in range(MAX_PARTIES)],
    )  # fmt: skip


async def notices_page(
    stack: Stack, case_id: str, **params: Any
) -> tuple[list[dict[str, Any]], str | None]:
    assert stack.notification is not None
    async with stack.client(stack.notification) as http:
        answer = await http.get(f"/v1/cases/{case_id}/notices", params=params,
                                headers=stack.headers(Role.CLERK, COURT))  # fmt: skip
    if answer.status_code == 404:
        return [], None
    assert answer.status_code == 200, answer.text
    notices: list[dict[str, Any]] = answer.json()["notices"]
    return notices, answer.headers.get(NEXT_CURSOR)


async def test_a_large_filing_does_not_hold_back_another_case_and_is_read_by_pages(
    isolated: Isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIXING_NOTICE_GATEWAY_UNAVAILABLE_RATE", "0")
    monkeypatch.setenv("ZHIXING_NOTICE_GATEWAY_REFUSED_RATE", "0")
    async with platform_stack(isolated, tmp_path, with_command=False, with_notification=True,
                              notification=SETTINGS) as stack:  # fmt: skip
        large = await file_case(stack, largest_filing())
        small = await file_case(stack, filing(COURT))

        async def small_delivered() -> bool:
            notices, _ = await notices_page(stack, small)
            filed = [n for n in notices if n["node"] == "filed"]
            return len(filed) == 4 and all(n["status"] == "delivered" for n in filed)

        await eventually(small_delivered)
        # The small case was not left to wait for the large one's 400 filing notices.
        first, _ = await notices_page(stack, large, limit=1000)
        assert any(n["status"] == "queued" for n in first if n["node"] == "filed")

        # A page at a time, in the order queued, each notice once.
        seen: list[dict[str, Any]] = []
        after: str | None = None
        pages = 0
        while True:
            page, after = await notices_page(
                stack, large, limit=150, **({"after": after} if after else {})
            )
            assert len(page) <= 150
            seen.extend(page)
            pages += 1
            if after is None:
                break
        ids = [n["notice_id"] for n in seen]
        assert pages >= 3 and len(ids) == len(set(ids)) >= 4 * MAX_PARTIES
        assert len([n for n in seen if n["node"] == "filed"]) == 4 * MAX_PARTIES
        default, cursor = await notices_page(stack, large)
        assert len(default) == 200 and cursor is not None
        assert stack.notification is not None
        async with stack.client(stack.notification) as http:
            for wrong in ({"limit": 1001}, {"limit": 0}, {"after": "not-a-cursor"}):
                refused = await http.get(f"/v1/cases/{large}/notices", params=wrong,
                                         headers=stack.headers(Role.CLERK, COURT))  # fmt: skip
                assert refused.status_code == 422, wrong
