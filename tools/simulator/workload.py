"""A court year's workload (模拟一年): what the courts of one intermediate court's
jurisdiction file and do, day by day, generated from a seed so two runs are the same.

The defaults come from public figures, not from law (so they live here, not in the rule
catalogue): a basic court takes about 11,000 enforcement cases a year, and the nation about
31,500 new enforcement cases a day (SPC work reports, 2023–2024: about 11.5 million
enforcement cases a year over some 3,500 courts).

Money (案款): in some cases the debtor pays part of the claim into the case's account (finance
records it from the bank statement); in others a deposit the query froze is deducted (扣划),
or property is seized, priced and auctioned and its proceeds arrive. Some arrivals have a
disputed part held back (the officer asks, a leader approves; released later). The officer
notifies finance of each arrival, within the statutory limit most of the time and late
sometimes; finance pays the notice. The agency gateway's synthetic assets come from the
same seed, so the workload knows which deposit or property of a debtor the query will find.

Ending a case lawfully (终本): a case the workload ends this round is one whose debtor's money
found online is all frozen and below the claim. Once the 终本 gate's minimum period has
passed, the officer deducts what was frozen and pays it out, records why the property found
is not controlled (of no value to the claim), visits the debtor, interviews
the applicant, restricts the debtor's consumption (限制消费) and either lists the debtor as
失信 (after a breach of the report-assets order, fined) or records why not; then proposes
终本 and a leader approves. Some applicants later ask to resume (恢复执行). Some cases closed
as performed had a restriction, lifted after the closure.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from stdnum.cn import ric, uscc

from services.agency_gateway.synthetic import synthetic_assets
from zhixing.assets import CHANNELS, LIQUID_KINDS, AssetKind
from zhixing.courts import CourtLevel, directory
from zhixing.periods import add_months
from zhixing.rules import catalogue
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.workcalendar import StatutoryCalendar

NOTICE_DAY = 3  # the day after filing a punctual officer serves the execution notice

BASIC_COURT_CASES_PER_YEAR = 11_000
NATIONAL_NEW_CASES_PER_DAY = 31_500

# Where entrusted matters go: a district of another province (杭州市上城区, 浙0102).
ENTRUSTED_DIVISION = "330102"
PERFORMED = "执行完毕"
ZHONGBEN = "终结本次执行"
CLOSURE_METHODS = ((PERFORMED, 0.45), (ZHONGBEN, 0.4), ("终结执行", 0.15))
# Statutory limits of the money clocks (working days), from the rule catalogue.
NOTIFY_LIMIT_WD = catalogue().rule("funds.notify-finance").limit or 0
PAY_LIMIT_WD = catalogue().rule("funds.pay").limit or 0
# The 终本 gate's minimum time since filing (calendar months), from the rule catalogue.
ZHONGBEN_MIN_MONTHS = catalogue().rule("zhongben.min-period").limit or 0
# Days before the 终本 proposal that its preparation starts (deductions first).
ZHONGBEN_PREPARATION_DAYS = 30


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
    payment_share: float = Field(
        0.15, ge=0, le=1, description="Cases whose debtor pays part of the claim into its account"
    )
    deduction_share: float = Field(
        0.1, ge=0, le=1, description="Cases whose debtor's frozen deposit is deducted (扣划)"
    )
    sale_share: float = Field(
        0.05, ge=0, le=1, description="Cases whose debtor's property is seized and auctioned"
    )
    hold_share: float = Field(
        0.1, ge=0, le=1, description="Arrivals with a disputed part held back, released later"
    )
    late_notice_share: float = Field(
        0.1, ge=0, le=1, description="Arrivals notified to finance after the statutory limit"
    )
    auction_days: int = Field(
        30, ge=1, le=365, description="Days from a sale's start to its conclusion (成交)"
    )
    listing_share: float = Field(
        0.3, ge=0, le=1,
        description="终本 cases whose debtor broke the report-assets order and is listed as 失信",
    )  # fmt: skip
    resumption_share: float = Field(
        0.1, ge=0, le=1, description="终本 cases the applicant asks to resume (恢复执行)"
    )
    restriction_share: float = Field(
        0.25, ge=0, le=1,
        description="Cases closed as performed whose debtor was restricted, lifted afterwards",
    )  # fmt: skip
    zhongben_closure_share: float = Field(
        0.4, ge=0, le=1,
        description="Closures meant to end this round (终本; the rest are performed or ended "
        "3:1); a debtor with property enough is performed instead",
    )  # fmt: skip
    late_notice_case_share: float = Field(
        0.0, ge=0, le=1,
        description="Cases whose execution notice the officer serves days after its limit "
        "(their later acts move with it), so its clocks warn and breach",
    )  # fmt: skip
    seed: int = Field(2021, description="Seeds the workload and the gateway's synthetic assets")

    @model_validator(mode="after")
    def _one_money_source_per_case(self) -> WorkloadSettings:
        if self.payment_share + self.deduction_share + self.sale_share > 1:
            raise ValueError("payment_share + deduction_share + sale_share exceed 1 (one source "
                             "of money per case)")  # fmt: skip
        return self


@dataclass(frozen=True)
class Act:
    """One act of the workload on a case, through the services' public APIs."""

    name: str
    asset_key: str = ""  # the gateway's key of the asset acted on
    amount_fen: int = 0  # paid, deducted, the reference price or the proceeds
    permille: int = 0  # of the arrival held back
    method: str = ""  # of a closure


