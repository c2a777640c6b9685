"""The authorization matrix (issue 13): every route of every service's OpenAPI, called by
every role from the court that handles the fixture's business, a sibling court, the courts
above it, another jurisdiction and the court a matter was entrusted to; by the agency party
to the fixture's dispute; by a service; and with no token, a forged one and an expired one.
The fixture's case has money too (案款): receipts, a hold awaiting a leader and one held, a
notice to finance and a change of the receiving account awaiting a leader.

``ACCESS`` is the table of who gets through. A route missing from it fails the test, so a
new route cannot ship without saying who may call it. Whoever the table refuses must get
401, 403 or 404, or (on a list) a 200 that names nothing of the fixture's: zero leaks.
Whoever it admits must not be refused (401/403/404); the act itself may still be refused by
the thing's state (409) or its body (422), and never with a 5xx. A refusal of one who may
not read the thing names nothing of the fixture's that the request did not. Bad input (an
unknown id, odd characters in a path, an amount over bounds, an unknown court) gets its 4xx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from services.audit_notary.handlers import Notary, NotarySettings
from services.supervision.domain import PETITION_ROLES, POSTING_ROLES, RECORDING_ROLES
from tests.conftest import Isolated
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.integration.test_asset_control import debtor_with, money_online
from tests.integration.test_notification import build_notification
from tests.integration.test_supervision import build_supervision
from tests.polling import eventually
from zhixing.assets import LIQUID_KINDS, AssetKind
from zhixing.auth import Role
from zhixing.rules import catalogue
from zhixing.service import ServiceHost

pytestmark = pytest.mark.integration

RELATIONS = {
    "own": "苏1283",  # the court handling the fixture case
    "sibling": "苏1282",  # same intermediate court; party to the fixture dispute
    "superior": "苏12",  # the intermediate court above
    "high": "苏",  # the high court above
    "other": "苏0281",  # a basic court of another jurisdiction
    "other_superior": "苏02",  # that jurisdiction's intermediate court
    "entrusted": "浙0102",  # where the fixture's matter was entrusted
    "entrusted_superior": "浙01",
}
PERSON_ROLES = [role for role in Role if role is not Role.SERVICE]
READERS = frozenset(PERSON_ROLES) - {Role.AGENCY}
CASE_COURTS = frozenset({"own", "superior", "high"})
ENTRUSTMENT_COURTS = CASE_COURTS | {"entrusted", "entrusted_superior"}
DISPUTE_COURTS = CASE_COURTS | {"sibling"}
EVERY_POLL = NotarySettings(checkpoint_interval_s=0, poll_interval_s=0.1)
POLICE = {"kind": "police", "name": "泰兴市公安局", "id": "agency:taixing-police"}
RECEIVING = "6222 0212 0000 0001"  # tests.factories.filing's receiving account
REFUSED_AT_ONCE = 12  # requests of the refused in flight at once (they change nothing)
NOTICED_FEN = 50_000  # the fixture's notice to finance, paid by the payout route
SHORTEST_EXTENSION = int(catalogue().rule("credit.listing-extension").value or 0)  # months


@dataclass(frozen=True)
class Access:
    """Who the route admits."""

    roles: frozenset[Role] = frozenset()
    courts: frozenset[str] = frozenset()
    service: bool = False
    party_agency: bool = False
    public: bool = False
    listing: bool = False  # the refused may get a 200 that names nothing of the fixture's
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None

    def admits(self, who: Principal) -> bool:
        if self.public:
            return True
        if who.kind == "service":
            return self.service
        if who.kind == "party_agency":
            return self.party_agency
        if who.kind != "person":
            return False
        return who.role in self.roles and who.relation in self.courts


def reads(courts: frozenset[str], *, listing: bool = False, party_agency: bool = False) -> Access:
    return Access(READERS, courts, service=True, listing=listing, party_agency=party_agency)


def acts(*roles: Role, courts: frozenset[str] | set[str], body: dict[str, Any] | None = None,
         party_agency: bool = False) -> Access:  # fmt: skip
    return Access(frozenset(roles), frozenset(courts), body=body, party_agency=party_agency)


ANY_COURT = frozenset(RELATIONS)
QUEUE_ROLES = frozenset({Role.SUPERVISOR, Role.LEADER, Role.PRESIDENT, Role.COMMAND})
REGISTER_READERS = frozenset({Role.DISCIPLINE, Role.COMMAND})
REPORT_ROLES = frozenset({Role.COMMAND, Role.LEADER, Role.PRESIDENT, Role.SUPERVISOR,
                          Role.OVERSEER, Role.DISCIPLINE})  # fmt: skip
INTERFERENCE = {"person_name": "某某", "person_position": "科长", "person_organisation": "某局",
                "inside_court": True, "occurred_at": "2026-03-02T08:00:00+08:00",
                "manner": "phone", "content": "询问进度", "handling": "告知依法办理"}  # fmt: skip
PUBLIC = Access(public=True)
REASON = {"reason": "授权矩阵测试"}

ACCESS: dict[tuple[str, str, str], Access] = {
    # --- every service ----------------------------------------------------------------------
    **{(s, "GET", p): PUBLIC for s in ("intake", "asset_control", "command", "entrustment",
                                       "dispute_coordinator", "audit_notary", "deadlines",
                                       "funds", "credit", "notification", "supervision")
       for p in ("/healthz", "/metrics")},
    # --- audit notary: hashes and signatures only, no court's data -------------------------
    ("audit_notary", "GET", "/v1/audit/checkpoint"): reads(ANY_COURT, listing=True),
    ("audit_notary", "GET", "/v1/audit/records/{seq}/proof"): reads(ANY_COURT, listing=True),
    ("audit_notary", "GET", "/v1/audit/consistency"): Access(
        READERS, ANY_COURT, service=True, listing=True, query={"from": "1"}),
    # --- intake -----------------------------------------------------------------------------
    ("intake", "POST", "/v1/cases"): acts(Role.CLERK, courts={"own"}, body=filing("苏1283")),
    ("intake", "POST", "/v1/applications"): acts(Role.CLERK, courts={"own"},
                                                 body=filing("苏1283")),
    ("intake", "POST", "/v1/applications/{case_id}/docket"): acts(Role.CLERK, courts={"own"}),
    ("intake", "POST", "/v1/applications/{case_id}/refusal"): acts(Role.CLERK, courts={"own"},
                                                                   body=REASON),
    ("intake", "POST", "/v1/cases/{case_id}/assignment"): acts(
        Role.LEADER, Role.CLERK, courts={"own"}, body={"officer_id": "officer-2"}),
    ("intake", "POST", "/v1/cases/{case_id}/execution-notice"): acts(Role.OFFICER,
                                                                     courts={"own"}),
    ("intake", "POST", "/v1/cases/{case_id}/closure"): acts(Role.OFFICER, courts={"own"},
                                                            body={"method": "执行完毕"}),
    ("intake", "GET", "/v1/cases/{case_id}"): reads(CASE_COURTS),
    # --- intake: pauses of the case clock (the fixture's suspension is open) ---------------
    ("intake", "GET", "/v1/cases/{case_id}/pauses"): reads(CASE_COURTS),
    ("intake", "POST", "/v1/cases/{case_id}/pauses"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"},
        body={"kind": "appraisal", "on": "{filed_on}", "reason": "委托评估"}),
    ("intake", "POST", "/v1/cases/{case_id}/pauses/{pause_id}/end"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={"on": "{filed_on}"}),
    # --- intake: 终本 (the fixture case is open: proposal, ruling, service, objection and
    # resumption answer an admitted caller 409) ---------------------------------------------
    ("intake", "GET", "/v1/cases/{case_id}/zhongben"): reads(CASE_COURTS),
    ("intake", "POST", "/v1/cases/{case_id}/visits"): acts(
        Role.OFFICER, courts={"own"},
        body={"debtor_key": "d0", "kind": "summons", "result": "称无财产"}),
    ("intake", "POST", "/v1/cases/{case_id}/interviews"): acts(
        Role.OFFICER, courts={"own"}, body={"summary": "告知终本的后果"}),
    ("intake", "POST", "/v1/cases/{case_id}/obstructions"): acts(
        Role.OFFICER, courts={"own"},
        body={"debtor_key": "d0", "kind": "concealment", "details": "拒不交出账簿"}),
    ("intake", "POST", "/v1/cases/{case_id}/searches"): acts(
        Role.OFFICER, courts={"own"}, body={"debtor_key": "d0", "result": "未发现财产"}),
    ("intake", "POST", "/v1/cases/{case_id}/punishments"): acts(
        Role.OFFICER, courts={"own"},
        body={"debtor_key": "d0", "kind": "fine", "decision_number": "（2026）苏1283司惩1号"}),
    ("intake", "POST", "/v1/cases/{case_id}/zhongben"): acts(
        Role.OFFICER, courts={"own"}, body={"reason": "未发现可供执行的财产"}),
    ("intake", "POST", "/v1/cases/{case_id}/zhongben/decision"): acts(
        Role.LEADER, courts={"own"},
        body={"approve": True, "reason": "同意", "ruling_number": "（2026）苏1283执1号之四"}),
    ("intake", "POST", "/v1/cases/{case_id}/zhongben/service"): acts(
        Role.CLERK, Role.OFFICER, courts={"own"}),
    ("intake", "POST", "/v1/cases/{case_id}/zhongben/objections"): acts(
        Role.CLERK, Role.OFFICER, courts={"own"}, body={"grounds": "被执行人尚有房产"}),
    ("intake", "POST", "/v1/cases/{case_id}/zhongben/objections/{objection_id}/decision"): acts(
        Role.LEADER, courts={"own"}, body={"upheld": False, "reason": "异议不成立"}),
    ("intake", "POST", "/v1/cases/{case_id}/resumption"): acts(
        Role.CLERK, Role.OFFICER, courts={"own"},
        body={"cause": "applicant_request", "reason": "申请恢复执行"}),
    # --- asset control ----------------------------------------------------------------------
    ("asset_control", "GET", "/v1/cases/{case_id}"): reads(CASE_COURTS),
    ("asset_control", "GET", "/v1/cases/{case_id}/assets"): reads(CASE_COURTS),
    ("asset_control", "GET", "/v1/assets/{asset_id}"): reads(CASE_COURTS),
    ("asset_control", "POST", "/v1/assets/{asset_id}/control"): acts(Role.OFFICER,
                                                                     courts={"own"}, body={}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/over-seizure-exception"): acts(
        Role.LEADER, courts={"own"}, body=REASON),
    ("asset_control", "POST", "/v1/assets/{asset_id}/decline"): acts(Role.OFFICER,
                                                                     courts={"own"}, body=REASON),
    ("asset_control", "POST", "/v1/assets/{asset_id}/renewal"): acts(Role.OFFICER,
                                                                     courts={"own"}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/reference-price"): acts(
        Role.OFFICER, courts={"own"}, body={"method": "议价"}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/reference-price/fixed"): acts(
        Role.OFFICER, courts={"own"}, body={"price_fen": 100}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/sale"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/sale/completion"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"},
        body={"proceeds_fen": 100, "sale_reference": "JD-2026-1"}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/self-disposal"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={"days": 30}),
    ("asset_control", "POST", "/v1/assets/{asset_id}/release"): acts(Role.OFFICER,
                                                                     courts={"own"}, body=REASON),
    # A court asks for the disposal (法释〔2016〕6号) only with a waiting seizure (轮候) of its
    # own on the asset: no other court holds one on the fixture's, so every other court gets
    # the unknown asset's 404; the first court's own request is refused by the gate (409).
    ("asset_control", "POST", "/v1/assets/{asset_id}/disposal-transfer-requests"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"},
        body={"requesting_case_number": "（2026）沪0115执9号", "priority_claim": "抵押权"}),
    # No request was made on the fixture's asset: 404 for all (who reads a request and its
    # answer: tests/unit/test_disposal_transfer.py, tests/integration/test_disposal_transfer.py).
    ("asset_control", "GET", "/v1/assets/{asset_id}/disposal-transfer-requests"): Access(),
    ("asset_control", "POST", "/v1/assets/{asset_id}/disposal-transfer-requests/answer"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={"agreed": False, "reason": "不同意"}),
    ("asset_control", "POST", "/v1/cases/{case_id}/leads"): acts(
        Role.OFFICER, Role.CLERK, courts={"own"}, body={"description": "被执行人名下车辆"}),
    ("asset_control", "POST", "/v1/leads/{lead_id}/verification-start"): acts(
        Role.OFFICER, courts={"own"}),
    ("asset_control", "POST", "/v1/leads/{lead_id}/verification"): acts(
        Role.OFFICER, courts={"own"}, body={}),
    ("asset_control", "POST", "/v1/cases/{case_id}/queries/retry"): acts(Role.OFFICER,
                                                                         courts={"own"}),
    # --- command: overviews, timelines, figures, clocks, board ------------------------------
    ("command", "GET", "/v1/cases/{case_id}"): reads(CASE_COURTS),
    ("command", "GET", "/v1/cases/{case_id}/timeline"): reads(CASE_COURTS),
    ("command", "GET", "/v1/figures/{court_code}"): reads(CASE_COURTS),
    # The page's clock reads, answered by the deadlines service with the caller's token.
    ("command", "GET", "/v1/subjects/{subject_id}/clocks"): reads(CASE_COURTS, listing=True),
    # --- deadlines: the clocks ---------------------------------------------------------------
    ("deadlines", "GET", "/v1/clocks/{clock_id}"): reads(CASE_COURTS),
    ("deadlines", "GET", "/v1/subjects/{subject_id}/clocks"): reads(CASE_COURTS, listing=True),
    # The handling court asks to extend the case's limit (the fixture's case.close clock),
    # within its last days: asked on filing day, refused (409). Only its president approves
    # or refuses a recorded request: there is none, so 409 too.
    ("deadlines", "POST", "/v1/clocks/{clock_id}/extension-requests"): acts(
        Role.OFFICER, Role.LEADER, Role.PRESIDENT, courts={"own"},
        body={"added": 1, "reason": "案情复杂"}),
    ("deadlines", "POST", "/v1/clocks/{clock_id}/extensions"): acts(
        Role.PRESIDENT, courts={"own"},
        body={"request_id": "ext-1", "approval_ref": "（2026）苏1283执批1号", "reason": "同意"}),
    ("deadlines", "POST", "/v1/clocks/{clock_id}/extension-refusals"): acts(
        Role.PRESIDENT, courts={"own"}, body={"request_id": "ext-1", "reason": "不符合条件"}),
    ("command", "GET", "/v1/me"): reads(ANY_COURT, listing=True),
    ("command", "GET", "/v1/board/nodes"): PUBLIC,  # the node names, reference data
    ("command", "GET", "/v1/board/tree"): reads(ANY_COURT, listing=True),
    ("command", "GET", "/v1/board/alerts"): reads(ANY_COURT, listing=True),
    ("command", "GET", "/v1/board/stream"): reads(ANY_COURT, listing=True),
    ("command", "GET", "/v1/board/courts/{court_code}/cases"): Access(
        READERS, CASE_COURTS, service=True, query={"node": "filing"}),
    ("command", "GET", "/v1/board/courts/{court_code}/commands"): reads(CASE_COURTS),
    ("command", "GET", "/v1/access-log"): Access(
        frozenset({Role.LEADER, Role.PRESIDENT, Role.COMMAND, Role.OVERSEER, Role.DISCIPLINE}),
        CASE_COURTS, query={"court": "苏1283"}),
    # Overseers' exports (CSV/XLSX) of a jurisdiction: cases, clocks, breaches, 终本 cases.
    ("command", "GET", "/v1/export/{table}"): Access(
        frozenset({Role.COMMAND, Role.OVERSEER, Role.DISCIPLINE}), CASE_COURTS,
        query={"court": "苏1283", "format": "csv"}),
    # Management reports of a jurisdiction: trends, rankings, the bulletin (a past week).
    ("command", "GET", "/v1/trends"): Access(REPORT_ROLES, CASE_COURTS, query={"court": "苏1283"}),
    ("command", "GET", "/v1/rankings"): Access(
        REPORT_ROLES, CASE_COURTS, query={"court": "苏1283"}),
    ("command", "GET", "/v1/bulletin"): Access(
        REPORT_ROLES, CASE_COURTS, query={"court": "苏1283", "period": "2026-W09"}),
    # --- command actions --------------------------------------------------------------------
    ("command", "GET", "/v1/commands"): reads(ANY_COURT, listing=True),
    # Debtors named by ID number: the command centre and the procuratorate, not discipline.
    ("command", "GET", "/v1/commands/proposals"): Access(
        frozenset({Role.COMMAND, Role.OVERSEER}), ANY_COURT, listing=True),
    ("command", "GET", "/v1/commands/{command_id}"): reads(CASE_COURTS),
    ("command", "POST", "/v1/commands"): acts(
        Role.COMMAND, courts={"superior", "high"},
        body={"action": "urge", "case_id": "{case_id}", "instruction": "加快办理",
              "reply_working_days": 5}),
    ("command", "POST", "/v1/commands/consolidation"): acts(
        Role.COMMAND, courts={"superior", "high"},
        body={"action": "consolidate", "debtor_id": "{debtor_id}", "to_court": "苏1283",
              "instruction": "集中执行"}),
    ("command", "POST", "/v1/commands/officer-loans"): acts(
        Role.COMMAND, courts={"superior", "high"},
        body={"from_court": "苏1282", "to_court": "苏1283", "officers": ["officer-9"],
              "instruction": "调配力量"}),
    ("command", "POST", "/v1/commands/{command_id}/acknowledgement"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}),
    ("command", "POST", "/v1/commands/{command_id}/reply"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={"text": "已加快办理"}),
    ("command", "POST", "/v1/commands/{command_id}/reconsideration"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={"text": "请求复议"}),
    ("command", "POST", "/v1/commands/{command_id}/reconsideration-answer"): acts(
        Role.COMMAND, courts={"superior"}, body={"answer": "维持", "upheld": True}),  # the issuer
    # --- entrustment ------------------------------------------------------------------------
    ("entrustment", "GET", "/v1/cases/{case_id}"): reads(CASE_COURTS),
    ("entrustment", "GET", "/v1/entrustments"): reads(ANY_COURT, listing=True),
    ("entrustment", "GET", "/v1/entrustments/{entrustment_id}"): reads(ENTRUSTMENT_COURTS),
    ("entrustment", "POST", "/v1/entrustments"): acts(
        Role.OFFICER, courts={"own"},
        body={"case_id": "{case_id}", "matter_type": "asset_investigation",
              "description": "调查被执行人财产", "location_division": "330102"}),
    ("entrustment", "POST", "/v1/entrustments/{entrustment_id}/start"): acts(
        Role.OFFICER, Role.CLERK, courts={"entrusted"}),
    ("entrustment", "POST", "/v1/entrustments/{entrustment_id}/status-report"): acts(
        Role.OFFICER, Role.CLERK, courts={"entrusted"}, body={"report": "正在办理"}),
    ("entrustment", "POST", "/v1/entrustments/{entrustment_id}/order-request"): acts(
        Role.OFFICER, courts={"own"}),
    ("entrustment", "POST", "/v1/entrustments/{entrustment_id}/order"): acts(
        Role.COMMAND, Role.LEADER, courts={"entrusted_superior"},
        body={"instruction": "限期办理"}),
    ("entrustment", "POST", "/v1/entrustments/{entrustment_id}/completion"): acts(
        Role.OFFICER, Role.CLERK, courts={"entrusted"}, body={"result": "已办结"}),
    ("entrustment", "POST", "/v1/entrustments/{entrustment_id}/return"): acts(
        Role.OFFICER, Role.CLERK, courts={"entrusted"}, body=REASON),
    # --- dispute coordinator ----------------------------------------------------------------
    ("dispute_coordinator", "GET", "/v1/cases/{case_id}"): reads(CASE_COURTS),
    ("dispute_coordinator", "GET", "/v1/disputes"): reads(ANY_COURT, listing=True,
                                                          party_agency=True),
    ("dispute_coordinator", "GET", "/v1/disputes/{dispute_id}"): reads(DISPUTE_COURTS,
                                                                       party_agency=True),
    ("dispute_coordinator", "POST", "/v1/disputes"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"},
        body={"courts": ["苏1283", "苏1282"], "subject": "同一财产的查封冲突"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/negotiation"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"}, party_agency=True,
        body={"note": "协商中"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/escalation"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/forward"): acts(
        Role.COORDINATOR, Role.COMMAND, Role.LEADER, courts={"superior"},
        body={"opinion": "意见"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/plan"): acts(
        Role.COORDINATOR, Role.COMMAND, Role.LEADER, courts={"superior"},
        body={"plan": "协调方案"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/implementation"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"}, body={"report": "已落实"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/reconsideration"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"}, body=REASON),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/reconsideration-answer"): acts(
        Role.COORDINATOR, Role.COMMAND, Role.LEADER, courts={"superior"},
        body={"court_code": "苏1283", "answer": "维持"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/stops/{court_code}/lift"): acts(
        Role.COORDINATOR, Role.COMMAND, Role.LEADER, courts={"superior"}),  # common superior
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/committee-report"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"}, body={"report": "报告"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/superior-report"): acts(
        Role.COORDINATOR, Role.OFFICER, courts={"own", "sibling"}, body={"report": "报告"}),
    ("dispute_coordinator", "POST", "/v1/disputes/{dispute_id}/department-coordination"): acts(
        Role.COORDINATOR, Role.COMMAND, Role.LEADER, courts={"superior"},
        body={"departments": ["公安局"]}),
    ("dispute_coordinator", "POST",
     "/v1/disputes/{dispute_id}/department-coordination/conclusion"): acts(
        Role.COORDINATOR, Role.COMMAND, Role.LEADER, courts={"superior"},
        body={"terms": "协调一致"}),
    # --- funds (案款): finance records receipts and pays; the handling officer asks; a leader
    # decides holds and account changes and may pay too; reads: the court and those above --
    ("funds", "GET", "/v1/cases/{case_id}/funds"): reads(CASE_COURTS),
    ("funds", "GET", "/v1/funds"): Access(  # default: one's court
        frozenset({Role.FINANCE, Role.OFFICER, Role.LEADER, Role.PRESIDENT, Role.COMMAND,
                   Role.OVERSEER, Role.DISCIPLINE}), ANY_COURT,
        service=True, listing=True),
    ("funds", "GET", "/v1/funds/hold-reasons"): reads(ANY_COURT, listing=True),  # the law's list
    ("funds", "GET", "/v1/funds/reconciliation"): Access(
        frozenset({Role.FINANCE, Role.LEADER, Role.PRESIDENT, Role.COMMAND, Role.OVERSEER,
                   Role.DISCIPLINE}), ANY_COURT,
        service=True, listing=True),  # sums of one's own jurisdiction
    ("funds", "POST", "/v1/receipts"): acts(
        Role.FINANCE, courts={"own"},
        body={"account_number": "{account_number}", "bank_reference": "MATRIX-IN-1",
              "amount_fen": 1_000, "payer": "某某有限公司"}),
    ("funds", "POST", "/v1/cases/{case_id}/deductions"): acts(
        Role.OFFICER, courts={"own"}, body={"asset_id": "{money_asset_id}", "amount_fen": 1}),
    ("funds", "POST", "/v1/cases/{case_id}/deductions/{deduction_id}/review"): acts(
        Role.FINANCE, courts={"own"}, body={"moved": False}),  # admitted: 409, not unrecorded
    ("funds", "POST", "/v1/cases/{case_id}/holds"): acts(
        Role.OFFICER, courts={"own"},
        body={"payment_id": "{payment_id}", "amount_fen": 1_000, "kind": "defer",
              "reason": "disputed", "note": "案外人主张权利"}),
    ("funds", "POST", "/v1/cases/{case_id}/holds/{hold_id}/decision"): acts(
        Role.LEADER, courts={"own"}, body={"approve": True, "note": "同意"}),
    ("funds", "POST", "/v1/cases/{case_id}/holds/{hold_id}/release"): acts(
        Role.OFFICER, Role.LEADER, courts={"own"}, body={"note": "争议已解决"}),
    ("funds", "POST", "/v1/cases/{case_id}/payments/{payment_id}/notice"): acts(
        Role.OFFICER, courts={"own"}),
    ("funds", "POST", "/v1/cases/{case_id}/notices/{notice_id}/payout"): acts(
        Role.FINANCE, Role.LEADER, courts={"own"},
        body={"amount_fen": NOTICED_FEN, "to_account": RECEIVING,
              "bank_reference": "MATRIX-OUT-1"}),
    ("funds", "POST", "/v1/cases/{case_id}/receiving-account-changes"): acts(
        Role.OFFICER, courts={"own"},
        body={"new_account": "6217 0000 1111 2222", "reason": "申请执行人变更收款账户"}),
    ("funds", "POST", "/v1/cases/{case_id}/receiving-account-changes/{change_id}/decision"): acts(
        Role.LEADER, courts={"own"}, body={"approve": True}),
    # --- credit (信用惩戒): the handling court's officer restricts, lists, lifts and deletes; a
    # leader of it extends; the case's courts read; anyone, an agency too, asks by ID ------
    ("credit", "GET", "/v1/cases/{case_id}/credit"): reads(CASE_COURTS),
    ("credit", "GET", "/v1/credit/subjects/{id_number}"): Access(
        frozenset(PERSON_ROLES), ANY_COURT, service=True, party_agency=True),  # nationwide
    ("credit", "POST", "/v1/cases/{case_id}/restrictions"): acts(
        Role.OFFICER, courts={"own"},
        body={"debtor_key": "d0", "ruling_number": "（2026）苏1283执1号之二"}),
    ("credit", "POST", "/v1/cases/{case_id}/restrictions/{restriction_id}/service"): acts(
        Role.OFFICER, courts={"own"}, body={}),
    ("credit", "POST", "/v1/cases/{case_id}/restrictions/{restriction_id}/lift-due"): acts(
        Role.OFFICER, courts={"own"}, body={"cause": "consent"}),
    ("credit", "POST", "/v1/cases/{case_id}/restrictions/{restriction_id}/lifting"): acts(
        Role.OFFICER, courts={"own"}, body={"cause": "consent"}),
    ("credit", "POST", "/v1/cases/{case_id}/listings"): acts(
        Role.OFFICER, courts={"own"},
        body={"debtor_key": "d0", "ground": 4, "decision_number": "（2026）苏1283执1号之三",
              "facts": "违反财产报告制度"}),
    ("credit", "POST", "/v1/cases/{case_id}/listing-declines"): acts(
        Role.OFFICER, courts={"own"}, body={"debtor_key": "d0", "reason": "no_ground"}),
    ("credit", "POST", "/v1/cases/{case_id}/listings/{listing_id}/extension"): acts(
        Role.LEADER, courts={"own"}, body={"months": SHORTEST_EXTENSION, "reason": "仍未履行"}),
    ("credit", "POST", "/v1/cases/{case_id}/listings/{listing_id}/ground-ended"): acts(
        Role.OFFICER, courts={"own"}, body={"cause": "performed"}),
    ("credit", "POST", "/v1/cases/{case_id}/listings/{listing_id}/deletion"): acts(
        Role.OFFICER, courts={"own"}, body={"cause": "corrected"}),
    # --- supervision (监督): the 专人 task queue is the supervisor's, the leaders' and the
    # command centre's (the fixture's task is the supervisor's of 苏1283, who alone answers);
    # petitions: the court's clerks, officers, supervisor and command centre receive (naming
    # cases they may see, else 422), the receiving court registers and replies, the court and
    # those above read; the interference register: any court person of a court that sees the
    # case records, discipline inspection and the command centre read (never the
    # procuratorate's overseers), the command centre and the record's own recorder (not
    # among these principals) correct, anyone else is told it does not exist; postings:
    # leaders, presidents and command centres ---------------------------------------------
    ("supervision", "GET", "/v1/supervision/tasks"): Access(
        QUEUE_ROLES, ANY_COURT, listing=True),
    ("supervision", "GET", "/v1/supervision/tasks/{task_id}"): Access(QUEUE_ROLES, CASE_COURTS),
    ("supervision", "POST", "/v1/supervision/tasks/{task_id}/answer"): acts(
        Role.SUPERVISOR, courts={"own"}, body={"outcome": "corrected", "text": "已纠正"}),
    ("supervision", "POST", "/v1/petitions"): acts(
        *PETITION_ROLES, courts=ANY_COURT,
        body={"received_on": "2026-03-02", "channel": "letter", "petitioner_name": "张三",
              "petitioner_role": "applicant", "summary": "反映执行拖延",
              "case_numbers": ["{case_number}"]}),
    ("supervision", "GET", "/v1/petitions"): reads(ANY_COURT, listing=True),
    ("supervision", "GET", "/v1/petitions/{petition_id}"): reads(CASE_COURTS),
    ("supervision", "POST", "/v1/petitions/{petition_id}/registration"): acts(
        *PETITION_ROLES, courts={"own"}, body={"handler": "王法官"}),
    ("supervision", "POST", "/v1/petitions/{petition_id}/reply"): acts(
        *PETITION_ROLES, courts={"own"},
        body={"reply": "已依法处理", "replied_on": "2026-03-02", "reply_channel": "letter"}),
    ("supervision", "POST", "/v1/cases/{case_id}/interference"): acts(
        *RECORDING_ROLES, courts=CASE_COURTS, body=INTERFERENCE),
    ("supervision", "POST", "/v1/interference/{record_id}/corrections"): acts(
        Role.COMMAND, courts=CASE_COURTS, body=INTERFERENCE),
    ("supervision", "GET", "/v1/cases/{case_id}/interference"): Access(
        REGISTER_READERS, CASE_COURTS),
    ("supervision", "GET", "/v1/interference/{record_id}"): Access(REGISTER_READERS, CASE_COURTS),
    **{("supervision", "GET", p): Access(REGISTER_READERS, ANY_COURT, listing=True)
       for p in ("/v1/interference", "/v1/interference/report", "/v1/interference/export")},
    ("supervision", "POST", "/v1/officers/{officer_id}/postings"): acts(
        # The fixture's officer holds a post: 409 (to another jurisdiction too, naming
        # neither the court nor the post).
        *POSTING_ROLES, courts=ANY_COURT,
        body={"officer_name": "王五", "post": "执行员", "post_kind": "other",
              "since": "2021-03-01"}),
    ("supervision", "POST", "/v1/officers/{officer_id}/rotation"): acts(
        *POSTING_ROLES, courts={"own"}, body={"to_post": "执行法官", "rotated_on": "2026-03-02"}),
    ("supervision", "GET", "/v1/officers"): reads(ANY_COURT, listing=True),
    # --- notification (告知当事人): a case's notices for the courts that read the case; what
    # must be delivered another way for the court's clerks, officers and command centre (a
    # court's own list by default: another court's clerk gets an empty one); the progress
    # page for anyone with a party's query code, no token (over its limits: 429) ----------
    ("notification", "GET", "/v1/cases/{case_id}/notices"): reads(CASE_COURTS),
    ("notification", "GET", "/v1/notices/undelivered"): Access(
        frozenset({Role.CLERK, Role.OFFICER, Role.COMMAND}), CASE_COURTS, service=True,
        listing=True),
    ("notification", "GET", "/v1/progress"): Access(public=True, query={"code": "{query_code}"}),
}  # fmt: skip

LAST = {("intake", "POST", "/v1/cases/{case_id}/closure")}
"""Acts that end the fixture's business: run after every other route."""


