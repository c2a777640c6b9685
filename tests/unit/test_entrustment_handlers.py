"""Entrustment's handlers on the in-memory repository: who entrusts what to which court,
the order of its steps, and who may act on it."""

from __future__ import annotations

import datetime as dt
import functools

import pytest

from services.entrustment import handlers as handlers_module
from services.entrustment.domain import MatterType
from services.entrustment.handlers import Entrustments
from services.entrustment.repository import EntrustmentRecords
from tests.factories import START, case_closed_event, stop_ordered_event
from tests.fakes import in_memory_context, known_case, person, project, staged, staged_types
from tests.pages import check_newest_first_by_pages
from zhixing.auth import Role, ScopeError
from zhixing.clock import SimulatedClock
from zhixing.courts import directory
from zhixing.errors import Conflict, Invalid, NotFound
from zhixing.known_cases import KnownCases
from zhixing.stops import StopInForce
from zhixing.v1 import entrustment_events_pb2 as pb

HANGZHOU_SHANGCHENG = "330102"
OFFICER = person(Role.OFFICER, court="苏1283")
ENTRUSTED = person(Role.OFFICER, court="浙0102", subject="zj-1")


async def entrustments() -> Entrustments:
    ctx = in_memory_context("entrustment", SimulatedClock(START))
    known = KnownCases(ctx.redis, ctx.keys)
    await known_case(ctx, known, "case-1", "苏1283")
    return Entrustments(ctx, EntrustmentRecords(ctx.redis, ctx.keys), directory(), known)


async def entrust(
    handlers: Entrustments, case_id: str = "case-1",
    matter_type: MatterType = MatterType.DEPOSIT_FREEZE,
) -> str:  # fmt: skip
    record = await handlers.entrust(
        identity=OFFICER, case_id=case_id, matter_type=matter_type,
        description="冻结存款", location_division=HANGZHOU_SHANGCHENG,
        documents=["执行裁定书"], control_expires_on=None,
    )  # fmt: skip
    entrustment_id: str = record["entrustment_id"]
    return entrustment_id


async def test_a_matter_goes_to_the_court_where_it_is_and_runs_its_steps_in_order() -> None:
    handlers = await entrustments()
    entrustment_id = await entrust(handlers)
    record = await handlers.get(entrustment_id)
    assert record is not None and record["entrusted_court"] == "浙0102"
    with pytest.raises(Conflict):  # not started yet
        await handlers.complete(entrustment_id, "已冻结", [], None, identity=ENTRUSTED)
    await handlers.start(entrustment_id, identity=ENTRUSTED)
    with pytest.raises(Conflict):
        await handlers.start(entrustment_id, identity=ENTRUSTED)
    await handlers.complete(entrustment_id, "已冻结", ["协助冻结回执"], None, identity=ENTRUSTED)
    types = await staged_types(handlers.ctx)
    assert types == ["MatterEntrusted", "EntrustmentStarted", "EntrustmentCompleted"]


async def test_only_the_entrusted_court_acts_and_only_the_two_courts_and_above_see_it() -> None:
    handlers = await entrustments()
    entrustment_id = await entrust(handlers)
    with pytest.raises(ScopeError):
        await handlers.start(entrustment_id, identity=OFFICER)  # the entrusting court
    stranger = person(Role.OFFICER, court="苏1282")
    with pytest.raises(NotFound):
        await handlers.start(entrustment_id, identity=stranger)
    seen = [
        r["entrustment_id"] for r in (await handlers.list_for(person(Role.COMMAND, "苏12"))).items
    ]
    assert seen == [entrustment_id]
    assert (await handlers.list_for(person(Role.COMMAND, "苏02"))).items == []


async def test_the_listing_comes_newest_first_a_page_at_a_time() -> None:
    handlers = await entrustments()

    async def make(n: int) -> str:
        return await entrust(handlers)

    listing = functools.partial(handlers.list_for, OFFICER)
    await check_newest_first_by_pages(handlers.ctx.clock, make, listing, "entrustment_id")


async def test_a_case_entrusts_at_most_its_bound_of_matters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers_module, "MAX_ENTRUSTMENTS_PER_CASE", 3)
    handlers = await entrustments()
    await known_case(handlers.ctx, handlers.known, "case-2", "苏1283")
    for _ in range(3):
        await entrust(handlers)
    with pytest.raises(Conflict, match=r"case case-1 has entrusted 3 matters, the most .* \(MAX_"):
        await entrust(handlers)
    assert (await staged_types(handlers.ctx)).count("MatterEntrusted") == 3
    assert len((await handlers.list_for(OFFICER)).items) == 3
    await entrust(handlers, case_id="case-2")  # another case's are its own


