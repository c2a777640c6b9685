"""The dispute coordinator's request bodies name the field a bad value is in."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

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
