"""The notification service's vocabulary and pure rules: the table of nodes the parties are
told of (which event, which parties, what text), the notice ids, the case query codes
(案件查询码) and the backoff of sends.

A notice's text names the case, the court and the party, and the facts of the node; never
an ID number, never an internal note (an officer's reason, an approver's name). The case
query code is printed on the filing notice only as it goes to the gateway; the text kept and
published (``NoticeQueued.text``) has it masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from zhixing.clock import CHINA_TZ
from zhixing.courts import court_name
from zhixing.money import yuan
from zhixing.v1 import asset_events_pb2 as assets
from zhixing.v1 import case_events_pb2 as cases
from zhixing.v1 import command_events_pb2 as commands
from zhixing.v1 import funds_events_pb2 as funds

Record = dict[str, Any]

APPLICANT = "applicant"
DEBTOR = "debtor"
BOTH = (APPLICANT, DEBTOR)
ROLE_TEXT = {APPLICANT: "申请执行人", DEBTOR: "被执行人"}

HOTLINE_RULE = "intake.notice-hotline"
ACCOUNT_RULE = "funds.one-case-one-account"

QUEUED, DELIVERED, UNDELIVERED = "queued", "delivered", "undelivered"

# --- case query codes ----------------------------------------------------------------------

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""No 0/O, 1/I/L: what a party reads off an SMS and types is never ambiguous."""
CODE_LENGTH = 10
"""31^10 ≈ 8·10^14 codes: beyond guessing at the progress page's rate limits."""
CODE_MASK = "〔查询码已隐去〕"
"""Stands for the code in every text kept or published; the gateway gets the code."""


def query_code(secret: bytes, case_id: str, party_key: str) -> str:
    """The party's case query code, derived (never stored): the same for the same case and
    party, unguessable without the secret. Shown as two groups of five."""
    digest = hmac.new(secret, f"query-code|{case_id}|{party_key}".encode(), hashlib.sha256)
    number = int.from_bytes(digest.digest()[:16], "big")
    chars = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[digit])
    code = "".join(chars)
    return f"{code[:5]}-{code[5:]}"


def normalised_code(text: str) -> str | None:
    """A code as typed (any case, spaces or hyphens), or None if it cannot be one."""
    code = "".join(c for c in text.upper() if c not in " -\t")
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def code_hash(secret: bytes, code: str) -> str:
    """What events and the lookup keep of a code: keyed, so a published hash cannot be
    searched back to its code without the secret."""
    plain = normalised_code(code) or code
    return hmac.new(secret, f"code-hash|{plain}".encode(), hashlib.sha256).hexdigest()


def recipient_ref(secret: bytes, id_number: str) -> str:
    """The opaque reference of a party the court's contact book resolves (a person has one
    reference in every case); never the ID number itself."""
    digest = hmac.new(secret, f"recipient|{id_number}".encode(), hashlib.sha256)
    return f"r-{digest.hexdigest()[:24]}"


# --- notices -------------------------------------------------------------------------------

_NOTICE_IDS = uuid.UUID("6f1d2c1e-2b7a-4c55-9a63-0d8e5b0c9f17")


