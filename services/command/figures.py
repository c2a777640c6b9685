"""The figures courts are judged on, per court and per jurisdiction, kept from events (a
projection: queries read counters, never scan cases).

Definitions (the platform's working definitions; each rate is over all time so far):

- 结案率 (closure rate) = cases closed / cases filed.
- 执行完毕率 (fully-performed rate) = cases closed as 执行完毕 / cases closed.
- 实际执结率 (actually-enforced rate) = cases closed as 执行完毕 or 终结执行 / cases closed
  (终结执行 ends enforcement for good, e.g. after a settlement is performed).
- 终本率 (ended-this-round rate) = cases closed as 终结本次执行 (终本 closures) / cases
  closed.
- 终本合格率 (lawful-终本 rate) = 终本 closures that passed the 终本 gate and were not later
  found unlawful / 终本 closures. A closure passed the gate when a ruling (``ZhongbenRuled``:
  the gate held and a leader other than the handling officer approved) came before it (a
  closure without one, as before the gate existed, did not); it was found unlawful when
  the ruling was revoked (``ZhongbenRevoked``) afterwards.
- 恢复执行率 (resumption rate) = 终本 closures whose enforcement resumed (``ExecutionResumed``:
  a 执恢 case filed for it) / 终本 closures.
- 法定期限内结案率 (closed-within-the-limit rate) = cases whose closing limit (case.close, or
  case.close-non-litigation) was cleared before its due time and never breached (an extension
  does not undo a breach) / cases closed.
- 保全率 (control rate) = cases with at least one asset controlled / cases filed.
- 平均结案用时 (average days to close) = total days from filing to closure / cases closed.
- 实际到位率 (money-recovered rate) = money paid to applicants / money claimed: the sum of
  every payout (``FundsPaid.amount_fen``) / the sum of every claim filed
  (``CaseFiled.claim_amount_fen``). Money counts once it reaches the applicant: money that
  arrived and is still in the case's account, held back, or lodged (提存) does not. A 执恢
  case (filed with ``resumed_from_case_id``) claims the same debt as the 终本 case it
  resumes, whose claim is counted already: it is counted as filed, its claim is not counted
  again (each resumption would otherwise lower the rate); its payouts count, at the court
  handling it, which for a case moved before its 终本 is not the court its claim counts at
  (that court's rate may pass 100%; the jurisdiction's is whole).
- 案款发放及时率 (on-time payout rate) = payouts on time / payouts judged. A payout
  (``FundsPaid``) is on time when both clocks of its money cleared in time: its payment's
  ``funds.notify-finance`` (finance told to pay within the limit from arrival, an approved
  deferral not counting) and its notice's ``funds.pay`` (paid within the limit from the
  notice); it is judged once both have cleared (``ClockCleared``, ``late`` false or true).
  The clocks are found by their ids (``<rule>:<case>:<payment or notice id>``), so the
  payout and its two clearings may be read in any order.

A case is counted at the court that filed it (filed, its claim), at the court handling it
when an asset is first controlled (controlled), when it closes (closed, methods, days, in
time; a 终本 closure's revocation and resumption count later at the court that closed it, so
each court's 终本合格率 and 恢复执行率 are of its own closures) and when money is paid to its
applicant (the payout, its amount, and whether it was on time; a case moved to another court
brings its later payouts there while its claim stays with the filing court: the
jurisdiction's figures are whole). Clock figures count clock events at the court each clock
names when it happens: a warning or breach stays with the court that was responsible then; a
clock that moves with its case (ClockMoved) counts as running at its new court (clocks
running = opened + moved in - moved out - cleared).

Sums of money (claimed, paid) are kept so that no court's total can overflow a Redis
counter (``zhixing.money``); the rates are computed from the exact sums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.asyncio.client import Pipeline

from services.command.payouts import Count, Known, PayoutJudge
from services.command.report_periods import labels_of
from zhixing.courts import CourtDirectory
from zhixing.events import Event
from zhixing.money import add_fen, fen_of
from zhixing.projection import Transaction
from zhixing.state import KeySpace, read_hashes, text_hash
from zhixing.v1 import (
    asset_events_pb2,
    case_events_pb2,
    command_events_pb2,
    deadline_events_pb2,
    funds_events_pb2,
)

COUNTERS = (
    "filed", "closed", "closed_performed", "closed_terminated", "closed_this_round",
    "closed_in_time", "closure_days", "controlled_cases", "clocks_opened", "clocks_cleared",
    "clocks_warned", "clocks_breached", "clocks_moved_in", "clocks_moved_out",
    "commands_received", "commands_acknowledged", "payouts", "payouts_judged",
    "payouts_in_time", "closed_this_round_gated", "closed_this_round_revoked",
    "closed_this_round_resumed",
)  # fmt: skip
SUMS = ("claimed_fen", "paid_fen")  # money, whole fen (zhixing.money)

# What each figure means, in short (the full definitions: this module's docstring); the
# dashboard shows them beside the figures.
DEFINITIONS = {
    "结案率": "已结案件数 / 收案数",
    "执行完毕率": "以执行完毕方式结案数 / 已结案件数",
    "实际执结率": "以执行完毕、终结执行方式结案数 / 已结案件数",
    "终本率": "以终结本次执行程序方式结案数 / 已结案件数",
    "终本合格率": "经终本条件审查并裁定、且未被撤销的终本结案数 / 终本结案数",
    "恢复执行率": "终本后恢复执行的案件数 / 终本结案数",
    "法定期限内结案率": "在法定期限内结案数 / 已结案件数",
    "保全率": "至少一项财产已控制的案件数 / 收案数",
    "平均结案用时": "立案至结案天数之和 / 已结案件数",
    "实际到位率": (
        "已发放给申请执行人的案款 / 申请执行标的额（在账、暂缓发放和提存的案款不计；"
        "执恢案件的标的已随原终本案件计入，不重复计算）"
    ),
    "案款发放及时率": "通知财务和财务发放均在期限内的发放笔数 / 两项期限均已办结的发放笔数",
}


# Clock events (by payload type) and the counter each adds to, at the clock's court.
CLOCK_COUNTERS: dict[type[Message], str] = {
    deadline_events_pb2.ClockOpened: "clocks_opened",
    deadline_events_pb2.ClockCleared: "clocks_cleared",
    deadline_events_pb2.ClockWarned: "clocks_warned",
    deadline_events_pb2.ClockBreached: "clocks_breached",
}
CASE_LIMIT_RULES = frozenset({"case.close", "case.close-non-litigation"})
"""The case's closing limit: 6 months, or 3 for a non-litigation case (执行规定 art 63)."""
CLOCK_COUNTERS_TYPES = (
    deadline_events_pb2.ClockOpened,
    deadline_events_pb2.ClockCleared,
    deadline_events_pb2.ClockWarned,
    deadline_events_pb2.ClockBreached,
)  # the keys of CLOCK_COUNTERS, as isinstance takes them