@dataclass(frozen=True)
class Principal:
    kind: str  # person | party_agency | service | none | forged | expired
    role: Role | None = None
    relation: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.role.value if self.role else ''}@{self.relation}"


def principals() -> Iterator[Principal]:
    for role in PERSON_ROLES:
        for relation in RELATIONS:
            yield Principal("person", role, relation)
    for kind in ("party_agency", "service", "none", "forged", "expired"):
        yield Principal(kind)


@dataclass
class Fixture:
    ids: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # what no refused caller may read


def headers_of(stack: Stack, who: Principal) -> dict[str, str]:
    if who.kind == "none":
        return {}
    if who.kind == "service":
        token = stack.tokens.issue_service("matrix")
    elif who.kind == "party_agency":
        token = stack.tokens.issue(subject=POLICE["id"], court_code="苏1283", role=Role.AGENCY)
    elif who.kind == "forged":
        now = int(stack.clock.now().timestamp())
        token = jwt.encode({"iss": "zhixing", "sub": "m", "kind": "person", "court": "苏",
                            "role": "command", "iat": now, "exp": now + 600},
                           "forged-secret-" + "f" * 40, algorithm="HS256")  # fmt: skip
    elif who.kind == "expired":
        token = stack.tokens.issue(subject="e", court_code="苏12", role=Role.COMMAND,
                                   ttl=timedelta(seconds=-1))  # fmt: skip
    else:
        assert who.role is not None
        token = stack.tokens.issue(subject=f"u-{who.role.value}", role=who.role,
                                   court_code=RELATIONS[who.relation])  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def fill(template: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(template, ensure_ascii=False)
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value)
    return json.loads(text)