def notice_id(source_event_id: str, party_key: str, channel: str) -> str:
    """Derived from the event told of, the party and the channel: an event delivered twice
    queues nothing twice, and the gateway takes a resend of the same id once."""
    return str(uuid.uuid5(_NOTICE_IDS, f"{source_event_id}|{party_key}|{channel}"))


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """The wait after the ``attempt``-th failed send: base, doubled each time, capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempt - 1)))


def china_date(instant: dt.datetime) -> str:
    return instant.astimezone(CHINA_TZ).date().isoformat()


def date_text(iso_date: str) -> str:
    """2026-03-02 → 2026年3月2日 (as a notice says it)."""
    try:
        day = dt.date.fromisoformat(iso_date)
    except ValueError:
        return iso_date
    return f"{day.year}年{day.month}月{day.day}日"


# --- the nodes -----------------------------------------------------------------------------

Facts = dict[str, str]


@dataclass(frozen=True)
class Node:
    """A node the parties are told of: its name (NoticeQueued.node), its title on the
    progress page, who is told, and the text after the greeting, filled from the event's
    facts (``facts`` returns None when the event is not such a node)."""

    name: str
    title: str
    to: tuple[str, ...]
    text: str
    facts: Callable[[Any], Facts | None]


MEASURE_TEXT = {"freeze": "冻结", "seize": "查封", "detain": "扣押"}
SALE_TEXT = {"online_auction": "网络司法拍卖"}
COMMAND_TEXT = {"urge": "督促执行"}
# A move of the case to another court (CaseHandlingCourtChanged's kind): the parties must
# deal with that court from then on (¶28), so the notice names it. A reconsideration that
# withdraws the move gives the case back.
MOVE_TEXT = {
    "elevate": "上级法院已决定对本案提级执行",
    "designate": "上级法院已决定对本案指令执行",
    "consolidate": "上级法院已决定对被执行人的案件集中执行",
    "cross": "上级法院已决定对本案交叉执行",
    "reconsidered": "经复议，上级法院已撤回变更执行法院的决定",
}
RESUME_TEXT = {
    "applicant_request": "依申请执行人申请",
    "assets_found": "因发现可供执行的财产",
    "objection_upheld": "因异议成立",
}
ZHONGBEN = "终结本次执行"


def _on(value: str) -> Facts:
    return {"on": date_text(value)} if value else {}


def _controlled(e: assets.AssetControlled) -> Facts:
    measure = MEASURE_TEXT.get(e.measure, "控制")
    amount = f"，{measure}金额{yuan(e.amount_fen)}" if e.measure == "freeze" else ""
    return {"measure": measure, "amount": amount}


def _command(e: commands.CommandIssued) -> Facts | None:
    if not e.case_id or e.action not in COMMAND_TEXT:
        return None
    return {"action": COMMAND_TEXT[e.action]}


def _moved(e: cases.CaseHandlingCourtChanged) -> Facts | None:
    if e.kind not in MOVE_TEXT or not e.to_court:
        return None
    return {"decision": MOVE_TEXT[e.kind], "court": court_name(e.to_court)}


def _closed(e: cases.CaseClosed) -> Facts | None:
    # A 终本 closure is told as the 终本 ruling (ZhongbenRuled), not twice.
    if e.method == ZHONGBEN:
        return None
    return {"method": e.method, **_on(e.closed_on)}


# fmt: off
NODES: Mapping[type[Message], Node] = {
    cases.CaseFiled: Node(
        "filed", "立案", BOTH,
        "已于{on}立案执行。本案案款专用账户（一案一账号）：{account}，交纳、领取案款"
        "只认此账户。您的案件查询码：{code}，凭码可在本院网站查询执行进展。"
        "咨询、投诉请拨打{hotline}诉讼服务热线。",
        lambda e: {"account": e.case_account or "另行告知", **_on(e.filed_on)},
    ),
    # Found is told to the applicant only: a debtor told before the control could move it.
    assets.AssetsPushedToParties: Node(
        "assets_found", "查控到财产", (APPLICANT,),
        "本院已查控到被执行人财产{count}项，将依法采取控制措施。",
        lambda e: {"count": str(len(e.asset_ids))} if e.asset_ids else None,
    ),
    assets.AssetControlled: Node(
        "asset_controlled", "控制财产", BOTH,
        "本院已依法{measure}被执行人财产一项{amount}。", _controlled,
    ),
    assets.ReferencePriceFixed: Node(
        "reference_price", "确定处置参考价", BOTH,
        "待处置财产的处置参考价已确定：{price}。",
        lambda e: {"price": yuan(e.price_fen)},
    ),
    assets.SaleStarted: Node(
        "sale_started", "启动拍卖变卖", BOTH,
        "本院已启动对被执行人财产的{mode}。",
        lambda e: {"mode": SALE_TEXT.get(e.mode, "变卖")},
    ),
    assets.SaleCompleted: Node(
        "sale_completed", "处置成交", BOTH,
        "被执行人财产已处置成交，成交价{proceeds}。",
        lambda e: {"proceeds": yuan(e.proceeds_fen)},
    ),
    funds.FundsArrived: Node(
        "money_received", "案款到账", BOTH,
        "案款专用账户于{on}收到案款{amount}。",
        lambda e: {"amount": yuan(e.amount_fen), **_on(e.arrived_on)},
    ),
    # Paid to the applicant's account: the applicant's business.
    funds.FundsPaid: Node(
        "money_paid", "发放案款", (APPLICANT,),
        "本院已于{on}向您的收款账户发放案款{amount}，请注意查收。",
        lambda e: {"amount": yuan(e.amount_fen), **_on(e.paid_on)},
    ),
    cases.ZhongbenRuled: Node(
        "zhongben", "终结本次执行", BOTH,
        "经穷尽财产调查措施未发现可供执行的财产，本院已于{on}裁定终结本次执行程序。"
        "发现被执行人有可供执行财产的，申请执行人可申请恢复执行。",
        lambda e: _on(e.ruled_on),
    ),
    cases.ExecutionResumed: Node(
        "resumed", "恢复执行", BOTH,
        "已于{on}{cause}恢复执行，新案号{new_case_number}。",
        lambda e: {"cause": RESUME_TEXT.get(e.cause, ""), "new_case_number": e.new_case_number,
                   **_on(e.resumed_on)},
    ),
    commands.CommandIssued: Node(
        "command", "上级法院督办", BOTH,
        "上级法院已决定对本案{action}，将依法加快办理。", _command,
    ),
    # Told once the case is at its new court (``NodeFacts``): that court greets the parties.
    cases.CaseHandlingCourtChanged: Node(
        "court_changed", "变更执行法院", BOTH, "{decision}，本案由{court}执行。", _moved,
    ),
    cases.CaseClosed: Node(
        "closed", "结案", BOTH,
        "已于{on}以“{method}”方式结案。", _closed,
    ),
}
# fmt: on

TOLD_TO: Mapping[str, tuple[str, ...]] = {node.name: node.to for node in NODES.values()}
"""Who is told of each node, by its name: the progress page shows a party only these."""

GREETING = "【{court}】{name}您好：您作为{role}的{case_number}案"


def party_keys(filed: cases.CaseFiled) -> list[tuple[str, str, cases.Party]]:
    """(key, role, party) of each party, in the filing's order: a0.., d0.."""
    return [
        *((f"a{i}", APPLICANT, p) for i, p in enumerate(filed.applicants)),
        *((f"d{i}", DEBTOR, p) for i, p in enumerate(filed.debtors)),
    ]


