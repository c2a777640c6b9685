"""The intake domain: what a filing must contain, and what makes it valid."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from zhixing.assets import Channel
from zhixing.bounds import (
    MAX_ACCOUNT,
    MAX_ID,
    MAX_LIST,
    MAX_PARTIES,
    Fen,
    FenOrZero,
    PastDate,
    bank_account,
)
from zhixing.courts import known_court_code
from zhixing.persons import id_number_text, is_minor_on
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


_PARTY_KIND_OF_WIRE: dict[int, PartyKind] = {
    int(wire): kind for kind, wire in _PARTY_KIND_WIRE.items()
}


def party_kind_of(wire: int) -> PartyKind | None:
    """A party's kind as the API spells it, from the event's enum (None: unspecified)."""
    return _PARTY_KIND_OF_WIRE.get(int(wire))


class Party(BaseModel):
    """An applicant (申请执行人) or debtor (被执行人)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: PartyKind
    name: Annotated[str, Field(min_length=1, max_length=200)]
    id_number: Annotated[
        str,
        Field(max_length=40, description="18-character resident ID or unified social credit code"),
    ]

    @field_validator("id_number")
    @classmethod
    def _upper(cls, value: str) -> str:
        return id_number_text(value)

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
    date: PastDate


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class AssetLeadIn(BaseModel):
    """A lead to the debtor's assets given with the application (财产线索)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: Annotated[str, Field(min_length=1, max_length=500)]
    channel: Channel | None = Field(None, description="Where the asset would be found")
    urgent: bool = Field(
        False, description="Concrete and urgent: verification runs on rule asset.urgent-lead"
    )


class Proceeding(StrEnum):
    """What the case enforces: a court's judgment (诉讼), or a non-litigation title (非诉执行:
    an administrative decision, an arbitral award, a notarized debt instrument), whose case
    closes within its own limit (rule case.close-non-litigation)."""

    LITIGATION = "litigation"
    NON_LITIGATION = "non_litigation"


RECEIVING_ACCOUNT_GATE = "intake.receiving-account"


def _confirmed_receiving_account(text: str) -> str:
    """The gate of ¶20: no case is filed without the account its money will be paid to."""
    try:
        return bank_account(text)
    except ValueError as exc:
        raise ValueError(
            f"{exc}: the applicant's receiving account is confirmed at filing "
            f"(rule {RECEIVING_ACCOUNT_GATE})"
        ) from None


class FileCase(BaseModel):
    """Command: file an enforcement case (立案)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    court_code: Annotated[str, Field(max_length=MAX_ID, examples=["苏1283"])]
    case_type_code: CaseTypeCode = "执"
    legal_document: LegalDocument
    applicants: Annotated[list[Party], Field(min_length=1, max_length=MAX_PARTIES)]
    debtors: Annotated[list[Party], Field(min_length=1, max_length=MAX_PARTIES)]
    claim_amount_fen: Annotated[Fen, Field(description="Claim in fen (分), > 0")]
    receiving_account: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_ACCOUNT,
            description="The applicant's receiving account, confirmed at filing: digits of a "
            f"bank account, spaced or dashed as written (rule {RECEIVING_ACCOUNT_GATE}, ¶20)",
        ),
        AfterValidator(_confirmed_receiving_account),
    ]
    received_on: PastDate | None = Field(None, description="Defaults to today (China time)")
    urgency: Urgency = Urgency.NORMAL
    proceeding: Proceeding = Field(
        Proceeding.LITIGATION,
        description="non_litigation for 非诉执行 (rule case.close-non-litigation)",
    )
    asset_leads: Annotated[list[AssetLeadIn], Field(max_length=MAX_LIST)] = []
    costs_fen: Annotated[
        FenOrZero, Field(description="Costs the debtor bears besides the claim, in fen")
    ] = 0

    @field_validator("court_code")
    @classmethod
    def _known_court(cls, value: str) -> str:
        return known_court_code(value)

    def minor_debtors(self, on: date) -> list[str]:
        """Id numbers of natural-person debtors under 18 on ``on``: they may be enforced
        against, but never put on the 失信 list (法释〔2017〕7号 art 4)."""
        return [
            debtor.id_number
            for debtor in self.debtors
            if debtor.kind is PartyKind.NATURAL_PERSON and is_minor_on(debtor.id_number, on)
        ]

    def to_event(
        self, *, case_id: str, received_on: date, filed_on: date, case_number: str
    ) -> case_events_pb2.CaseFiled:
        return case_events_pb2.CaseFiled(
            case_id=case_id,
            court_code=self.court_code,
            case_type_code=self.case_type_code,
            applicants=[p.to_wire() for p in self.applicants],
            debtors=[p.to_wire() for p in self.debtors],
            claim_amount_fen=self.claim_amount_fen,
            legal_document_number=self.legal_document.number,
            received_on=received_on.isoformat(),
            legal_document_type=self.legal_document.type,
            legal_document_issuing_court=self.legal_document.issuing_court,
            legal_document_date=self.legal_document.date.isoformat(),
            receiving_account=self.receiving_account,
            urgency=self.urgency.value,
            asset_leads=[
                case_events_pb2.AssetLead(
                    # Stable per case and position: a replayed filing names the same leads.
                    lead_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"lead:{case_id}:{i}")),
                    description=lead.description,
                    channel=lead.channel.value if lead.channel else "",
                    urgent=lead.urgent,
                )
                for i, lead in enumerate(self.asset_leads)
            ],
            costs_fen=self.costs_fen,
            flags=[f"minor_debtor:{n}" for n in self.minor_debtors(filed_on)],
            filed_on=filed_on.isoformat(),
            case_number=case_number,
            # Empty for litigation, as in every CaseFiled before the field existed.
            proceeding="" if self.proceeding is Proceeding.LITIGATION else self.proceeding.value,
        )


