"""Runs a workload against the real services, day by day on the simulated clock.

Each day: the clock moves to 09:00 China time, timers due overnight fire, the day's filings
and follow-up acts go through the services' public HTTP APIs (as the courts' clerks,
officers, leaders and finance staff would send them), then the clock moves to 18:00 and the
platform is left to settle before the next day. Every statutory clock therefore fires on its
date. The year ends with the funds' reconciliation of the jurisdiction: a court whose money
does not balance (received = paid + in account + lodged) fails the run.

Each role is its own person per court (``sim-<role>-<court>``): the officer assigned to every
case handles it and controls its assets, a leader approves holds and starts sales, finance
records receipts and pays, so separation of duties (分段办理) holds by construction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from tools.simulator.ending import ENDING_ACTS, RoundEnding
from tools.simulator.platform import SimPlatform
from tools.simulator.workload import ENTRUSTED_DIVISION, Act, Filing, Workload
from zhixing.assets import PriceMethod, SaleMode
from zhixing.audit import AuditChain
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ
from zhixing.service import ServiceHost

CONCURRENCY = 16  # requests in flight: a busy registry desk, not a flood
MONEY_ACTS = frozenset({"receipt", "deduct", "seize", "price", "price-fixed", "sale", "sold",
                        "hold", "approve", "release", "pay-notice", "payout"})  # fmt: skip


def subject(role: Role, court: str) -> str:
    """The one person of ``role`` at ``court`` (the officer is every case's handler)."""
    return f"sim-{role.value}-{court}"


ONE_PROCESS = "every service and the simulator (one process)"


@dataclass
class Report:
    days: int = 0
    filed: int = 0
    filed_on_resumption: int = 0  # 执恢 cases filed when an applicant asked to resume
    acts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # act:status → count
    # The first refusal of each act:status, as the service gave it (path and message): a
    # run that should refuse nothing says why it did.
    first_refusals: dict[str, str] = field(default_factory=dict)
    events: int = 0
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    # The funds' reconciliation at the year's end, one entry per court of the jurisdiction.
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    # CPU seconds used during the run, per process: each service process and the simulator
    # when the services run as processes, else the one process that runs them all.
    cpu_s: dict[str, float] = field(default_factory=dict)
    # The run's own Redis key prefix (and Kafka topic prefix): where its state can be read.
    prefix: str = ""

    def refuse(self, refusal: str, reason: str) -> None:
        """Count a refusal (``act:status``), keeping the reason of its first."""
        self.refused[refusal] += 1
        self.first_refusals.setdefault(refusal, reason)

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0

    @property
    def balances(self) -> bool:
        """Every court's funds balanced at the year's end (False before it was checked)."""
        return bool(self.reconciliation) and all(c["balances"] for c in self.reconciliation)

    @property
    def money(self) -> dict[str, int]:
        """The jurisdiction's money at the year's end, summed over its courts (fen)."""
        parts = ("received_fen", "paid_fen", "in_account_fen", "lodged_fen")
        return {part: sum(c[part] for c in self.reconciliation) for part in parts}

    def as_json(self) -> dict[str, Any]:
        return {"days": self.days, "filed": self.filed,
                "filed_on_resumption": self.filed_on_resumption, "acts": dict(self.acts),
                "refused": dict(self.refused), "first_refusals": self.first_refusals,
                "events": self.events,
                "wall_s": round(self.wall_s, 2), "events_per_s": round(self.events_per_s, 1),
                "figures": self.figures,
                "cpu_s": {name: round(cpu, 2) for name, cpu in self.cpu_s.items()},
                "funds": {"balances": self.balances, **self.money,
                          "courts": self.reconciliation}}  # fmt: skip


class FundsUnbalanced(RuntimeError):
    """The year ended with a court whose money does not balance."""

    def __init__(self, report: Report) -> None:
        self.report = report
        wrong = "; ".join(f"{c['court_code']}: {c['problem']} (case {c['unbalanced_case']})"
                          for c in report.reconciliation if not c["balances"])  # fmt: skip
        super().__init__(f"the funds do not balance at the year's end: {wrong or 'no courts'}")


@dataclass
class SimCase:
    case_id: str
    court: str
    filed_on: dt.date
    key: str = ""  # the filing's Idempotency-Key: the stem of its bank references
    payer: str = ""
    dispute_id: str = ""
    account: str = ""  # the case's account (一案一账号), from intake's case view
    assets: dict[str, str] = field(default_factory=dict)  # gateway asset key → asset id
    hold_id: str = ""
    payouts: int = 0


class Simulation:
    def __init__(self, platform: SimPlatform, tokens: TokenAuthority, workload: Workload) -> None:
        if (platform.command is None or platform.entrustment is None or platform.disputes is None
                or platform.funds is None or platform.credit is None):  # fmt: skip
            raise ValueError(
                "a simulation needs command, entrustment, disputes, funds and credit running"
            )
        self.platform = platform
        self.tokens = tokens
        self.workload = workload
        self.report = Report()
        self._later: dict[dt.date, list[tuple[Act, SimCase]]] = {}
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._clients: dict[str, list[httpx.AsyncClient]] = {}
        self._turns: dict[str, Iterator[httpx.AsyncClient]] = {}
        command = platform.command
        self._audit = AuditChain(command.ctx.redis, command.ctx.keys)
        self._ending = RoundEnding(self)
        # Told after each simulated day (a progress bar); and what the run waits for.
        self.on_day: Callable[[dt.date, Report], None] | None = None
        self.on_wait: Callable[[str], None] | None = None
        self.settle_mornings = True  # each day's acts wait for the night's timers' effects
        self._offsets: AIOKafkaConsumer | None = None  # reads the broker's end offsets

    def _client(self, host: ServiceHost) -> httpx.AsyncClient:
        """A client of the service; with replicas, of each in turn (as a load balancer)."""
        name = host.ctx.name
        if name not in self._clients:
            # Idle connections are dropped well before uvicorn's 5 s keep-alive ends: a
            # request sent on one the server is closing fails (httpx.ReadError).
            self._clients[name] = [
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=60,
                    limits=httpx.Limits(keepalive_expiry=1.0),
                )
                for port in self.platform.http_ports(host)
            ]  # fmt: skip
            self._turns[name] = itertools.cycle(self._clients[name])
        return next(self._turns[name])

    def _headers(self, role: Role, court: str, key: str = "") -> dict[str, str]:
        token = self.tokens.issue(subject=subject(role, court), court_code=court,
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
            self.report.refuse(f"{act}:{response.status_code}", f"{path}: {response.text[:500]}")
            return None
        self.report.acts[act] += 1
        return response.json() if response.content else {}

    async def _get(self, host: ServiceHost, path: str, role: Role, court: str,
                   params: dict[str, str] | None = None) -> Any:  # fmt: skip
        async with self._gate:
            response = await self._client(host).get(
                path, params=params, headers=self._headers(role, court)
            )
        response.raise_for_status()
        return response.json()

    def _missing(self, act: str) -> None:
        """An act whose object is not there (no payment to notify, no asset found): the
        workload expected it, so it counts as refused."""
        self.report.refuse(f"{act}:missing", "not done: nothing to act on was found")

    # --- the year ---------------------------------------------------------------------

    async def run(self) -> Report:
        """Run the year; raises ``FundsUnbalanced`` (with the report) if a court's money does
        not balance at its end."""
        started, cpu_before = time.perf_counter(), self.cpu_s()
        try:
            for day in self.days():
                await self.run_day(day)
                if self.on_day is not None:
                    self.on_day(day, self.report)
            await self.finish()
            self.report.wall_s = time.perf_counter() - started
            self.report.cpu_s = {name: cpu - cpu_before.get(name, 0.0)
                                 for name, cpu in self.cpu_s().items()}  # fmt: skip
            self._waiting("the funds' reconciliation of the jurisdiction")
            self.report.reconciliation = await self.reconcile()
        finally:
            await self.close()
        head = await self._audit.read_head()
        self.report.events = head[0] if head else 0
        figures = self.platform.command.http.state.figures  # type: ignore[union-attr]
        self.report.figures = await figures.figures(
            self.workload.settings.intermediate_court, jurisdiction=True
        )
        if not self.report.balances:
            raise FundsUnbalanced(self.report)
        return self.report

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by each service process and this one (with the services
        in this process, by it alone)."""
        if not self.platform.processes:
            return {ONE_PROCESS: time.process_time()}
        return {p.label: p.cpu_s() for p in self.platform.processes} | {
            "simulator": time.process_time()
        }

    async def close(self) -> None:
        """Close the clients the run opened (``run`` does; a caller of ``settle`` alone)."""
        for clients in self._clients.values():
            for client in clients:
                await client.aclose()
        self._clients.clear()
        self._turns.clear()
        if self._offsets is not None:
            await self._offsets.stop()
            self._offsets = None

    def days(self) -> list[dt.date]:
        """The days run (the workload's)."""
        return self.workload.days

    async def finish(self) -> None:
        """After the last day (nothing here; the demo's history moves on to the present)."""

    def _waiting(self, what: str) -> None:
        if self.on_wait is not None:
            self.on_wait(what)

    async def reconcile(self) -> list[dict[str, Any]]:
        """The funds' reconciliation of the jurisdiction, as its command centre reads it."""
        court = self.workload.settings.intermediate_court
        assert self.platform.funds is not None
        courts: list[dict[str, Any]] = await self._get(
            self.platform.funds, "/v1/funds/reconciliation", Role.COMMAND, court,
            params={"court": court},
        )  # fmt: skip
        return courts

    async def run_day(self, day: dt.date) -> None:
        await self.platform.set_time(dt.datetime.combine(day, dt.time(9, 0), CHINA_TZ))
        if self.settle_mornings or await self.outside_work_due():
            await self.settle()
        filings = self.workload.filings_on(day)
        await asyncio.gather(*(self._file(day, f) for f in filings))
        # The cases act at once; each case's acts of the day go in their order.
        by_case: dict[str, list[tuple[Act, SimCase]]] = {}
        for act, case in self._later.pop(day, []):
            by_case.setdefault(case.case_id, []).append((act, case))
        await asyncio.gather(*(self._acts(acts) for acts in by_case.values()))
        await self.after_acts(day)
        await self.platform.set_time(self.evening(day))
        await self.settle()
        self.report.days += 1

    def evening(self, day: dt.date) -> dt.datetime:
        """Where the clock moves once the day's acts are in: 18:00."""
        return dt.datetime.combine(day, dt.time(18, 0), CHINA_TZ)

    async def after_acts(self, day: dt.date) -> None:
        """More of the day's acts, once the workload's are in (none here)."""

    async def settle(self, quiet_polls: int = 2) -> None:
        """Until nothing is left to do at this instant.

        One poll reads, in this order: every consumer's lag (``lags``: all caught up to the
        broker's end offsets), then work no topic shows yet (outboxes not relayed, timers due, asset
        control's submissions and the funds' deductions due, the gateway's answers not yet
        acknowledged), then the audit chain's length. Quiet means no lag, no such work and the
        same chain length as the poll before: no event was produced in between, so nothing
        consumed could stage more. The consumers' lags are read at once (each asks the
        broker), and so are the outboxes.
        """
        engine = self.platform.deadlines.http.state.deadlines  # type: ignore[union-attr]
        now = self.platform.clock.now()
        hosts = self.platform.hosts
        quiet, last = 0, -1
        while quiet < quiet_polls:
            await asyncio.sleep(0.02)
            pending = await self.lags()
            outboxes = await asyncio.gather(*(h.ctx.redis.xlen(h.ctx.outbox.stream) for h in hosts))
            pending += sum(int(n) for n in outboxes)
            pending += await self._outside_work(now)
            pending += await self._notices_due(now)
            earliest = await engine.earliest()
            head = await self._audit.read_head()
            length = head[0] if head else 0
            busy = pending or (earliest is not None and earliest <= now) or length != last
            quiet, last = (0 if busy else quiet + 1), length

    async def lags(self) -> int:
        """Records on the consumers' partitions that their projections have not applied:
        the broker's end offsets, asked once for all partitions on a connection of the
        simulator's own, less the offsets stored with the projections in Redis. The
        consumers are read only for their partitions and stored offsets, so this holds for hosts
        run elsewhere (``tools.simulator.processes``) too. Asking through each consumer
        (its ``lag``) would wait behind the fetch it has in flight on the same connection,
        which a broker answers first: up to ``consumer_fetch_max_wait_ms`` per poll."""
        if self._offsets is None:
            kafka = self.platform.intake.ctx.kafka
            self._offsets = AIOKafkaConsumer(**kafka.client_kwargs(), enable_auto_commit=False)
            await self._offsets.start()
        consumers = [c for host in self.platform.hosts for c in host.consumers]
        # The simulation made its topics (``create_topics``) with the catalogue's counts.
        partitions = [consumer.partitions for consumer in consumers]
        ends = await self._offsets.end_offsets(sorted({tp for tps in partitions for tp in tps}))
        pairs = list(zip(consumers, partitions, strict=True))
        stored = await asyncio.gather(*(c.needed_offsets(tps) for c, tps in pairs))
        behind = (max(0, ends[tp] - needed.get(tp, 0))
                  for (_, tps), needed in zip(pairs, stored, strict=True)
                  for tp in tps)  # fmt: skip
        return sum(behind)

    async def outside_work_due(self) -> bool:
        """Whether a call to the outside systems (a query, control or deduction) is due by
        now, or an answer is waiting: a call that failed the evening before (one in flight
        while the clock jumped to the evening finds its credential expired) is sent again in
        the morning, and the day's acts on that asset wait for it.

        One check is exact for a control (it leaves the due set only once its answer waits
        at the gateway, read second). A deduction or a query taken up by its worker at the
        instant of the check, its call on the wire, can pass it unseen."""
        return await self._outside_work(self.platform.clock.now()) > 0

    async def _outside_work(self, now: dt.datetime) -> int:
        """Asset control's submissions and the funds' deductions due by ``now``, and the
        gateway's answers not yet acknowledged (fetched and applied). Asset control's due
        set is read before the gateway's answers: a control is rescheduled only after its
        answer is kept there, so between the two reads it is seen in one or the other."""
        asset_control = self.platform.assets.http.state.asset_control
        return (int(await asset_control.query.any_due())
                + self.platform.gateway.gateway.feedback_ready()
                + await self._deductions_due(now))  # fmt: skip

    async def _deductions_due(self, now: dt.datetime) -> int:
        """Deductions the funds service has still to send to the outside systems."""
        assert self.platform.funds is not None
        records = self.platform.funds.http.state.funds.records
        due: int = await records.redis.zcount(records.due_key, 0, int(now.timestamp() * 1000))
        return due

    async def _notices_due(self, now: dt.datetime) -> int:
        """Notices to the parties the notification service has still to send (when it runs)."""
        if self.platform.notification is None:
            return 0
        records = self.platform.notification.http.state.notices.records
        due: int = await records.redis.zcount(records.due_key, 0, int(now.timestamp() * 1000))
        return due

    async def _file(self, day: dt.date, filing: Filing) -> None:
        filed = await self._post("file", self.platform.intake, "/v1/cases", Role.CLERK,
                                 filing.court, filing.body, key=filing.key)  # fmt: skip
        if filed is None:
            return
        self.report.filed += 1
        case = SimCase(filed["case_id"], filing.court, day, key=filing.key,
                       payer=filing.body["debtors"][0]["name"])  # fmt: skip
        for after, act in filing.later:
            self._later.setdefault(day + dt.timedelta(days=after), []).append((act, case))

    async def _acts(self, acts: list[tuple[Act, SimCase]]) -> None:
        for act, case in acts:
            if act.name in MONEY_ACTS:
                await self._money(act, case)
            elif act.name in ENDING_ACTS:
                await self._ending.act(act.name, case)
            else:
                await self._act(act, case)

    async def _act(self, act: Act, case: SimCase) -> None:
        p = self.platform
        path = f"/v1/cases/{case.case_id}"
        if act.name == "assign":
            await self._post(act.name, p.intake, f"{path}/assignment", Role.LEADER, case.court,
                             {"officer_id": subject(Role.OFFICER, case.court)})  # fmt: skip
        elif act.name == "notice":
            await self._post(act.name, p.intake, f"{path}/execution-notice", Role.OFFICER,
                             case.court)  # fmt: skip
        elif act.name == "close":
            await self._post("close", p.intake, f"{path}/closure", Role.OFFICER, case.court,
                             {"method": act.method})  # fmt: skip
        elif act.name == "entrust":
            assert p.entrustment is not None
            await self._post(act.name, p.entrustment, "/v1/entrustments", Role.OFFICER,
                             case.court, {
                "case_id": case.case_id, "matter_type": "deposit_freeze",
                "description": "冻结被执行人在受托法院辖区银行的存款",
                "location_division": ENTRUSTED_DIVISION,
            })  # fmt: skip
        elif act.name == "dispute":
            assert p.disputes is not None
            other = next(c for c in self.workload.courts if c != case.court) if len(
                self.workload.courts) > 1 else "浙0102"  # fmt: skip
            opened = await self._post(act.name, p.disputes, "/v1/disputes", Role.OFFICER,
                                      case.court, {
                "courts": [case.court, other], "case_ids": [case.case_id],
                "subject": "同一财产被两院分别查封，处置顺序有争议",
            })  # fmt: skip
            if opened is not None:
                case.dispute_id = opened["dispute_id"]
                settle_on = self.platform.clock.now().date() + dt.timedelta(days=10)
                self._later.setdefault(settle_on, []).append((Act("settle"), case))
        elif act.name == "settle" and case.dispute_id:
            assert p.disputes is not None
            settled = {"note": "两院协商一致，按查封先后处置", "outcome": "settled"}
            await self._post(act.name, p.disputes,
                             f"/v1/disputes/{case.dispute_id}/negotiation", Role.OFFICER,
                             case.court, settled)  # fmt: skip

    # --- money (案款) -----------------------------------------------------------------------

    async def _money(self, act: Act, case: SimCase) -> None:
        p = self.platform
        assert p.funds is not None
        path = f"/v1/cases/{case.case_id}"
        court = case.court
        if act.name == "receipt":  # the debtor paid into the case's account
            if not case.account:
                view = await self._get(p.intake, path, Role.FINANCE, court)
                case.account = view.get("case_account") or ""
            await self._post(act.name, p.funds, "/v1/receipts", Role.FINANCE, court, {
                "account_number": case.account, "bank_reference": f"{case.key}.in",
                "amount_fen": act.amount_fen, "payer": case.payer,
            })  # fmt: skip
        elif act.name in ("deduct", "seize", "price", "price-fixed", "sale", "sold"):
            asset_id = await self._asset_id(case, act.asset_key)
            if asset_id is None:
                self._missing(act.name)
                return
            await self._on_asset(act, case, asset_id)
        elif act.name == "hold":  # part of the latest arrival is disputed
            ledger = await self._get(p.funds, f"{path}/funds", Role.OFFICER, court)
            payment = next((pay for pay in reversed(ledger["payments"])
                            if _payable(ledger, pay) > 1), None)  # fmt: skip
            if payment is None:
                self._missing(act.name)
                return
            held = await self._post(act.name, p.funds, f"{path}/holds", Role.OFFICER, court, {
                "payment_id": payment["payment_id"],
                "amount_fen": max(1, payment["amount_fen"] * act.permille // 1000),
                "kind": "defer", "reason": "disputed", "note": "案外人对部分案款主张权利",
            })  # fmt: skip
            case.hold_id = held["hold_id"] if held else ""
        elif act.name in ("approve", "release"):
            if not case.hold_id:
                self._missing(act.name)
                return
            hold = f"{path}/holds/{case.hold_id}"
            if act.name == "approve":
                await self._post(act.name, p.funds, f"{hold}/decision", Role.LEADER, court,
                                 {"approve": True, "note": "争议部分暂缓发放"})  # fmt: skip
            else:
                await self._post(act.name, p.funds, f"{hold}/release", Role.OFFICER, court,
                                 {"note": "争议已解决"})  # fmt: skip
        elif act.name == "pay-notice":  # the officer tells finance to pay the oldest arrival
            ledger = await self._get(p.funds, f"{path}/funds", Role.OFFICER, court)
            payment = next((pay for pay in ledger["payments"]
                            if not pay.get("notice_id") and _payable(ledger, pay) > 0),
                           None)  # fmt: skip
            if payment is None:
                self._missing(act.name)
                return
            await self._post(act.name, p.funds, f"{path}/payments/{payment['payment_id']}/notice",
                             Role.OFFICER, court)  # fmt: skip
        elif act.name == "payout":  # finance pays the oldest notice not yet paid
            ledger = await self._get(p.funds, f"{path}/funds", Role.FINANCE, court)
            notice = next((n for n in ledger["notices"] if not n.get("payout_id")), None)
            if notice is None:
                self._missing(act.name)
                return
            case.payouts += 1
            await self._post(act.name, p.funds, f"{path}/notices/{notice['notice_id']}/payout",
                             Role.FINANCE, court, {
                "amount_fen": notice["amount_fen"], "to_account": notice["to_account"],
                "bank_reference": f"{case.key}.out{case.payouts}",
            })  # fmt: skip

    async def _on_asset(self, act: Act, case: SimCase, asset_id: str) -> None:
        p = self.platform
        assert p.funds is not None
        asset, court = f"/v1/assets/{asset_id}", case.court
        if act.name == "deduct":  # of a deposit the query froze
            await self._post(act.name, p.funds, f"/v1/cases/{case.case_id}/deductions",
                             Role.OFFICER, court,
                             {"asset_id": asset_id, "amount_fen": act.amount_fen})  # fmt: skip
        elif act.name == "seize":
            await self._post(act.name, p.assets, f"{asset}/control", Role.OFFICER, court, {})
        elif act.name == "price":
            await self._post(act.name, p.assets, f"{asset}/reference-price", Role.OFFICER, court,
                             {"method": PriceMethod.ONLINE_INQUIRY.value})  # fmt: skip
        elif act.name == "price-fixed":
            await self._post(act.name, p.assets, f"{asset}/reference-price/fixed", Role.OFFICER,
                             court, {"price_fen": act.amount_fen})  # fmt: skip
        elif act.name == "sale":  # approved by a leader: the officer controlled the asset
            await self._post(act.name, p.assets, f"{asset}/sale", Role.LEADER, court,
                             {"mode": SaleMode.ONLINE_AUCTION.value})  # fmt: skip
        elif act.name == "sold":
            await self._post(act.name, p.assets, f"{asset}/sale/completion", Role.OFFICER, court,
                             {"proceeds_fen": act.amount_fen,
                              "sale_reference": f"{case.key}.sale"})  # fmt: skip

    async def _asset_id(self, case: SimCase, asset_key: str) -> str | None:
        """The case's asset the query found under the gateway's ``asset_key``."""
        if asset_key not in case.assets:
            found = await self._get(self.platform.assets, f"/v1/cases/{case.case_id}/assets",
                                    Role.OFFICER, case.court)  # fmt: skip
            case.assets.update({a["asset_key"]: a["asset_id"] for a in found["assets"]})
        return case.assets.get(asset_key)


def _payable(ledger: dict[str, Any], payment: dict[str, Any]) -> int:
    """What of a payment in a ledger view is neither noticed nor held back."""
    if payment.get("notice_id"):
        return 0
    held = sum(h["amount_fen"] for h in ledger["holds"]
               if h["payment_id"] == payment["payment_id"]
               and h["status"] not in ("refused", "ended"))  # fmt: skip
    amount: int = payment["amount_fen"] - held
    return amount
