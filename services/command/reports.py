"""Trends, rankings (排名) and the weekly or monthly bulletin (通报) of a jurisdiction.

All of it is read from the figures projection (``services/command/figures.py``), which
keeps each court's counters for all time and for every week and month. A rate "at the end
of a period" is the rate of everything counted up to that period's last day: the all-time
counters less the counters of the periods after it (every count adds to both, so the two
agree exactly). Per-period counts (cases filed, closed, clocks warned and breached) are what
happened in the period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from services.command.board import Board
from services.command.domain import ACTION_TITLES, MOVES, Action
from services.command.figures import (
    BREACHED_BY_RULE,
    COUNTERS,
    DEFINITIONS,
    SUMS,
    WARNED_BY_RULE,
    CourtFigures,
    rates,
)
from services.command.report_periods import PeriodKind, ReportPeriod
from services.command.repository import ActionRecords
from zhixing.clock import CHINA_TZ, Clock, china_today
from zhixing.courts import CourtDirectory
from zhixing.errors import Invalid
from zhixing.money import fen_of
from zhixing.rules import catalogue
from zhixing.state import KeySpace, read_hashes

__all__ = ["RANKED", "TREND_RATES", "Reports"]

TREND_RATES = ("结案率", "执行完毕率", "法定期限内结案率")
"""The rates a trend follows over time."""

RANKED: dict[str, bool] = {
    "结案率": True,
    "执行完毕率": True,
    "实际执结率": True,
    "法定期限内结案率": True,
    "终本合格率": True,
    "实际到位率": True,
    "案款发放及时率": True,
    "保全率": True,
    "终本率": False,
    "平均结案用时": False,
}
"""The figures courts are ranked on, and whether higher is better (a lower 终本率 and a
shorter 平均结案用时 rank first)."""

WITHDRAWN = "withdrawn"
"""A command action the issuing court withdrew on reconsideration (a move undone): it no
longer counts as issued, unanswered or moved."""

MOST_PERIODS = 104
"""The most weeks or months one trend shows."""
LOOKBACK_YEARS = 5
"""How far back a report may reach (the periods after it are read to find its rates)."""

Counters = dict[str, int]


def _counters(raw: dict[str, str]) -> Counters:
    counts = {name: int(raw.get(name, 0)) for name in COUNTERS}
    counts |= {name: fen_of(raw, name) for name in SUMS}
    for field, value in raw.items():
        if field.startswith((BREACHED_BY_RULE, WARNED_BY_RULE)):
            counts[field] = int(value)
    return counts


def _add(into: Counters, more: Counters, sign: int = 1) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + sign * value


def _by_rule(counts: Counters, prefix: str) -> dict[str, int]:
    return {f.removeprefix(prefix): v for f, v in counts.items() if f.startswith(prefix) and v}


@dataclass(frozen=True)
class Window:
    """The periods a report reads: ``shown`` (oldest first), and those after them up to the
    present, whose counters are taken off the all-time ones."""

    shown: list[ReportPeriod]
    after: list[ReportPeriod]


class Reports:
    """Reads the command service's Redis (``keys``): the figures, the command actions and
    the board's case numbers. The service's routes and ``zhixing bulletin`` share it."""

    def __init__(
        self, redis: aioredis.Redis, keys: KeySpace, courts: CourtDirectory, clock: Clock
    ) -> None:
        self._redis = redis
        self._figures = CourtFigures(redis, keys, courts)
        self._courts = courts
        self._actions = ActionRecords(redis, keys)
        self._board = Board(redis, keys)
        self._clock = clock

    # --- reading counters -----------------------------------------------------------------

    def window(self, last: ReportPeriod, count: int) -> Window:
        today = china_today(self._clock)
        current = ReportPeriod.of(last.kind, today)
        if last > current:
            raise Invalid(f"{last.label} has not begun yet (today is {today.isoformat()})",
                          loc=("query", "period"))  # fmt: skip
        if last.start < dt.date(today.year - LOOKBACK_YEARS, today.month, 1):
            raise Invalid(f"reports reach back {LOOKBACK_YEARS} years at most",
                          loc=("query", "period"))  # fmt: skip
        shown = [last]
        while len(shown) < count:
            shown.insert(0, shown[0].previous())
        after, period = [], last
        # One period past the present as well: an event stamped a moment ahead of this
        # service's clock is counted where it happened.
        while period <= current:
            period = period.next()
            after.append(period)
        return Window(shown, after)

    async def _period_counters(
        self, courts: Sequence[str], periods: Sequence[ReportPeriod]
    ) -> dict[tuple[str, str], Counters]:
        keys = [(c, p.label) for c in courts for p in periods]
        raw = await read_hashes(
            self._redis, [self._figures.period_key(c, label) for c, label in keys]
        )
        return {key: _counters(r) for key, r in zip(keys, raw, strict=True)}

    async def _all_time(self, courts: Sequence[str]) -> dict[str, Counters]:
        raw = await read_hashes(self._redis, [self._figures.court_key(c) for c in courts])
        return {c: _counters(r) for c, r in zip(courts, raw, strict=True)}

    async def _at_end_of(
        self, courts: Sequence[str], window: Window
    ) -> tuple[dict[str, Counters], dict[tuple[str, str], Counters]]:
        """Each court's counters up to the end of the window's last period, and the
        counters of every period shown."""
        totals = await self._all_time(courts)
        later = await self._period_counters(courts, window.after)
        for (court, _), counts in later.items():
            _add(totals[court], counts, -1)
        return totals, await self._period_counters(courts, window.shown)

    # --- trends ---------------------------------------------------------------------------

    async def trends(self, court: str, kind: PeriodKind, count: int) -> dict[str, Any]:
        """The jurisdiction's last ``count`` weeks or months, oldest first: what happened in
        each (filed, closed, warnings, breaches) and the rates at its end."""
        if not 1 <= count <= MOST_PERIODS:
            raise Invalid(f"count must be 1 to {MOST_PERIODS}", loc=("query", "count"))
        window = self.window(ReportPeriod.of(kind, china_today(self._clock)), count)
        courts = self._courts.jurisdiction(court)
        totals, shown = await self._at_end_of(courts, window)
        cumulative: Counters = {}
        for counts in totals.values():
            _add(cumulative, counts)
        series: list[dict[str, Any]] = []
        for period in reversed(window.shown):
            happened: Counters = {}
            for c in courts:
                _add(happened, shown[(c, period.label)])
            all_rates = rates(_complete(cumulative))
            series.insert(0, {
                "period": period.label, "title": period.title(),
                "start": period.start.isoformat(), "end": period.end.isoformat(),
                "filed": happened.get("filed", 0), "closed": happened.get("closed", 0),
                "warnings": happened.get("clocks_warned", 0),
                "breaches": happened.get("clocks_breached", 0),
                "rates": {name: all_rates[name] for name in TREND_RATES},
            })  # fmt: skip
            _add(cumulative, happened, -1)  # back to the end of the period before
        return {"court_code": court, "courts": len(courts), "kind": kind.value,
                "series": series,
                "definitions": {n: DEFINITIONS[n] for n in TREND_RATES}}  # fmt: skip

    # --- rankings -------------------------------------------------------------------------

    async def rankings(self, court: str, period: ReportPeriod | None) -> dict[str, Any]:
        """The jurisdiction's courts ranked on each figure, as of the end of ``period``
        (default: now). Equal values share a rank; a court with nothing to divide is
        listed last, unranked."""
        today = china_today(self._clock)
        courts = self._courts.jurisdiction(court)
        if period is None:  # as of now: every counter, this week's too
            totals = await self._all_time(courts)
        else:
            totals, _ = await self._at_end_of(courts, self.window(period, 1))
        figures = {c: rates(_complete(totals[c])) for c in courts}
        return {
            "court_code": court, "period": period.label if period else None,
            "as_of": (period.end if period else today).isoformat(),
            "rankings": {name: self._named(ranking(figures, name, higher))
                         for name, higher in RANKED.items()},
            "definitions": {name: DEFINITIONS[name] for name in RANKED},
        }  # fmt: skip

    def _named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "court_name": self._courts.lookup(row["court_code"]).name} for row in rows]

    # --- the bulletin -----------------------------------------------------------------------

    async def bulletin(self, court: str, period: ReportPeriod) -> dict[str, Any]:
        """The jurisdiction's bulletin (通报) for one week or month: each court's figures and
        rank, breaches by node and court, commands issued and unanswered, and the cases
        elevated or designated."""
        courts = self._courts.jurisdiction(court)
        totals, shown = await self._at_end_of(courts, self.window(period, 1))
        in_period = {c: shown[(c, period.label)] for c in courts}
        figures = {c: rates(_complete(totals[c])) for c in courts}
        ranks = {name: {r["court_code"]: r["rank"] for r in ranking(figures, name, higher)}
                 for name, higher in RANKED.items()}  # fmt: skip
        court_rows = [
            {
                "court_code": c, "court_name": self._courts.lookup(c).name,
                "filed": in_period[c]["filed"], "closed": in_period[c]["closed"],
                "warnings": in_period[c]["clocks_warned"],
                "breaches": in_period[c]["clocks_breached"],
                "rates": {name: figures[c][name] for name in BULLETIN_RATES},
                "ranks": {name: ranks[name][c] for name in BULLETIN_RATES},
            }
            for c in courts
        ]  # fmt: skip
        return {
            "court_code": court, "court_name": self._courts.lookup(court).name,
            "period": period.label, "kind": period.kind.value, "title": period.title(),
            "start": period.start.isoformat(), "end": period.end.isoformat(),
            "generated_at": self._clock.now().astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            "courts": court_rows,
            "breaches_by_node": self._by_node(courts, in_period),
            "commands": await self._commands(court, courts, period),
            "definitions": {name: DEFINITIONS[name] for name in BULLETIN_RATES},
        }  # fmt: skip

    def _by_node(
        self, courts: Sequence[str], in_period: dict[str, Counters]
    ) -> list[dict[str, Any]]:
        """Breaches in the period by the rule (node limit) breached and the court."""
        rows: dict[str, dict[str, int]] = {}
        for c in courts:
            for rule_id, n in _by_rule(in_period[c], BREACHED_BY_RULE).items():
                rows.setdefault(rule_id, {})[c] = n
        titles = catalogue()
        return sorted(
            ({"rule_id": rule_id, "title": titles.title_of(rule_id), "by_court": by_court,
              "total": sum(by_court.values())} for rule_id, by_court in rows.items()),
            key=lambda row: (-row["total"], row["rule_id"]),
        )  # fmt: skip

    async def _commands(
        self, court: str, courts: Sequence[str], period: ReportPeriod
    ) -> dict[str, Any]:
        """Command actions issued in the period, per receiving court and kind; of those
        issued up to the period's end, the ones still not signed for now (withdrawn ones
        aside); the cases elevated or designated in it and not moved back since."""
        records = [r for r in await self._actions.in_jurisdiction(court)
                   if r.get("status") != WITHDRAWN]  # fmt: skip
        days = [_day_of(r.get("issued_at")) for r in records]
        issued = [r for r, day in zip(records, days, strict=True) if day in period]
        per_court: dict[str, dict[str, int]] = {c: {} for c in courts}
        unanswered = dict.fromkeys(courts, 0)
        for record, day in zip(records, days, strict=True):
            target = record.get("target_court", "")
            if (target in unanswered and not record.get("acknowledged")
                    and day is not None and day <= period.end):  # fmt: skip
                unanswered[target] += 1
        for record in issued:
            kinds = per_court.setdefault(record.get("target_court", ""), {})
            action = str(record.get("action", ""))
            title = ACTION_TITLES.get(action, action)
            kinds[title] = kinds.get(title, 0) + 1
        moves = sorted((r for r in issued if r.get("action") in MOVES),
                       key=lambda r: r.get("issued_at", ""))  # fmt: skip
        numbers = await self._board.cases([r["case_id"] for r in moves])
        moved = [
            {"case_id": r["case_id"], "case_number": n.get("number", ""),
             "action": ACTION_TITLES[Action(r["action"])],
             "from_court": r.get("target_court", ""), "to_court": r.get("to_court") or "",
             "issued_on": _day_of(r.get("issued_at")).isoformat()}  # type: ignore[union-attr]
            for r, n in zip(moves, numbers, strict=True)
        ]  # fmt: skip
        return {
            "issued": len(issued),
            "by_court": [{"court_code": c, "issued": per_court.get(c, {}),
                          "unanswered": unanswered.get(c, 0)} for c in courts],
            "moved": moved,
        }  # fmt: skip


BULLETIN_RATES = ("结案率", "执行完毕率", "法定期限内结案率", "实际到位率")
"""The rates each court's row of the bulletin shows, with its rank on each."""