class NewFiling(FileCase):
    """A filing as a clerk sends it (``POST /v1/cases``, ``/v1/applications``): a
    ``FileCase`` held to the checks added since applications were first kept, which a kept
    application (read back as a ``FileCase`` to be docketed or resumed) is not held to."""

    @field_validator("applicants", "debtors")
    @classmethod
    def _each_party_once(cls, parties: list[Party], info: ValidationInfo) -> list[Party]:
        """A party is named once, and never on both sides: a debtor named twice would be
        queried, controlled and told twice; one who is also an applicant owes itself."""
        seen: dict[str, int] = {}
        applicants = {p.id_number for p in info.data.get("applicants", [])}
        for index, party in enumerate(parties):
            if party.id_number in seen:
                raise ValueError(
                    f"{info.field_name}[{index}] has the id_number of "
                    f"{info.field_name}[{seen[party.id_number]}]: name each party once"
                )
            seen[party.id_number] = index
            if info.field_name == "debtors" and party.id_number in applicants:
                raise ValueError(f"debtors[{index}] has the id_number of an applicant: a party "
                                 "is not enforced against for itself")  # fmt: skip
        return parties


def receipt_number(year: int, court_code: str, sequence: int) -> str:
    """An application's number in the court's register of applications (收件编号):
    （year）court code + 收 + number + 号, one sequence per court and year."""
    return f"（{year}）{court_code}收{sequence}号"


def case_number(year: int, court_code: str, type_code: str, sequence: int) -> str:
    """（year）court code + type code + number + 号 (法〔2015〕137号 arts 2–10)."""
    return f"（{year}）{court_code}{type_code}{sequence}号"


class Track(StrEnum):
    SIMPLE = "simple"  # 简案: fast team, its own period
    ORDINARY = "ordinary"  # 普通案件: judge team


TEAM_OF_TRACK = {Track.SIMPLE: "快执团队", Track.ORDINARY: "法官团队"}


def triage(
    *, needed_fen: int, liquid_value_fen: int, assets_to_dispose: int, asset_count: int
) -> tuple[Track, list[str]]:
    """繁简分流 after the centralized query (¶7), on its three questions: are there enough
    assets, are there assets to dispose of, can it be performed in one go?"""
    if assets_to_dispose:
        return Track.ORDINARY, [f"有{assets_to_dispose}项财产需评估、拍卖等处置"]
    if asset_count == 0:
        return Track.SIMPLE, ["网络查控未发现财产，无需处置"]
    if liquid_value_fen >= needed_fen:
        return Track.SIMPLE, ["查控到的款项足以一次性清偿", "无需处置财产"]
    return Track.ORDINARY, ["查控到的款项不足以清偿"]


class ClosureMethod(StrEnum):
    PERFORMED = "执行完毕"
    ENDED_THIS_ROUND = "终结本次执行"
    TERMINATED = "终结执行"
    WITHDRAWN = "销案"
    NOT_ENFORCED = "不予执行"
    REJECTED = "驳回申请"
