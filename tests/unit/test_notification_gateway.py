"""The notice gateway stand-in: a notice id is answered once (a repeat gets the same
receipt and is not sent twice), passing faults come at most a streak in a row and are the
same under the same seed, a refused recipient is refused for good on that channel, and a
restarted gateway answers what it took from its journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import grpc

from services.agency_gateway.notices import NoticeGateway, NoticeGatewaySettings, refuses
from zhixing.v1 import notice_gateway_pb2 as pb

SEED = 2021


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code.name)
        self.code = code


class Context:
    async def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise Aborted(code)


def request(notice_id: str, ref: str = "r-1", channel: str = "sms") -> pb.SendNoticeRequest:
    return pb.SendNoticeRequest(notice_id=notice_id, channel=channel, recipient_ref=ref,
                                recipient_name="张三", text="您好")  # fmt: skip


async def send(gateway: NoticeGateway, sent: pb.SendNoticeRequest) -> pb.SendNoticeResponse | str:
    try:
        return await gateway.SendNotice(sent, Context())  # type: ignore[arg-type]
    except Aborted as exc:
        return exc.code.name


def quiet(**overrides: Any) -> NoticeGatewaySettings:
    return NoticeGatewaySettings(**{"unavailable_rate": 0.0, "refused_rate": 0.0, **overrides})


async def test_a_notice_is_taken_once_and_answered_the_same_again() -> None:
    gateway = NoticeGateway(SEED, settings=quiet())
    first = await send(gateway, request("n-1"))
    again = await send(gateway, request("n-1"))
    assert isinstance(first, pb.SendNoticeResponse) and first.delivered and first.receipt_id
    assert again == first
    assert [r.notice_id for r in gateway.delivered()] == ["n-1"]
    assert await send(gateway, request("n-2", channel="fax")) == "INVALID_ARGUMENT"


async def test_passing_faults_come_at_most_a_streak_in_a_row_and_repeat_under_the_seed() -> None:
    gateway = NoticeGateway(SEED, settings=quiet(unavailable_rate=1.0, unavailable_streak=2))
    answers = [await send(gateway, request("n-1")) for _ in range(3)]
    assert answers[:2] == ["UNAVAILABLE", "UNAVAILABLE"]
    assert isinstance(answers[2], pb.SendNoticeResponse) and answers[2].delivered

    async def pattern() -> list[bool]:
        again = NoticeGateway(SEED, settings=quiet(unavailable_rate=0.5, unavailable_streak=3))
        return [isinstance(await send(again, request(f"n-{i}")), str) for i in range(20)]

    first = await pattern()
    assert first == await pattern() and any(first) and not all(first)


async def test_a_refused_recipient_is_refused_for_good_on_that_channel() -> None:
    settings = quiet(refused_rate=0.5)
    refused = next(f"r-{i}" for i in range(100) if refuses(SEED, 0.5, f"r-{i}", "sms"))
    gateway = NoticeGateway(SEED, settings=settings)
    answer = await send(gateway, request("n-1", ref=refused))
    assert isinstance(answer, pb.SendNoticeResponse)
    assert not answer.delivered and answer.refusal
    assert await send(gateway, request("n-1", ref=refused)) == answer
    assert gateway.delivered() == []


async def test_a_restarted_gateway_answers_what_it_took(tmp_path: Path) -> None:
    journal = tmp_path / "notices.jsonl"
    gateway = NoticeGateway(SEED, journal, settings=quiet())
    first = await send(gateway, request("n-1"))
    gateway.close()
    restarted = NoticeGateway(SEED, journal, settings=quiet(refused_rate=1.0))
    assert await send(restarted, request("n-1")) == first
    assert [r.notice_id for r in restarted.delivered()] == ["n-1"]
    restarted.close()
    assert NoticeGateway.journal_beside(None) is None


async def test_no_streak_allowed_means_no_faults() -> None:
    gateway = NoticeGateway(SEED, settings=quiet(unavailable_rate=1.0, unavailable_streak=0))
    assert isinstance(await send(gateway, request("n-1")), pb.SendNoticeResponse)


CODE = "ABCDE-FGHJK"


def coded(notice_id: str) -> pb.SendNoticeRequest:
    sent = request(notice_id)
    sent.text = f"您的案件查询码：{CODE}，凭码可查询执行进展。"
    return sent


def holds_code(path: Path) -> bool:
    """Whether the journal holds the code or the name, in the clear or in its hex encoding."""
    raw = path.read_text(encoding="utf-8")
    return any(s in raw or s.encode().hex() in raw for s in (CODE, "张三"))


async def test_the_journal_keeps_no_text_yet_a_restart_answers_the_same(tmp_path: Path) -> None:
    journal = tmp_path / "notices.jsonl"
    gateway = NoticeGateway(SEED, journal, settings=quiet())
    first = await send(gateway, coded("n-1"))
    assert [r.text for r in gateway.delivered()] == [coded("n-1").text]  # sent as it came
    gateway.close()
    assert journal.read_text(encoding="utf-8") and not holds_code(journal)
    restarted = NoticeGateway(SEED, journal, settings=quiet(refused_rate=1.0))
    assert await send(restarted, coded("n-1")) == first
    restarted.close()


async def test_a_journal_that_kept_texts_is_rewritten_without_on_restart(tmp_path: Path) -> None:
    journal = tmp_path / "notices.jsonl"
    answer = pb.SendNoticeResponse(delivered=True, receipt_id="NR-OLD")
    legacy = {"request": coded("n-1").SerializeToString().hex(),
              "answer": answer.SerializeToString().hex()}  # fmt: skip
    journal.write_text(json.dumps(legacy) + "\n", encoding="utf-8")
    assert holds_code(journal)
    restarted = NoticeGateway(SEED, journal, settings=quiet())
    assert not holds_code(journal)
    assert await send(restarted, coded("n-1")) == answer
    restarted.close()
    again = NoticeGateway(SEED, journal, settings=quiet())
    assert await send(again, coded("n-1")) == answer
    again.close()
