"""A closed case (结案) takes no new control or disposal in asset control, naming the rule
that bars it (``zhixing.closures``); what it found and did not control is declined by the
service, so no clock asks for a control it needs no more; what it holds may still be
released."""

from __future__ import annotations

import pytest

from services.asset_control.domain import asset_id_for
from services.asset_control.handlers import AssetControl
from services.asset_control.reactions import CaseIntake, EntrustedControls
from tests.fakes import person, staged
from tests.unit.test_asset_control_handlers import (
    DEPOSIT,
    HOUSE,
    OFFICER,
    answer,
    apply,
    asset_control,
    entrusted_control,
    file,
    filing,
)
from zhixing.assets import PriceMethod
from zhixing.auth import Role
from zhixing.errors import Conflict
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as asset_pb
from zhixing.v1 import case_events_pb2

OTHER_HOUSE = agency_pb.AgencyAsset(
    asset_key="real_estate:h2", kind="real_estate", description="另一房屋", value_fen=4_000_000,
    online_control=False, location_division="321283",
)  # fmt: skip


async def close(control: AssetControl, case_id: str, method: str) -> bool:
    closed = case_events_pb2.CaseClosed(case_id=case_id, method=method, closed_on="2026-03-10")
    return await control.close_case(closed)


async def status(control: AssetControl, asset_id: str) -> str:
    record = await control.records.asset(asset_id)
    assert record is not None
    return str(record["status"])


async def test_a_closed_case_takes_no_new_control_and_what_it_found_is_declined() -> None:
    control = asset_control()
    await file(control, "c1", 10_000_000)
    await answer(control, "c1", {"real_estate": [HOUSE, OTHER_HOUSE]})
    held, found = asset_id_for("c1", HOUSE.asset_key), asset_id_for("c1", OTHER_HOUSE.asset_key)
    await control.controls.control(held, identity=OFFICER, amount_fen=None, control_ref="r1")
    before = len(await staged(control.ctx))
    assert await close(control, "c1", "执行完毕")
    (declined,) = [e.payload for e in (await staged(control.ctx))[before:]]
    assert isinstance(declined, asset_pb.ControlDeclined)
    assert declined.asset_id == found and declined.declined_by == "svc:asset_control"
    assert "执行完毕" in declined.reason
    assert (await status(control, found), await status(control, held)) == ("declined", "controlled")
    with pytest.raises(Conflict, match=r"closed as 执行完毕 on 2026-03-10.*\(rule case\.close\)"):
        await control.controls.control(found, identity=OFFICER, amount_fen=None, control_ref="r2")
    with pytest.raises(Conflict, match=r"over-seizure exception.*rule case\.close"):
        await control.controls.approve_exception(found, "不可分物", identity=person(Role.LEADER))
    with pytest.raises(Conflict, match=r"reference price.*rule case\.close"):
        await control.disposal.start_reference_price(held, PriceMethod.APPRAISAL, identity=OFFICER)
    # What it holds is released as before; a closure read again changes nothing.
    await control.controls.release(held, "已履行完毕", identity=OFFICER)
    assert await status(control, held) == "released"
    after = len(await staged(control.ctx))
    assert not await close(control, "c1", "执行完毕")
    assert len(await staged(control.ctx)) == after


async def test_a_case_ended_this_round_sends_a_control_to_the_resumed_case() -> None:
    control = asset_control()
    await file(control, "c2", 10_000_000)
    await answer(control, "c2", {"real_estate": [HOUSE]})
    house = asset_id_for("c2", HOUSE.asset_key)
    assert await close(control, "c2", "终结本次执行")
    with pytest.raises(Conflict, match=r"终本.*执恢.*\(rule zhongben\.after-ruling\)"):
        await control.controls.control(house, identity=OFFICER, amount_fen=None, control_ref="r1")


async def test_money_found_after_the_closure_is_recorded_and_not_frozen() -> None:
    # A query answered late, after the case was closed: online money was frozen at once.
    control = asset_control()
    await file(control, "c3", 10_000_000)
    assert await close(control, "c3", "执行完毕")
    before = len(await staged(control.ctx))
    await answer(control, "c3", {"bank": [DEPOSIT]})
    deposit = asset_id_for("c3", DEPOSIT.asset_key)
    assert await status(control, deposit) == "declined"
    told = [type(e.payload).__name__ for e in (await staged(control.ctx))[before:]
            if getattr(e.payload, "asset_id", "") == deposit]  # fmt: skip
    assert told == ["AssetFound", "ControlDeclined"]


async def test_a_control_an_entrusted_court_made_after_the_closure_is_held_as_made() -> None:
    # Entrusted while the case was open, done after it closed: the house is seized, so it
    # is recorded controlled (to be released), not declined.
    control = asset_control()
    await apply(CaseIntake(control), [filing("c4")], control)
    assert await close(control, "c4", "执行完毕")
    await apply(EntrustedControls(control), [entrusted_control("c4")], control)
    house = asset_id_for("c4", "real_estate:h9")
    assert await status(control, house) == "controlled"
    told = [type(e.payload).__name__ for e in await staged(control.ctx)
            if getattr(e.payload, "asset_id", "") == house]  # fmt: skip
    assert "ControlDeclined" not in told and "AssetControlled" in told
