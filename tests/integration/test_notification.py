"""The notification service through the real stack, with the agency gateway standing in for
the notice systems: a filed case's parties get their filing notice (the case account, the
12368 line, their query code as sent; masked as published) with a receipt; every first send
meets a seeded passing fault and is sent again after the backoff on the simulated clock,
delivered once; a recipient the SMS system refuses ends undelivered and is listed for the
court (and the court above, not a sibling); the filing delivered again queues nothing twice;
money the network query finds is told to the applicant only, its freeze to both parties;
and the public progress page answers a party's code with the case's nodes it is told of (a
debtor's without the assets found), 404s any other
the same way, and 429s after its limit, with its plain page beside it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.agency_gateway.notices import refuses
from services.notification import domain
from services.notification.reads import NO_SUCH_CODE
from services.notification.settings import NotificationSettings
from tests.conftest import Isolated, read_topic
from tests.factories import ACTOR, filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import case_with, debtor_with, file_case, money_online
from tests.polling import eventually
from tools.demo import resident_id
from zhixing.auth import Role
from zhixing.events import decode_event, new_event
from zhixing.publisher import EventPublisher
from zhixing.topics import CASE_EVENTS, NOTIFICATION_EVENTS
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import notification_events_pb2 as pb

pytestmark = pytest.mark.integration

COURT = "苏1283"
SEED = 2021  # the gateway's default seed
SECRET = "a-test-query-code-secret-of-32-characters-or-more"
SETTINGS = NotificationSettings(
    query_code_secret=SECRET, backoff_base_s=60, max_attempts=4, poll_interval_s=0.05,
    progress_limit_per_address=6, progress_limit_per_code=50,
)  # fmt: skip
REFUSED_RATE = 0.5


def person_refused_on_sms(refused: bool) -> str:
    """A resident ID whose holder the SMS system refuses (or not), and the court app never,
    under the gateway's seed and ``REFUSED_RATE``."""
    for serial in range(1, 500):
        number = resident_id("321283", dt.date(1998, 1, 1), serial)
        ref = domain.recipient_ref(SETTINGS.secret, number)
        if refuses(SEED, REFUSED_RATE, ref, "sms") == refused and not refuses(
            SEED, REFUSED_RATE, ref, "court_app"
        ):
            return number
    raise AssertionError("no such person under this seed")


async def case_notices(stack: Stack, case_id: str, node: str = "filed") -> list[dict[str, Any]]:
    """The case's notices of ``node`` (the network query's finds are told too)."""
    assert stack.notification is not None
    async with stack.client(stack.notification) as http:
        answer = await http.get(f"/v1/cases/{case_id}/notices",
                                headers=stack.headers(Role.CLERK, COURT))  # fmt: skip
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, answer.text
    notices: list[dict[str, Any]] = answer.json()["notices"]
    return [n for n in notices if n["node"] == node]


async def notification_events(isolated: Isolated) -> list[Any]:
    return [
        decode_event(r.value).payload for r in await read_topic(isolated, NOTIFICATION_EVENTS.name)
    ]


