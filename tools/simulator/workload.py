"""A court year's workload (模拟一年): what the courts of one intermediate court's
jurisdiction file and do, day by day, generated from a seed so two runs are the same.

The defaults come from public figures, not from law (so they live here, not in the rule
catalogue): a basic court takes about 11,000 enforcement cases a year, and the nation about
31,500 new enforcement cases a day (SPC work reports, 2023–2024: about 11.5 million
enforcement cases a year over some 3,500 courts).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from stdnum.cn import ric, uscc

from zhixing.courts import CourtLevel, directory
from zhixing.workcalendar import StatutoryCalendar

BASIC_COURT_CASES_PER_YEAR = 11_000
NATIONAL_NEW_CASES_PER_DAY = 31_500

# Where entrusted matters go: a district of another province (杭州市上城区, 浙0102).
ENTRUSTED_DIVISION = "330102"
CLOSURE_METHODS = (("执行完毕", 0.45), ("终结本次执行", 0.4), ("终结执行", 0.15))


class WorkloadSettings(BaseSettings):
    """What a simulated year holds (``ZHIXING_SIM_*``; the CLI takes the same options)."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_SIM_", extra="ignore")

    intermediate_court: str = Field("苏12", description="The jurisdiction simulated")
    courts: int = Field(0, ge=0, description="Basic courts taking cases (0: all of them)")
    cases_per_court_per_year: int = Field(BASIC_COURT_CASES_PER_YEAR, ge=0)
    start: dt.date = Field(dt.date(2026, 1, 5), description="First day simulated")
    days: int = Field(365, ge=1, le=3660, description="Calendar days simulated")
    organisation_share: float = Field(0.6, ge=0, le=1, description="Debtors that are companies")
    shared_debtor_share: float = Field(
        0.05, ge=0, le=1, description="Filings against a debtor with cases in other courts"
    )
    entrustment_share: float = Field(0.05, ge=0, le=1, description="Cases entrusting a matter")
    dispute_share: float = Field(0.01, ge=0, le=1, description="Cases in a dispute between courts")
    closure_share: float = Field(0.8, ge=0, le=1, description="Cases closed within the year")
    closure_days_mean: float = Field(100.0, gt=0, description="Mean days from filing to closure")
    seed: int = Field(2021)


@dataclass(frozen=True)
class Filing:
    court: str
    key: str  # Idempotency-Key: a rerun files nothing twice
    body: dict[str, Any]
    # What happens to the case later: days after filing → act.
    later: dict[int, str] = field(default_factory=dict)


def _credit_code(serial: int) -> str:
    body = f"91321200MA{serial % 10_000_000:07d}"
    return body + uscc.calc_check_digit(body)


def _resident_id(serial: int) -> str:
    # 321283 (泰兴市) exists since 1996: people born there since 1997, adults in 2026.
    # 3,000 birth days × 1,000 sequence numbers: distinct serials are distinct people.
    born = dt.date(1997, 1, 1) + dt.timedelta(days=serial // 1000 % 3_000)
    body = f"321283{born:%Y%m%d}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


class Workload:
    def __init__(self, settings: WorkloadSettings, calendar: StatutoryCalendar) -> None:
        self.settings = settings
        self._calendar = calendar
        basic = [c.code for c in directory().children(settings.intermediate_court)
                 if c.level is CourtLevel.BASIC]  # fmt: skip
        self.courts = basic[: settings.courts] if settings.courts else basic
        if not self.courts:
            raise ValueError(f"{settings.intermediate_court} has no basic courts to simulate")
        self.working_days = [
            day for n in range(settings.days)
            if self._calendar.is_working_day(day := settings.start + dt.timedelta(days=n),
                                             provisional=True)
        ]  # fmt: skip
        self._names = {c: directory().lookup(c).name for c in self.courts}

    @property
    def days(self) -> list[dt.date]:
        return [self.settings.start + dt.timedelta(days=n) for n in range(self.settings.days)]

    def filings_on(self, day: dt.date) -> list[Filing]:
        """The filings of every court on ``day`` (none on a rest day): each court's yearly
        cases spread over a year's ~250 working days, deterministic per day and court."""
        if day not in self.working_days:
            return []
        s = self.settings
        per_day = s.cases_per_court_per_year / 250
        filings = []
        for court in self.courts:
            rng = random.Random(f"{s.seed}:{day.isoformat()}:{court}")
            count = int(per_day) + (1 if rng.random() < per_day - int(per_day) else 0)
            for n in range(count):
                filings.append(self._filing(rng, day, court, n))
        return filings

    def _filing(self, rng: random.Random, day: dt.date, court: str, n: int) -> Filing:
        s = self.settings
        serial = rng.randrange(10**9)
        if rng.random() < s.shared_debtor_share:
            serial = rng.randrange(50)  # a few debtors with cases all over the jurisdiction
        organisation = rng.random() < s.organisation_share
        debtor = (
            {"kind": "organisation", "name": f"模拟债务{serial}有限公司",
             "id_number": _credit_code(serial)}
            if organisation
            else {"kind": "natural_person", "name": f"被执行人{serial}",
                  "id_number": _resident_id(serial)}
        )  # fmt: skip
        later: dict[int, str] = {1: "assign", 3: "notice"}
        if rng.random() < s.entrustment_share:
            later[5] = "entrust"
        if rng.random() < s.dispute_share:
            later[7] = "dispute"  # once both courts have controlled the asset
        if rng.random() < s.closure_share:
            days = max(10, int(rng.expovariate(1 / s.closure_days_mean)))
            later[days] = (
                "close:"
                + rng.choices([m for m, _ in CLOSURE_METHODS], [w for _, w in CLOSURE_METHODS])[0]
            )
        key = f"sim-{s.seed}-{day:%Y%m%d}-{court.encode().hex()}-{n}"
        body = {
            "court_code": court,
            "case_type_code": "执",
            "legal_document": {"type": "民事判决书", "issuing_court": self._names[court],
                               "number": f"（{day.year}）{court}民初{rng.randrange(1, 99999)}号",
                               "date": (day - dt.timedelta(days=60)).isoformat()},
            "applicants": [{"kind": "natural_person", "name": f"申请人{n}",
                            "id_number": _resident_id(serial + 1)}],
            "debtors": [debtor],
            "claim_amount_fen": rng.randrange(100_000, 500_000_000),
            "receiving_account": f"6222 0212 {rng.randrange(10**8):08d}",
            "received_on": day.isoformat(),
        }  # fmt: skip
        return Filing(court, key, body, later)
