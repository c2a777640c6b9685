"""The intake domain: what a filing must contain, and what makes it valid."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from zhixing.courts import UnknownCourtCode, parse_court_code
from zhixing.v1 import case_events_pb2

# 案件类型代字 of 法〔2015〕137号 for enforcement cases.
CaseTypeCode = Literal["执", "执恢", "执保", "执异", "执复", "执监", "执协", "执请"]


class PartyKind(StrEnum):
    NATURAL_PERSON = "natural_person"
    ORGANISATION = "organisation"


_PARTY_KIND_WIRE = {
    PartyKind.NATURAL_PERSON: case_events_pb2.PARTY_KIND_NATURAL_PERSON,
    PartyKind.ORGANISATION: case_events_pb2.PARTY_KIND_ORGANISATION,
}


class Party(BaseModel):
    """An applicant (申请执行人) or debtor (被执行人)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: PartyKind
    name: Annotated[str, Field(min_length=1, max_length=200)]
    id_number: Annotated[
        str,
        Field(description="18-character resident ID or unified social credit code"),
    ]

    @field_validator("id_number")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @model_validator(mode="after")
    def _check_digit(self) -> Party:
        validator, what = (
            (ric, "resident ID (居民身份证号码)")
            if self.kind is PartyKind.NATURAL_PERSON
            else (uscc, "unified social credit code (统一社会信用代码)")
        )
        try:
            validator.validate(self.id_number)
        except ValidationError as exc:
            raise ValueError(f"id_number is not a valid {what}: {exc}") from None
        return self

    def to_wire(self) -> case_events_pb2.Party:
        return case_events_pb2.Party(
            kind=_PARTY_KIND_WIRE[self.kind], name=self.name, id_number=self.id_number
        )


class LegalDocument(BaseModel):
    """The effective legal document being enforced (执行依据)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Annotated[str, Field(min_length=1, max_length=50, examples=["民事判决书"])]
    issuing_court: Annotated[str, Field(min_length=1, max_length=100)]
    number: Annotated[
        str, Field(min_length=1, max_length=100, examples=["（2026）苏1283民初100号"])
    ]
    date: date


class FileCase(BaseModel):
    """Command: file an enforcement case (立案)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    court_code: Annotated[str, Field(examples=["苏1283"])]
    case_type_code: CaseTypeCode = "执"
    legal_document: LegalDocument
    applicants: Annotated[list[Party], Field(min_length=1)]
    debtors: Annotated[list[Party], Field(min_length=1)]
    claim_amount_fen: Annotated[StrictInt, Field(gt=0, description="Claim in fen (分), > 0")]
    receiving_account: Annotated[
        str, Field(min_length=1, description="Applicant's receiving account (¶20)")
    ]
    received_on: date | None = Field(None, description="Defaults to today (China time)")

    @field_validator("court_code")
    @classmethod
    def _known_court(cls, value: str) -> str:
        try:
            return parse_court_code(value).code
        except UnknownCourtCode as exc:
            raise ValueError(str(exc)) from None

    def to_event(self, *, case_id: str, received_on: date) -> case_events_pb2.CaseFiled:
        return case_events_pb2.CaseFiled(
            case_id=case_id,
            court_code=self.court_code,
            case_type_code=self.case_type_code,
            applicants=[p.to_wire() for p in self.applicants],
            debtors=[p.to_wire() for p in self.debtors],
            claim_amount_fen=self.claim_amount_fen,
            legal_document_number=self.legal_document.number,
            received_on=received_on.isoformat(),
        )