async def build_fixture(stack: Stack) -> Fixture:
    """A case of 苏1283 with a controlled asset and a lead, an application, a matter
    entrusted to 浙0102, a dispute with 苏1282 and an agency, and a command about the case."""
    fx = Fixture()
    debtor = debtor_with(money_online)
    body = filing("苏1283", debtors=[{"kind": "organisation", "name": "某某有限公司",
                                      "id_number": debtor}],
                  asset_leads=[{"description": "被执行人名下车辆"}])  # fmt: skip
    clerk = stack.headers(Role.CLERK, "苏1283")
    async with stack.client(stack.intake) as http:
        case = (await http.post("/v1/cases", json=body, headers=clerk)).json()
        application = (await http.post("/v1/applications", json=filing("苏1283"),
                                       headers=clerk)).json()  # fmt: skip
    fx.ids.update(case_id=case["case_id"], application_id=application["case_id"],
                  subject_id=case["case_id"], debtor_id=debtor, court_code="苏1283",
                  seq="0", table="cases")  # fmt: skip
    fx.secrets += [case["case_id"], case["case_number"], debtor, "6222 0212 0000 0001"]
    async with stack.client(stack.intake) as http:  # an open pause of the case's clock
        filed = (await http.get(f"/v1/cases/{case['case_id']}", headers=clerk)).json()
        pause = await http.post(f"/v1/cases/{case['case_id']}/pauses", json={
            "kind": "suspension", "on": filed["filed_on"], "reason": "案外人异议审查"},
            headers=stack.headers(Role.OFFICER, "苏1283"))  # fmt: skip
        assert pause.status_code == 201, pause.text
    fx.ids.update(filed_on=filed["filed_on"], pause_id=pause.json()["pause_id"])
    fx.secrets.append(fx.ids["pause_id"])

    command = stack.headers(Role.COMMAND, "苏12")

    async def assets_known() -> bool:
        async with stack.client(stack.assets) as http:
            view = await http.get(f"/v1/cases/{fx.ids['case_id']}/assets", headers=command)
        if view.status_code != 200 or not view.json()["assets"] or not view.json()["leads"]:
            return False
        fx.ids["asset_id"] = view.json()["assets"][0]["asset_id"]
        fx.ids["lead_id"] = view.json()["leads"][0]["lead_id"]
        return True

    await eventually(assets_known)
    fx.secrets += [fx.ids["asset_id"], fx.ids["lead_id"]]

    async def clocks_known() -> bool:
        async with stack.client(stack.commander) as http:
            found = await http.get(f"/v1/subjects/{fx.ids['case_id']}/clocks", headers=command)
        if found.status_code != 200 or not found.json():
            return False
        limits = [c["clock_id"] for c in found.json() if c["rule_id"] == "case.close"]
        if not limits:
            return False
        fx.ids["clock_id"] = limits[0]
        return True

    await eventually(clocks_known)

    for host in (stack.entrustment, stack.disputes, stack.commander):
        assert host is not None

        async def known(host: ServiceHost = host) -> bool:
            async with stack.client(host) as http:
                path = f"/v1/cases/{fx.ids['case_id']}"
                return (await http.get(path, headers=command)).status_code == 200

        await eventually(known)

    officer = stack.headers(Role.OFFICER, "苏1283")
    assert stack.entrustment is not None and stack.disputes is not None
    async with stack.client(stack.entrustment) as http:
        matter = await http.post("/v1/entrustments", headers=officer, json={
            "case_id": fx.ids["case_id"], "matter_type": "deposit_freeze",
            "description": "冻结存款", "location_division": "330102"})  # fmt: skip
        assert matter.status_code == 201, matter.text
    async with stack.client(stack.disputes) as http:
        dispute = await http.post("/v1/disputes", headers=officer, json={
            "courts": ["苏1283", "苏1282"], "subject": "同一财产的查封冲突"})  # fmt: skip
        assert dispute.status_code == 201, dispute.text
        with_agency = await http.post("/v1/disputes", headers=officer, json={
            "courts": ["苏1283"], "agency": POLICE,
            "subject": "公安机关扣押的车辆与法院查封冲突"})  # fmt: skip
        assert with_agency.status_code == 201, with_agency.text
    async with stack.client(stack.commander) as http:
        issued = await http.post("/v1/commands", headers=command, json={
            "action": "urge", "case_id": fx.ids["case_id"], "instruction": "加快办理",
            "reply_working_days": 5})  # fmt: skip
        assert issued.status_code == 201, issued.text
    fx.ids.update(entrustment_id=matter.json()["entrustment_id"],
                  dispute_id=dispute.json()["dispute_id"],
                  agency_dispute_id=with_agency.json()["dispute_id"],
                  command_id=issued.json()["command_id"])  # fmt: skip
    fx.secrets += [fx.ids[k] for k in ("entrustment_id", "dispute_id", "agency_dispute_id",
                                         "command_id")]  # fmt: skip
    assert stack.notary is not None
    notary: Notary = stack.notary.http.state.notary

    async def signed() -> bool:
        return await notary.latest() is not None

    await eventually(signed)
    await build_funds(stack, fx)
    await build_credit(stack, fx)
    await build_notification(stack, fx.ids)
    await build_supervision(stack, fx.ids, fx.secrets)
    return fx


