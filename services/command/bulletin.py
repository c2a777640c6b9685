"""The bulletin (通报) as people take it away: a printable HTML page, a PDF laid out from that
page by WeasyPrint, and the tables as an XLSX workbook. The content is
``Reports.bulletin``'s (``services/command/reports.py``); nothing here counts anything.

The PDF needs Pango and a font with Chinese glyphs on the machine (Debian:
``fonts-wqy-microhei``; the Makefile installs it for the tests).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from html import escape
from multiprocessing import get_context
from typing import Any

from zhixing.courts import court_name
from zhixing.export import Table, workbook_bytes

__all__ = [
    "PdfBusy", "bulletin_html", "bulletin_pdf", "bulletin_tables", "bulletin_xlsx", "render_pdf",
]  # fmt: skip

FONTS = (
    '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif'
)

STYLE = """
@page { size: A4 landscape; margin: 14mm 12mm; }
body { font-family: FONTS; color: #111; font-size: 10.5pt; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 2mm; }
.sub { text-align: center; color: #444; margin: 0 0 5mm; }
h2 { font-size: 12.5pt; border-left: 4px solid #b22; padding-left: 2mm; margin: 6mm 0 2mm; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
th, td { border: 1px solid #999; padding: 1.2mm 1.8mm; text-align: right; }
th { background: #eee; text-align: center; }
td.name { text-align: left; white-space: nowrap; }
tr { page-break-inside: avoid; }
.muted { color: #555; font-size: 9pt; }
""".replace("FONTS", FONTS)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _rank(value: int | None) -> str:
    return "—" if value is None else str(value)


def _when(iso: str) -> str:
    """2026-03-20T10:00:00+08:00 as 2026年3月20日 10:00 (the service writes China time)."""
    at = dt.datetime.fromisoformat(iso)
    return f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"


def _court(code: str) -> str:
    return court_name(code) if code else "—"


def bulletin_tables(data: dict[str, Any], *, for_sheet: bool = False) -> list[Table]:
    """The bulletin's four tables, headers in Chinese (the page and the workbook show the
    same rows; ``for_sheet``: rates as numbers a spreadsheet sorts, 0 to 1)."""
    rates = list(data["definitions"])

    def rate(value: float | None) -> Any:
        return value if for_sheet else _percent(value)

    figures = Table("各法院执行指标及排名",
                    ["法院", "收案", "结案", "预警", "超期",
                     *(h for name in rates for h in (name, f"{name}排名"))])  # fmt: skip
    for row in data["courts"]:
        figures.add([
            row["court_name"], row["filed"], row["closed"], row["warnings"], row["breaches"],
            *(cell for name in rates
              for cell in (rate(row["rates"][name]), _rank(row["ranks"][name]))),
        ])  # fmt: skip
    # One row per node and court with breaches (a province has a hundred courts: a column
    # each would not fit a page).
    by_node = Table("超期情况（按节点、法院）", ["节点期限", "本节点合计", "法院", "超期数"])
    for node in data["breaches_by_node"]:
        for code, count in sorted(node["by_court"].items(), key=lambda item: (-item[1], item[0])):
            by_node.add([node["title"], node["total"], _court(code), count])
    commands = Table("指挥事项下达及未签收情况",
                     ["法院", "本期下达", "其中", "截至期末下达、至今未签收"])  # fmt: skip
    for row in data["commands"]["by_court"]:
        kinds = "、".join(f"{kind}{n}件" for kind, n in sorted(row["issued"].items()))
        commands.add([_court(row["court_code"]), sum(row["issued"].values()), kinds or "—",
                      row["unanswered"]])  # fmt: skip
    moved = Table("提级执行、指令执行案件", ["案号", "方式", "原执行法院", "改由法院", "下达日期"])
    for row in data["commands"]["moved"]:
        moved.add([row["case_number"] or row["case_id"], row["action"], _court(row["from_court"]),
                   _court(row["to_court"]), row["issued_on"]])  # fmt: skip
    return [figures, by_node, commands, moved]


def _html_table(table: Table, name_columns: int = 1) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in table.headers)
    if not table.rows:
        return f'<p class="muted">本期无{escape(table.title)}。</p>'
    body = "".join(
        "<tr>" + "".join(
            f'<td class="name">{escape(str(v))}</td>' if i < name_columns
            else f"<td>{escape(str(v))}</td>" for i, v in enumerate(row)
        ) + "</tr>"
        for row in table.rows
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bulletin_html(data: dict[str, Any]) -> str:
    """A whole page (inline style, no script), for the browser's print and for the PDF."""
    figures, by_node, commands, moved = bulletin_tables(data)
    title = f"{data['court_name']}辖区执行工作通报"
    definitions = "；".join(f"{escape(k)}：{escape(v)}" for k, v in data["definitions"].items())
    sections = [
        ("一、各法院执行指标及排名", _html_table(figures)
         + f'<p class="muted">收案、结案、预警、超期为本期数；各率为截至{escape(data["end"])}'
           f"的累计数，排名在辖区法院间。{definitions}。</p>"),
        ("二、超期情况（按节点、法院）", _html_table(by_node, name_columns=3)),
        (f"三、指挥事项（本期下达{data['commands']['issued']}件）", _html_table(commands)),
        ("四、提级执行、指令执行案件", _html_table(moved, name_columns=2)),
    ]  # fmt: skip
    body = "".join(f"<h2>{heading}</h2>{content}" for heading, content in sections)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)}（{escape(data['title'])}）</title><style>{STYLE}</style>"
        f"</head><body><h1>{escape(title)}</h1>"
        f'<p class="sub">{escape(data["title"])} · 生成于 {escape(_when(data["generated_at"]))}</p>'
        f"{body}</body></html>"
    )


def bulletin_pdf(html: str) -> bytes:
    """The page laid out as PDF (seconds of CPU for a large jurisdiction: call it from a
    worker thread in a service)."""
    from weasyprint import HTML  # type: ignore[import-untyped]  # on use: needs Pango

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def bulletin_xlsx(tables: Sequence[Table]) -> bytes:
    """One sheet per table."""
    return workbook_bytes(tables)


class PdfBusy(Exception):
    """Another bulletin is being laid out in this service now."""


_pdf_worker: ProcessPoolExecutor | None = None
_pdf_busy = False


async def render_pdf(html: str) -> bytes:
    """The page as PDF, laid out in a worker process of its own, one at a time per service
    process: WeasyPrint spends seconds of CPU in Python (a province's bulletin, over ten),
    which in a thread would still hold the service's event loop through the GIL.
    ``PdfBusy`` if another is being laid out; OSError if the machine lacks Pango."""
    global _pdf_worker, _pdf_busy
    if _pdf_busy:
        raise PdfBusy("another bulletin is being laid out")
    _pdf_busy = True
    try:
        if _pdf_worker is None:
            _pdf_worker = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        try:
            return await asyncio.get_running_loop().run_in_executor(_pdf_worker, bulletin_pdf, html)
        except BrokenProcessPool:
            _pdf_worker = None  # the worker died (killed, out of memory): a new one next time
            raise OSError("the PDF worker process died") from None
    finally:
        _pdf_busy = False