@dataclass(frozen=True)
class Filing:
    court: str
    key: str  # Idempotency-Key: a rerun files nothing twice
    body: dict[str, Any]
    # What happens to the case later, in order: (days after filing, act). Acts of one case
    # on one day go in the order listed.
    later: tuple[tuple[int, Act], ...] = ()
    debtor_id: str = ""
    shared_debtor: bool = False


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
    def closure_weights(self) -> list[float]:
        """The weights of ``CLOSURE_METHODS``: 终本 takes its setting's share, the others
        keep their proportion."""
        zhongben = self.settings.zhongben_closure_share
        if zhongben == dict(CLOSURE_METHODS)[ZHONGBEN]:
            return [w for _, w in CLOSURE_METHODS]  # exactly as ever: the same seed, same year
        others = sum(w for m, w in CLOSURE_METHODS if m != ZHONGBEN)
        return [zhongben if m == ZHONGBEN else w * (1 - zhongben) / others
                for m, w in CLOSURE_METHODS]  # fmt: skip

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
        shared = rng.random() < s.shared_debtor_share
        if shared:
            serial = rng.randrange(50)  # a few debtors with cases all over the jurisdiction
        organisation = rng.random() < s.organisation_share
        debtor = (
            {"kind": "organisation", "name": f"模拟债务{serial}有限公司",
             "id_number": _credit_code(serial)}
            if organisation
            else {"kind": "natural_person", "name": f"被执行人{serial}",
                  "id_number": _resident_id(serial)}
        )  # fmt: skip
        later: list[tuple[int, Act]] = [(1, Act("assign")), (3, Act("notice"))]
        if rng.random() < s.entrustment_share:
            later.append((5, Act("entrust")))
        if rng.random() < s.dispute_share:
            later.append((7, Act("dispute")))  # once both courts have controlled the asset
        closure: tuple[int, Act] | None = None
        if rng.random() < s.closure_share:
            days = max(10, int(rng.expovariate(1 / s.closure_days_mean)))
            method = rng.choices([m for m, _ in CLOSURE_METHODS],
                                 self.closure_weights)[0]  # fmt: skip
            closure = (days, Act("close", method=method))
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
            "claim_amount_fen": (claim := rng.randrange(100_000, 500_000_000)),
            "receiving_account": f"6222 0212 {rng.randrange(10**8):08d}",
            "received_on": day.isoformat(),
        }  # fmt: skip
        money: list[tuple[int, Act]] = []
        if closure is not None and closure[1].method == ZHONGBEN:
            if self.may_end_round(debtor["id_number"], claim, shared):
                later.extend(self.zhongben(key, day, closure[0], debtor["id_number"]))
                closure = None  # the 终本 ruling closes it
            else:  # property enough to pay: the case is performed, never ended this round
                closure = (closure[0], Act("close", method=PERFORMED))
                money = self.money(key, day, claim, debtor["id_number"], shared)
        else:
            money = self.money(key, day, claim, debtor["id_number"], shared)
        later.extend(money)
        if closure is not None:
            # A case with money is closed once its money is out, not before.
            last = max((after for after, _ in money), default=0)
            closed_after = max(closure[0], last + 1)
            later.append((closed_after, closure[1]))
            if closure[1].method == PERFORMED and rng.random() < s.restriction_share:
                restricted = min(10, closed_after - 1)
                later += [(restricted, Act("restrict")), (restricted, Act("serve-restriction")),
                          (closed_after + rng.randint(1, 2), Act("lift"))]  # fmt: skip
        later = self.lateness(key, later)
        ordered = sorted(later, key=lambda entry: entry[0])  # stable: same-day order kept
        return Filing(court, key, body, tuple(ordered), debtor["id_number"], shared)

    def lateness(self, key: str, later: list[tuple[int, Act]]) -> list[tuple[int, Act]]:
        """A late officer (``late_notice_case_share``): the execution notice, planned for day
        3, is served past its limit (``intake.execution-notice``, days from filing) by up to
        a fortnight and a half, and every act from day 3 on moves with it. Its own random
        stream, so the rest of the filing is the same with or without."""
        share = self.settings.late_notice_case_share
        rng = random.Random(f"{self.settings.seed}:late:{key}")
        if not share or rng.random() >= share:
            return later
        limit = int(catalogue().rule("intake.execution-notice").limit or 0)
        first_late = limit - NOTICE_DAY + 1  # served on day limit + 1 at the earliest
        delay = rng.randint(first_late, first_late + 17)
        return [(after + delay if after >= NOTICE_DAY else after, act) for after, act in later]

    # --- ending this round (终本) ------------------------------------------------------------

    def may_end_round(self, debtor_id: str, claim_fen: int, shared: bool) -> bool:
        """Whether a case against this debtor may lawfully end this round: the money the
        query finds online is frozen whole, is below the claim, and can be deducted (a
        debtor with cases elsewhere is left alone: no two cases race for one asset)."""
        money = self._money_online(debtor_id)
        return (not shared and sum(a.value_fen for a in money) < claim_fen
                and all(a.value_fen > 0 for a in money))  # fmt: skip

    def zhongben(
        self, key: str, day: dt.date, closure_days: int, debtor_id: str
    ) -> list[tuple[int, Act]]:
        """The acts that end a case this round, lawfully, filed on ``day`` as ``key``: no
        earlier than the gate's minimum period, after what was frozen is deducted and paid,
        the debtor visited, the applicant interviewed, the debtor restricted and listed or
        not; then the proposal and a leader's approval, the ruling served, and sometimes
        the applicant asking to resume. Its own random stream."""
        s = self.settings
        rng = random.Random(f"{s.seed}:zhongben:{key}")
        earliest = (add_months(day, ZHONGBEN_MIN_MONTHS) - day).days + rng.randint(1, 10)
        end = max(closure_days, earliest)
        start = end - ZHONGBEN_PREPARATION_DAYS
        frozen = self._money_online(debtor_id)
        plan: list[tuple[int, Act]] = [
            (start, Act("deduct", a.asset_key, a.value_fen)) for a in frozen
        ]
        plan += [(start + 3, Act("pay-notice")) for _ in frozen]
        plan += [(start + 5, Act("payout")) for _ in frozen]
        plan += [(end - 12, Act("decline-property")), (end - 10, Act("visit")),
                 (end - 9, Act("interview")),
                 (end - 8, Act("restrict")), (end - 8, Act("serve-restriction"))]  # fmt: skip
        if rng.random() < s.listing_share:
            plan += [(end - 7, Act("report-violation")), (end - 6, Act("punish")),
                     (end - 5, Act("list"))]  # fmt: skip
        else:
            plan.append((end - 7, Act("decline-listing")))
        plan += [(end, Act("zhongben")), (end + 3, Act("serve-ruling"))]
        if rng.random() < s.resumption_share:
            plan.append((end + rng.randint(30, 120), Act("resume")))
        return plan

    # --- money -------------------------------------------------------------------------------

    def money(
        self, key: str, day: dt.date, claim_fen: int, debtor_id: str, shared: bool
    ) -> list[tuple[int, Act]]:
        """The money of the case filed on ``day`` as ``key``: where it comes from (the debtor
        pays, a frozen deposit is deducted, or property is auctioned; a debtor with cases in
        other courts only pays, so no two cases race for one asset), and how it goes out (a
        disputed part held, the notice to finance, the payout). Its own random stream, so
        the rest of the filing is the same with or without it."""
        s = self.settings
        rng = random.Random(f"{s.seed}:money:{key}")
        draw = rng.random()
        plan: list[tuple[int, Act]] = []
        if draw < s.payment_share:
            arrival = rng.randint(2, 10)  # after the execution notice (day 3) or before
            amount = max(1, claim_fen * rng.randint(100, 600) // 1000)
            plan.append((arrival, Act("receipt", amount_fen=amount)))
        elif draw < s.payment_share + s.deduction_share:
            # Asset control freezes money found online at once (¶13): the deposit is frozen
            # by the query, then deducted whole.
            deposit = None if shared else self.deposit_of(debtor_id, claim_fen)
            if deposit is None:
                return []
            arrival = rng.randint(2, 7)
            plan.append((arrival, Act("deduct", deposit.asset_key, deposit.value_fen)))
        elif draw < s.payment_share + s.deduction_share + s.sale_share:
            asset = None if shared else self.property_of(debtor_id, claim_fen)
            if asset is None:
                return []
            price = max(1, asset.value_fen * rng.randint(800, 1100) // 1000)
            proceeds = max(1, price * rng.randint(700, 1100) // 1000)
            seize = rng.randint(2, 5)
            priced = seize + rng.randint(1, 5)
            sale = priced + rng.randint(1, 3)
            arrival = sale + s.auction_days
            plan += [
                (seize, Act("seize", asset.asset_key)),
                (priced, Act("price", asset.asset_key)),
                (priced, Act("price-fixed", asset.asset_key, price)),
                (sale, Act("sale", asset.asset_key)),  # a leader: not who seized it
                (arrival, Act("sold", asset.asset_key, proceeds)),
            ]
        else:
            return []
        held = rng.random() < s.hold_share
        if held:
            plan += [(arrival + 1, Act("hold", permille=rng.randint(100, 400))),
                     (arrival + 1, Act("approve"))]  # fmt: skip
        if rng.random() < s.late_notice_share:
            last = self.last_working_day(day + dt.timedelta(days=arrival), NOTIFY_LIMIT_WD)
            notice = (last - day).days + rng.randint(1, 5)
        else:
            notice = arrival + rng.randint(2 if held else 1, 5)  # within the limit
        payout = notice + rng.randint(0, min(3, PAY_LIMIT_WD - 1))  # within the limit
        plan += [(notice, Act("pay-notice")), (payout, Act("payout"))]
        if held:  # the dispute decided: the held part is a payment of its own
            release = payout + rng.randint(1, 7)
            released_notice = release + rng.randint(0, 2)
            plan += [(release, Act("release")), (released_notice, Act("pay-notice")),
                     (released_notice + rng.randint(0, 3), Act("payout"))]  # fmt: skip
        return plan

    def deposit_of(self, debtor_id: str, claim_fen: int) -> agency_pb.AgencyAsset | None:
        """The first of the debtor's money that the query will find and freeze whole: all
        of the debtor's money found online is frozen at once up to the claim and its costs
        (¶13), so each deposit is frozen whole when together they are within the claim."""
        money = self._money_online(debtor_id)
        if sum(a.value_fen for a in money) > claim_fen:
            return None  # frozen in part, in the order the channels answer
        return next((a for a in money if a.value_fen > 0), None)

    def property_of(self, debtor_id: str, claim_fen: int) -> agency_pb.AgencyAsset | None:
        """The first of the debtor's property the query finds that can be seized online
        within what the claim leaves once the money found was frozen (no over-seizure,
        ¶15)."""
        room = claim_fen - sum(a.value_fen for a in self._money_online(debtor_id))
        return next((a for a in self._found(debtor_id)
                     if AssetKind(a.kind) not in LIQUID_KINDS and a.online_control
                     and 0 < a.value_fen <= room), None)  # fmt: skip

    def _money_online(self, debtor_id: str) -> list[agency_pb.AgencyAsset]:
        return [a for a in self._found(debtor_id)
                if AssetKind(a.kind) in LIQUID_KINDS and a.online_control]  # fmt: skip

    def _found(self, debtor_id: str) -> list[agency_pb.AgencyAsset]:
        seed = self.settings.seed  # the simulation starts the gateway with the same seed
        return [a for channel in CHANNELS for a in synthetic_assets(seed, debtor_id, channel)]

    def last_working_day(self, start: dt.date, working_days: int) -> dt.date:
        """The last day of a period of ``working_days`` working days counted from the day
        after ``start``."""
        day, counted = start, 0
        while counted < working_days:
            day += dt.timedelta(days=1)
            counted += self._calendar.is_working_day(day, provisional=True)
        return day
