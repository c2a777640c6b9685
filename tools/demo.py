"""Demo data: a few enforcement cases in the basic courts of 泰州中院 (苏12).

Every filing carries a fixed Idempotency-Key, so loading the demo twice files nothing twice.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from stdnum.cn import ric, uscc

from zhixing.auth import Role, TokenAuthority

DEMO_INTERMEDIATE_COURT = "苏12"  # 江苏省泰州市中级人民法院
DEMO_BASIC_COURTS = {
    "苏1202": "泰州市海陵区人民法院",
    "苏1281": "兴化市人民法院",
    "苏1282": "靖江市人民法院",
    "苏1283": "泰兴市人民法院",
}
CASES_PER_COURT = 3


def resident_id(division: str, born: date, serial: int) -> str:
    """A resident ID with a correct check digit (ISO 7064 MOD 11-2).

    The division must have existed in the birth year (321283 泰兴市: since 1996); stdnum
    checks that too.
    """
    body = f"{division}{born:%Y%m%d}{serial:03d}"
    # stdnum computes over the whole 18 characters, so the check position needs a placeholder.
    return body + ric.calc_check_digit(body + "0")


def credit_code(serial: int) -> str:
    """A unified social credit code with a correct check digit (GB 32100)."""
    body = f"91321283MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def demo_filings() -> list[tuple[str, dict[str, object]]]:
    """(idempotency key, request body) for each demo case."""
    filings = []
    for court_index, court in enumerate(sorted(DEMO_BASIC_COURTS)):
        for n in range(1, CASES_PER_COURT + 1):
            serial = court_index * 10 + n
            filings.append(
                (
                    f"demo-{court.encode().hex()}-{n}",  # header values are ASCII
                    {
                        "court_code": court,
                        "case_type_code": "执",
                        "legal_document": {
                            "type": "民事判决书",
                            "issuing_court": DEMO_BASIC_COURTS[court],
                            "number": f"（2026）{court}民初{1000 + n}号",
                            "date": "2026-06-15",
                        },
                        "applicants": [
                            {
                                "kind": "natural_person",
                                "name": f"申请人{serial}",
                                "id_number": resident_id(
                                    "321283", date(1998, 1, 1) + timedelta(days=serial), serial
                                ),
                            }
                        ],
                        "debtors": [
                            {
                                "kind": "organisation",
                                "name": f"泰州示范{serial}有限公司",
                                "id_number": credit_code(serial),
                            }
                        ],
                        "claim_amount_fen": 1_000_000 * serial,
                        "receiving_account": f"6222 0212 0000 {serial:04d}",
                    },
                )
            )
    return filings


def load_demo(intake_url: str, tokens: TokenAuthority) -> list[str]:
    """File the demo cases through intake's public API; returns their case ids."""
    case_ids = []
    with httpx.Client(base_url=intake_url, timeout=10) as client:
        for key, body in demo_filings():
            court = str(body["court_code"])
            token = tokens.issue(subject=f"demo-clerk-{court}", court_code=court, role=Role.CLERK)
            response = client.post(
                "/v1/cases",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )
            response.raise_for_status()
            case_id = response.json()["case_id"]
            case_ids.append(case_id)
            if key.endswith(("-1", "-2")):  # some cases further along: officer, notice
                _advance(client, tokens, court, case_id)
    return case_ids


def _advance(client: httpx.Client, tokens: TokenAuthority, court: str, case_id: str) -> None:
    """Assign an officer and serve the notice; on a second run both answer 409 (done)."""
    for role, path, body in (
        (Role.LEADER, "assignment", {"officer_id": f"demo-officer-{court}", "team": "法官团队"}),
        (Role.OFFICER, "execution-notice", None),
    ):
        token = tokens.issue(subject=f"demo-{role.value}-{court}", court_code=court, role=role)
        response = client.post(
            f"/v1/cases/{case_id}/{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code != 409:
            response.raise_for_status()
