"""The deduction worker: sends due deductions (扣划) to the outside systems and applies
their answers. A deduction with no answer is sent again (same id: the systems take it
once) after ``answer_timeout_s`` on the injected clock, and reported failed after
``max_attempts`` sends (the loop itself: ``zhixing.polling``)."""

from __future__ import annotations

import structlog

from services.funds.handlers import Funds
from services.funds.transfers import TransferClient, TransferSettings, TransferUnavailable
from zhixing.polling import PollingWorker

log = structlog.get_logger(__name__)

BATCH = 100


class DeductionWorker(PollingWorker):
    name = "deductions"

    def __init__(self, funds: Funds, client: TransferClient, settings: TransferSettings) -> None:
        super().__init__(
            settings.poll_interval_s,
            idle_interval_s=settings.idle_interval_s,
            signal=funds.records.deductions_signal,
            clock=funds.money_in.ctx.clock,
        )
        self.funds = funds
        self.client = client
        self.settings = settings

    async def close(self) -> None:
        await self.client.close()

    async def step(self) -> int:
        return await self.submit_due() + await self.apply_answers()

    async def submit_due(self) -> int:
        money_in = self.funds.money_in
        due = await self.funds.records.due_deductions(money_in.now_ms(), BATCH)
        retry_ms = int(self.settings.answer_timeout_s * 1000)
        for case_id, deduction_id in due:
            record = await self.funds.records.get(case_id)
            deduction = (record or {}).get("deductions", {}).get(deduction_id)
            if deduction is not None and deduction["attempts"] >= self.settings.max_attempts:
                await money_in.deduction_failed(
                    case_id, deduction_id,
                    f"no answer from the deduction system after {deduction['attempts']} sends",
                )  # fmt: skip
                continue
            request = await money_in.transfer_request(case_id, deduction_id, retry_ms)
            if request is None:
                continue
            try:
                await self.client.submit_transfer(request)
            except TransferUnavailable as exc:
                log.info("deduction send failed; sent again later", deduction_id=deduction_id,
                         error=str(exc))  # fmt: skip
        return len(due)

    async def apply_answers(self) -> int:
        try:
            batch = await self.client.fetch_feedback(BATCH)
        except TransferUnavailable as exc:
            log.info("deduction answers not fetched", error=str(exc))
            return 0
        for feedback in batch:
            case_id = await self.funds.records.case_of_deduction(feedback.request_id)
            outcome = (
                await self.funds.money_in.apply_transfer(feedback, case_id)
                if case_id is not None else "unknown"
            )  # fmt: skip
            log.debug("deduction answer applied", request_id=feedback.request_id, outcome=outcome)
        # Acknowledged once applied: a crash before this redelivers, and applying again
        # changes nothing (one receipt per bank reference).
        if batch:
            try:
                await self.client.ack_feedback([f.feedback_id for f in batch])
            except TransferUnavailable as exc:
                log.info("deduction answers not acknowledged; redelivered", error=str(exc))
        return len(batch)
