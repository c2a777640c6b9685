"""How a case's 终本 events read in its timeline: the acts the 终本 gate needs (visits,
interviews, obstruction, search, punishment), the proposal, refusal and ruling
(终结本次执行), its service, objections and revocation, the re-query rounds after it, and
resumption (恢复执行) — one line of Chinese each.

A debtor is named by name (``credit_text.DebtorNames``), never by ID number; the gate's
conditions a refusal names are the catalogue's titles of their rules. The case topic's and
the asset topic's re-query events both have the case as their aggregate, so all of them
are the case's own timeline entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.command.credit_text import DebtorNames, on, then, words
from zhixing.rules import catalogue

VISIT_KINDS = {"visit": "约谈", "summons": "传唤"}
OBSTRUCTIONS = {
    "concealment": "隐匿财产、会计账簿等资料拒不交出",
    "report_violation": "违反报告财产令",
}
PUNISHMENTS = {"fine": "罚款", "detention": "司法拘留"}
RESUMPTION_CAUSES = {
    "applicant_request": "申请执行人申请",
    "assets_found": "发现可供执行的财产",
    "objection_upheld": "终本异议成立",
}


class ZhongbenStory:
    """Reads a case's 终本 events."""

    def __init__(self, debtors: DebtorNames) -> None:
        self.debtors = debtors
        self._lines: dict[str, Callable[[dict[str, Any]], str]] = {
            "CaseFiled": self._filed,
            "DebtorVisited": lambda p: (
                f"{words(VISIT_KINDS, p.get('kind'))}{self.debtors.of(p)}{on(p.get('on'))}"
                f"{then(p.get('result'), '结果：')}"
            ),
            "ApplicantInterviewed": lambda p: (
                f"约谈申请执行人{on(p.get('on'))}{then(p.get('summary'), '情况：')}"
            ),
            "ObstructionFound": lambda p: (
                f"查明{self.debtors.of(p)}{words(OBSTRUCTIONS, p.get('kind'))}{on(p.get('on'))}"
                f"{then(p.get('details'))}"
            ),
            "SearchConducted": lambda p: (
                f"对{self.debtors.of(p)}依法搜查{on(p.get('on'))}{then(p.get('result'), '结果：')}"
            ),
            "PunishmentImposed": lambda p: (
                f"对{self.debtors.of(p)}决定{words(PUNISHMENTS, p.get('kind'))}"
                f"{then(p.get('decision_number'), '决定书 ')}{on(p.get('on'))}"
            ),
            "ZhongbenProposed": lambda p: (
                f"承办人提请以终结本次执行程序方式结案{then(p.get('reason'), '理由：')}"
            ),
            "ZhongbenRefused": self._refused,
            "ZhongbenRuled": self._ruled,
            "ZhongbenRulingServed": lambda p: f"终本裁定已送达当事人{on(p.get('served_on'))}",
            "ZhongbenObjected": lambda p: (
                f"申请执行人对终本裁定提出异议{then(p.get('received_on'), '收到日 ')}"
                f"{then(p.get('grounds'), '理由：')}"
            ),
            "ZhongbenObjectionDecided": self._objection_decided,
            "ZhongbenRevoked": lambda p: f"撤销终本裁定{then(p.get('reason'), '理由：')}",
            "ExecutionResumed": self._resumed,
            "ZhongbenRequeryStarted": lambda p: (
                f"终本后第{p.get('requery_number', 0)}次定期查询被执行人财产"
                f"（网络查控第{p.get('round', 0)}轮）"
            ),
            "ZhongbenRequeryCompleted": self._requery_completed,
            "ZhongbenRequeryPeriodEnded": lambda p: (
                f"终本后定期查询期间届满，共查询{p.get('requeries', 0)}次"
            ),
        }

    def line(self, event: str, payload: dict[str, Any]) -> str:
        """The event's line; empty for events that are not about 终本."""
        write = self._lines.get(event)
        return write(payload) if write else ""

    @staticmethod
    def _filed(p: dict[str, Any]) -> str:
        """A 执恢 case names the case it resumes; any other filing says it all by its name."""
        resumed = p.get("resumed_from_case_number")
        return f"恢复执行案件，原案 {resumed}" if resumed else ""

    @staticmethod
    def _refused(p: dict[str, Any]) -> str:
        unmet = "；".join(catalogue().title_of(r) for r in p.get("unmet_rules") or [])
        return (f"终本未获批准{then(p.get('reason'), '理由：')}"
                f"{then(unmet, '未满足的终本条件：')}")  # fmt: skip

    @staticmethod
    def _ruled(p: dict[str, Any]) -> str:
        checked = len(p.get("checked_rules") or [])
        return (f"裁定终结本次执行程序{then(p.get('ruling_number'), '裁定书 ')}"
                f"{on(p.get('ruled_on'))}{then(checked and f'{checked}项终本条件经审查均已满足')}"
                f"{then(p.get('approved_by'), '审批人 ')}")  # fmt: skip

    @staticmethod
    def _objection_decided(p: dict[str, Any]) -> str:
        upheld = p.get("upheld") == "yes"
        decision = "终本异议成立，终本裁定应予撤销" if upheld else "终本异议不成立，予以驳回"
        return decision + then(p.get("reason"), "理由：")

    @staticmethod
    def _resumed(p: dict[str, Any]) -> str:
        cause = words(RESUMPTION_CAUSES, p.get("cause"))
        return (f"恢复执行{then(p.get('new_case_number'), '新案号 ')}"
                f"{then(cause, '原因：')}{then(p.get('resumed_on'), '日期 ')}"
                f"{then(p.get('reason'))}")  # fmt: skip

    @staticmethod
    def _requery_completed(p: dict[str, Any]) -> str:
        number = p.get("requery_number", 0)
        found = int(p.get("new_assets") or 0)
        result = f"发现可供执行的财产 {found} 项" if found else "未发现可供执行的财产"
        proposal = "，建议恢复执行" if p.get("resumption_proposed") == "yes" else ""
        return f"终本后第{number}次定期查询完毕：{result}{proposal}，已告知申请执行人"
