"""What the notification service answers: a case's notices (for the courts that may read the
case), the notices a court must deliver another way, and the public progress page a party
opens with a case query code (案件查询码).

The progress page asks for no token, so it is guarded otherwise: an unknown, wrong or
malformed code gets one and the same 404 (whether a case exists is never revealed), and the
lookups are counted per client address and per code on the injected clock (429 with the
seconds to wait once either is over its limit). Behind reverse proxies the client address is
read from X-Forwarded-For, but only when the peer is a configured trusted proxy
(``client_address``): otherwise every party would share the proxy's one bucket, or anyone
could name any address."""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from services.notification import domain
from services.notification.domain import UNDELIVERED, Record
from services.notification.repository import NotificationRecords, is_inline
from services.notification.settings import NotificationSettings
from zhixing.auth import (
    Identity,
    PrincipalKind,
    Role,
    readable_court,
    require_role,
    require_visible,
)
from zhixing.errors import Invalid, NotFound
from zhixing.paging import DEFAULT_PAGE, MAX_PAGE, Page
from zhixing.service import ServiceContext

NO_SUCH_CODE = "查询码无效：请核对通知中的案件查询码（10位，不含0、1、I、L、O）"
"""The one answer to an unknown, wrong or malformed code."""

MAX_NOTICES = MAX_PAGE
"""The most notices of a case one read answers (``limit``): a case of a hundred parties on
each side has hundreds of notices a node, read a page at a time (``X-Next-Cursor``)."""

DEFAULT_NOTICES = DEFAULT_PAGE

MAX_UNDELIVERED = 500
"""The most undelivered notices one read answers (``limit``)."""

LISTERS = (Role.CLERK, Role.OFFICER, Role.COMMAND)
"""Who lists what must be delivered another way (and sees to it)."""


