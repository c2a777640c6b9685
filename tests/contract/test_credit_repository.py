"""The credit repository behaves the same on the in-memory Redis and on the real one: a
case's record kept once, listed by its court and moved with it, changed in one transaction
(nothing written when the act refuses), and the cases of an ID number read back."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from services.credit import domain
from services.credit.repository import CreditRecords
from zhixing.errors import Conflict, NotFound
from zhixing.state import KeySpace

pytestmark = pytest.mark.integration

DEBTOR_ID = "91321283MA00000317"
DEBTOR = {"debtor_key": "d0", "name": "某某有限公司", "id_number": DEBTOR_ID,
          "kind": "organisation", "minor": False}  # fmt: skip


def case(case_id: str) -> domain.Record:
    return domain.new_case(
        case_id=case_id, case_number=f"（2026）苏1283执{case_id}号", court_code="苏1283",
        debtors=[DEBTOR], at="2026-03-02T09:00:00+08:00",
    )  # fmt: skip


async def test_a_case_is_kept_once_indexed_by_court_and_moved(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = CreditRecords(store, KeySpace(contract_prefix, "credit"))
    assert await records.open_once(case("1"))
    assert not await records.open_once({**case("1"), "case_number": "other"})
    kept = await records.get("1")
    assert kept is not None and kept["case_number"] == "（2026）苏1283执1号"
    assert await records.ids_of("苏1283") == ["1"]
    assert await records.ids_in_jurisdiction("苏12") == ["1"]

    async def move(pipe: Pipeline, record: domain.Record) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        records.move(pipe, "1", "苏1283", "苏1282")
        record["court_code"] = "苏1282"

    await records.change_case("1", move)
    assert await records.ids_of("苏1283") == [] and await records.ids_of("苏1282") == ["1"]
    moved = await records.get("1")
    assert moved is not None and moved["court_code"] == "苏1282"


async def test_a_refused_act_writes_nothing_and_a_subject_reads_its_cases(
    store: aioredis.Redis, contract_prefix: str
) -> None:
    records = CreditRecords(store, KeySpace(contract_prefix, "credit"))
    for case_id in ("1", "2", "3"):
        assert await records.open_once(case(case_id))

    async def restrict(pipe: Pipeline, record: domain.Record) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        record["restrictions"]["r1"] = {"debtor_key": "d0"}
        records.index_subject(pipe, DEBTOR_ID, record["case_id"])

    async def refuse(pipe: Pipeline, record: domain.Record) -> None:
        raise Conflict("refused")

    await records.change_case("2", restrict)
    await records.change_case("1", restrict)
    with pytest.raises(Conflict):
        await records.change_case("3", refuse)
    with pytest.raises(NotFound):
        await records.change_case("4", restrict)
    cases = await records.cases_of_subject(DEBTOR_ID)
    assert [c["case_id"] for c in cases] == ["1", "2"]
    assert all("r1" in c["restrictions"] for c in cases)
    untouched = await records.get("3")
    assert untouched is not None and untouched["restrictions"] == {}
    assert await records.cases_of_subject("nobody") == []
