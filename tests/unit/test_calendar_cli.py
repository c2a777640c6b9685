"""`zhixing calendar due|explain`, as people and scripts use it."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_operator_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHIXING_CALENDAR_DIR", str(tmp_path))


def test_due_prints_the_last_day_alone_on_one_line() -> None:
    result = runner.invoke(app, ["calendar", "due", "--from", "2026-01-31", "--months", "1"])
    assert (result.exit_code, result.stdout) == (0, "2026-02-28\n")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--from", "2026-12-20", "--days", "30"], 1, "2027 is not loaded"),
        (["--from", "2026-02-30", "--days", "3"], 2, "is not a date"),
        (["--from", "2026-03-02", "--days", "-3"], 2, "cannot be negative"),
        (["--from", "2026-03-02", "--days", "3", "--months", "1"], 2, "exactly one"),
    ],
)
def test_due_exits_non_zero_with_the_reason_on_stderr(
    args: list[str], code: int, says: str
) -> None:
    result = runner.invoke(app, ["calendar", "due", *args])
    assert result.exit_code == code
    assert result.stdout == ""
    assert says in result.stderr


def test_provisional_allows_the_flagged_estimate() -> None:
    args = ["calendar", "due", "--from", "2026-12-20", "--days", "30", "--provisional"]
    result = runner.invoke(app, args)
    assert (result.exit_code, result.stdout) == (0, "2027-01-19\n")
    assert "provisional" in result.stderr


def test_explain_shows_the_days_skipped() -> None:
    args = ["calendar", "explain", "--from", "2026-02-12", "--working-days", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "holiday (春节)" in result.stdout
    assert "make-up working day" in result.stdout
    assert "due: 2026-02-26" in result.stdout
