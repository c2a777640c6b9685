import pytest

from zhixing.courts import CourtLevel, UnknownCourtCode, ancestors, covers, parse_court_code


@pytest.mark.parametrize(
    ("code", "level"),
    [("最高法", CourtLevel.SUPREME), ("苏", CourtLevel.HIGH), ("苏12", CourtLevel.INTERMEDIATE),
     ("苏1283", CourtLevel.BASIC)],
)  # fmt: skip
def test_level_is_read_off_the_code(code: str, level: CourtLevel) -> None:
    assert parse_court_code(code).level is level


@pytest.mark.parametrize("code", ["", "苏1", "苏123", "XX01", "苏12834", "最高"])
def test_malformed_codes_are_refused_with_the_code_named(code: str) -> None:
    with pytest.raises(UnknownCourtCode, match="is not a court code"):
        parse_court_code(code)


def test_basic_court_path_to_the_top() -> None:
    assert ancestors("苏1283") == ["苏12", "苏", "最高法"]


def test_intermediate_court_covers_its_basic_courts_only() -> None:
    assert covers("苏12", "苏1283")
    assert not covers("苏12", "苏0281")
    assert not covers("苏1283", "苏1282")
    assert not covers("苏1283", "苏12")  # a basic court does not reach upward
