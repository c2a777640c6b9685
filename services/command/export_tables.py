"""The tables overseers take away (¶34, ¶36): a jurisdiction's cases, open clocks, breaches
and 终本 cases, built from the command centre's projections (``zhixing.export`` writes them
as CSV or XLSX).

Cases are named by their number (案号), courts by name and code; no party's ID number is in
any table (the projections keep none: a case's debtors are known by their cases only).
Times are China time; sums of money are in yuan with two decimals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.command.board import NODES, ZHONGBEN_METHOD, Board
from services.command.breaches import BreachRegister
from services.command.case_funds import CaseFunds
from services.command.case_zhongben import CaseZhongben
from services.command.projections import CaseOverviews
from zhixing.clock import CHINA_TZ
from zhixing.clock_states import OPEN_STATES
from zhixing.courts import court_name
from zhixing.export import MAX_EXPORT_ROWS, Table
from zhixing.money import yuan
from zhixing.rules import catalogue


class ExportTable(StrEnum):
    CASES = "cases"
    CLOCKS = "clocks"
    BREACHES = "breaches"
    ZHONGBEN = "zhongben"


TITLES = {
    ExportTable.CASES: "执行案件",
    ExportTable.CLOCKS: "节点期限",
    ExportTable.BREACHES: "超期记录",
    ExportTable.ZHONGBEN: "终本案件",
}
CLOCK_STATES = {"running": "运行", "warned": "预警", "breached": "超期", "paused": "中止"}
ZHONGBEN_STATES = {
    "proposed": "已提请终本，待负责人审批",
    "refused": "终本未获批准",
    "ruled": "已裁定终结本次执行程序",
    "revoked": "终本裁定已撤销",
    "resumed": "已恢复执行",
}


def cell_yuan(fen: int) -> str:
    """Yuan as a spreadsheet reads a number: 1234.50, no grouping, no unit (the header says
    元)."""
    return yuan(fen, grouped=False, unit="")


def when(ms: int | str | None) -> str:
    """Epoch milliseconds as China time ('' for none)."""
    value = int(ms or 0)
    if not value:
        return ""
    return dt.datetime.fromtimestamp(value / 1000, CHINA_TZ).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Sources:
    """The projections the tables are read from."""

    overviews: CaseOverviews
    board: Board
    funds: CaseFunds
    zhongben: CaseZhongben
    breaches: BreachRegister


async def build(table: ExportTable, courts: Sequence[str], sources: Sources) -> Table:
    if table is ExportTable.CLOCKS:
        return await _clocks(courts, sources)
    if table is ExportTable.BREACHES:
        return await _breaches(courts, sources)
    cases = (await sources.overviews.cases_in(courts))[:MAX_EXPORT_ROWS]
    ids = [case_id for case_id, _ in cases]
    board = await sources.board.cases(ids)
    if table is ExportTable.CASES:
        return _cases(cases, board, await sources.funds.many(ids),
                      await sources.zhongben.read_many(ids))  # fmt: skip
    return _zhongben(cases, board, await sources.zhongben.read_many(ids))


def _node(case: dict[str, str]) -> str:
    if case.get("closed"):
        return "已结案"
    rank = case.get("rank")
    return NODES[int(rank)].title if rank is not None else ""


def _cases(cases: list[tuple[str, dict[str, str]]], board: list[dict[str, str]],
           funds: list[Any], zhongben: list[dict[str, str]]) -> Table:  # fmt: skip
    table = Table(TITLES[ExportTable.CASES], [
        "案号", "执行法院", "法院代码", "案件类型代码", "申请执行标的（元）", "立案时间",
        "所处节点", "结案方式", "结案时间", "到账（元）", "已发放（元）", "在账（元）", "终本状态",
    ])  # fmt: skip
    for (_, overview), case, money, z in zip(cases, board, funds, zhongben, strict=True):
        code = overview.get("court_code", "")
        table.add([
            case.get("number", ""), court_name(code), code, overview.get("case_type_code", ""),
            cell_yuan(int(overview.get("claim_amount_fen") or 0)), when(case.get("filed_at")),
            _node(case), case.get("closed", ""), when(case.get("closed_at")),
            cell_yuan(money.received_fen), cell_yuan(money.paid_fen),
            cell_yuan(money.in_account_fen),
            ZHONGBEN_STATES.get(z.get("state", ""), ""),
        ])  # fmt: skip
    return table


def _zhongben(cases: list[tuple[str, dict[str, str]]], board: list[dict[str, str]],
              zhongben: list[dict[str, str]]) -> Table:  # fmt: skip
    """Cases closed as 终本, or with a 终本 ruling (revoked or resumed since included)."""
    table = Table(TITLES[ExportTable.ZHONGBEN], [
        "案号", "执行法院", "法院代码", "终本状态", "终本裁定书文号", "裁定日期", "批准人",
        "送达日期", "终本结案时间", "已启动定期查询（次）", "已完成定期查询（次）",
        "定期查询期间届满", "撤销理由", "恢复执行案号", "恢复执行日期",
    ])  # fmt: skip
    for (_, overview), case, z in zip(cases, board, zhongben, strict=True):
        closed = case.get("closed") == ZHONGBEN_METHOD
        if not closed and z.get("state") not in ("ruled", "revoked", "resumed"):
            continue
        code = overview.get("court_code", "")
        table.add([
            case.get("number", ""), court_name(code), code,
            ZHONGBEN_STATES.get(z.get("state", ""), "已以终本方式结案"),
            z.get("ruling_number", ""), z.get("ruled_on", ""), z.get("approved_by", ""),
            z.get("served_on", ""), when(case.get("closed_at")) if closed else "",
            int(z.get("requery_started") or 0), int(z.get("requery_completed") or 0),
            bool(z.get("requery_ended")), z.get("revoked_reason", ""),
            z.get("resumed_case_number", ""), z.get("resumed_on", ""),
        ])  # fmt: skip
    return table


async def _clocks(courts: Sequence[str], sources: Sources) -> Table:
    """Every open clock: running, warned, breached or paused."""
    states = [state.value for state in OPEN_STATES]
    _, rows = await sources.board.alerts(
        courts, states, per_court=MAX_EXPORT_ROWS, first=MAX_EXPORT_ROWS
    )
    table = Table(TITLES[ExportTable.CLOCKS], [
        "节点期限", "依据", "规则编号", "案号", "法院", "法院代码", "状态", "开始时间",
        "期限届满", "末日", "预警时间", "超期时间", "升级级别", "升级至",
    ])  # fmt: skip
    for r in rows[:MAX_EXPORT_ROWS]:
        rules = catalogue()
        title, source = rules.title_of(r["rule_id"]), rules.source_of(r["rule_id"])
        table.add([
            title, source, r["rule_id"], r["case_number"], court_name(r["court_code"]),
            r["court_code"], CLOCK_STATES.get(r["state"], r["state"]), when(r["opened_at"]),
            when(r["due_at"]), r["last_day"], when(r["warned_at"]), when(r["breached_at"]),
            r["level"] or "", r["escalated_to"],
        ])  # fmt: skip
    return table


async def _breaches(courts: Sequence[str], sources: Sources) -> Table:
    """Every breach, the latest first, whether or not the act was done since (late)."""
    rows = (await sources.breaches.of_courts(courts, MAX_EXPORT_ROWS))[:MAX_EXPORT_ROWS]
    refs = await sources.board.case_refs([r["subject_id"] for r in rows])
    table = Table(TITLES[ExportTable.BREACHES], [
        "节点期限", "依据", "规则编号", "案号", "法院", "法院代码", "期限届满", "超期时间",
        "升级级别", "升级至", "办结时间（超期后）", "延长后期限届满",
    ])  # fmt: skip
    for r, (_, number) in zip(rows, refs, strict=True):
        rules = catalogue()
        title, source = rules.title_of(r["rule_id"]), rules.source_of(r["rule_id"])
        table.add([
            title, source, r["rule_id"], number, court_name(r["court"]), r["court"],
            when(r["due_at"]), when(r["breached_at"]), int(r.get("level") or 0) or "",
            r.get("escalated_to", ""), when(r.get("cleared_at")), when(r.get("extended_due_at")),
        ])  # fmt: skip
    return table
