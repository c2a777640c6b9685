"""Demo data: a few enforcement cases in the basic courts of 泰州中院 (苏12).

Every filing carries a fixed Idempotency-Key, so loading the demo twice files nothing twice.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import httpx
from stdnum.cn import ric, uscc

from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SystemClock, china_today

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


def load_demo_funds(
    funds_url: str, tokens: TokenAuthority, case_ids: list[str], wait_s: float = 30.0
) -> int:
    """Money in some demo cases (案款): the debtor pays part of the claim into the case's
    account; for each court's first case the officer notifies finance and finance pays the
    applicant, the second's payment waits for its notice (its clock runs). Idempotent:
    the bank references are fixed, and a notice or payout done already answers 409. Returns
    the receipts recorded; a case whose account the funds service has not opened within
    ``wait_s`` is left without money."""
    recorded = 0
    deadline = time.monotonic() + wait_s  # one wait for all: the accounts open together
    with httpx.Client(base_url=funds_url, timeout=10) as client:
        for case_id, (key, body) in zip(case_ids, demo_filings(), strict=True):
            if not key.endswith(("-1", "-2")):
                continue
            court = str(body["court_code"])

            def headers(role: Role, court: str = court) -> dict[str, str]:
                subject = f"demo-{role.value}-{court}"
                token = tokens.issue(subject=subject, court_code=court, role=role)
                return {"Authorization": f"Bearer {token}"}

            ledger = _ledger(client, case_id, headers(Role.OFFICER), deadline)
            if ledger is None:
                continue
            claim = int(str(body["claim_amount_fen"]))
            receipt = client.post("/v1/receipts", headers=headers(Role.FINANCE), json={
                "account_number": ledger["account_number"], "amount_fen": claim // 4,
                "bank_reference": f"DEMO-{key}", "payer": "被执行人",
            })  # fmt: skip
            receipt.raise_for_status()
            recorded += 1
            if not key.endswith("-1"):
                continue
            payment_id = receipt.json()["payment"]["payment_id"]
            notice = client.post(f"/v1/cases/{case_id}/payments/{payment_id}/notice",
                                 headers=headers(Role.OFFICER))  # fmt: skip
            if notice.status_code == 409:
                continue  # noticed (and paid) on an earlier run
            notice.raise_for_status()
            paid = client.post(
                f"/v1/cases/{case_id}/notices/{notice.json()['notice_id']}/payout",
                headers=headers(Role.FINANCE),
                json={"amount_fen": notice.json()["amount_fen"],
                      "to_account": str(body["receiving_account"]),
                      "bank_reference": f"DEMO-OUT-{key}"},
            )  # fmt: skip
            if paid.status_code != 409:
                paid.raise_for_status()
    return recorded


def _ledger(
    client: httpx.Client, case_id: str, headers: dict[str, str], deadline: float
) -> dict[str, object] | None:
    """The case's funds once the funds service has opened its account (from the filing
    event, a moment after intake answered), asked at least once, until ``deadline``."""
    while True:
        response = client.get(f"/v1/cases/{case_id}/funds", headers=headers)
        if response.status_code == 200:
            ledger: dict[str, object] = response.json()
            return ledger
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)


def load_demo_credit(
    credit_url: str, tokens: TokenAuthority, case_ids: list[str], wait_s: float = 30.0
) -> int:
    """Credit punishment in some demo cases (信用惩戒): for each court's second case (the
    notice served, its money not yet paid out) the officer restricts the debtor's
    consumption (限制消费) and serves the order, once the credit service has read that the
    execution notice was served (no measure before: rule credit.notice-period, whose
    default period, 0 days, lets the order follow the notice the same day). Idempotent: a
    restriction in force answers 409 to a second order. Returns the restrictions in force;
    a case the credit service has not learned of (with its notice) within ``wait_s`` is
    left alone."""
    in_force = 0
    deadline = time.monotonic() + wait_s  # one wait for all: the cases arrive together
    with httpx.Client(base_url=credit_url, timeout=10) as client:
        for case_id, (key, body) in zip(case_ids, demo_filings(), strict=True):
            if not key.endswith("-2"):
                continue
            court = str(body["court_code"])
            subject = f"demo-{Role.OFFICER.value}-{court}"
            token = tokens.issue(subject=subject, court_code=court, role=Role.OFFICER)
            headers = {"Authorization": f"Bearer {token}"}
            record = _credit_record(client, case_id, headers, deadline)
            if record is None:
                continue
            if not any(r["status"] == "in_force" for r in record["restrictions"]):
                ordered = client.post(f"/v1/cases/{case_id}/restrictions", headers=headers, json={
                    "debtor_key": "d0", "ruling_number": f"（2026）{court}执限{key[-1]}号",
                })  # fmt: skip
                ordered.raise_for_status()
                served = client.post(
                    f"/v1/cases/{case_id}/restrictions/{ordered.json()['restriction_id']}/service",
                    headers=headers, json={},
                )  # fmt: skip
                served.raise_for_status()
            in_force += 1
    return in_force


def _credit_record(
    client: httpx.Client, case_id: str, headers: dict[str, str], deadline: float
) -> dict[str, Any] | None:
    """The case's credit record once the credit service has read its filing and its
    execution notice (or restricted its debtor on an earlier run), asked at least once,
    until ``deadline``."""
    while True:
        response = client.get(f"/v1/cases/{case_id}/credit", headers=headers)
        if response.status_code == 200:
            record: dict[str, Any] = response.json()
            restricted = any(r["status"] == "in_force" for r in record["restrictions"])
            if record.get("notice_served_on") or restricted:
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)


def load_demo_supervision(
    supervision_url: str, intake_url: str, tokens: TokenAuthority, case_ids: list[str],
    wait_s: float = 30.0, today: date | None = None,
) -> int:  # fmt: skip
    """Supervision in the demo courts (监督): on each court's first case a petition (信访)
    received and registered today; on the first court's first case an entry in the
    interference register (干预过问案件登记), of a call the day before; in each court an
    execution bureau head posted nearly five years ago (so the rotation reminder reaches the
    leader) and an officer posted earlier. Idempotent: a case that has a petition or a
    record already gets no other, and a second posting answers 409. Returns the petitions
    now on the demo cases. ``today`` is the services' day (default the system clock's, in
    China)."""
    today = today or china_today(SystemClock())
    deadline = time.monotonic() + wait_s
    petitions = 0

    def headers(role: Role, court: str) -> dict[str, str]:
        token = tokens.issue(subject=f"demo-{role.value}-{court}", court_code=court, role=role)
        return {"Authorization": f"Bearer {token}"}

    with (
        httpx.Client(base_url=supervision_url, timeout=10) as client,
        httpx.Client(base_url=intake_url, timeout=10) as intake,
    ):
        for case_id, (key, body) in zip(case_ids, demo_filings(), strict=True):
            court = str(body["court_code"])
            if not key.endswith("-1") or not _known_to_supervision(
                client, case_id, headers(Role.DISCIPLINE, court), deadline
            ):
                continue
            number = intake.get(f"/v1/cases/{case_id}", headers=headers(Role.CLERK, court))
            number.raise_for_status()
            listed = client.get("/v1/petitions", params={"case_id": case_id},
                                headers=headers(Role.COMMAND, court))  # fmt: skip
            listed.raise_for_status()
            if not listed.json():
                received = client.post("/v1/petitions", headers=headers(Role.CLERK, court), json={
                    "received_on": today.isoformat(), "channel": "visit",
                    "petitioner_name": "张三", "petitioner_role": "applicant",
                    "summary": "申请执行人来访反映案件进展缓慢",
                    "case_numbers": [number.json()["case_number"]],
                    "register": True, "handler": f"demo-{Role.OFFICER.value}-{court}",
                })  # fmt: skip
                received.raise_for_status()
            petitions += 1
            if court == min(DEMO_BASIC_COURTS):
                records = client.get(f"/v1/cases/{case_id}/interference",
                                     headers=headers(Role.DISCIPLINE, court))  # fmt: skip
                records.raise_for_status()
                if not records.json():
                    client.post(f"/v1/cases/{case_id}/interference",
                                headers=headers(Role.OFFICER, court), json={
                        "person_name": "李某", "person_position": "某局副局长",
                        "person_organisation": "某区人民政府", "inside_court": False,
                        # The day before: at any hour of today it is past (09:00 today
                        # was in the future before 09:00, and the register refused it).
                        "occurred_at": f"{(today - timedelta(days=1)).isoformat()}"
                                       "T09:00:00+08:00", "manner": "phone",
                        "content": "电话询问案件何时执行到位", "handling": "告知依法办理，已登记",
                    }).raise_for_status()  # fmt: skip
            for officer, post, kind, years in (("head", "执行局局长", "leader", 5),
                                                ("officer", "执行员", "other", 8)):  # fmt: skip
                since = date(today.year - years, today.month, 1) + timedelta(days=20)
                posted = client.post(
                    f"/v1/officers/demo-{officer}-{court.encode().hex()}/postings",
                    headers=headers(Role.LEADER, court),
                    json={"officer_name": f"{DEMO_BASIC_COURTS[court][:2]}{post}",
                          "post": post, "post_kind": kind, "since": since.isoformat()},
                )  # fmt: skip
                if posted.status_code != 409:
                    posted.raise_for_status()
    return petitions


def _known_to_supervision(
    client: httpx.Client, case_id: str, headers: dict[str, str], deadline: float
) -> bool:
    """Whether the supervision service has read the case's filing, until ``deadline``."""
    while True:
        if client.get(f"/v1/cases/{case_id}/interference", headers=headers).status_code == 200:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
