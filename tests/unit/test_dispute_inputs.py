"""The dispute coordinator's request bodies name the field a bad value is in."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.dispute_coordinator.http_api import AnswerIn


def test_a_reconsideration_answer_for_a_court_the_directory_does_not_know_names_it() -> None:
    """It was a 409 ("ZZ has not asked for reconsideration"): the value, not the state."""
    with pytest.raises(ValidationError) as refused:
        AnswerIn.model_validate({"court_code": "ZZ", "answer": "维持"})
    assert refused.value.errors()[0]["loc"] == ("court_code",)
    taken = AnswerIn.model_validate({"court_code": "苏1283", "answer": "维持"})
    assert taken.court_code == "苏1283"