# Events whose counting reads what the projection knows of their case.
CASE_READERS = (
    case_events_pb2.CaseFiled,
    case_events_pb2.CaseHandlingCourtChanged,
    case_events_pb2.CaseClosed,
    asset_events_pb2.AssetControlled,
    case_events_pb2.ZhongbenRuled,
    case_events_pb2.ZhongbenRevoked,
    case_events_pb2.ExecutionResumed,
)
THIS_ROUND = "终结本次执行"  # CaseClosed.method of a 终本 closure

# Kept only per week and month (the bulletin's breaches and warnings by node): a field per
# rule, ``breached:<rule id>``.
BREACHED_BY_RULE = "breached:"
WARNED_BY_RULE = "warned:"


class Tally:
    """Adds to a court's counters, for all time and for the week and month of the event
    being counted (``labels``), in the batch's transaction."""

    def __init__(self, figures: CourtFigures, pipe: Pipeline) -> None:
        self._figures = figures
        self._pipe = pipe
        self.labels: tuple[str, ...] = ()

    def _keys(self, court: str, labels: tuple[str, ...] | None = None) -> list[str]:
        periods = self.labels if labels is None else labels
        return [self._figures.court_key(court),
                *(self._figures.period_key(court, label) for label in periods)]  # fmt: skip

    def count(self, court: str, field: str, by: int = 1, *,
              labels: tuple[str, ...] | None = None) -> None:  # fmt: skip
        """Add to the counter for all time and for the weeks and months ``labels`` (default:
        the event's)."""
        if court:
            for key in self._keys(court, labels):
                self._pipe.hincrby(key, field, by)

    def add_money(self, court: str, field: str, fen: int) -> None:
        if court:
            for key in self._keys(court):
                add_fen(self._pipe, key, field, fen)

    def in_period(self, court: str, field: str) -> None:
        """A counter kept per week and month only."""
        if court:
            for label in self.labels:
                self._pipe.hincrby(self._figures.period_key(court, label), field, 1)

    def paid(self, court: str, fen: int) -> None:
        if court:
            self.count(court, "payouts")
            self.add_money(court, "paid_fen", fen)


