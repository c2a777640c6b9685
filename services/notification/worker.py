"""The sender: sends the notices that are due through their channel and records the outcome
(the loop itself: ``zhixing.polling``).

A notice is recorded as delivered only while it is still queued, in the transaction that
stages ``NoticeDelivered``: a crash between the send and the record leaves it queued and
due, the resend carries the same notice id, the gateway answers the first receipt, and the
notice is delivered once. When it is due again is decided on the injected clock.

Each round takes at most ``repository.DUE_PER_CASE`` due notices of each case with notices
due (``NotificationRecords.due``), and a case served goes behind those due before it (round
robin): a case with hundreds queued is sent a few at a time beside the others, and a case
filed after it waits a round or two, not until the large one is drained."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.notification.channels import ChannelUnavailable, NoticeChannel, Receipt
from services.notification.handlers import Notices
from zhixing.polling import PollingWorker

log = structlog.get_logger(__name__)

BATCH = 100
"""The most notices sent in one round (of every case due, ``DUE_PER_CASE`` of each)."""

CASES_AT_ONCE = 8
"""The cases whose notices are sent at the same time in a round (each case's one after
another): a gateway slow to answer costs the round its slowest case, not the sum of all;
the bound keeps the calls in flight to the gateway few."""


class NoticeSender(PollingWorker):
    name = "notices"

    def __init__(
        self, notices: Notices, channels: Mapping[str, NoticeChannel],
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:  # fmt: skip
        settings = notices.settings
        super().__init__(
            settings.poll_interval_s,
            idle_interval_s=settings.idle_interval_s,
            signal=notices.records.signal,
            clock=notices.ctx.clock,
        )
        self.notices = notices
        self.channels = channels
        self._close = close

    async def close(self) -> None:
        if self._close is not None:
            await self._close()

    async def step(self) -> int:
        due = await self.notices.records.due(self.notices.now_ms(), BATCH)
        by_case: dict[str, list[str]] = {}
        for case_id, notice_id in due:
            by_case.setdefault(case_id, []).append(notice_id)
        # The cases side by side (CASES_AT_ONCE), each case's notices in order: a slow
        # answer for one case's notices does not hold back the round's other cases.
        room = asyncio.Semaphore(CASES_AT_ONCE)

        async def send_case(case_id: str, notice_ids: list[str]) -> None:
            async with room:
                for notice_id in notice_ids:
                    try:
                        await self.send(case_id, notice_id)
                    except (RedisConnectionError, RedisTimeoutError):
                        raise
                    except Exception as exc:  # this notice's fault: after its backoff again
                        log.error("sending a notice failed", case_id=case_id,
                                  notice_id=notice_id, error=repr(exc))  # fmt: skip
                        await self.notices.attempt_failed(case_id, notice_id, repr(exc)[:200])

        # One case's failure neither cancels the others' sends nor stops the round; the store
        # out of reach is the worker's to wait for (raised as itself, not in a group).
        results = await asyncio.gather(
            *(send_case(case_id, ids) for case_id, ids in by_case.items()), return_exceptions=True
        )
        for case_id, result in zip(by_case, results, strict=True):
            if isinstance(result, RedisConnectionError | RedisTimeoutError):
                raise result
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                log.error("sending a case's notices failed", case_id=case_id, error=repr(result))
        return len(due)

    async def send(self, case_id: str, notice_id: str) -> str:
        """Send one due notice; what became of it."""
        notice = await self.notices.outgoing(case_id, notice_id)
        if notice is None:
            return "settled"
        channel = self.channels.get(notice.channel)
        if channel is None:
            await self.notices.refused(case_id, notice_id, f"no channel {notice.channel}")
            return "undelivered"
        try:
            answer = await channel.send(notice)
        except ChannelUnavailable as exc:
            log.info("notice not sent; sent again later", notice_id=notice_id, error=str(exc))
            await self.notices.attempt_failed(case_id, notice_id, str(exc))
            return "retry"
        if isinstance(answer, Receipt):
            await self.notices.delivered(case_id, notice_id, answer.receipt_id)
            return "delivered"
        await self.notices.refused(case_id, notice_id, answer.reason)
        return "undelivered"
