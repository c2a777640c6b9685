"""The notification service's pure rules: case query codes (derived, short, unambiguous,
keyed), notice ids (one per event, party and channel), the node table's texts (the case,
the court, the party; the code masked; never an ID number) and the backoff; the settings
refuse the development secret outside dev."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notification import domain
from services.notification.settings import DEV_QUERY_CODE_SECRET, NotificationSettings
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import command_events_pb2 as commands

SECRET = b"a-test-secret-of-at-least-thirty-two-characters"
ID_NUMBER = "91321283MA00000317"


def record() -> domain.Record:
    filed = cases.CaseFiled(
        case_id="case-1", case_number="（2026）苏1283执1号", filed_on="2026-03-02",
        case_account="3100 0000 0001", claim_amount_fen=1_234_500,
        applicants=[cases.Party(name="张三", id_number="320000199001010011")],
        debtors=[cases.Party(name="某某有限公司", id_number=ID_NUMBER)],
    )  # fmt: skip
    refs = {k: domain.recipient_ref(SECRET, p.id_number) for k, _, p in domain.party_keys(filed)}
    # The case's record, with its parties (kept beside it) for the texts.
    kept = domain.new_case(filed, "苏1283", "泰兴市人民法院", "12368")
    return {**kept, "parties": domain.new_parties(filed, refs)}


def test_a_code_is_derived_short_unambiguous_and_typed_in_any_form() -> None:
    code = domain.query_code(SECRET, "case-1", "a0")
    assert code == domain.query_code(SECRET, "case-1", "a0")
    assert code != domain.query_code(SECRET, "case-1", "d0")
    assert code != domain.query_code(b"another-secret-of-at-least-thirty-two-chars", "case-1", "a0")
    plain = domain.normalised_code(code)
    assert plain is not None and len(plain) == domain.CODE_LENGTH
    assert not set(plain) & set("01ILO")
    assert domain.normalised_code(f" {code.lower()} ") == plain
    assert domain.normalised_code(plain[:-1]) is None
    assert domain.normalised_code(plain[:-1] + "0") is None
    # The keyed hash is what events carry: the same however it was typed, unlike the code.
    assert domain.code_hash(SECRET, code) == domain.code_hash(SECRET, plain.lower())
    assert plain not in domain.code_hash(SECRET, code)


def test_notice_ids_are_one_per_event_party_and_channel() -> None:
    one = domain.notice_id("event-1", "a0", "sms")
    assert one == domain.notice_id("event-1", "a0", "sms")
    assert len({one, domain.notice_id("event-2", "a0", "sms"),
                domain.notice_id("event-1", "d0", "sms"),
                domain.notice_id("event-1", "a0", "court_app")}) == 4  # fmt: skip


def test_the_filing_notice_states_the_account_the_hotline_and_a_masked_code() -> None:
    kept = record()
    node = domain.NODES[cases.CaseFiled]
    text = domain.notice_text(node, {"account": "3100 0000 0001", "on": "2026年3月2日"},
                              kept, kept["parties"]["d0"])  # fmt: skip
    assert text.startswith(
        "【泰兴市人民法院】某某有限公司您好：您作为被执行人的（2026）苏1283执1号案已于"
    )
    assert "3100 0000 0001" in text and "12368" in text and domain.CODE_MASK in text
    assert ID_NUMBER not in text and ID_NUMBER not in str(kept)
    code = domain.query_code(SECRET, "case-1", "d0")
    sent = domain.with_code(text, code)
    assert code in sent and domain.CODE_MASK not in sent


def test_the_table_tells_whom_it_should() -> None:
    assert domain.NODES[assets.AssetsPushedToParties].to == (domain.APPLICANT,)
    assert set(domain.NODES[assets.AssetControlled].to) == {domain.APPLICANT, domain.DEBTOR}
    controlled = domain.NODES[assets.AssetControlled].facts(
        assets.AssetControlled(case_id="c", measure="freeze", amount_fen=50_000)
    )
    assert controlled == {"measure": "冻结", "amount": "，冻结金额500.00元"}
    command = domain.NODES[commands.CommandIssued]
    assert command.facts(commands.CommandIssued(action="urge", case_id="c")) == {
        "action": "督促执行"
    }
    assert command.facts(commands.CommandIssued(action="lend_officers", case_id="c")) is None
    assert command.facts(commands.CommandIssued(action="urge")) is None  # no case named
    # A designation is told by the move it makes (``court_changed``), naming the new court.
    assert command.facts(commands.CommandIssued(action="designate", case_id="c")) is None
    closed = domain.NODES[cases.CaseClosed]
    assert closed.facts(cases.CaseClosed(method=domain.ZHONGBEN)) is None  # told as 终本
    assert closed.facts(cases.CaseClosed(method="执行完毕", closed_on="2026-05-01")) == {
        "method": "执行完毕", "on": "2026年5月1日"
    }  # fmt: skip


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [domain.backoff_s(n, 60, 300) for n in (1, 2, 3, 4)] == [60, 120, 240, 300]


def test_the_development_secret_is_refused_outside_dev() -> None:
    dev = DEV_QUERY_CODE_SECRET
    assert NotificationSettings(env="dev", query_code_secret=dev).secret == dev.encode()
    for env in ("test", "prod"):
        with pytest.raises(ValidationError, match="development default"):
            NotificationSettings(env=env, query_code_secret=dev)
    with pytest.raises(ValidationError, match="at least 32"):
        NotificationSettings(query_code_secret="short", env="prod")
    with pytest.raises(ValidationError, match="CHANNELS"):
        NotificationSettings(channels=["fax"])
