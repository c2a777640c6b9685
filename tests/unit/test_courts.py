"""The court directory: derived from the division data, hierarchy questions, operator files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.cli import app
from zhixing.courts import (
    CourtDirectory,
    CourtFileError,
    CourtLevel,
    UnknownCourtCode,
    ancestors,
    court_name,
    covers,
    directory,
    parse_court_code,
)
from zhixing.rules import catalogue


@pytest.mark.parametrize(
    ("code", "level"),
    [("最高法", CourtLevel.SUPREME), ("苏", CourtLevel.HIGH), ("苏12", CourtLevel.INTERMEDIATE),
     ("苏1283", CourtLevel.BASIC)],
)  # fmt: skip
def test_level_is_read_off_the_code(code: str, level: CourtLevel) -> None:
    assert parse_court_code(code).level is level
    assert directory().lookup(code).level is level


@pytest.mark.parametrize("code", ["", "苏1", "苏123", "XX01", "苏12834", "最高"])
def test_malformed_codes_are_refused_with_the_code_named(code: str) -> None:
    with pytest.raises(UnknownCourtCode, match="is not a court code"):
        directory().lookup(code)


def test_a_well_formed_code_of_no_court_is_unknown() -> None:
    with pytest.raises(UnknownCourtCode, match="苏9999: not in the court directory"):
        directory().lookup("苏9999")


def test_every_high_court_and_the_courts_of_jiangsu_and_zhejiang_are_derived() -> None:
    courts = directory()
    highs = [c for c in courts.courts() if c.level is CourtLevel.HIGH]
    assert len(highs) == 31  # every province, region and municipality of the mainland
    assert courts.lookup("苏").name == "江苏省高级人民法院"
    jiangsu = [c.code for c in courts.children("苏")]
    assert len(jiangsu) == 13 and "苏12" in jiangsu  # 13 prefecture-level cities
    assert len(courts.children("浙")) == 11
    assert courts.lookup("苏12").name == "泰州市中级人民法院"
    assert courts.lookup("苏1283").name == "泰兴市人民法院"
    assert courts.lookup("苏1202").name == "泰州市海陵区人民法院"
    assert {c.code for c in courts.children("苏12")} == {
        "苏1202", "苏1203", "苏1204", "苏1281", "苏1282", "苏1283"
    }  # fmt: skip
    # Divisions that no longer exist make no court (下城区 merged in 2021).
    with pytest.raises(UnknownCourtCode):
        courts.lookup("浙0103")
    # ...and the operator file adds the two districts created then.
    assert courts.lookup("浙0113").superior == "浙01"


def test_basic_court_path_to_the_top() -> None:
    assert ancestors("苏1283") == ["苏12", "苏", "最高法"]
    assert [c.code for c in directory().path_to_top("苏1283")] == ["苏1283", "苏12", "苏", "最高法"]


@pytest.mark.parametrize(
    ("codes", "answer"),
    [
        (("苏1283", "苏1282"), "苏12"),  # same intermediate court
        (("苏1283", "苏0281"), "苏"),  # same province
        (("苏1283", "浙0102"), "最高法"),  # across provinces
        (("苏02", "苏0281"), "苏"),  # a court and its own superior: not its own superior
        (("苏1283", "苏1282", "苏1202"), "苏12"),
        (("苏12", "苏12"), "苏"),
    ],
)
def test_common_superior(codes: tuple[str, ...], answer: str) -> None:
    assert directory().common_superior(*codes).code == answer


def test_an_assets_location_names_its_basic_court() -> None:
    assert directory().basic_court_for_division("321283").code == "苏1283"
    with pytest.raises(UnknownCourtCode, match="110101"):
        directory().basic_court_for_division("110101")  # Beijing's are not derived


def test_intermediate_court_covers_its_basic_courts_only() -> None:
    assert covers("苏12", "苏1283")
    assert not covers("苏12", "苏0281")
    assert not covers("苏1283", "苏1282")
    assert not covers("苏1283", "苏12")  # a basic court does not reach upward
    assert not covers("苏12", "苏9999")  # an unknown court is nobody's


def test_operator_files_add_special_courts_and_name_their_mistakes(tmp_path: Path) -> None:
    (tmp_path / "special.yaml").write_text(
        "courts:\n  - {code: 苏71, name: 南京铁路运输法院, superior: 苏}\n", encoding="utf-8"
    )
    courts = CourtDirectory.load(tmp_path)
    assert courts.lookup("苏71").special and courts.lookup("苏71").superior == "苏"
    assert "苏71" in {c.code for c in courts.children("苏")}
    (tmp_path / "z-bad.yaml").write_text(
        "courts:\n  - {code: 苏72, name: 某法院, superior: 苏99}\n", encoding="utf-8"
    )
    with pytest.raises(CourtFileError, match=r"z-bad.yaml: courts\[0\]: superior 苏99"):
        CourtDirectory.load(tmp_path)


def test_cli_show_and_common_superior() -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["courts", "show", "苏1283"])
    assert shown.exit_code == 0 and "泰兴市人民法院" in shown.output and "苏12" in shown.output
    common = runner.invoke(app, ["courts", "common-superior", "苏02", "苏0281"])
    assert common.exit_code == 0 and common.output.strip() == "苏"
    bad = runner.invoke(app, ["courts", "common-superior", "苏1283", "苏9999"])
    assert bad.exit_code != 0 and "苏9999" in bad.output


def test_a_court_is_named_for_people_and_an_unknown_code_stays_as_written() -> None:
    assert court_name("苏1283") == "泰兴市人民法院"
    assert court_name("苏9999") == "苏9999"


def test_a_rule_is_titled_for_people_and_an_unknown_id_stays_as_written() -> None:
    rules = catalogue()
    assert rules.title_of("petition.enter") == "执行信访录入系统"
    assert rules.source_of("petition.enter") == "¶30"
    assert (rules.title_of("no.such-rule"), rules.source_of("no.such-rule")) == ("no.such-rule", "")