async def build_funds(stack: Stack, fx: Fixture) -> None:
    """The fixture case's money: two receipts (one to hold, notify and change, one noticed
    to finance for the payout route), a hold awaiting a leader and one a leader approved, a
    change of the receiving account awaiting a leader, frozen money to deduct, and a
    deduction of it (the review route's: not unrecorded, so the admitted are answered 409)."""
    assert stack.funds is not None
    funds_host = stack.funds
    case_id = fx.ids["case_id"]
    command = stack.headers(Role.COMMAND, "苏12")

    async def ledger_open() -> bool:
        async with stack.client(funds_host) as http:
            found = await http.get(f"/v1/cases/{case_id}/funds", headers=command)
        if found.status_code == 200:
            fx.ids["account_number"] = found.json()["account_number"]
        return found.status_code == 200

    await eventually(ledger_open)
    async with stack.client(stack.assets) as http:
        view = (await http.get(f"/v1/cases/{case_id}/assets", headers=command)).json()
    money = [a["asset_id"] for a in view["assets"] if a["status"] == "controlled"
             and AssetKind(a["kind"]) in LIQUID_KINDS]  # fmt: skip
    assert money, f"the fixture's debtor has no frozen money: {view['assets']}"
    fx.ids["money_asset_id"] = money[-1]  # the asset routes act on the first asset found
    records = funds_host.http.state.funds.records

    async def asset_known() -> bool:
        asset = await records.asset(fx.ids["money_asset_id"])
        return asset is not None and asset.get("measure") == "freeze"

    await eventually(asset_known)

    finance = stack.headers(Role.FINANCE, "苏1283", "fx-finance")
    officer = stack.headers(Role.OFFICER, "苏1283", "fx-officer")
    leader = stack.headers(Role.LEADER, "苏1283", "fx-leader")
    case = f"/v1/cases/{case_id}"

    async def post(http: httpx.AsyncClient, path: str, headers: dict[str, str],
                   body: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        response = await http.post(path, headers=headers, json=body)
        assert response.status_code in (200, 201), f"{path}: {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async with stack.client(funds_host) as http:
        receipt = {"account_number": fx.ids["account_number"], "payer": "某某有限公司"}
        paid_in = await post(http, "/v1/receipts", finance, {
            **receipt, "bank_reference": "FX-IN-1", "amount_fen": 100_000})  # fmt: skip
        noticed = await post(http, "/v1/receipts", finance, {
            **receipt, "bank_reference": "FX-IN-2", "amount_fen": NOTICED_FEN})  # fmt: skip
        payment_id = paid_in["payment"]["payment_id"]
        hold = {"payment_id": payment_id, "amount_fen": 10_000, "kind": "defer",
                "reason": "disputed"}  # fmt: skip
        pending = await post(http, f"{case}/holds", officer, hold)
        held = await post(http, f"{case}/holds", officer, hold)
        approved = await post(http, f"{case}/holds/{held['hold_id']}/decision", leader,
                              {"approve": True})  # fmt: skip
        assert approved["status"] == "held", approved
        notice = await post(
            http, f"{case}/payments/{noticed['payment']['payment_id']}/notice", officer
        )
        assert notice["amount_fen"] == NOTICED_FEN, notice
        change = await post(http, f"{case}/receiving-account-changes", officer, {
            "new_account": "6217 0000 3333 4444", "reason": "账户销户"})  # fmt: skip
        deduct = {"asset_id": fx.ids["money_asset_id"], "amount_fen": 1}
        deduction = await http.post(f"{case}/deductions", headers=officer, json=deduct)
        assert deduction.status_code == 202, deduction.text
    fx.ids.update(payment_id=payment_id, hold_id=pending["hold_id"],
                  held_hold_id=held["hold_id"], notice_id=notice["notice_id"],
                  change_id=change["change_id"],
                  deduction_id=deduction.json()["deduction_id"])  # fmt: skip
    fx.secrets += [fx.ids[k] for k in ("account_number", "payment_id", "hold_id", "held_hold_id",
                                         "notice_id", "change_id", "deduction_id")]  # fmt: skip


async def build_credit(stack: Stack, fx: Fixture) -> None:
    """The fixture case's credit: its debtor listed on a fixed-term ground, which restricts
    it too (the routes lift, extend, end and delete them). No measure comes before the
    execution notice was served (rule credit.notice-period): an officer who is none of the
    principals is assigned, and serves it."""
    assert stack.credit is not None
    credit_host = stack.credit
    case = f"/v1/cases/{fx.ids['case_id']}"
    command = stack.headers(Role.COMMAND, "苏12")
    async with stack.client(stack.intake) as http:
        assigned = await http.post(
            f"{case}/assignment", headers=stack.headers(Role.LEADER),
            json={"officer_id": "officer-matrix", "team": "法官团队"},
        )  # fmt: skip
        assert assigned.status_code in (200, 204), assigned.text
        served = await http.post(
            f"{case}/execution-notice",
            headers=stack.headers(Role.OFFICER, subject="officer-matrix"),
        )
        assert served.status_code == 200, served.text

    async def known() -> bool:
        async with stack.client(credit_host) as http:
            found = await http.get(f"{case}/credit", headers=command)
        return found.status_code == 200 and bool(found.json()["notice_served_on"])

    await eventually(known)
    async with stack.client(credit_host) as http:
        listed = await http.post(f"{case}/listings", headers=stack.headers(Role.OFFICER), json={
            "debtor_key": "d0", "ground": 2, "decision_number": "（2026）苏1283执1号之一",
            "facts": "以暴力方法妨碍执行"})  # fmt: skip
        assert listed.status_code == 201, listed.text
        record = (await http.get(f"{case}/credit", headers=command)).json()
    (restriction,) = record["restrictions"]
    fx.ids.update(id_number=fx.ids["debtor_id"], listing_id=listed.json()["listing_id"],
                  restriction_id=restriction["restriction_id"])  # fmt: skip
    fx.secrets += [fx.ids["listing_id"], fx.ids["restriction_id"]]


def readers_of(template: str) -> Access:
    """Who may read the thing a write acts on: a refusal of its state (409) tells them
    nothing they could not read, so it is no leak for them."""
    if "{entrustment_id}" in template:
        return reads(ENTRUSTMENT_COURTS)
    if "{dispute_id}" in template:
        return reads(DISPUTE_COURTS, party_agency=True)
    return reads(CASE_COURTS)


def operations(host: ServiceHost) -> list[tuple[str, str]]:
    spec = host.http.openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


SERVICES = ("intake", "asset_control", "command", "entrustment", "dispute_coordinator",
            "audit_notary", "deadlines", "funds", "credit",
            "notification", "supervision")  # fmt: skip


def hosts_of(stack: Stack) -> dict[str, ServiceHost]:
    assert stack.entrustment and stack.disputes and stack.notary and stack.deadlines
    assert stack.funds and stack.credit and stack.notification and stack.supervision
    return dict(zip(SERVICES, (stack.intake, stack.assets, stack.commander, stack.entrustment,
                               stack.disputes, stack.notary, stack.deadlines, stack.funds,
                               stack.credit, stack.notification, stack.supervision),
                    strict=True))  # fmt: skip


async def call(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str],
               body: Any, query: dict[str, str] | None) -> tuple[int, str]:  # fmt: skip
    if path.endswith("/stream"):  # server-sent events: the status line is the answer
        async with http.stream(method, path, headers=headers) as response:
            return response.status_code, ""
    response = await http.request(method, path, headers=headers, json=body, params=query)
    return response.status_code, response.text