MAX_FORWARDED_HOPS = 20
"""The most X-Forwarded-For entries read (from the right); a longer chain is someone's
padding, and the proxies' own entries are the rightmost."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The address the progress page counts lookups by: the peer, unless the peer is one of
    the ``trusted`` reverse proxies; then the rightmost X-Forwarded-For entry that is not one
    of them (each proxy appends the address it got the request from, so entries left of
    that are whatever the client wrote and are never believed). A malformed entry where a
    proxy's should be ends the walk at the last address known good."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        # A dual-stack socket reports an IPv4 proxy as ::ffff:a.b.c.d.
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return any(ip in network or (mapped is not None and mapped in network)
                   for network in trusted)  # fmt: skip

    if peer is None:
        return "unknown"
    if not trusted or not is_trusted(peer):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    found = peer
    for hop in reversed([h for h in hops if h][-MAX_FORWARDED_HOPS:]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return found
        found = hop
        if not is_trusted(hop):
            return hop
    return found


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"查询过于频繁，请{retry_after_s}秒后再试")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Progress:
    case_number: str
    court_name: str
    role: str
    case_account: str
    claim_amount_fen: int
    received_fen: int
    paid_fen: int | None  # None for a debtor: the payment is the applicant's business
    nodes: list[tuple[str, str]]  # (date, title)


class Reads:
    def __init__(
        self, ctx: ServiceContext, records: NotificationRecords, settings: NotificationSettings
    ) -> None:
        self.ctx = ctx
        self.records = records
        self.settings = settings

    async def case(
        self, case_id: str, identity: Identity, limit: int = DEFAULT_NOTICES,
        after: str | None = None,
    ) -> tuple[Record, Page[Record]]:  # fmt: skip
        """A case's record and a page of its notices (``limit`` in the order queued, after
        the cursor ``after``), for the courts that may read the case."""
        if not 1 <= limit <= MAX_NOTICES:
            raise Invalid(f"limit must be 1 to {MAX_NOTICES}", loc=("query", "limit"))
        record = await self.records.get(case_id)  # as kept: who may read it, before any split
        require_visible(identity, record["court_code"] if record else None, f"case {case_id}")
        assert record is not None
        if is_inline(record):  # kept by a version before: split first
            record = await self.records.case(case_id)
            assert record is not None
        notices, next_cursor = await self.records.notice_page(case_id, limit, after)
        return record, Page(notices, next_cursor)

    async def undelivered(
        self, identity: Identity, court: str | None, limit: int = MAX_UNDELIVERED
    ) -> list[tuple[Record, Record]]:
        """(case, notice) of the ``limit`` oldest undelivered notices of ``court`` (default:
        the caller's) and the courts below it still listed (within the retention), oldest
        first."""
        if not 1 <= limit <= MAX_UNDELIVERED:
            raise Invalid(f"limit must be 1 to {MAX_UNDELIVERED}", loc=("query", "limit"))
        if identity.kind is not PrincipalKind.SERVICE:
            require_role(identity, *LISTERS)
        court = readable_court(identity, court)
        retention = dt.timedelta(days=self.settings.undelivered_retention_days)
        since_ms = int((self.ctx.clock.now() - retention).timestamp() * 1000)
        pairs = await self.records.undelivered_in_jurisdiction(court, since_ms, limit)
        cases = {r["case_id"]: r for r in await self.records.many(sorted({c for c, _ in pairs}))}
        for case_id in [i for i, r in cases.items() if is_inline(r)]:
            upgraded = await self.records.case(case_id)  # split: kept by a version before
            if upgraded is not None:
                cases[case_id] = upgraded
        found = []
        for (case_id, _), notice in zip(pairs, await self.records.notices(pairs), strict=True):
            if case_id in cases and notice is not None and notice["status"] == UNDELIVERED:
                found.append((cases[case_id], notice))
        return found  # in the order listed: oldest first

    async def progress(self, code_text: str, client: str) -> Progress:
        """The case's progress for the party whose code this is."""
        await self._count("address", client, self.settings.progress_limit_per_address)
        code = domain.normalised_code(code_text)
        if code is None:
            raise NotFound(NO_SUCH_CODE)
        secret = self.settings.secret
        hashed = domain.code_hash(secret, code)
        await self._count("code", hashed, self.settings.progress_limit_per_code)
        found = await self.records.party_of_code(hashed)
        record = await self.records.case(found[0]) if found else None
        party = await self.records.party(*found) if found and record else None
        if found is None or record is None or party is None:
            raise NotFound(NO_SUCH_CODE)
        case_id, party_key = found
        expected = domain.normalised_code(domain.query_code(secret, case_id, party_key)) or ""
        if not hmac.compare_digest(expected, code):
            raise NotFound(NO_SUCH_CODE)
        role = party["role"]
        # A party sees the nodes it is told of and no other (domain.NODES' ``to``): a debtor
        # shown 查控到财产 before the control could move the property; what is paid out to
        # the applicant (发放案款) is the applicant's. A node unknown to the table is shown
        # to nobody.
        told = [n for n in record["nodes"] if role in domain.TOLD_TO.get(n["node"], ())]
        paid_told = role in domain.TOLD_TO["money_paid"]
        return Progress(
            case_number=record["case_number"], court_name=record["court_name"],
            role=domain.ROLE_TEXT[role], case_account=record["case_account"],
            claim_amount_fen=record["claim_amount_fen"], received_fen=record["received_fen"],
            paid_fen=record["paid_fen"] if paid_told else None,
            nodes=[(n["on"], n["title"]) for n in told],
        )  # fmt: skip

    async def _count(self, scope: str, who: str, limit: int) -> None:
        """One more lookup in the current window (on the injected clock); RateLimited with
        the seconds left in the window once over ``limit``."""
        window_s = self.settings.progress_window_s
        now = self.ctx.clock.now().timestamp()
        window = int(now // window_s)
        count = await self.records.count(
            self.records.rate_key(scope, who, window), ttl_s=2 * window_s
        )
        if count > limit:
            raise RateLimited(max(1, math.ceil((window + 1) * window_s - now)))