def notice_text(node: Node, facts: Facts, record: Record, party: Record) -> str:
    """The text of a node's notice to one party; a code in it is masked (``CODE_MASK``)."""
    values = {"on": date_text(record.get("filed_on", "")), "code": CODE_MASK,
              "hotline": record.get("hotline", ""), **facts}  # fmt: skip
    greeting = GREETING.format(
        court=record["court_name"], name=party["name"], role=ROLE_TEXT[party["role"]],
        case_number=record["case_number"],
    )  # fmt: skip
    body = node.text.format(**values)
    # "...案已于..." follows the case number directly; other bodies start a clause.
    return f"{greeting}{body}" if body.startswith("已") else f"{greeting}，{body}"


def with_code(text: str, code: str) -> str:
    """The text as sent: the masked code replaced by the party's code."""
    return text.replace(CODE_MASK, code)


def new_case(filed: cases.CaseFiled, court_code: str, court_name: str,
             hotline: str) -> Record:  # fmt: skip
    """A case's notification record: its number and court, its amounts and its nodes (its
    parties and notices are kept beside it: ``new_parties``, the repository)."""
    return {
        "case_id": filed.case_id,
        "case_number": filed.case_number,
        "court_code": court_code,
        "court_name": court_name,
        "filed_on": filed.filed_on,
        "case_account": filed.case_account,
        "claim_amount_fen": filed.claim_amount_fen,
        "received_fen": 0,
        "paid_fen": 0,
        "hotline": hotline,
        "nodes": [],
    }


def new_parties(filed: cases.CaseFiled, refs: Mapping[str, str]) -> dict[str, Record]:
    """The case's parties by key: name and role, the contact book's reference (never an ID
    number)."""
    return {
        key: {"role": role, "name": party.name, "ref": refs[key]}
        for key, role, party in party_keys(filed)
    }


def listed_ms(notice: Record) -> int:
    """When an undelivered notice was listed for its court (ms): when it was found
    undelivered (a notice of the first version: when it was queued)."""
    at = dt.datetime.fromisoformat(notice.get("undelivered_at") or notice["queued_at"])
    return int(at.timestamp() * 1000)


# --- the progress page ---------------------------------------------------------------------


def note_node(record: Record, entry: Record) -> bool:
    """Show a node on the progress page, once per node and date (the progress page says
    what happened when; a burst of one kind in a day is one line); whether it was new."""
    if any(n["node"] == entry["node"] and n["on"] == entry["on"] for n in record["nodes"]):
        return False
    record["nodes"].append(entry)
    return True
