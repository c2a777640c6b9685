"""Request bodies name the field a bad value is in (the dispute coordinator, deadlines)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from services.deadlines.http_api import ExtensionRequest
from services.dispute_coordinator.http_api import AnswerIn
from zhixing.courts import KnownCourt


def test_a_reconsideration_answer_for_a_court_the_directory_does_not_know_names_it() -> None:
    """It was a 409 ("ZZ has not asked for reconsideration"): the value, not the state."""
    with pytest.raises(ValidationError) as refused:
        AnswerIn.model_validate({"court_code": "ZZ", "answer": "维持"})
    assert refused.value.errors()[0]["loc"] == ("court_code",)
    taken = AnswerIn.model_validate({"court_code": "苏1283", "answer": "维持"})
    assert taken.court_code == "苏1283"


def test_a_court_code_of_a_path_or_body_is_one_the_directory_knows() -> None:
    """Lifting the stop of a court that cannot exist was a 409 about the state too."""
    known = TypeAdapter(KnownCourt)
    assert known.validate_python("苏1283") == "苏1283"
    for wrong in ("XX99", "苏9999", ""):
        with pytest.raises(ValidationError):
            known.validate_python(wrong)


def test_an_extension_asked_for_with_a_number_in_text_is_refused() -> None:
    """An extension is recorded as asked: "30" is not read as 30."""
    with pytest.raises(ValidationError) as refused:
        ExtensionRequest.model_validate({"added": "30", "reason": "案情复杂"})
    assert refused.value.errors()[0]["loc"] == ("added",)
    assert ExtensionRequest.model_validate({"added": 30, "reason": "案情复杂"}).added == 30
