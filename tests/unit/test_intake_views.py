"""Intake's case view answers a filing in the spelling its requests accept, and a party an
older or hand-made event recorded without a kind or ID number still reads (empty), never
a 500."""

from __future__ import annotations

from typing import Any

from services.intake.handlers import filed_view
from services.intake.http_api import PartyView
from zhixing.v1 import case_events_pb2


def test_a_party_without_kind_or_id_number_reads_as_empty() -> None:
    filed = case_events_pb2.CaseFiled(
        case_id="c1", claim_amount_fen=1_000,
        applicants=[case_events_pb2.Party(kind=case_events_pb2.PARTY_KIND_NATURAL_PERSON,
                                          name="张三", id_number="110101199003070011")],
        debtors=[case_events_pb2.Party(name="某某有限公司")],
    )  # fmt: skip
    view: dict[str, Any] = filed_view(filed)
    applicant = PartyView.model_validate(view["applicants"][0])
    debtor = PartyView.model_validate(view["debtors"][0])
    assert applicant.kind == "natural_person"
    assert (debtor.kind, debtor.name, debtor.id_number) == ("", "某某有限公司", "")
    assert view["claim_amount_fen"] == 1_000 and view["costs_fen"] == 0
