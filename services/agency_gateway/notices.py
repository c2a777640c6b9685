"""The notice gateway stand-in (``NoticeGatewayService``): the outside systems that carry
notices to parties (SMS, the 12368 line, the court app), served by the agency gateway
process beside the agency servicer.

It answers as those systems do, deterministically under the gateway's seed:
- a notice id is taken once: a repeat returns the first answer (the same receipt, or the
  same refusal) and sends nothing twice;
- a share of calls fail UNAVAILABLE (a passing fault; at most ``unavailable_streak`` in a
  row for one notice, as an outage passes), decided from the seed, the notice id and how
  many times it was sent;
- a few recipients are refused for good on a channel (an empty number, no app account),
  decided from the seed, the recipient's reference and the channel.
Answers are journaled (a file beside the agency journal) before they are returned, so a
restarted gateway still answers a notice it took with the same receipt. The journal keeps
only what that needs: the notice id, its channel, court, case number and the recipient's
opaque reference with the answer; never the text, which carries the party's case query code
in the clear (a journal written before this held it: it is rewritten without on restart).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.v1 import notice_gateway_pb2 as pb
from zhixing.v1 import notice_gateway_pb2_grpc

log = structlog.get_logger(__name__)

CHANNELS = ("sms", "hotline_12368", "court_app")
REFUSALS = {
    "sms": "号码为空号或已停机",
    "hotline_12368": "电话无人接听且无法留言",
    "court_app": "当事人未注册法院APP",
}


class NoticeGatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIXING_NOTICE_GATEWAY_", extra="ignore")

    unavailable_rate: float = Field(
        0.1, ge=0, le=1, description="Share of sends answered UNAVAILABLE (a passing fault)"
    )
    unavailable_streak: int = Field(
        2, ge=0, description="At most this many UNAVAILABLE answers in a row for one notice"
    )
    refused_rate: float = Field(
        0.02, ge=0, le=1, description="Share of recipients a channel refuses for good"
    )


def refuses(seed: int, rate: float, recipient_ref: str, channel: str) -> bool:
    """Whether the channel refuses this recipient for good (for the tests too)."""
    return _chance(seed, "refuse", recipient_ref, channel) < rate


def _chance(seed: int, *parts: object) -> float:
    return random.Random("|".join(str(p) for p in (seed, *parts))).random()


@dataclass
class _Sent:
    answer: pb.SendNoticeResponse
    request: pb.SendNoticeRequest


def journaled(request: pb.SendNoticeRequest) -> pb.SendNoticeRequest:
    """What the journal keeps of a request: enough to answer a repeat and to list what was
    taken; not the text (it carries the party's case query code) nor the party's name."""
    kept = pb.SendNoticeRequest()
    kept.CopyFrom(request)
    kept.ClearField("text")
    kept.ClearField("recipient_name")
    return kept


def _line(sent: _Sent) -> str:
    entry: dict[str, Any] = {
        "request": sent.request.SerializeToString().hex(),
        "answer": sent.answer.SerializeToString().hex(),
    }
    return json.dumps(entry) + "\n"


@dataclass
class NoticeState:
    # The first answer to each notice id taken, and the calls of each notice id so far.
    sent: dict[str, _Sent] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)


class NoticeGateway(notice_gateway_pb2_grpc.NoticeGatewayServiceServicer):
    def __init__(
        self, seed: int, journal: Path | None = None,
        settings: NoticeGatewaySettings | None = None,
    ) -> None:  # fmt: skip
        self.seed = seed
        self.settings = settings or NoticeGatewaySettings()
        self.state = NoticeState()
        self.journal = journal
        self._file = None
        if journal is not None:
            self._restore(journal)
            journal.parent.mkdir(parents=True, exist_ok=True)
            self._file = journal.open("a", encoding="utf-8")

    @staticmethod
    def journal_beside(agency_journal: Path | None) -> Path | None:
        """The notices' journal, beside the agency requests' one (none when that is none)."""
        if agency_journal is None:
            return None
        return agency_journal.with_name(agency_journal.name + ".notices")

    def _restore(self, path: Path) -> None:
        if not path.exists():
            return
        stale = False
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry = json.loads(line)
                    request = pb.SendNoticeRequest.FromString(bytes.fromhex(entry["request"]))
                    answer = pb.SendNoticeResponse.FromString(bytes.fromhex(entry["answer"]))
                except (ValueError, KeyError):
                    log.warning("notice journal line skipped", path=str(path))
                    continue
                stale = stale or bool(request.text or request.recipient_name)
                self.state.sent[request.notice_id] = _Sent(answer, journaled(request))
        if stale:
            self._rewrite(path)
        log.info("notice journal replayed", notices=len(self.state.sent))

    def _rewrite(self, path: Path) -> None:
        """Replace a journal that kept texts (and so codes) with one that keeps none."""
        fresh = path.with_name(path.name + ".tmp")
        with fresh.open("w", encoding="utf-8") as out:
            for sent in self.state.sent.values():
                out.write(_line(sent))
            out.flush()
            os.fsync(out.fileno())
        fresh.replace(path)
        log.info("notice journal rewritten without texts", path=str(path))

    def _record(self, sent: _Sent) -> None:
        if self._file is None:
            return
        self._file.write(_line(_Sent(sent.answer, journaled(sent.request))))
        self._file.flush()
        os.fsync(self._file.fileno())

    def receipt_id(self, notice_id: str) -> str:
        digest = hashlib.sha256(f"{self.seed}|notice|{notice_id}".encode())
        return f"NR{digest.hexdigest()[:18].upper()}"

    def delivered(self) -> list[pb.SendNoticeRequest]:
        """The notices delivered so far, once each (what the parties received; those taken
        before a restart without their text and name, which the journal does not keep)."""
        return [s.request for s in self.state.sent.values() if s.answer.delivered]

    def _passing_fault(self, notice_id: str, call: int) -> bool:
        streak = 0
        for n in range(1, call + 1):
            failed = (
                _chance(self.seed, "unavailable", notice_id, n) < self.settings.unavailable_rate
            )
            streak = streak + 1 if failed and streak < self.settings.unavailable_streak else 0
            if n == call:
                return streak > 0
        return False

    async def SendNotice(  # noqa: N802 (gRPC method name)
        self, request: pb.SendNoticeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SendNoticeResponse:
        if not request.notice_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "notice_id is empty")
        if request.channel not in CHANNELS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unknown channel {request.channel!r}: one of {', '.join(CHANNELS)}",
            )
        known = self.state.sent.get(request.notice_id)
        if known is not None:
            return known.answer
        call = self.state.calls.get(request.notice_id, 0) + 1
        self.state.calls[request.notice_id] = call
        if self._passing_fault(request.notice_id, call):
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{request.channel} busy, try again")
        if refuses(self.seed, self.settings.refused_rate, request.recipient_ref, request.channel):
            answer = pb.SendNoticeResponse(delivered=False, refusal=REFUSALS[request.channel])
        else:
            answer = pb.SendNoticeResponse(
                delivered=True, receipt_id=self.receipt_id(request.notice_id)
            )
        sent = _Sent(answer, request)
        self._record(sent)  # before the answer: a crash after it still answers the same
        self.state.sent[request.notice_id] = sent
        return answer

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
