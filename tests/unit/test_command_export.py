"""The command centre's export tables and the lines its timeline writes for supervision
events, without Kafka or Redis: which cases count as 终本 cases, what a row says, and who
is shown the interference register."""

from __future__ import annotations

from dataclasses import dataclass

from services.command.export_tables import _cases, _zhongben, cell_yuan, when
from services.command.supervision_text import interference_line, petition_line
from services.command.timelines import RESTRICTED, shown_to
from zhixing.auth import Role
from zhixing.money import yuan

ZHONGBEN = "终结本次执行"


@dataclass
class Money:
    received_fen: int = 0
    paid_fen: int = 0
    in_account_fen: int = 0


def case(court: str = "苏1283", claim: int = 123_456) -> dict[str, str]:
    return {"court_code": court, "case_type_code": "执", "claim_amount_fen": str(claim)}


def test_money_is_in_yuan_and_times_in_china_time() -> None:
    assert cell_yuan(123_456) == "1234.56" and cell_yuan(5) == "0.05"
    assert cell_yuan(-150) == "-1.50"
    assert yuan(123_456_789) == "1,234,567.89元"
    assert when(0) == "" and when(None) == ""
    assert when(1_772_413_200_000) == "2026-03-02 09:00"  # 01:00 UTC


def test_a_case_row_names_its_number_court_node_money_and_zhongben() -> None:
    board = [
        {"number": "（2026）苏1283执1号", "filed_at": "1772413200000", "rank": "2"},
        {"number": "（2026）苏1283执2号", "rank": "0", "closed": ZHONGBEN,
         "closed_at": "1772413200000"},
    ]  # fmt: skip
    table = _cases([("c1", case()), ("c2", case(claim=100))], board,
                   [Money(50_000, 20_000, 30_000), Money()],
                   [{}, {"state": "ruled"}])  # fmt: skip
    assert table.title == "执行案件" and table.headers[0] == "案号"
    first, second = (dict(zip(table.headers, row, strict=True)) for row in table.rows)
    assert first["案号"] == "（2026）苏1283执1号" and first["执行法院"] == "泰兴市人民法院"
    assert first["所处节点"] == "财产控制" and first["申请执行标的（元）"] == "1234.56"
    assert (first["到账（元）"], first["已发放（元）"], first["在账（元）"]) == (
        "500.00",
        "200.00",
        "300.00",
    )
    assert first["终本状态"] == "" and first["结案方式"] == ""
    assert second["所处节点"] == "已结案" and second["结案方式"] == ZHONGBEN
    assert second["终本状态"] == "已裁定终结本次执行程序"


def test_zhongben_cases_are_those_closed_as_zhongben_or_ruled() -> None:
    cases = [(f"c{n}", case()) for n in range(4)]
    board = [
        {"number": "A", "closed": ZHONGBEN},  # closed without a ruling (before the gate)
        {"number": "B"},  # ruled, then revoked: still a 终本 case on record
        {"number": "C"},  # proposed only
        {"number": "D", "closed": "执行完毕"},
    ]
    zhongben = [{}, {"state": "revoked", "revoked_reason": "未约谈申请执行人"},
                {"state": "proposed"}, {}]  # fmt: skip
    table = _zhongben(cases, board, zhongben)
    rows = [dict(zip(table.headers, row, strict=True)) for row in table.rows]
    assert [r["案号"] for r in rows] == ["A", "B"]
    assert rows[0]["终本状态"] == "已以终本方式结案"
    assert rows[1]["撤销理由"] == "未约谈申请执行人" and rows[1]["终本结案时间"] == ""


def test_only_the_command_centre_and_discipline_inspection_see_the_register() -> None:
    assert set(RESTRICTED["InterferenceRecorded"]) == {Role.COMMAND, Role.DISCIPLINE}
    for role in Role:
        assert shown_to(role, "InterferenceRecorded") is (role in (Role.COMMAND, Role.DISCIPLINE))
        assert shown_to(role, "PetitionRegistered") and shown_to(role, "CaseFiled")


def test_register_and_petition_lines() -> None:
    record = {"person_name": "李某", "person_position": "科长", "inside_court": True,
              "occurred_at": "2026-03-02T06:00:00Z", "manner": "visit", "content": "打听进度",
              "recorded_by": "张某"}  # fmt: skip
    assert interference_line(record) == (
        "李某（科长，院内）于2026-03-02 14:00以当面方式过问：打听进度"
        "；处理情况：未填写（登记人 张某）"
    )
    corrected = interference_line(record | {"corrects_record_id": "ir-9"})
    assert corrected.startswith("【更正记录，更正 ir-9】李某")
    assert petition_line("PetitionRegistered", {"handler": "赵某", "repeat_counts": [1]}) == (
        "信访已登记，承办人 赵某"
    )
    received = {"received_on": "2026-03-02", "channel": "hotline_12368",
                "petitioner_name": "王某", "summary": "催办"}  # fmt: skip
    assert petition_line("PetitionReceived", received) == (
        "2026-03-02收到12368热线，信访人王某：催办"
    )  # fmt: skip
