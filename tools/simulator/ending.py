"""The simulator's acts that end a case this round (终本) and punish a debtor's credit
(限制消费, 失信), through intake's and the credit service's public APIs, as the handling
officer, a leader and the registry would send them.

Each act reads what it needs (the case's debtor, its restriction, the gate's answer) from
the services' views, never from their keys. An act whose object is missing counts as
refused, so a workload that drifts from the law shows in the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zhixing.auth import Role

if TYPE_CHECKING:
    from tools.simulator.run import SimCase, Simulation

DEBTOR = "d0"  # the workload's cases have one debtor
ENDING_ACTS = frozenset({
    "decline-property", "visit", "interview", "restrict", "serve-restriction",
    "report-violation", "punish", "list", "decline-listing", "zhongben", "serve-ruling",
    "resume", "lift",
})  # fmt: skip


class RoundEnding:
    def __init__(self, simulation: Simulation) -> None:
        self.sim = simulation

    def _today(self) -> str:
        return self.sim.platform.clock.now().date().isoformat()

    async def act(self, name: str, case: SimCase) -> None:
        sim, p = self.sim, self.sim.platform
        intake, court, today = p.intake, case.court, self._today()
        path = f"/v1/cases/{case.case_id}"
        if name == "visit":
            await sim._post(name, intake, f"{path}/visits", Role.OFFICER, court, {
                "debtor_key": DEBTOR, "kind": "visit", "on": today,
                "result": "被执行人称无财产可供执行，经核实住所无可供执行财产",
            })  # fmt: skip
        elif name == "interview":
            await sim._post(name, intake, f"{path}/interviews", Role.OFFICER, court, {
                "on": today, "summary": "告知申请执行人财产调查情况及终本后果，申请执行人无异议",
            })  # fmt: skip
        elif name == "report-violation":
            await sim._post(name, intake, f"{path}/obstructions", Role.OFFICER, court, {
                "debtor_key": DEBTOR, "kind": "report_violation", "on": today,
                "details": "被执行人收到报告财产令后逾期未报告财产",
            })  # fmt: skip
        elif name == "punish":
            await sim._post(name, intake, f"{path}/punishments", Role.OFFICER, court, {
                "debtor_key": DEBTOR, "kind": "fine", "on": today,
                "decision_number": f"（{today[:4]}）{court}执罚{case.key[-6:]}号",
            })  # fmt: skip
        elif name == "decline-property":
            await self._decline_property(case)
        elif name in ("restrict", "serve-restriction", "lift"):
            await self._restriction(name, case)
        elif name in ("list", "decline-listing"):
            await self._listing(name, case)
        elif name == "zhongben":
            await self._end_round(case)
        elif name == "serve-ruling":
            await sim._post(name, intake, f"{path}/zhongben/service", Role.OFFICER, court)
        elif name == "resume":
            resumed = await sim._post(name, intake, f"{path}/resumption", Role.CLERK, court, {
                "cause": "applicant_request", "reason": "申请执行人提供新的财产线索，申请恢复执行",
            })  # fmt: skip
            if resumed is not None:
                sim.report.filed_on_resumption += 1

    async def _decline_property(self, case: SimCase) -> None:
        """The property the query found and nobody controlled is of no use to the claim
        (the workload's 终本 debtors have no property worth a sale): the officer records
        why it is not controlled, as the gate asks (zhongben.property-available)."""
        sim = self.sim
        found = await sim._get(sim.platform.assets, f"/v1/cases/{case.case_id}/assets",
                               Role.OFFICER, case.court)  # fmt: skip
        reason = {"reason": "经核实无处置价值，处置费用超过变价所得"}
        for asset in found["assets"]:
            if asset["status"] == "found":
                await sim._post("decline-asset", sim.platform.assets,
                                f"/v1/assets/{asset['asset_id']}/decline", Role.OFFICER,
                                case.court, reason)  # fmt: skip
        sim.report.acts["decline-property"] += 1  # the act, however many assets it declined

    async def _restriction(self, name: str, case: SimCase) -> None:
        sim, credit, court = self.sim, self.sim.platform.credit, case.court
        assert credit is not None
        if name == "restrict":
            await sim._post(name, credit, f"/v1/cases/{case.case_id}/restrictions",
                            Role.OFFICER, court, {
                "debtor_key": DEBTOR,
                "ruling_number": f"（{self._today()[:4]}）{court}执限{case.key[-6:]}号",
            })  # fmt: skip
            return
        restriction = await self._restriction_of(case, lift_due=name == "lift")
        if restriction is None:
            sim._missing(name)
            return
        rid = restriction["restriction_id"]
        if name == "serve-restriction":
            await sim._post(name, credit, f"/v1/cases/{case.case_id}/restrictions/{rid}/service",
                            Role.OFFICER, court, {})  # fmt: skip
        else:  # the case was performed: the credit service made the lift due
            await sim._post(name, credit, f"/v1/cases/{case.case_id}/restrictions/{rid}/lifting",
                            Role.OFFICER, court, {})  # fmt: skip

    async def _restriction_of(self, case: SimCase, *, lift_due: bool) -> dict[str, Any] | None:
        credit = self.sim.platform.credit
        assert credit is not None
        record = await self.sim._get(credit, f"/v1/cases/{case.case_id}/credit", Role.OFFICER,
                                     case.court)  # fmt: skip
        for restriction in record.get("restrictions", []):
            if restriction.get("status") != "in_force":
                continue
            if lift_due and not restriction.get("lift_due"):
                continue
            return dict(restriction)
        return None

    async def _listing(self, name: str, case: SimCase) -> None:
        sim, credit, court = self.sim, self.sim.platform.credit, case.court
        assert credit is not None
        path = f"/v1/cases/{case.case_id}"
        if name == "list":  # ground 4: broke the report-assets order (法释〔2017〕7号 art 1)
            await sim._post(name, credit, f"{path}/listings", Role.OFFICER, court, {
                "debtor_key": DEBTOR, "ground": 4,
                "decision_number": f"（{self._today()[:4]}）{court}执失{case.key[-6:]}号",
                "facts": "被执行人违反报告财产令，经罚款仍未报告",
            })  # fmt: skip
        else:
            await sim._post(name, credit, f"{path}/listing-declines", Role.OFFICER, court, {
                "debtor_key": DEBTOR, "reason": "no_ground",
                "details": "被执行人无履行能力，无妨碍、规避执行等失信情形，仅采取限制消费",
            })  # fmt: skip

    async def _end_round(self, case: SimCase) -> None:
        """The officer proposes 终本 (the gate must let it), a leader approves."""
        sim, intake, court = self.sim, self.sim.platform.intake, case.court
        path = f"/v1/cases/{case.case_id}/zhongben"
        proposed = await sim._post("zhongben", intake, path, Role.OFFICER, court, {
            "reason": "穷尽财产调查措施，未发现可供执行的财产",
        })  # fmt: skip
        if proposed is None:
            return
        await sim._post("zhongben-approve", intake, f"{path}/decision", Role.LEADER, court, {
            "approve": True, "reason": "符合终结本次执行程序的条件",
            "ruling_number": f"（{self._today()[:4]}）{court}执{case.key[-6:]}号之一",
        })  # fmt: skip
