"""Runs a workload against the real services, day by day on the simulated clock.

Each day: the clock moves to 09:00 China time, timers due overnight fire, the day's filings
and follow-up acts go through the services' public HTTP APIs (as the courts' clerks,
officers and leaders would send them), then the clock moves to 18:00 and the platform is
left to settle before the next day. Every statutory clock therefore fires on its date.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tools.simulator.platform import InProcessPlatform
from tools.simulator.workload import ENTRUSTED_DIVISION, Filing, Workload
from zhixing.audit import AuditChain
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ
from zhixing.service import ServiceHost

CONCURRENCY = 16  # requests in flight: a busy registry desk, not a flood


@dataclass
class Report:
    days: int = 0
    filed: int = 0
    acts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # act:status → count
    events: int = 0
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"days": self.days, "filed": self.filed, "acts": dict(self.acts),
                "refused": dict(self.refused), "events": self.events,
                "wall_s": round(self.wall_s, 2), "events_per_s": round(self.events_per_s, 1),
                "figures": self.figures}  # fmt: skip


@dataclass
class SimCase:
    case_id: str
    court: str
    filed_on: dt.date
    dispute_id: str = ""


class Simulation:
    def __init__(
        self, platform: InProcessPlatform, tokens: TokenAuthority, workload: Workload
    ) -> None:
        if platform.command is None or platform.entrustment is None or platform.disputes is None:
            raise ValueError("a simulation needs command, entrustment and disputes running")
        self.platform = platform
        self.tokens = tokens
        self.workload = workload
        self.report = Report()
        self._later: dict[dt.date, list[tuple[str, SimCase]]] = {}
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._clients: dict[str, httpx.AsyncClient] = {}
        command = platform.command
        self._audit = AuditChain(command.ctx.redis, command.ctx.keys)

    def _client(self, host: ServiceHost) -> httpx.AsyncClient:
        name = host.ctx.name
        if name not in self._clients:
            # Idle connections are dropped well before uvicorn's 5 s keep-alive ends: a
            # request sent on one the server is closing fails (httpx.ReadError).
            self._clients[name] = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{host.http_port}", timeout=60,
                limits=httpx.Limits(keepalive_expiry=1.0),
            )  # fmt: skip
        return self._clients[name]

    def _headers(self, role: Role, court: str, key: str = "") -> dict[str, str]:
        token = self.tokens.issue(subject=f"sim-{role.value}-{court}", court_code=court,
                                  role=role, ttl=dt.timedelta(days=2))  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    async def _post(self, act: str, host: ServiceHost, path: str, role: Role, court: str,
                    body: Any = None, key: str = "") -> dict[str, Any] | None:  # fmt: skip
        async with self._gate:
            response = await self._client(host).post(
                path, json=body, headers=self._headers(role, court, key)
            )
        if response.status_code >= 400:
            self.report.refused[f"{act}:{response.status_code}"] += 1
            return None
        self.report.acts[act] += 1
        return response.json() if response.content else {}

    # --- the year ---------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.perf_counter()
        try:
            for day in self.workload.days:
                await self.run_day(day)
        finally:
            for client in self._clients.values():
                await client.aclose()
        self.report.wall_s = time.perf_counter() - started
        head = await self._audit.read_head()
        self.report.events = head[0] if head else 0
        figures = self.platform.command.http.state.figures  # type: ignore[union-attr]
        self.report.figures = await figures.figures(
            self.workload.settings.intermediate_court, jurisdiction=True
        )
        return self.report

    async def run_day(self, day: dt.date) -> None:
        clock = self.platform.clock
        clock.set(dt.datetime.combine(day, dt.time(9, 0), CHINA_TZ))
        await self.settle()
        filings = self.workload.filings_on(day)
        await asyncio.gather(*(self._file(day, f) for f in filings))
        await asyncio.gather(*(self._act(act, case) for act, case in self._later.pop(day, [])))
        clock.set(dt.datetime.combine(day, dt.time(18, 0), CHINA_TZ))
        await self.settle()
        self.report.days += 1

    async def settle(self, quiet_polls: int = 2) -> None:
        """Until nothing is left to do at this instant.

        One poll reads, in this order: every consumer's lag (all caught up to the broker's
        end offsets), then work no topic shows yet (outboxes not relayed, timers due, asset
        control's submissions due, the gateway's answers not fetched), then the audit chain's
        length. Quiet means no lag, no such work and the same chain length as the poll
        before: no event was produced in between, so nothing consumed could stage more. The
        consumers' lags are read at once (each asks the broker), and so are the outboxes.
        """
        engine = self.platform.deadlines.http.state.deadlines  # type: ignore[union-attr]
        now = self.platform.clock.now()
        hosts = self.platform.hosts
        quiet, last = 0, -1
        while quiet < quiet_polls:
            await asyncio.sleep(0.02)
            lags = await asyncio.gather(*(c.lag() for host in hosts for c in host.consumers))
            pending = sum(1 if lag is None else lag for lag in lags)
            outboxes = await asyncio.gather(*(h.ctx.redis.xlen(h.ctx.outbox.stream) for h in hosts))
            pending += sum(int(n) for n in outboxes)
            pending += await self.platform.assets.http.state.asset_control.query.due_count()
            pending += self.platform.gateway.gateway.feedback_ready()
            earliest = await engine.earliest()
            head = await self._audit.read_head()
            length = head[0] if head else 0
            busy = pending or (earliest is not None and earliest <= now) or length != last
            quiet, last = (0 if busy else quiet + 1), length

    async def _file(self, day: dt.date, filing: Filing) -> None:
        filed = await self._post("file", self.platform.intake, "/v1/cases", Role.CLERK,
                                 filing.court, filing.body, key=filing.key)  # fmt: skip
        if filed is None:
            return
        self.report.filed += 1
        case = SimCase(filed["case_id"], filing.court, day)
        for after, act in filing.later.items():
            self._later.setdefault(day + dt.timedelta(days=after), []).append((act, case))

    async def _act(self, act: str, case: SimCase) -> None:
        p = self.platform
        path = f"/v1/cases/{case.case_id}"
        if act == "assign":
            await self._post(act, p.intake, f"{path}/assignment", Role.LEADER, case.court,
                             {"officer_id": f"sim-officer-{case.court}"})  # fmt: skip
        elif act == "notice":
            await self._post(act, p.intake, f"{path}/execution-notice", Role.OFFICER, case.court)
        elif act.startswith("close:"):
            await self._post("close", p.intake, f"{path}/closure", Role.OFFICER, case.court,
                             {"method": act.removeprefix("close:")})  # fmt: skip
        elif act == "entrust":
            assert p.entrustment is not None
            await self._post(act, p.entrustment, "/v1/entrustments", Role.OFFICER, case.court, {
                "case_id": case.case_id, "matter_type": "deposit_freeze",
                "description": "冻结被执行人在受托法院辖区银行的存款",
                "location_division": ENTRUSTED_DIVISION,
            })  # fmt: skip
        elif act == "dispute":
            assert p.disputes is not None
            other = next(c for c in self.workload.courts if c != case.court) if len(
                self.workload.courts) > 1 else "浙0102"  # fmt: skip
            opened = await self._post(act, p.disputes, "/v1/disputes", Role.OFFICER, case.court, {
                "courts": [case.court, other], "case_ids": [case.case_id],
                "subject": "同一财产被两院分别查封，处置顺序有争议",
            })  # fmt: skip
            if opened is not None:
                case.dispute_id = opened["dispute_id"]
                settle_on = self.platform.clock.now().date() + dt.timedelta(days=10)
                self._later.setdefault(settle_on, []).append(("settle", case))
        elif act == "settle" and case.dispute_id:
            assert p.disputes is not None
            settled = {"note": "两院协商一致，按查封先后处置", "outcome": "settled"}
            await self._post(act, p.disputes, f"/v1/disputes/{case.dispute_id}/negotiation",
                             Role.OFFICER, case.court, settled)  # fmt: skip
