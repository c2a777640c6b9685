"""Exports for overseers: CSV and XLSX of one table, free text never a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from zhixing.export import ExportFormat, Table, table_bytes, table_response


def register() -> Table:
    table = Table("干预过问登记", ["案号", "日期", "内容", "院内", "金额（分）"])
    table.add(["（2026）苏1283执1号", date(2026, 3, 2), '=HYPERLINK("http://x")', True, 12])
    table.add(["（2026）苏1283执2号", None, "询问进度", False, 0])
    return table


def test_csv_has_a_bom_chinese_headers_and_no_formula() -> None:
    raw = table_bytes(register(), ExportFormat.CSV)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["案号", "日期", "内容", "院内", "金额（分）"]
    assert rows[1] == ["（2026）苏1283执1号", "2026-03-02", '\'=HYPERLINK("http://x")', "是", "12"]
    assert rows[2] == ["（2026）苏1283执2号", "", "询问进度", "否", "0"]


def test_xlsx_reads_back_with_the_same_cells() -> None:
    book = load_workbook(io.BytesIO(table_bytes(register(), ExportFormat.XLSX)))
    sheet = book["干预过问登记"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["案号", "日期", "内容", "院内", "金额（分）"]
    assert values[1][2] == '\'=HYPERLINK("http://x")'
    assert values[1][4] == 12
    assert sheet.cell(row=2, column=3).data_type == "s"  # text, not a formula


@pytest.mark.parametrize("export_format", list(ExportFormat))
def test_a_control_character_kept_from_before_is_shown_as_a_replacement(
    export_format: ExportFormat,
) -> None:
    """A record kept before such characters were refused still exports (it broke XLSX)."""
    table = Table("干预过问登记", ["姓名"])
    table.add(["钱\x01某\x0b\ud800"])
    raw = table_bytes(table, export_format)
    if export_format is ExportFormat.XLSX:
        [[name]] = list(load_workbook(io.BytesIO(raw))["干预过问登记"].iter_rows(
            min_row=2, values_only=True))  # fmt: skip
    else:
        name = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))[1][0]
    assert name == "钱\ufffd某\ufffd\ufffd"


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="2 cells in a table of 5 columns"):
        register().add(["a", "b"])


async def test_the_download_names_its_file_in_chinese() -> None:
    response = await table_response(register(), ExportFormat.XLSX, filename="苏12干预过问登记")
    disposition = response.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition and "xlsx" in disposition
    assert (response.media_type or "").startswith("application/vnd.openxmlformats")
