"""Disposal (财产处置) of a controlled asset that is not money: its reference price
(确定财产处置参考价), then the sale (online judicial auction first, ¶18) and its conclusion
(成交), or the debtor's own sale within the catalogue's period (¶17). Whoever controlled the
asset does not approve its disposal (分段办理). While a dispute's stop order is in force
(rule dispute.stop-enforcement) no disposal act is taken on the case; a sale completion
already recorded may be repeated (it changes nothing)."""

from __future__ import annotations

from typing import Any

from redis.asyncio.client import Pipeline

from services.asset_control.domain import disposable, not_the_controller
from services.asset_control.handler import Handler
from zhixing.assets import PriceMethod, SaleMode
from zhixing.auth import Identity, Role
from zhixing.errors import Conflict, Invalid
from zhixing.money import yuan
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2 as pb


class Disposal(Handler):
    async def start_reference_price(
        self, asset_id: str, method: PriceMethod, *, identity: Identity
    ) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            disposable(record)
            self.refuse_if_closed(case, f"fixing the reference price of asset {asset_id}")
            await self.refuse_if_stopped(
                pipe, case, f"fixing the reference price of asset {asset_id}"
            )
            if record.get("price_method"):
                raise Conflict(f"the reference price of asset {asset_id} is already being fixed "
                               f"({record['price_method']})")  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record["price_method"] = method.value
            started = pb.ReferencePriceStarted(
                asset_id=asset_id, case_id=case["case_id"], method=method.value
            )
            self.stage(pipe, started, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act)

    async def fix_reference_price(
        self, asset_id: str, price_fen: int, *, identity: Identity
    ) -> None:
        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            disposable(record)
            await self.refuse_if_stopped(
                pipe, case, f"fixing the reference price of asset {asset_id}"
            )
            if not record.get("price_method"):
                raise Conflict(f"start fixing the reference price of asset {asset_id} first")
            if record.get("price_fen"):
                raise Conflict(f"the reference price of asset {asset_id} is fixed already")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["price_fen"] = price_fen
            fixed = pb.ReferencePriceFixed(
                asset_id=asset_id, case_id=case["case_id"], method=record["price_method"],
                price_fen=price_fen,
            )  # fmt: skip
            self.stage(pipe, fixed, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act)

    async def start_sale(
        self, asset_id: str, mode: SaleMode, reason: str, *, identity: Identity
    ) -> None:
        """Approve and start the sale: online judicial auction first (¶18)."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            disposable(record)
            not_the_controller(record, identity)
            self.refuse_if_closed(case, f"the sale of asset {asset_id}")
            await self.refuse_if_stopped(pipe, case, f"the sale of asset {asset_id}")
            if not record.get("price_fen"):
                raise Conflict(f"fix the reference price of asset {asset_id} before the sale")
            if record.get("sale_mode"):
                raise Conflict(f"the sale of asset {asset_id} started already")
            if mode is not SaleMode.ONLINE_AUCTION and not reason:
                raise Invalid(
                    "online judicial auction comes first (¶18): another mode needs its reason",
                    loc=("body", "reason"),
                )
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(sale_mode=mode.value, sale_approved_by=identity.subject)
            sale = pb.SaleStarted(
                asset_id=asset_id, case_id=case["case_id"], mode=mode.value, reason=reason,
                approved_by=identity.subject,
            )  # fmt: skip
            self.stage(pipe, sale, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act, Role.OFFICER, Role.LEADER)

    async def complete_sale(
        self, asset_id: str, proceeds_fen: int, sale_reference: str, *, identity: Identity
    ) -> None:
        """Record that the sale was concluded (成交) and what the buyer paid, once. The same
        completion again (same reference and proceeds: a retried request) changes nothing;
        another one is refused. It records a fact and approves nothing, so whoever
        controlled the asset may record it (分段办理 bars him from approving the sale)."""

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            if done := record.get("sale_reference"):
                if (done, record["sale_proceeds_fen"]) != (sale_reference, proceeds_fen):
                    raise Conflict(
                        f"the sale of asset {asset_id} was completed already: reference "
                        f"{done}, proceeds {record['sale_proceeds_fen']} fen "
                        f"({yuan(record['sale_proceeds_fen'])})"
                    )
                pipe.multi()  # type: ignore[no-untyped-call]
                return  # recorded already: nothing new to stage
            disposable(record)
            await self.refuse_if_stopped(pipe, case, f"completing the sale of asset {asset_id}")
            if not record.get("sale_mode"):
                raise Conflict(f"the sale of asset {asset_id} has not started: a sale is "
                               "completed only after it was approved and started")  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            record.update(sale_proceeds_fen=proceeds_fen, sale_reference=sale_reference,
                          sale_completed_by=identity.subject)  # fmt: skip
            completed = pb.SaleCompleted(
                asset_id=asset_id, case_id=case["case_id"], proceeds_fen=proceeds_fen,
                sale_reference=sale_reference, recorded_by=identity.subject,
            )  # fmt: skip
            self.stage(pipe, completed, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act, Role.OFFICER, Role.LEADER)

    async def permit_self_disposal(self, asset_id: str, days: int, *, identity: Identity) -> None:
        limit = catalogue().rule("disposal.self-disposal").limit or 0

        async def act(pipe: Pipeline, case: dict[str, Any], record: dict[str, Any],
                      queue: list[str]) -> None:  # fmt: skip
            disposable(record)
            not_the_controller(record, identity)
            self.refuse_if_closed(case, f"the self-disposal of asset {asset_id}")
            await self.refuse_if_stopped(pipe, case, f"the self-disposal of asset {asset_id}")
            if days > limit:
                raise Invalid(f"self-disposal is at most {limit} days (¶17), not {days}",
                              loc=("body", "days"))  # fmt: skip
            if record.get("sale_mode") or record.get("self_disposal_days"):
                raise Conflict(f"asset {asset_id} is being disposed of already")
            pipe.multi()  # type: ignore[no-untyped-call]
            record["self_disposal_days"] = days
            permitted = pb.SelfDisposalPermitted(
                asset_id=asset_id, case_id=case["case_id"], days=days,
                approved_by=identity.subject,
            )  # fmt: skip
            self.stage(pipe, permitted, asset_id, record["court_code"], identity.as_actor())

        await self.asset_command(asset_id, identity, act, Role.OFFICER, Role.LEADER)