async def test_filing_notices_are_retried_delivered_once_or_listed_undelivered(
    isolated: Isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    publisher: EventPublisher,
) -> None:  # fmt: skip
    # Every notice's first send meets a passing fault; half the recipients have no SMS.
    monkeypatch.setenv("ZHIXING_NOTICE_GATEWAY_UNAVAILABLE_RATE", "1.0")
    monkeypatch.setenv("ZHIXING_NOTICE_GATEWAY_UNAVAILABLE_STREAK", "1")
    monkeypatch.setenv("ZHIXING_NOTICE_GATEWAY_REFUSED_RATE", str(REFUSED_RATE))
    applicant = person_refused_on_sms(False)
    debtor = person_refused_on_sms(True)
    body = filing(
        COURT,
        applicants=[{"kind": "natural_person", "name": "张三", "id_number": applicant}],
        debtors=[{"kind": "natural_person", "name": "李四", "id_number": debtor}],
    )  # fmt: skip
    async with platform_stack(isolated, tmp_path, with_command=False, with_notification=True,
                              notification=SETTINGS) as stack:  # fmt: skip
        case_id = await file_case(stack, body)

        async def all_tried_once() -> bool:
            notices = await case_notices(stack, case_id)
            return len(notices) == 4 and all(n["attempts"] == 1 for n in notices)

        await eventually(all_tried_once)
        stack.clock.advance(dt.timedelta(seconds=61))

        async def settled() -> bool:
            return all(n["status"] != "queued" for n in await case_notices(stack, case_id))

        await eventually(settled)
        notices = {(n["party_key"], n["channel"]): n for n in await case_notices(stack, case_id)}
        refused = notices[("d0", "sms")]
        assert refused["status"] == "undelivered" and refused["attempts"] == 2
        delivered = [n for key, n in notices.items() if key != ("d0", "sms")]
        assert all(n["status"] == "delivered" and n["receipt_id"] and n["attempts"] == 2
                   for n in delivered)  # fmt: skip
        # What the parties got carries their code; the gateway took each notice once.
        sent = {r.notice_id: r for r in stack.gateway.notices.delivered()}
        assert {n["notice_id"] for n in delivered} <= set(sent)
        assert refused["notice_id"] not in sent
        for notice in delivered:
            code = domain.query_code(SETTINGS.secret, case_id, notice["party_key"])
            assert code in sent[notice["notice_id"]].text
            assert domain.CODE_MASK in notice["text"] and code not in notice["text"]
            assert "12368" in notice["text"] and applicant not in notice["text"]

        # The court lists what it must deliver another way; the court above too; not a sibling.
        assert stack.notification is not None
        async with stack.client(stack.notification) as http:
            own = await http.get("/v1/notices/undelivered",
                                 headers=stack.headers(Role.CLERK, COURT))  # fmt: skip
            above = await http.get(f"/v1/notices/undelivered?court={COURT}",
                                   headers=stack.headers(Role.COMMAND, "苏12"))  # fmt: skip
            sibling = await http.get(f"/v1/notices/undelivered?court={COURT}",
                                     headers=stack.headers(Role.CLERK, "苏1282"))  # fmt: skip
        # Of the filing's notices, the refused one (the case's later notices — its assets
        # found and controlled — may be listed too, once their own sends have run out).
        filing_notices = {n["notice_id"] for n in notices.values()}
        listed = [n for n in own.json() if n["notice_id"] in filing_notices]
        assert [n["notice_id"] for n in listed] == [refused["notice_id"]]
        assert listed[0]["party_name"] == "李四" and debtor not in own.text
        assert [n["notice_id"] for n in above.json() if n["notice_id"] in filing_notices] == [
            refused["notice_id"]]  # fmt: skip
        assert sibling.status_code == 404

        # The filing delivered again queues nothing twice.
        records = await read_topic(isolated, CASE_EVENTS.name)
        filed = next(e for e in map(decode_event, (r.value for r in records))
                     if isinstance(e.payload, cases.CaseFiled))  # fmt: skip
        await publisher.publish(filed)
        # A later event of the case (its partition: after the redelivery) shows it was read.
        closed = cases.CaseClosed(case_id=case_id, method="执行完毕", closed_on="2026-03-02")
        await publisher.publish(new_event(closed, aggregate_id=case_id, court_code=COURT,
                                          actor=ACTOR, clock=stack.clock))  # fmt: skip

        async def closed_told() -> bool:
            return len(await case_notices(stack, case_id, "closed")) == 4

        await eventually(closed_told)
        assert len(await case_notices(stack, case_id)) == 4
        filed_ids = {n["notice_id"] for n in notices.values()}

    events = await notification_events(isolated)
    mine = [e for e in events if getattr(e, "notice_id", "") in filed_ids
            or (isinstance(e, pb.CaseQueryCodeIssued) and e.case_id == case_id)]  # fmt: skip
    kinds = Counter(type(e).__name__ for e in mine)
    assert kinds == Counter({"NoticeQueued": 4, "NoticeAttemptFailed": 4, "NoticeDelivered": 3,
                             "NoticeUndelivered": 1, "CaseQueryCodeIssued": 2})  # fmt: skip
    assert len({e.notice_id for e in mine if isinstance(e, pb.NoticeDelivered)}) == 3