@dataclass(frozen=True)
class Request:
    """One route's request, as each principal makes it."""

    stack: Stack
    fx: Fixture
    http: httpx.AsyncClient
    asking: asyncio.Semaphore
    method: str
    template: str
    body: Any
    query: dict[str, str] | None

    async def by(self, who: Principal) -> tuple[str, int, str]:
        path = fill(self.template, _ids_for(who, self.template, self.fx))
        async with self.asking:
            headers = headers_of(self.stack, who)
            status, text = await call(self.http, self.method, path, headers, self.body, self.query)
        return path, status, text


async def test_every_route_admits_only_whom_its_table_admits(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_entrustment=True, with_disputes=True,
                              with_notary=True, notary=EVERY_POLL, with_notification=True,
                              with_funds=True, with_credit=True,
                              with_supervision=True) as stack:  # fmt: skip
        hosts = hosts_of(stack)
        missing = [(s, m, p) for s, host in hosts.items() for m, p in operations(host)
                   if (s, m, p) not in ACCESS]  # fmt: skip
        assert not missing, f"routes with no entry in ACCESS: {missing}"
        stale = [key for key in ACCESS if (key[1], key[2]) not in operations(hosts[key[0]])]
        assert not stale, f"ACCESS entries for routes that no longer exist: {stale}"

        fx = await build_fixture(stack)
        everyone = list(principals())
        leaks: list[str] = []
        refusals: list[str] = []
        ordered = sorted(ACCESS, key=lambda key: (key in LAST, key))
        counted = 0
        asking = asyncio.Semaphore(REFUSED_AT_ONCE)
        for service, method, template in ordered:
            access = ACCESS[(service, method, template)]
            body = fill(access.body, fx.ids) if access.body is not None else None
            readers = readers_of(template)
            query = fill(access.query, fx.ids)

            # The refused cannot change state: they are asked together, then the admitted
            # one by one (an admitted act may change what the next one finds).
            refused = [who for who in everyone if not access.admits(who)]
            admitted = [who for who in everyone if access.admits(who)]
            async with stack.client(hosts[service]) as http:
                request = Request(stack, fx, http, asking, method, template, body, query)
                answers = list(
                    zip(refused, await asyncio.gather(*(request.by(w) for w in refused)),
                        strict=True)
                )  # fmt: skip
                for who in admitted:
                    answers.append((who, await request.by(who)))
            for who, (path, status, text) in answers:
                counted += 1
                where = f"{who.name} {method} {service}{path} → {status}"
                assert status < 500, f"{where}: {text[:300]}"
                if access.admits(who):
                    if status in (401, 403, 404):
                        refusals.append(f"{where}: {text[:200]}")
                elif status not in (401, 403, 404):
                    named = [s for s in fx.secrets if s in text]
                    listed = access.listing and status == 200 and not named
                    state = status == 409 and method != "GET" and readers.admits(who)
                    if not (listed or state):
                        leaks.append(f"{where}: {text[:200]}")
                elif not readers.admits(who):  # a refusal tells no more than was asked
                    asked = path + json.dumps(body, ensure_ascii=False)
                    told = [s for s in fx.secrets if s in text and s not in asked]
                    if told:
                        leaks.append(f"{where}: names {told}: {text[:200]}")
                unauthenticated = who.kind in ("none", "forged", "expired")
                if unauthenticated and not access.public and status != 401:
                    leaks.append(f"{where}: unauthenticated, not 401")
        # Lists show what the caller may read: the courts above see their jurisdiction's.
        for service, path, who, shown_id in (
            ("entrustment", "/v1/entrustments", Principal("person", Role.COMMAND, "superior"),
             "entrustment_id"),
            ("entrustment", "/v1/entrustments", Principal("person", Role.OFFICER, "entrusted"),
             "entrustment_id"),
            ("dispute_coordinator", "/v1/disputes",
             Principal("person", Role.COORDINATOR, "high"), "dispute_id"),
            ("dispute_coordinator", "/v1/disputes", Principal("party_agency"),
             "agency_dispute_id"),
            ("command", "/v1/commands", Principal("person", Role.LEADER, "own"), "command_id"),
            ("funds", "/v1/funds", Principal("person", Role.FINANCE, "own"), "case_id"),
            ("funds", "/v1/funds", Principal("person", Role.COMMAND, "superior"), "case_id"),
            ("funds", "/v1/funds?court=苏1283", Principal("person", Role.OVERSEER, "high"),
             "case_id"),
        ):  # fmt: skip
            async with stack.client(hosts[service]) as http:
                shown = await http.get(path, headers=headers_of(stack, who))
            if fx.ids[shown_id] not in shown.text:
                refusals.append(f"{who.name} GET {service}{path}: {shown_id} is not listed")
        # Naming a court outside one's jurisdiction reads as missing: a basic court never
        # lists or reconciles another's money.
        for path, who in (
            ("/v1/funds?court=苏1283", Principal("person", Role.FINANCE, "sibling")),
            ("/v1/funds?court=苏12", Principal("person", Role.COMMAND, "other_superior")),
            ("/v1/funds/reconciliation?court=苏1283", Principal("person", Role.LEADER, "sibling")),
            ("/v1/funds/reconciliation?court=苏12",
             Principal("person", Role.FINANCE, "entrusted_superior")),
        ):  # fmt: skip
            async with stack.client(hosts["funds"]) as http:
                answer = await http.get(path, headers=headers_of(stack, who))
            if answer.status_code != 404:
                leaks.append(f"{who.name} GET funds{path} → {answer.status_code}: "
                             f"{answer.text[:200]}")  # fmt: skip
        wrong = await bad_input_answers(stack, fx)
        report = f"{len(leaks)} leaks:\n" + "\n".join(leaks)
        report += f"\n{len(refusals)} wrongly refused:\n" + "\n".join(refusals)
        report += f"\n{len(wrong)} wrong answers to bad input:\n" + "\n".join(wrong)
        assert not leaks and not refusals and not wrong, report
        assert counted == len(ACCESS) * len(everyone)


