"""The figures courts are judged on, per court and per jurisdiction, kept from events (a
projection: queries read counters, never scan cases).

Definitions (the platform's working definitions; each rate is over all time so far):

- 结案率 (closure rate) = cases closed / cases filed.
- 执行完毕率 (fully-performed rate) = cases closed as 执行完毕 / cases closed.
- 实际执结率 (actually-enforced rate) = cases closed as 执行完毕 or 终结执行 / cases closed
  (终结执行 ends enforcement for good, e.g. after a settlement is performed).
- 终本率 (ended-this-round rate) = cases closed as 终结本次执行 / cases closed.
- 法定期限内结案率 (closed-within-the-limit rate) = cases whose 6-month clock (case.close)
  was cleared before its due time / cases closed.
- 保全率 (control rate) = cases with at least one asset controlled / cases filed.
- 平均结案用时 (average days to close) = total days from filing to closure / cases closed.
- 实际到位率 (money-recovered rate) = money paid to applicants / amounts claimed: not
  computable until the funds (案款) module records payments; reported as null, with why.

A case is counted at the court that filed it (filed), at the court handling it when an
asset is first controlled (controlled), and at the court handling it when it closes
(closed, methods, days, in time). Clock figures count clock
events at the court each clock names when it happens: a warning or breach stays with the
court that was responsible then; a clock that moves with its case (ClockMoved) counts as
running at its new court (clocks running = opened + moved in - moved out - cleared).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.message import Message

from zhixing.courts import CourtDirectory
from zhixing.events import Event
from zhixing.projection import Transaction
from zhixing.state import KeySpace, read_hashes, text_hash
from zhixing.v1 import asset_events_pb2, case_events_pb2, command_events_pb2, deadline_events_pb2

COUNTERS = (
    "filed", "closed", "closed_performed", "closed_terminated", "closed_this_round",
    "closed_in_time", "closure_days", "controlled_cases", "clocks_opened", "clocks_cleared",
    "clocks_warned", "clocks_breached", "clocks_moved_in", "clocks_moved_out",
    "commands_received", "commands_acknowledged",
)  # fmt: skip


# Clock events (by payload type) and the counter each adds to, at the clock's court.
CLOCK_COUNTERS: dict[type[Message], str] = {
    deadline_events_pb2.ClockOpened: "clocks_opened",
    deadline_events_pb2.ClockCleared: "clocks_cleared",
    deadline_events_pb2.ClockWarned: "clocks_warned",
    deadline_events_pb2.ClockBreached: "clocks_breached",
}
CLOCK_COUNTERS_TYPES = (
    deadline_events_pb2.ClockOpened,
    deadline_events_pb2.ClockCleared,
    deadline_events_pb2.ClockWarned,
    deadline_events_pb2.ClockBreached,
)  # the keys of CLOCK_COUNTERS, as isinstance takes them


class CourtFigures:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace, courts: CourtDirectory) -> None:
        self._redis = redis
        self._keys = keys
        self._courts = courts

    def court_key(self, court: str) -> str:
        return self._keys.key("figures", court)

    def case_key(self, case_id: str) -> str:
        return self._keys.key("figures-case", case_id)

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        cases: dict[str, dict[str, str]] = {}  # what this batch knows of each case

        async def case(case_id: str) -> dict[str, str]:
            if case_id not in cases:
                cases[case_id] = text_hash(await tx.redis.hgetall(self.case_key(case_id)))
            return cases[case_id]

        # The cases the batch names, read in one round trip rather than one each.
        named = sorted({cid for e in events if (cid := getattr(e.payload, "case_id", ""))})
        read = await read_hashes(tx.redis, [self.case_key(case_id) for case_id in named])
        cases.update(zip(named, read, strict=True))

        def count(court: str, field: str, by: int = 1) -> None:
            if court:
                tx.pipe.hincrby(self.court_key(court), field, by)

        for event in events:
            payload = event.payload
            if isinstance(payload, case_events_pb2.CaseFiled):
                filed = {"court": payload.court_code, "filing_court": payload.court_code,
                         "filed_on": payload.filed_on or payload.received_on}  # fmt: skip
                (await case(payload.case_id)).update(filed)
                tx.pipe.hset(self.case_key(payload.case_id), mapping=dict(filed))  # type: ignore[arg-type]
                count(payload.court_code, "filed")
            elif isinstance(payload, case_events_pb2.CaseHandlingCourtChanged):
                (await case(payload.case_id))["court"] = payload.to_court
                tx.pipe.hset(self.case_key(payload.case_id), "court", payload.to_court)
            elif isinstance(payload, case_events_pb2.CaseClosed):
                state = await case(payload.case_id)
                court = state.get("court", event.envelope.court_code)
                count(court, "closed")
                method_field = {
                    "执行完毕": "closed_performed", "终结执行": "closed_terminated",
                    "终结本次执行": "closed_this_round",
                }.get(payload.method)  # fmt: skip
                if method_field:
                    count(court, method_field)
                if state.get("filed_on") and payload.closed_on:
                    days = (dt.date.fromisoformat(payload.closed_on)
                            - dt.date.fromisoformat(state["filed_on"])).days  # fmt: skip
                    count(court, "closure_days", days)
            elif isinstance(payload, asset_events_pb2.AssetControlled):
                # The asset topic is not ordered with the case topic (a replay may bring this
                # before the filing): count at the court the event names, once per case.
                state = await case(payload.case_id)
                if not state.get("controlled"):
                    state["controlled"] = "1"
                    tx.pipe.hset(self.case_key(payload.case_id), "controlled", "1")
                    count(event.envelope.court_code, "controlled_cases")
            elif isinstance(payload, CLOCK_COUNTERS_TYPES):
                ref = payload.clock
                count(ref.court_code, CLOCK_COUNTERS[type(payload)])
                if (
                    isinstance(payload, deadline_events_pb2.ClockCleared)
                    and ref.rule_id == "case.close"
                    and not payload.late
                ):
                    count(ref.court_code, "closed_in_time")
            elif isinstance(payload, deadline_events_pb2.ClockMoved):
                count(payload.from_court, "clocks_moved_out")
                count(payload.to_court, "clocks_moved_in")
            elif isinstance(payload, command_events_pb2.CommandIssued):
                count(payload.target_court, "commands_received")
            elif isinstance(payload, command_events_pb2.CommandAcknowledged):
                count(payload.court_code, "commands_acknowledged")

    async def counters(self, court: str) -> dict[str, int]:
        raw = text_hash(await self._redis.hgetall(self.court_key(court)))
        return {name: int(raw.get(name, 0)) for name in COUNTERS}

    async def figures(self, court: str, *, jurisdiction: bool) -> dict[str, Any]:
        """The figures of one court, or of it and every court below it."""
        courts = self._courts.jurisdiction(court) if jurisdiction else [court]
        totals = dict.fromkeys(COUNTERS, 0)
        for code in courts:
            for name, value in (await self.counters(code)).items():
                totals[name] += value
        return {"court_code": court, "jurisdiction": jurisdiction, "courts": len(courts),
                "counts": totals, "rates": rates(totals)}  # fmt: skip


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rates(c: dict[str, int]) -> dict[str, Any]:
    closed = c["closed"]
    return {
        "结案率": _ratio(closed, c["filed"]),
        "执行完毕率": _ratio(c["closed_performed"], closed),
        "实际执结率": _ratio(c["closed_performed"] + c["closed_terminated"], closed),
        "终本率": _ratio(c["closed_this_round"], closed),
        "法定期限内结案率": _ratio(c["closed_in_time"], closed),
        "保全率": _ratio(c["controlled_cases"], c["filed"]),
        "平均结案用时": round(c["closure_days"] / closed, 1) if closed else None,
        "实际到位率": None,
        "notes": {"实际到位率": "needs the funds (案款) module's payments; not recorded yet"},
        "clocks_running": (
            c["clocks_opened"] + c["clocks_moved_in"] - c["clocks_moved_out"] - c["clocks_cleared"]
        ),
        "commands_unacknowledged": c["commands_received"] - c["commands_acknowledged"],
    }
