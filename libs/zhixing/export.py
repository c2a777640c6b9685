"""Tables for overseers to take away: one table written as CSV or as XLSX.

Procuratorate and discipline-inspection users export a jurisdiction's cases, clocks,
breaches, 终本 cases and the interference register (¶34, ¶36). Every export route builds a
``Table`` (headers in Chinese, one row per record) and answers ``table_response(table,
format)``; the format is the route's ``?format=csv|xlsx``.

CSV is UTF-8 with a byte-order mark (so a spreadsheet opened on a Chinese Windows desktop
reads it right); XLSX is written by openpyxl. A cell that starts with ``=``, ``+``, ``-`` or
``@`` is written as text, never as a formula (CSV/formula injection from free text such as
an interference record's content).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from zhixing.bounds import NOT_TEXT

__all__ = [
    "MAX_EXPORT_ROWS", "ExportFormat", "Table", "table_bytes", "table_response", "workbook_bytes",
]  # fmt: skip

MAX_EXPORT_ROWS = 100_000
"""The most rows one export carries; a larger jurisdiction exports by court or period."""

_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


_MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class Table:
    """A titled table: ``title`` names the sheet and the file."""

    title: str
    headers: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)

    def add(self, row: Sequence[Any]) -> None:
        if len(row) != len(self.headers):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(self.headers)} columns")
        if len(self.rows) >= MAX_EXPORT_ROWS:
            raise ValueError(f"an export carries at most {MAX_EXPORT_ROWS} rows")
        self.rows.append(row)

    def extend(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.add(row)


def _cell(value: Any) -> Any:
    """A value as a cell: None empty, dates ISO, booleans 是/否, text never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    # A record kept before such characters were refused (``bounds.NOT_TEXT``) may hold one a
    # spreadsheet cannot: shown as U+FFFD, so the export never fails on it.
    text = NOT_TEXT.sub("\ufffd", str(value))
    return "'" + text if text.startswith(_FORMULA_LEADS) else text


def _csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def workbook_bytes(tables: Sequence[Table]) -> bytes:
    """An XLSX workbook of one sheet per table (each titled by its table)."""
    from openpyxl import Workbook  # imported on use: only export routes need it

    book = Workbook(write_only=True)
    for table in tables:
        # A sheet title is at most 31 characters and has none of []:*?/\
        title = "".join(c for c in table.title if c not in "[]:*?/\\")[:31] or "Sheet1"
        sheet = book.create_sheet(title=title)
        sheet.append([_cell(h) for h in table.headers])
        for row in table.rows:
            sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_bytes(table: Table, export_format: ExportFormat) -> bytes:
    return _csv(table) if export_format is ExportFormat.CSV else workbook_bytes([table])


async def table_response(table: Table, export_format: ExportFormat, *, filename: str) -> Response:
    """The table as a download named ``filename`` (without extension; Chinese allowed). The
    file is written in a worker thread: a large XLSX takes seconds of CPU, which must not
    stop the service's event loop (its consumers, its other requests, its health)."""
    name = f"{filename}.{export_format.value}"
    disposition = (
        f"attachment; filename=export.{export_format.value}; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        content=await run_in_threadpool(table_bytes, table, export_format),
        media_type=_MEDIA_TYPES[export_format],
        headers={"Content-Disposition": disposition},
    )
