"""How the 终本, re-query and credit events read in a case's timeline: a line of Chinese each,
the debtor named by name (never by ID number or key), a refusal's unmet conditions by the
catalogue's titles, and the same lines whatever order the events were stamped in."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from services.command.timelines import summaries
from tests.factories import ACTOR, START
from zhixing.clock import SimulatedClock
from zhixing.events import new_event
from zhixing.rules import catalogue
from zhixing.v1 import asset_events_pb2, case_events_pb2, credit_events_pb2

CASE = "case-1"
ID_NUMBER = "91321283MA0000007N"
PERSON_ID = "321283199805050178"
c, a, r = case_events_pb2, asset_events_pb2, credit_events_pb2


def fields(payload: Message) -> tuple[str, dict[str, Any]]:
    """(event name, payload fields) as the timeline keeps them."""
    event = new_event(
        payload, aggregate_id=CASE, court_code="苏1283", actor=ACTOR, clock=SimulatedClock(START)
    )
    return type(payload).__name__, event.payload_fields()


FILED = c.CaseFiled(
    case_id=CASE,
    court_code="苏1283",
    case_type_code="执",
    claim_amount_fen=100,
    debtors=[
        c.Party(kind=c.PARTY_KIND_ORGANISATION, name="某某有限公司", id_number=ID_NUMBER),
        c.Party(kind=c.PARTY_KIND_NATURAL_PERSON, name="李四", id_number=PERSON_ID),
    ],
)
ACTS = [
    c.DebtorVisited(
        case_id=CASE, debtor_key="d1", kind="summons", on="2026-04-01", result="称无财产可供执行"
    ),
    c.ApplicantInterviewed(case_id=CASE, on="2026-04-02", summary="申请人同意终本"),
    c.ObstructionFound(
        case_id=CASE,
        obstruction_id="ob-1",
        debtor_key="d0",
        kind="report_violation",
        on="2026-04-03",
    ),
    c.PunishmentImposed(
        case_id=CASE,
        debtor_key="d0",
        kind="fine",
        decision_number="（2026）苏1283执1号之一",
        on="2026-04-05",
    ),
    c.SearchConducted(case_id=CASE, debtor_key="d1", on="2026-04-06", result="未发现财产"),
    c.ZhongbenRefused(
        case_id=CASE,
        refused_by="leader-1",
        unmet_rules=["zhongben.min-period", "zhongben.applicant-interviewed"],
    ),
    c.ZhongbenRuled(
        case_id=CASE,
        ruling_number="（2026）苏1283执1号之二",
        ruled_on="2026-06-10",
        approved_by="leader-1",
        checked_rules=["zhongben.min-period"] * 9,
    ),
    c.ZhongbenRulingServed(case_id=CASE, served_on="2026-06-12"),
    c.ZhongbenObjectionDecided(case_id=CASE, objection_id="obj-1", upheld="yes"),
    c.ExecutionResumed(
        case_id=CASE,
        new_case_id="case-2",
        new_case_number="（2027）苏1283执恢3号",
        cause="assets_found",
        resumed_on="2027-01-05",
    ),
    a.ZhongbenRequeryStarted(case_id=CASE, round=2, requery_number=1),
    a.ZhongbenRequeryCompleted(
        case_id=CASE, round=2, requery_number=1, new_assets=2, resumption_proposed="yes"
    ),
    a.ZhongbenRequeryPeriodEnded(case_id=CASE, requeries=10),
]
CREDIT = [
    r.RestrictionOrdered(
        case_id=CASE,
        restriction_id="re-1",
        debtor_key="d0",
        debtor_id_number=ID_NUMBER,
        debtor_name="某某有限公司",
        ruling_number="（2026）苏1283执1号之三",
        ordered_on="2026-04-01",
        effective_on="2026-04-01",
    ),
    r.RestrictionLiftDue(
        case_id=CASE, restriction_id="re-1", debtor_key="d0", cause="performed", urgent="yes"
    ),
    r.RestrictionLifted(
        case_id=CASE,
        restriction_id="re-1",
        debtor_key="d0",
        cause="performed",
        lifted_on="2026-05-01",
    ),
    r.DebtorListed(
        case_id=CASE,
        listing_id="li-1",
        debtor_key="d1",
        debtor_id_number=PERSON_ID,
        debtor_name="李四",
        ground=2,
        ground_text="以伪造证据等方法妨碍执行",
        fixed_term="yes",
        decision_number="（2026）苏1283执1号之四",
        listed_on="2026-04-02",
    ),
    r.ListingDeclined(case_id=CASE, debtor_key="d0", reason="only_restriction"),
    r.ListingExtensionDecided(
        case_id=CASE, listing_id="li-1", debtor_key="d1", extension_months=12, reason="拒不履行"
    ),
    r.ListingGroundEnded(
        case_id=CASE, listing_id="li-1", debtor_key="d1", cause="performed", ended_on="2026-08-01"
    ),
    r.ListingDeleted(
        case_id=CASE,
        listing_id="li-1",
        debtor_key="d1",
        cause="ground_ended",
        deleted_on="2026-08-03",
    ),
]


def said(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    return {event: line for (event, _), line in zip(entries, summaries(entries), strict=True)}


def test_every_new_event_has_a_line_naming_the_debtor_and_no_id_number() -> None:
    entries = [fields(FILED), *map(fields, ACTS), *map(fields, CREDIT)]
    lines = said(entries)
    assert all(lines[type(p).__name__] for p in [*ACTS, *CREDIT]), lines
    text = " ".join(lines.values())
    for hidden in (ID_NUMBER, PERSON_ID, "d0", "d1", "re-1", "li-1", "ob-1", "obj-1"):
        assert hidden not in text
    assert lines["DebtorVisited"] == "传唤被执行人李四（2026-04-01），结果：称无财产可供执行"
    assert lines["PunishmentImposed"] == (
        "对被执行人某某有限公司决定罚款，决定书 （2026）苏1283执1号之一（2026-04-05）"
    )
    assert lines["RestrictionLiftDue"] == (
        "被执行人某某有限公司已履行完毕，应解除限制消费（情况紧急，应立即解除）"
    )
    assert lines["ListingDeclined"] == (
        "决定不将被执行人某某有限公司纳入失信被执行人名单：仅适用限制消费措施"
    )
    assert lines["DebtorListed"].startswith(
        "将被执行人李四纳入失信被执行人名单，情形：以伪造证据等方法妨碍执行"
    )
    assert lines["ExecutionResumed"] == (
        "恢复执行，新案号 （2027）苏1283执恢3号，原因：发现可供执行的财产，日期 2027-01-05"
    )
    assert lines["ZhongbenRequeryCompleted"] == (
        "终本后第1次定期查询完毕：发现可供执行的财产 2 项，建议恢复执行，已告知申请执行人"
    )
    assert lines["ZhongbenObjectionDecided"] == "终本异议成立，终本裁定应予撤销"
    # Events that say it all by their name, and other events, have no line.
    assert lines["CaseFiled"] == ""


def test_a_refusal_names_each_unmet_condition_by_the_catalogues_title() -> None:
    refused = said([fields(ACTS[5])])["ZhongbenRefused"]
    for rule_id in ("zhongben.min-period", "zhongben.applicant-interviewed"):
        assert catalogue().rule(rule_id).title in refused
    assert "zhongben." not in refused


def test_names_are_known_whatever_the_order_and_a_debtor_without_one_is_counted() -> None:
    # The listing is stamped before the filing; the filing still names its debtor.
    entries = [fields(CREDIT[5]), fields(FILED)]
    assert said(entries)["ListingExtensionDecided"] == (
        "决定延长被执行人李四的失信名单期限 12个月（原期限届满后起算），理由：拒不履行"
    )
    # Without the filing, a debtor is named by position.
    assert said([fields(CREDIT[5])])["ListingExtensionDecided"].startswith(
        "决定延长第2名被执行人的"
    )
    # At the term's end the extension begins.
    began = r.ListingExtended(case_id=CASE, listing_id="li-1", debtor_key="d1", extension_months=12)
    assert said([fields(FILED), fields(began)])["ListingExtended"] == (
        "被执行人李四的失信名单原期限届满，延长期限 12个月开始计算"
    )


def test_a_resumed_case_names_the_case_it_resumes() -> None:
    resumed = c.CaseFiled(
        case_id="case-2",
        court_code="苏1283",
        case_type_code="执恢",
        resumed_from_case_id=CASE,
        resumed_from_case_number="（2026）苏1283执1号",
    )
    assert said([fields(resumed)])["CaseFiled"] == "恢复执行案件，原案 （2026）苏1283执1号"