async def test_an_unknown_case_or_another_courts_case_is_not_entrusted() -> None:
    handlers = await entrustments()
    with pytest.raises(NotFound):
        await entrust(handlers, case_id="no-such-case")
    for who, refusal in (
        (person(Role.OFFICER, court="苏1282"), NotFound),  # another court
        (person(Role.OFFICER, court="苏12"), ScopeError),
    ):  # the one above
        with pytest.raises(refusal):
            await handlers.entrust(
                identity=who, case_id="case-1", matter_type=MatterType.DEPOSIT_FREEZE,
                description="冻结存款", location_division=HANGZHOU_SHANGCHENG, documents=[],
                control_expires_on=None,
            )  # fmt: skip
    assert await staged_types(handlers.ctx) == []


@pytest.mark.parametrize(
    ("method", "rule"), [("执行完毕", "case.close"), ("终结本次执行", "zhongben.after-ruling")]
)
async def test_a_closed_case_entrusts_nothing_naming_the_rule(method: str, rule: str) -> None:
    handlers = await entrustments()
    await project(handlers.ctx, handlers.known, case_closed_event("case-1", method))
    with pytest.raises(Conflict, match=rf"entrusting a deposit_freeze.*\(rule {rule}\)"):
        await entrust(handlers)
    assert await staged_types(handlers.ctx) == []
    # What keeps things as they are, or tells the parties, is still entrusted: a 终本
    # case renews its seizures, and its ruling is served.
    for matter in (MatterType.REAL_ESTATE_RENEW, MatterType.SERVICE_OF_DOCUMENTS):
        await handlers.entrust(
            identity=OFFICER, case_id="case-1", matter_type=matter, description="续封",
            location_division=HANGZHOU_SHANGCHENG, documents=[], control_expires_on=None,
        )  # fmt: skip
    assert await staged_types(handlers.ctx) == ["MatterEntrusted"] * 2


async def test_a_court_a_dispute_stops_entrusts_no_control_of_the_case() -> None:
    # It could not freeze the money itself (执行规定 art 68), but could ask another court to.
    handlers = await entrustments()
    await project(handlers.ctx, handlers.stops, stop_ordered_event("case-1"))
    refused = r"entrusting a deposit_freeze.*dispute\.stop-enforcement"
    with pytest.raises(StopInForce, match=refused):
        await entrust(handlers)
    await handlers.entrust(
        identity=OFFICER, case_id="case-1", matter_type=MatterType.ASSET_INVESTIGATION,
        description="调查财产", location_division=HANGZHOU_SHANGCHENG, documents=[],
        control_expires_on=None,
    )  # fmt: skip
    assert await staged_types(handlers.ctx) == ["MatterEntrusted"]


async def test_status_reports_are_kept_to_their_bound_and_an_order_is_given_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Repeated, each grew the record (and every read and listing of it) without end.
    monkeypatch.setattr(handlers_module, "MAX_REPEATED_ACTS", 2)
    handlers = await entrustments()
    entrustment_id = await entrust(handlers)
    superior = person(Role.COMMAND, court="浙01", subject="zj-cmd")
    await handlers.order(entrustment_id, "请即办理", identity=superior)
    with pytest.raises(Conflict, match="ordered already, by zj-cmd: the order stands"):
        await handlers.order(entrustment_id, "再次督促", identity=superior)
    await handlers.start(entrustment_id, identity=ENTRUSTED)
    for n in range(2):
        await handlers.report_status(entrustment_id, f"进展{n}", identity=ENTRUSTED)
    with pytest.raises(Conflict, match="2 status reports, the most one keeps"):
        await handlers.report_status(entrustment_id, "进展", identity=ENTRUSTED)
    types = await staged_types(handlers.ctx)
    assert (types.count("EntrustmentOrdered"), types.count("EntrustmentStatusReported")) == (1, 2)
    await handlers.complete(entrustment_id, "已冻结", [], None, identity=ENTRUSTED)


def freeze(**changes: str | int) -> pb.EntrustedControl:
    """A freeze of a deposit, as the entrusted court reports it done."""
    control = pb.EntrustedControl(
        kind="bank_deposit", asset_key="acct-1", description="存款", value_fen=500_000,
        amount_fen=500_000, measure="freeze", control_ref="（2026）浙0102执协1号",
        location_division=HANGZHOU_SHANGCHENG,
    )  # fmt: skip
    for name, value in changes.items():
        setattr(control, name, value)
    return control


