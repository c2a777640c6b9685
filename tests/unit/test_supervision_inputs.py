"""Supervision's date inputs are bounded below (``zhixing.bounds.PastDate``/``PastDateTime``,
from 1949-10-01): a year-1 date was "not in the future", then overflowed turning into UTC
(a 500) or dead-lettered the clock it opened. Refused at the door with a 422 naming the
field; the floor itself is accepted (the future is the handlers' check)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.supervision.officers_api import PostingIn, RotationIn
from services.supervision.petitions_api import PetitionIn, ReplyIn
from services.supervision.register_api import InterferenceIn

INTERFERENCE = {
    "person_name": "某某", "person_position": "局长", "person_organisation": "某局",
    "inside_court": False, "manner": "phone", "content": "询问", "handling": "告知",
}  # fmt: skip
PETITION = {
    "channel": "visit", "petitioner_name": "张三", "petitioner_role": "applicant",
    "summary": "反映执行慢", "case_numbers": ["（2026）苏1283执1号"],
}  # fmt: skip
CASES: list[tuple[type[BaseModel], str, dict[str, Any]]] = [
    (InterferenceIn, "occurred_at", INTERFERENCE),
    (PetitionIn, "received_on", PETITION),
    (ReplyIn, "replied_on", {"reply": "已答复", "reply_channel": "phone"}),
    (PostingIn, "since", {"officer_name": "李四", "post": "执行法官", "post_kind": "other"}),
    (RotationIn, "rotated_on", {}),
]


@pytest.mark.parametrize(("model", "name", "rest"), CASES)
@pytest.mark.parametrize("value", ["0001-01-01", "1949-09-30"])
def test_a_date_before_1949_10_01_is_refused_naming_the_field(
    model: type[BaseModel], name: str, rest: dict[str, Any], value: str
) -> None:
    if name == "occurred_at":
        value += "T00:00:00"
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**rest, name: value})
    (error,) = refused.value.errors()
    assert error["loc"] == (name,) and "1949-10-01" in error["msg"]


@pytest.mark.parametrize(("model", "name", "rest"), CASES)
def test_the_floor_itself_is_accepted(
    model: type[BaseModel], name: str, rest: dict[str, Any]
) -> None:
    value = "1949-10-01T08:00:00+08:00" if name == "occurred_at" else "1949-10-01"
    assert model.model_validate({**rest, name: value})


def test_an_instant_at_the_calendar_s_end_is_refused() -> None:
    """9999-12-31 with a negative offset is past the last UTC instant: refused, not a 500."""
    with pytest.raises(ValidationError):
        InterferenceIn.model_validate({**INTERFERENCE, "occurred_at": "9999-12-31T23:00:00-14:00"})


def test_an_instant_before_the_floor_in_china_is_refused_whatever_its_offset() -> None:
    """1949-10-01T00:00+14:00 is 1949-09-30 18:00 in China, where it is recorded."""
    with pytest.raises(ValidationError) as refused:
        InterferenceIn.model_validate({**INTERFERENCE, "occurred_at": "1949-10-01T00:00:00+14:00"})
    (error,) = refused.value.errors()
    assert error["loc"] == ("occurred_at",) and "1949-10-01" in error["msg"]
    assert InterferenceIn.model_validate({**INTERFERENCE, "occurred_at": "1949-10-01T00:00:00"})
    # And an instant written in the 30th elsewhere is the 1st in China.
    assert InterferenceIn.model_validate({**INTERFERENCE, "occurred_at": "1949-09-30T20:00:00Z"})


@pytest.mark.parametrize(("model", "name", "rest"), CASES)
def test_a_number_for_a_date_is_refused_not_read_as_a_timestamp(
    model: type[BaseModel], name: str, rest: dict[str, Any]
) -> None:
    """1733000000 was recorded as a time in 2024 (a probe)."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**rest, name: 1733000000})
    (error,) = refused.value.errors()
    assert error["loc"] == (name,) and "ISO 8601" in error["msg"]


@pytest.mark.parametrize("said", ["yes", "true", 1, "1"])
def test_the_register_keeps_what_was_sent_so_yes_is_not_true(said: object) -> None:
    with pytest.raises(ValidationError) as refused:
        InterferenceIn.model_validate(
            {**INTERFERENCE, "inside_court": said, "occurred_at": "2026-03-02T10:00:00"}
        )
    assert refused.value.errors()[0]["loc"] == ("inside_court",)