def _complete(counts: Counters) -> Counters:
    """Counters with every name ``rates`` reads (a court that never counted has none)."""
    return {name: counts.get(name, 0) for name in (*COUNTERS, *SUMS)}


def _day_of(iso: Any) -> dt.date | None:
    """The China date of an ISO time written by this service's clock."""
    if not iso:
        return None
    return dt.datetime.fromisoformat(str(iso)).astimezone(CHINA_TZ).date()


def ranking(figures: dict[str, dict[str, Any]], name: str, higher: bool) -> list[dict[str, Any]]:
    """Courts ordered on one figure, best first, with competition ranks (1, 2, 2, 4); those
    with no value last, rank None."""
    # Ranked on the value as people read it (a rate to 0.1%): two courts shown alike tie.
    valued = [(c, f[name], round(f[name], 3)) for c, f in figures.items()
              if f.get(name) is not None]  # fmt: skip
    valued.sort(key=lambda item: (-item[2] if higher else item[2], item[0]))
    rows: list[dict[str, Any]] = []
    for position, (court, value, shown) in enumerate(valued, start=1):
        tied = rows and round(rows[-1]["value"], 3) == shown
        rows.append({"court_code": court, "value": value,
                     "rank": rows[-1]["rank"] if tied else position})  # fmt: skip
    rows += [{"court_code": c, "value": None, "rank": None}
             for c, f in sorted(figures.items()) if f.get(name) is None]  # fmt: skip
    return rows