async def completed(handlers: Entrustments) -> list[pb.EntrustmentCompleted]:
    return [
        e.payload for e in await staged(handlers.ctx)
        if isinstance(e.payload, pb.EntrustmentCompleted)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("matter", "setup", "hint"),
    [
        # Entrusted on a closed case (no new measure), a control on completion would be one.
        (MatterType.SERVICE_OF_DOCUMENTS, "closed", "controls no asset"),
        # Entrusted under a stop: a seizure reported with it would bypass the stop.
        (MatterType.OTHER, "stopped", "entrust the measure as its own matter type"),
        (MatterType.REAL_ESTATE_RENEW, "", "controls no asset"),
        (MatterType.DEPOSIT_DEDUCT, "", "controls no asset"),
    ],
)
async def test_only_a_matter_that_controls_an_asset_reports_a_control(
    matter: MatterType, setup: str, hint: str
) -> None:
    handlers = await entrustments()
    if setup == "closed":
        await project(handlers.ctx, handlers.known, case_closed_event("case-1", "执行完毕"))
    elif setup == "stopped":
        await project(handlers.ctx, handlers.stops, stop_ordered_event("case-1"))
    record = await handlers.entrust(
        identity=OFFICER, case_id="case-1", matter_type=matter, description="事项",
        location_division=HANGZHOU_SHANGCHENG, documents=[],
        control_expires_on=dt.date(2027, 1, 1),
    )  # fmt: skip
    entrustment_id = record["entrustment_id"]
    await handlers.start(entrustment_id, identity=ENTRUSTED)
    seizure = freeze(kind="real_estate", measure="seize", asset_key="house-1")
    for control in (freeze(), seizure):
        with pytest.raises(Invalid, match=hint) as refused:
            await handlers.complete(entrustment_id, "已办结", [], control, identity=ENTRUSTED)
        assert refused.value.loc == ("body", "control")
    assert await completed(handlers) == []
    await handlers.complete(entrustment_id, "已办结", ["送达回证"], None, identity=ENTRUSTED)
    (done,) = await completed(handlers)
    assert not done.HasField("control")


@pytest.mark.parametrize(
    ("matter", "control", "field", "says"),
    [
        (MatterType.DEPOSIT_FREEZE, freeze(kind="real_estate", measure="seize"), "kind",
         "controls bank_deposit, housing_fund, online_payment, wealth_product, not real_estate"),
        (MatterType.REAL_ESTATE_SEIZE, freeze(), "kind", "controls real_estate, not bank_deposit"),
        (MatterType.EQUITY_FREEZE, freeze(kind="vehicle"), "kind", "not vehicle"),
        (MatterType.DEPOSIT_FREEZE, freeze(measure="detain"), "measure",
         "a bank_deposit is controlled by freeze, not detain"),
        (MatterType.REAL_ESTATE_SEIZE, freeze(kind="real_estate"), "measure",
         "controlled by seize, not freeze"),
        (MatterType.DEPOSIT_FREEZE, freeze(location_division="999999"), "location_division",
         "999999"),
        (MatterType.DEPOSIT_FREEZE, freeze(amount_fen=5, value_fen=1), "amount_fen",
         "amount_fen 5 is more than the asset's value_fen 1"),
    ],
)  # fmt: skip
async def test_a_control_reported_fits_the_matter_and_is_refused_naming_the_field(
    matter: MatterType, control: pb.EntrustedControl, field: str, says: str
) -> None:
    handlers = await entrustments()
    entrustment_id = await entrust(handlers, matter_type=matter)
    # The input is checked before the state: not started yet, it is still a 422.
    with pytest.raises(Invalid, match=says) as refused:
        await handlers.complete(entrustment_id, "已办结", [], control, identity=ENTRUSTED)
    assert refused.value.loc == ("body", "control", field)
    await handlers.start(entrustment_id, identity=ENTRUSTED)
    with pytest.raises(Invalid, match=says):
        await handlers.complete(entrustment_id, "已办结", [], control, identity=ENTRUSTED)
    assert await completed(handlers) == []


@pytest.mark.parametrize(
    ("matter", "control"),
    [
        (MatterType.DEPOSIT_FREEZE, freeze(kind="wealth_product", amount_fen=1, value_fen=9)),
        (MatterType.EQUITY_FREEZE, freeze(kind="equity")),
        (MatterType.EQUITY_FREEZE, freeze(kind="securities")),  # 其他财产权
        (MatterType.EQUITY_FREEZE, freeze(kind="insurance")),
        (MatterType.REAL_ESTATE_SEIZE, freeze(kind="real_estate", measure="seize")),
        (MatterType.MOVABLE_SEIZE, freeze(kind="vehicle", measure="detain")),
    ],
)
async def test_a_control_done_is_reported_even_if_the_case_closed_since(
    matter: MatterType, control: pb.EntrustedControl
) -> None:
    # Entrusted while the case was open, the entrusted court did it: asset control records
    # it as it is (held, to be released, not declined).
    handlers = await entrustments()
    entrustment_id = await entrust(handlers, matter_type=matter)
    await handlers.start(entrustment_id, identity=ENTRUSTED)
    await project(handlers.ctx, handlers.known, case_closed_event("case-1", "执行完毕"))
    await handlers.complete(entrustment_id, "已办结", ["回执"], control, identity=ENTRUSTED)
    (done,) = await completed(handlers)
    assert done.control == control