class CourtFigures:
    # What the consumer gives it (``SelectiveHandler``): what ``_count`` counts, ClocksOpened
    # (its clocks are counted), and a payout and the clearing that judges one
    # (``PayoutJudge``). Most events of its five topics are none of these (an asset found,
    # a query answered), and are passed over without being remembered as applied.
    handles: tuple[type[Message], ...] = (
        *CASE_READERS,
        *CLOCK_COUNTERS_TYPES,
        deadline_events_pb2.ClocksOpened,
        deadline_events_pb2.ClockMoved,
        command_events_pb2.CommandIssued,
        command_events_pb2.CommandAcknowledged,
        funds_events_pb2.FundsPaid,
    )

    def __init__(self, redis: aioredis.Redis, keys: KeySpace, courts: CourtDirectory) -> None:
        self._redis = redis
        self._keys = keys
        self._courts = courts
        self._payouts = PayoutJudge(redis, keys)

    def court_key(self, court: str) -> str:
        return self._keys.key("figures", court)

    def case_key(self, case_id: str) -> str:
        return self._keys.key("figures-case", case_id)

    def period_key(self, court: str, label: str) -> str:
        """The court's counters of one week (``2026-W48``) or month (``2026-11``)."""
        return self._keys.key("figures-period", court, label)

    async def prepare(self, events: Sequence[Event[Message]], pipe: Pipeline) -> Known | None:
        """The payouts' and funds clocks' judging state (read under WATCH)."""
        return await self._payouts.prepare(events, pipe)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        cases: dict[str, dict[str, str]] = {}  # what this batch knows of each case

        async def case(case_id: str) -> dict[str, str]:
            if case_id not in cases:
                cases[case_id] = text_hash(await tx.redis.hgetall(self.case_key(case_id)))
            return cases[case_id]

        # The cases the batch reads, in one round trip rather than one each.
        named = sorted({e.payload.case_id for e in events if isinstance(e.payload, CASE_READERS)})
        read = await read_hashes(tx.redis, [self.case_key(case_id) for case_id in named])
        cases.update(zip(named, read, strict=True))

        tally = Tally(self, tx.pipe)
        for event in events:
            tally.labels = labels_of(event.envelope.occurred_at)
            if isinstance(event.payload, deadline_events_pb2.ClocksOpened):
                for opened in event.payload.clocks:
                    tally.count(opened.clock.court_code, "clocks_opened")
            else:
                await self._count(event, tx, case, tally)
            if tx.prepared is not None:  # payouts, and the clearings that judge them
                self._payouts.apply([event], tx.pipe, tx.prepared, count=tally.count,
                                    paid=tally.paid)  # fmt: skip

    async def _count(
        self, event: Event[Message], tx: Transaction,
        case: Callable[[str], Awaitable[dict[str, str]]], tally: Tally,
    ) -> None:  # fmt: skip
        """Count one event (its payouts aside) at the courts it concerns."""
        payload = event.payload
        if isinstance(payload, case_events_pb2.CaseFiled):
            filed = {"court": payload.court_code, "filing_court": payload.court_code,
                     "filed_on": payload.filed_on or payload.received_on}  # fmt: skip
            (await case(payload.case_id)).update(filed)
            tx.pipe.hset(self.case_key(payload.case_id), mapping=dict(filed))  # type: ignore[arg-type]
            tally.count(payload.court_code, "filed")
            if not payload.resumed_from_case_id:  # a 执恢 case's debt is claimed already
                tally.add_money(payload.court_code, "claimed_fen", payload.claim_amount_fen)
        elif isinstance(payload, case_events_pb2.CaseHandlingCourtChanged):
            (await case(payload.case_id))["court"] = payload.to_court
            tx.pipe.hset(self.case_key(payload.case_id), "court", payload.to_court)
        elif isinstance(payload, case_events_pb2.CaseClosed):
            state = await case(payload.case_id)
            court = state.get("court", event.envelope.court_code)
            tally.count(court, "closed")
            method_field = {
                "执行完毕": "closed_performed", "终结执行": "closed_terminated",
                "终结本次执行": "closed_this_round",
            }.get(payload.method)  # fmt: skip
            if method_field:
                tally.count(court, method_field)
            if state.get("filed_on") and payload.closed_on:
                days = (dt.date.fromisoformat(payload.closed_on)
                        - dt.date.fromisoformat(state["filed_on"])).days  # fmt: skip
                tally.count(court, "closure_days", days)
            if payload.method == THIS_ROUND:
                self._zhongben_closed(tx, payload.case_id, state, court, tally.count)
        elif isinstance(payload, case_events_pb2.ZhongbenRuled):
            state = await case(payload.case_id)
            state["zhongben"] = "ruled"  # the next 终本 closure passed the gate
            tx.pipe.hset(self.case_key(payload.case_id), "zhongben", "ruled")
        elif isinstance(
            payload, case_events_pb2.ZhongbenRevoked | case_events_pb2.ExecutionResumed
        ):
            self._zhongben_after(tx, payload, await case(payload.case_id), tally.count)
        elif isinstance(payload, asset_events_pb2.AssetControlled):
            # The asset topic is not ordered with the case topic (a replay may bring this
            # before the filing): count at the court the event names, once per case.
            # Its week and month are those of the case's earliest control, whichever of its
            # assets' events (each asset on a partition of its own) is read first.
            state = await case(payload.case_id)
            at = str(event.envelope.occurred_at.ToMilliseconds())
            court = event.envelope.court_code
            first = {"controlled": "1", "controlled_at": at, "controlled_court": court,
                     "controlled_periods": ",".join(tally.labels)}  # fmt: skip
            if not state.get("controlled"):
                tally.count(court, "controlled_cases")
            elif state.get("controlled_at") and int(at) < int(state["controlled_at"]):
                before = tuple(state["controlled_periods"].split(","))
                tally.count(state["controlled_court"], "controlled_cases", -1, labels=before)
                tally.count(court, "controlled_cases")
            else:
                first = {}
            if first:
                state.update(first)
                tx.pipe.hset(self.case_key(payload.case_id), mapping=first)  # type: ignore[arg-type]
        elif isinstance(payload, CLOCK_COUNTERS_TYPES):
            ref = payload.clock
            tally.count(ref.court_code, CLOCK_COUNTERS[type(payload)])
            if isinstance(payload, deadline_events_pb2.ClockWarned):
                tally.in_period(ref.court_code, f"{WARNED_BY_RULE}{ref.rule_id}")
            elif isinstance(payload, deadline_events_pb2.ClockBreached):
                tally.in_period(ref.court_code, f"{BREACHED_BY_RULE}{ref.rule_id}")
            if (
                isinstance(payload, deadline_events_pb2.ClockCleared)
                and ref.rule_id in CASE_LIMIT_RULES
                and not payload.late
            ):
                tally.count(ref.court_code, "closed_in_time")
        elif isinstance(payload, deadline_events_pb2.ClockMoved):
            tally.count(payload.from_court, "clocks_moved_out")
            tally.count(payload.to_court, "clocks_moved_in")
        elif isinstance(payload, command_events_pb2.CommandIssued):
            tally.count(payload.target_court, "commands_received")
        elif isinstance(payload, command_events_pb2.CommandAcknowledged):
            tally.count(payload.court_code, "commands_acknowledged")

    def _zhongben_closed(self, tx: Transaction, case_id: str, state: dict[str, str],
                         court: str, count: Count) -> None:  # fmt: skip
        """A 终本 closure: whether it passed the gate, and the court its revocation or
        resumption will count at."""
        closure = {"zhongben": "gated" if state.get("zhongben") == "ruled" else "ungated",
                   "zhongben_court": court}  # fmt: skip
        if closure["zhongben"] == "gated":
            count(court, "closed_this_round_gated")
        for ended in ("zhongben_revoked", "zhongben_resumed"):  # a new closure, a new story
            state.pop(ended, None)
            tx.pipe.hdel(self.case_key(case_id), ended)
        state.update(closure)
        tx.pipe.hset(self.case_key(case_id), mapping=closure)  # type: ignore[arg-type]

    def _zhongben_after(self, tx: Transaction, payload: Any, state: dict[str, str],
                        count: Count) -> None:  # fmt: skip
        """A 终本 closure's ruling revoked, or its enforcement resumed: counted once each, at
        the court that closed it (nothing, for a case not closed as 终本)."""
        court = state.get("zhongben_court", "")
        if not court:
            return
        if isinstance(payload, case_events_pb2.ZhongbenRevoked):
            flag, counter = "zhongben_revoked", "closed_this_round_revoked"
            counts = state.get("zhongben") == "gated"  # an ungated closure never passed
        else:
            flag, counter, counts = "zhongben_resumed", "closed_this_round_resumed", True
        if counts and not state.get(flag):
            state[flag] = "1"
            tx.pipe.hset(self.case_key(payload.case_id), flag, "1")
            count(court, counter)

    async def counters(self, court: str) -> dict[str, int]:
        """A court's counters and sums of money (exact: Python integers)."""
        raw = text_hash(await self._redis.hgetall(self.court_key(court)))
        counts = {name: int(raw.get(name, 0)) for name in COUNTERS}
        return counts | {name: fen_of(raw, name) for name in SUMS}

    async def figures(self, court: str, *, jurisdiction: bool) -> dict[str, Any]:
        """The figures of one court, or of it and every court below it."""
        courts = self._courts.jurisdiction(court) if jurisdiction else [court]
        totals = dict.fromkeys((*COUNTERS, *SUMS), 0)
        for code in courts:
            for name, value in (await self.counters(code)).items():
                totals[name] += value
        return {"court_code": court, "jurisdiction": jurisdiction, "courts": len(courts),
                "counts": totals, "rates": rates(totals),
                "definitions": DEFINITIONS}  # fmt: skip


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rates(c: dict[str, int]) -> dict[str, Any]:
    closed = c["closed"]
    return {
        "结案率": _ratio(closed, c["filed"]),
        "执行完毕率": _ratio(c["closed_performed"], closed),
        "实际执结率": _ratio(c["closed_performed"] + c["closed_terminated"], closed),
        "终本率": _ratio(c["closed_this_round"], closed),
        "终本合格率": _ratio(
            c["closed_this_round_gated"] - c["closed_this_round_revoked"], c["closed_this_round"]
        ),
        "恢复执行率": _ratio(c["closed_this_round_resumed"], c["closed_this_round"]),
        "法定期限内结案率": _ratio(c["closed_in_time"], closed),
        "保全率": _ratio(c["controlled_cases"], c["filed"]),
        "平均结案用时": round(c["closure_days"] / closed, 1) if closed else None,
        "实际到位率": _ratio(c["paid_fen"], c["claimed_fen"]),
        "案款发放及时率": _ratio(c["payouts_in_time"], c["payouts_judged"]),
        "clocks_running": (
            c["clocks_opened"] + c["clocks_moved_in"] - c["clocks_moved_out"] - c["clocks_cleared"]
        ),
        "commands_unacknowledged": c["commands_received"] - c["commands_acknowledged"],
    }
