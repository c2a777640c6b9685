from services.intake.domain import FileCase
from tools.demo import CASES_PER_COURT, DEMO_BASIC_COURTS, demo_filings


def test_every_demo_filing_passes_intake_validation_and_has_its_own_key() -> None:
    filings = demo_filings()
    assert len(filings) == len(DEMO_BASIC_COURTS) * CASES_PER_COURT
    assert len({key for key, _ in filings}) == len(filings)
    assert all(key.isascii() for key, _ in filings)  # they travel as an HTTP header
    for _, body in filings:
        FileCase.model_validate(body)