async def bad_input_answers(stack: Stack, fx: Fixture) -> list[str]:
    """Bad input from callers the table admits, answered with its 4xx (never a 5xx): ids the
    case does not have, odd characters in a path id, amounts over bounds, courts outside the
    directory. Returns what was answered otherwise."""
    assert stack.funds is not None
    officer = Principal("person", Role.OFFICER, "own")
    leader = Principal("person", Role.LEADER, "own")
    finance = Principal("person", Role.FINANCE, "own")
    service = Principal("service")
    case = f"/v1/cases/{fx.ids['case_id']}"
    hold = {"payment_id": fx.ids["payment_id"], "amount_fen": 1, "kind": "defer",
            "reason": "disputed"}  # fmt: skip
    payout = {"amount_fen": 1, "to_account": RECEIVING, "bank_reference": "BAD-1"}
    over = 10**15 + 1  # zhixing.bounds.MAX_AMOUNT_FEN + 1
    cases: list[tuple[Principal, str, str, dict[str, Any] | None, int]] = [
        (leader, "POST", f"{case}/holds/no-such-hold/decision", {"approve": True}, 404),
        (officer, "POST", f"{case}/holds/no-such-hold/release", {}, 404),
        (officer, "POST", f"{case}/payments/no-such-payment/notice", None, 404),
        (finance, "POST", f"{case}/notices/no-such-notice/payout", payout, 404),
        (leader, "POST", f"{case}/receiving-account-changes/no-such/decision",
         {"approve": True}, 404),
        (officer, "POST", f"{case}/holds", {**hold, "payment_id": "no-such-payment"}, 422),
        (officer, "POST", f"{case}/holds", {**hold, "amount_fen": over}, 422),
        (officer, "POST", f"{case}/holds", {**hold, "amount_fen": "1"}, 422),
        (officer, "POST", f"{case}/deductions", {"asset_id": "no-such-asset", "amount_fen": 1},
         422),
        (finance, "POST", f"{case}/deductions/no-such/review", {"moved": False}, 404),
        (finance, "POST", f"{case}/deductions/{fx.ids['deduction_id']}/review", {"moved": True},
         422),
        (finance, "POST", f"{case}/deductions/{fx.ids['deduction_id']}/review",
         {"moved": False, "amount_fen": 1}, 422),
        (finance, "POST", f"{case}/deductions/{fx.ids['deduction_id']}/review", {"moved": False},
         409),
        (officer, "POST", f"{case}/receiving-account-changes",
         {"new_account": " - ", "reason": "账户销户"}, 422),
        (finance, "POST", "/v1/receipts", {"account_number": fx.ids["account_number"],
                                          "bank_reference": "BAD-2", "amount_fen": over}, 422),
        (finance, "POST", f"{case}/notices/{fx.ids['notice_id']}/payout",
         {**payout, "amount_fen": 0}, 422),
        (officer, "GET", "/v1/cases/%E2%80%AE%00a%3Ab%2A%25%E6%A1%88/funds", None, 404),
        (officer, "GET", f"/v1/cases/{'x' * 101}/funds", None, 422),
        (officer, "POST", f"{case}/holds/%00%2e%2e%3A%2A/release", {}, 404),
        (service, "GET", "/v1/funds?court=苏9999", None, 422),
        (service, "GET", "/v1/funds/reconciliation?court=苏9999", None, 422),
        (finance, "GET", "/v1/funds/reconciliation?court=not-a-court", None, 422),
    ]  # fmt: skip
    wrong = []
    async with stack.client(stack.funds) as http:
        for who, method, path, body, wanted in cases:
            answer = await http.request(method, path, headers=headers_of(stack, who), json=body)
            if answer.status_code != wanted:
                wrong.append(f"{who.name} {method} funds{path} → {answer.status_code}, not "
                             f"{wanted}: {answer.text[:200]}")  # fmt: skip
    assert stack.credit is not None
    credit_cases: list[tuple[Principal, str, str, dict[str, Any] | None, int]] = [
        (officer, "POST", f"{case}/restrictions/no-such/lifting", {"cause": "consent"}, 404),
        (officer, "POST", f"{case}/listings/no-such/deletion", {"cause": "corrected"}, 404),
        (officer, "POST", f"{case}/restrictions", {"debtor_key": "d99", "ruling_number": "x"},
         422),
        (officer, "POST", f"{case}/listings", {"debtor_key": "d0", "ground": 7,
                                               "decision_number": "x", "facts": "y"}, 422),
        (officer, "GET", "/v1/credit/subjects/not-an-id-number", None, 422),
        (officer, "GET", f"/v1/credit/subjects/{'9' * 101}", None, 422),
    ]  # fmt: skip
    async with stack.client(stack.credit) as http:
        for who, method, path, body, wanted in credit_cases:
            answer = await http.request(method, path, headers=headers_of(stack, who), json=body)
            if answer.status_code != wanted:
                wrong.append(f"{who.name} {method} credit{path} → {answer.status_code}, not "
                             f"{wanted}: {answer.text[:200]}")  # fmt: skip
    return wrong


def _ids_for(who: Principal, template: str, fx: Fixture) -> dict[str, str]:
    """What the path's ids name for ``who``: intake's application routes name the received
    application; a hold is released once a leader approved it (the other awaits the decision
    route); the agency party calls about its own dispute (the agency's dispute)."""
    ids = dict(fx.ids)
    if "/applications/" in template:
        ids["case_id"] = fx.ids["application_id"]
    if template.endswith("/holds/{hold_id}/release"):
        ids["hold_id"] = fx.ids["held_hold_id"]
    if who.kind == "party_agency":
        ids["dispute_id"] = fx.ids["agency_dispute_id"]
    return ids