async def _has_notices(stack: Stack, case_id: str) -> bool:
    return bool(await case_notices(stack, case_id))


async def test_the_progress_page_answers_a_partys_code_only_and_limits_lookups(
    isolated: Isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIXING_NOTICE_GATEWAY_UNAVAILABLE_RATE", "0")
    async with platform_stack(isolated, tmp_path, with_command=False, with_notification=True,
                              notification=SETTINGS) as stack:  # fmt: skip
        assert stack.notification is not None
        # A debtor with money the network query finds and freezes online.
        case_id = await file_case(stack, case_with(debtor_with(money_online), 10_000))
        await eventually(lambda: _has_notices(stack, case_id))

        async def controlled_told() -> bool:
            return bool(await case_notices(stack, case_id, "asset_controlled"))

        await eventually(controlled_told)
        # Found is the applicant's news only (a debtor could move it); controlled, both's.
        found = await case_notices(stack, case_id, "assets_found")
        assert found and {n["party_key"] for n in found} == {"a0"}
        controlled = await case_notices(stack, case_id, "asset_controlled")
        assert {n["party_key"] for n in controlled} == {"a0", "d0"}
        assert "冻结" in controlled[0]["text"]
        code = domain.query_code(SETTINGS.secret, case_id, "a0")
        async with stack.client(stack.notification) as http:
            shown = await http.get("/v1/progress", params={"code": code.lower()})
            assert shown.status_code == 200, shown.text
            view = shown.json()
            assert view["role"] == "申请执行人" and view["court_name"]
            assert view["case_number"].startswith("（2026）苏1283执")
            titles = [n["title"] for n in view["nodes"]]
            assert titles[0] == "立案" and {"查控到财产", "控制财产"} <= set(titles)
            assert "event_id" not in view["nodes"][0]
            wrong = await http.get("/v1/progress", params={"code": "ABCDE-FGHJK"})
            malformed = await http.get("/v1/progress", params={"code": "x"})
            assert wrong.status_code == malformed.status_code == 404
            assert wrong.json()["detail"] == malformed.json()["detail"] == NO_SUCH_CODE
            # The debtor's code: not the assets found (the debtor could move them first).
            debtor = await http.get(
                "/v1/progress", params={"code": domain.query_code(SETTINGS.secret, case_id, "d0")}
            )
            assert debtor.status_code == 200 and debtor.json()["role"] == "被执行人"
            debtor_titles = [n["title"] for n in debtor.json()["nodes"]]
            assert "控制财产" in debtor_titles and "查控到财产" not in debtor_titles
            assert debtor.json()["paid_fen"] is None
            for _ in range(2):  # six lookups from this address in the window, then 429
                assert (await http.get("/v1/progress", params={"code": code})).status_code == 200
            limited = await http.get("/v1/progress", params={"code": code})
            assert limited.status_code == 429
            assert 0 < int(limited.headers["Retry-After"]) <= SETTINGS.progress_window_s
            stack.clock.advance(dt.timedelta(seconds=int(limited.headers["Retry-After"])))
            assert (await http.get("/v1/progress", params={"code": code})).status_code == 200
            page = await http.get("/progress")
            assert page.status_code == 200 and "案件查询码" in page.text


async def build_notification(stack: Stack, ids: dict[str, str]) -> None:
    """The authorization matrix's fixture: its case known to the notification service, and
    the applicant's query code (``ids["query_code"]``) for the public progress page."""
    case_id = ids["case_id"]
    await eventually(lambda: _has_notices(stack, case_id))
    secret = NotificationSettings().secret  # the stack's (the environment's) secret
    ids["query_code"] = domain.query_code(secret, case_id, "a0")
