import json
from collections.abc import Callable

import pytest

from tests.factories import case_filed_event
from zhixing.audit import GENESIS_HASH, audit_record, canonical_json, verify_chain


def build_chain(n: int) -> tuple[list[bytes], tuple[int, str]]:
    records, prev = [], GENESIS_HASH
    for seq in range(n):
        record = audit_record(case_filed_event(f"case-{seq}"), seq=seq, prev_hash=prev)
        records.append(canonical_json(record))
        prev = record["hash"]
    return records, (n, prev)


def test_an_untouched_chain_is_intact() -> None:
    records, head = build_chain(5)
    verdict = verify_chain(records, head)
    assert verdict.intact and verdict.records == 5


def changed(records: list[bytes]) -> list[bytes]:
    record = json.loads(records[2])
    record["payload"]["claim_amount_fen"] = "1"
    return [*records[:2], canonical_json(record), *records[3:]]


def removed(records: list[bytes]) -> list[bytes]:
    return [*records[:2], *records[3:]]


def swapped(records: list[bytes]) -> list[bytes]:
    return [*records[:2], records[3], records[2], *records[4:]]


@pytest.mark.parametrize("tamper", [changed, removed, swapped])
def test_tampering_is_detected_at_the_first_bad_record(
    tamper: Callable[[list[bytes]], list[bytes]],
) -> None:
    records, head = build_chain(5)
    verdict = verify_chain(tamper(records), head)
    assert not verdict.intact
    assert verdict.first_bad == 2


def test_rehashed_change_is_still_caught_by_the_next_link() -> None:
    records, head = build_chain(5)
    record = json.loads(records[1])
    record["court_code"] = "苏1282"
    from zhixing.audit import record_hash

    record["hash"] = record_hash(record)
    verdict = verify_chain([records[0], canonical_json(record), *records[2:]], head)
    assert (verdict.intact, verdict.first_bad) == (False, 2)


def test_cutting_off_the_tail_is_caught_by_the_head() -> None:
    records, head = build_chain(5)
    verdict = verify_chain(records[:4], head)
    assert (verdict.intact, verdict.first_bad) == (False, 4)


def test_records_without_a_head_are_not_trusted() -> None:
    records, _ = build_chain(2)
    assert not verify_chain(records, None).intact
