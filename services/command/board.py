"""The command centre's wall (指挥大屏) as a projection: what is open right now, per court.

Kept from events, so the dashboard's queries read indexes and never scan cases:

- open cases by node (执行节点): 立案 → 财产查控 → 财产控制 → 财产处置 → 案款发放, the
  furthest node a case has reached (案款发放 once money arrives in its account, whether the
  debtor paid, frozen money was deducted or an asset sold); a closed case leaves the board,
  except one closed as 终结本次执行: it shows at the node 终本 (not an open case) while its
  re-query duty lasts, and leaves it when enforcement resumes (ExecutionResumed: the 执恢
  case is a case of its own), the ruling is revoked (ZhongbenRevoked) or the re-query
  period ends (ZhongbenRequeryPeriodEnded, on the asset topic);
- open clocks by state: running, warned (预警), breached (超期), paused (中止), each a sorted
  set per court scored by the due time, so the most urgent come first;
- command actions pending at the receiving court: not yet signed for, or (督办, 函告纠正)
  not yet answered.

Every count is the size of a set (``ZCARD``), not a counter, so a redelivered event cannot
make it drift. Topics are not ordered with each other (an asset's control may be read before
its case's filing), so each case remembers how far it got and where it is, and is placed on
the board once both are known.

Each batch publishes the courts it changed (``PUBLISH`` inside the consumer's transaction:
only committed changes are announced); the dashboard's event stream forwards them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.message import Message

from services.command.timelines import TIES
from zhixing.clock_events import each_payload
from zhixing.clock_states import OPEN_STATES, condition_of
from zhixing.events import Event, registered_event_types
from zhixing.projection import Transaction
from zhixing.state import KeySpace, as_text, read_hashes, text_hash
from zhixing.v1 import (
    asset_events_pb2,
    case_events_pb2,
    command_events_pb2,
    deadline_events_pb2,
    funds_events_pb2,
)
from zhixing.v1 import deadline_events_pb2 as pb


@dataclass(frozen=True)
class Node:
    id: str
    title: str


NODES = (
    Node("filed", "立案"),
    Node("querying", "财产查控"),
    Node("controlling", "财产控制"),
    Node("disposing", "财产处置"),
    Node("paying", "案款发放"),
)
NODE_IDS = tuple(node.id for node in NODES)
# Closed as 终结本次执行 and in re-query (zhongben.requery): on the board, but not open.
ZHONGBEN = Node("zhongben", "终本")
ZHONGBEN_METHOD = "终结本次执行"  # CaseClosed.method
BOARD_NODES = (*NODES, ZHONGBEN)
BOARD_NODE_IDS = tuple(node.id for node in BOARD_NODES)

# Event (by payload type) → the node it shows the case has reached (the case named by
# ``case_id``).
REACHES: dict[type[Message], int] = {
    case_events_pb2.CaseFiled: 0,
    asset_events_pb2.NetworkQueryStarted: 1,
    asset_events_pb2.AssetControlled: 2,
    asset_events_pb2.WaitingSeizureRegistered: 2,
    asset_events_pb2.ReferencePriceStarted: 3,
    asset_events_pb2.ReferencePriceFixed: 3,
    asset_events_pb2.SaleStarted: 3,
    asset_events_pb2.SelfDisposalPermitted: 3,
    funds_events_pb2.FundsArrived: 4,
}
# Case events that move a case on the board without reaching a node.
CASE_CHANGES = (
    case_events_pb2.ApplicationReceived,
    case_events_pb2.CaseNumberIssued,
    case_events_pb2.CaseClosed,
    case_events_pb2.CaseHandlingCourtChanged,
    case_events_pb2.ZhongbenRevoked,
    case_events_pb2.ExecutionResumed,
    asset_events_pb2.ZhongbenRequeryStarted,
    asset_events_pb2.ZhongbenRequeryPeriodEnded,
)
# Events that end a 终本 case's time at the node 终本, and the word the case keeps for it.
ZHONGBEN_ENDS: dict[type[Message], str] = {
    case_events_pb2.ZhongbenRevoked: "revoked",
    case_events_pb2.ExecutionResumed: "resumed",
    asset_events_pb2.ZhongbenRequeryPeriodEnded: "requery_ended",
}

CLOCK_STATES = tuple(state.value for state in OPEN_STATES)

# Commands that stay pending after the receiving court signs for them, until it answers.
ANSWERED_BY: dict[str, type[Message]] = {
    "urge": command_events_pb2.UrgeReplied,
    "correction_letter": command_events_pb2.CorrectionReported,
}


def _since(case: dict[str, str], place: tuple[str, str]) -> int:
    """A case's score in its node: open cases the longest open first (since filing), 终本
    cases the longest in 终本 first (since closing); 0 until that act is known."""
    return int(case.get("closed_at" if place[1] == ZHONGBEN.id else "filed_at") or 0)


def case_label(number: str, received_on: str, receipt: str = "") -> str:
    """How a page names a case: its case number; an application not yet docketed (收案, no
    number yet) by its number in the court's register of applications (收件编号), or where
    an older event gave none, by the day it was received."""
    if number:
        return number
    if receipt:
        return f"{receipt}（待立案）"
    return f"待立案申请（{received_on}收件）" if received_on else "待立案申请"


def _merged(replies: Sequence[Any]) -> list[tuple[float, str]]:
    """Several sorted sets' ZRANGE WITHSCORES replies as one list, by score then member."""
    return sorted((float(score), as_text(member)) for reply in replies for member, score in reply)


def _ms(timestamp: Any) -> int:
    return int(timestamp.ToMilliseconds()) if timestamp.ByteSize() else 0


def _followed() -> tuple[type[Message], ...]:
    """What the board acts on: a clock's events (ClocksOpened carrying its openings), those
    tying a subject to its case (``TIES``), those that move a case on the board, and every
    command event."""
    registered = [event_type.payload_class for event_type in registered_event_types()]
    clocks = [payload for payload in registered
              if payload.DESCRIPTOR.file.name == pb.DESCRIPTOR.name
              and "clock" in payload.DESCRIPTOR.fields_by_name]  # fmt: skip
    commands = [payload for payload in registered
                if payload.DESCRIPTOR.file.name == command_events_pb2.DESCRIPTOR.name]  # fmt: skip
    return tuple(
        dict.fromkeys([*clocks, pb.ClocksOpened, *TIES, *REACHES, *CASE_CHANGES, *commands])
    )


class Board:
    # What the consumer gives it (``SelectiveHandler``); the rest of its topics' events (an
    # answered query, a control asked for) move nothing on the board.
    handles: tuple[type[Message], ...] = _followed()

    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys

    # --- keys --------------------------------------------------------------------------

    def case_key(self, case_id: str) -> str:
        return self._keys.key("board", "case", case_id)

    def node_key(self, court: str, node: str) -> str:
        return self._keys.key("board", "court", court, "node", node)

    def clock_key(self, clock_id: str) -> str:
        return self._keys.key("board", "clock", clock_id)

    def clocks_key(self, court: str, state: str) -> str:
        return self._keys.key("board", "court", court, "clocks", state)

    def command_key(self, command_id: str) -> str:
        return self._keys.key("board", "command", command_id)

    def commands_key(self, court: str) -> str:
        return self._keys.key("board", "court", court, "commands")

    def tie_key(self, subject_id: str) -> str:
        return self._keys.key("board", "case-of", subject_id)

    @property
    def channel(self) -> str:
        return self._keys.key("board", "changes")

    # --- the projection ----------------------------------------------------------------

    async def __call__(self, events: Sequence[Event[Message]], tx: Transaction) -> None:
        known: dict[str, dict[str, str]] = {}  # key → what this batch knows of the hash
        changed: set[str] = set()

        async def load(key: str) -> dict[str, str]:
            if key not in known:
                known[key] = text_hash(await tx.redis.hgetall(key))
            return known[key]

        # The hashes the batch will read, in one round trip rather than one each.
        touched = sorted({key for _, payload in each_payload(events)
                          for key in self._keys_touched(payload)})  # fmt: skip
        known.update(zip(touched, await read_hashes(tx.redis, touched), strict=True))

        for event, payload in each_payload(events):  # a clock at a time
            contract = payload.DESCRIPTOR.file.name  # the .proto the event is declared in
            clock = getattr(payload, "clock", None)
            if contract == deadline_events_pb2.DESCRIPTOR.name and clock is not None:
                await self._clock(tx, payload, event, load, changed)
                continue
            tie = TIES.get(type(payload))
            if tie is not None:
                cases = getattr(payload, tie)
                first = cases if isinstance(cases, str) else (list(cases) or [""])[0]
                if first:
                    tx.pipe.set(self.tie_key(event.envelope.aggregate_id), first)
            case_id = getattr(payload, "case_id", "")
            if type(payload) in REACHES or isinstance(payload, CASE_CHANGES):
                await self._case(tx, payload, event, case_id, load, changed)
            if contract == command_events_pb2.DESCRIPTOR.name:
                await self._command(tx, payload, event, load, changed)
        if changed:
            tx.pipe.publish(self.channel, json.dumps(sorted(changed)))

    def _keys_touched(self, payload: Any) -> list[str]:
        """The case, clock or command hashes an event's ``payload`` may read (a superset is
        harmless)."""
        clock: Any = getattr(payload, "clock", None)
        if clock is not None and clock.clock_id:
            return [self.clock_key(clock.clock_id)]
        keys = []
        if case_id := getattr(payload, "case_id", ""):
            keys.append(self.case_key(case_id))
        if command_id := getattr(payload, "command_id", ""):
            keys.append(self.command_key(command_id))
        return keys

    async def _case(self, tx: Transaction, payload: Message, event: Event[Message],
                    case_id: str, load: Any, changed: set[str]) -> None:  # fmt: skip
        if not case_id:
            return
        key = self.case_key(case_id)
        case = await load(key)
        before = dict(case)
        if isinstance(payload, case_events_pb2.ApplicationReceived):
            case.setdefault("court", payload.court_code)
            case["received_on"] = payload.received_on
            if payload.receipt_number:
                case["receipt"] = payload.receipt_number
        elif isinstance(payload, case_events_pb2.CaseFiled):
            case.update(court=payload.court_code, filed_at=str(_ms(event.envelope.occurred_at)))
        elif isinstance(payload, case_events_pb2.CaseNumberIssued):
            case["number"] = payload.case_number
        elif isinstance(payload, case_events_pb2.CaseClosed):
            case.update(closed=payload.method or "closed",
                        closed_at=str(_ms(event.envelope.occurred_at)))  # fmt: skip
        elif isinstance(payload, case_events_pb2.CaseHandlingCourtChanged):
            case["court"] = payload.to_court
        elif isinstance(payload, asset_events_pb2.ZhongbenRequeryStarted):
            if payload.requery_number > int(case.get("requeries") or 0):
                case["requeries"] = str(payload.requery_number)
        elif (ended := ZHONGBEN_ENDS.get(type(payload))) is not None:
            case.setdefault("zhongben_ended", ended)
        reached = REACHES.get(type(payload))
        if reached is not None and reached > int(case.get("rank", "-1")):
            case["rank"] = str(reached)
        if case == before:
            return
        tx.pipe.hset(key, mapping=dict(case))
        old, new = self._place(before), self._place(case)
        if old != new:
            if old:
                tx.pipe.zrem(self.node_key(*old), case_id)
                changed.add(old[0])
            if new:
                tx.pipe.zadd(self.node_key(*new), {case_id: _since(case, new)})
                changed.add(new[0])
        elif new and _since(case, new) != _since(before, new):
            # Placed before the act that dates it (an asset event read before the filing,
            # which travels on another topic): dated now, as a replay in the topics' other
            # order places it.
            tx.pipe.zadd(self.node_key(*new), {case_id: _since(case, new)})
            changed.add(new[0])
        elif new and new[1] == ZHONGBEN.id:
            changed.add(new[0])  # a re-query round: the node's cases show their count

    @staticmethod
    def _place(case: dict[str, str]) -> tuple[str, str] | None:
        """(court, node) where a case shows on the board: an open case at the furthest node
        it reached, a 终本 case at 终本 while in re-query; None until filed, or closed."""
        if not case.get("court") or "rank" not in case:
            return None
        if case.get("closed"):
            in_requery = case["closed"] == ZHONGBEN_METHOD and not case.get("zhongben_ended")
            return (case["court"], ZHONGBEN.id) if in_requery else None
        return case["court"], NODE_IDS[int(case["rank"])]

    async def _clock(self, tx: Transaction, payload: Any, event: Event[Message],
                     load: Any, changed: set[str]) -> None:  # fmt: skip
        ref = payload.clock
        key = self.clock_key(ref.clock_id)
        clock = await load(key)
        before = dict(clock)
        if isinstance(payload, pb.ClockCleared):
            if before.get("court"):
                tx.pipe.zrem(self.clocks_key(before["court"], before["state"]), ref.clock_id)
                changed.add(before["court"])
            tx.pipe.delete(key)
            clock.clear()
            return
        if not isinstance(payload, pb.ClockOpened) and not clock:
            return  # an event of a clock already cleared (or never opened here)
        at = str(_ms(event.envelope.occurred_at))
        clock.update(rule_id=ref.rule_id, subject_id=ref.subject_id, court=ref.court_code)
        if isinstance(payload, pb.ClockOpened):
            clock.clear()
            clock.update(rule_id=ref.rule_id, subject_id=ref.subject_id, court=ref.court_code,
                         state="running", due_at=str(_ms(payload.due_at)), opened_at=at,
                         last_day=payload.last_day)  # fmt: skip
        elif isinstance(payload, pb.ClockWarned):
            clock.update(warned_at=at, warning=payload.warning)
        elif isinstance(payload, pb.ClockBreached):
            clock.update(breached_at=at)
        elif isinstance(payload, pb.ClockEscalated):
            clock.update(level=str(payload.level), escalated_to=payload.to_court_code)
        elif isinstance(payload, pb.ClockPaused):
            clock["paused"] = "1"
        elif isinstance(payload, pb.ClockResumed):
            clock.pop("paused", None)
            clock.update(due_at=str(_ms(payload.due_at)), last_day=payload.last_day)
        elif isinstance(payload, pb.ClockExtended | pb.ClockRecomputed):
            # A new due time: its warnings are yet to come. A breach stays a breach: an
            # extension granted after the limit ran out does not undo it (issue 17), and the
            # engine reports no second breach for it.
            clock.update(due_at=str(_ms(payload.due_at)), last_day=payload.last_day)
            if isinstance(payload, pb.ClockExtended):
                for field in ("warned_at", "warning"):
                    clock.pop(field, None)
        clock["state"] = condition_of(
            cleared=False, paused=bool(clock.get("paused")),
            breached=bool(clock.get("breached_at")), warned=bool(clock.get("warned_at")),
        ).value  # fmt: skip
        if clock == before:
            return
        tx.pipe.delete(key)
        tx.pipe.hset(key, mapping=dict(clock))
        where = (clock["court"], clock["state"], clock["due_at"])
        was = (before.get("court"), before.get("state"), before.get("due_at"))
        if before.get("court") and was != where:
            tx.pipe.zrem(self.clocks_key(before["court"], before["state"]), ref.clock_id)
            changed.add(before["court"])
        tx.pipe.zadd(self.clocks_key(clock["court"], clock["state"]),
                     {ref.clock_id: int(clock["due_at"])})  # fmt: skip
        changed.add(clock["court"])

    async def _command(self, tx: Transaction, payload: Any, event: Event[Message],
                       load: Any, changed: set[str]) -> None:  # fmt: skip
        command_id = getattr(payload, "command_id", "")
        if not command_id:
            return
        key = self.command_key(command_id)
        command = await load(key)
        if isinstance(payload, command_events_pb2.CommandIssued):
            if command:
                return
            command.update(action=payload.action, court=payload.target_court,
                           case_id=payload.case_id, issued_at=str(_ms(event.envelope.occurred_at)),
                           pending="1")  # fmt: skip
            tx.pipe.hset(key, mapping=dict(command))
            issued = {command_id: int(command["issued_at"])}
            tx.pipe.zadd(self.commands_key(command["court"]), issued)
            changed.add(command["court"])
            return
        if not command.get("pending"):
            return
        answered_by = ANSWERED_BY.get(command["action"])
        done = (
            (isinstance(payload, command_events_pb2.CommandAcknowledged) and answered_by is None)
            or (answered_by is not None and isinstance(payload, answered_by))
            or (
                isinstance(payload, command_events_pb2.CommandReconsiderationAnswered)
                and not payload.upheld
            )
        )
        if done:
            command.pop("pending")
            tx.pipe.hdel(key, "pending")
            tx.pipe.zrem(self.commands_key(command["court"]), command_id)
            changed.add(command["court"])

    # --- queries -----------------------------------------------------------------------

    async def _members(self, key: str, start: int, end: int) -> list[str]:
        return [as_text(i) for i in await self._redis.zrange(key, start, end)
                if isinstance(i, bytes | str)]  # fmt: skip

    async def counts(self, courts: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per court: cases by node (``open_cases``: those of the open nodes, 终本 not
        among them), clocks by state, commands pending (ZCARDs only)."""
        pipe = self._redis.pipeline(transaction=False)
        for court in courts:
            for node in BOARD_NODE_IDS:
                pipe.zcard(self.node_key(court, node))
            for state in CLOCK_STATES:
                pipe.zcard(self.clocks_key(court, state))
            pipe.zcard(self.commands_key(court))
        replies = iter(await pipe.execute())
        result: dict[str, dict[str, int]] = {}
        for court in courts:
            row = {f"node_{node}": int(next(replies)) for node in BOARD_NODE_IDS}
            row |= {f"clocks_{state}": int(next(replies)) for state in CLOCK_STATES}
            row["commands_pending"] = int(next(replies))
            row["open_cases"] = sum(row[f"node_{node}"] for node in NODE_IDS)
            result[court] = row
        return result

    async def cases_at(
        self, courts: Sequence[str], node: str, *, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """The cases of ``courts`` at a node: open cases the longest-open first; at 终本, the
        longest in 终本 first, with the re-query rounds started."""
        keys = [self.node_key(court, node) for court in courts]
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.zcard(key)
        # One court's page is a range of its set; several courts' is within each one's first
        # offset + limit, merged.
        start = offset if len(keys) == 1 else 0
        for key in keys:
            pipe.zrange(key, start, offset + limit - 1, withscores=True)
        replies = await pipe.execute()
        total = sum(int(n) for n in replies[: len(keys)])
        merged = _merged(replies[len(keys) :])
        ids = [case_id for _, case_id in merged[offset - start : offset - start + limit]]
        cases = await read_hashes(self._redis, [self.case_key(i) for i in ids])
        rows = []
        for case_id, case in zip(ids, cases, strict=True):
            rows.append({"case_id": case_id, "case_number": case.get("number", ""),
                         "court_code": case.get("court", ""), "node": node,
                         "filed_at": int(case.get("filed_at") or 0),
                         "closed_at": int(case.get("closed_at") or 0),
                         "requeries": int(case.get("requeries") or 0)})  # fmt: skip
        return total, rows

    async def alerts(self, courts: Sequence[str], states: Sequence[str], *, per_court: int,
                     first: int | None = None) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
        """Open clocks in ``states`` of ``courts``, at most ``per_court`` (the most urgent) of
        each court and state, with the case each belongs to where it is known; and how many
        those are. With ``first``, only the ``first`` most urgent of them all (by due time,
        then clock id) are read: a jurisdiction's thirteen courts need not be read whole
        for the page that shows two hundred."""
        pipe = self._redis.pipeline(transaction=False)
        for court in courts:
            for state in states:
                pipe.zrange(self.clocks_key(court, state), 0, per_court - 1, withscores=True)
        urgent = _merged(await pipe.execute())
        ids = [clock_id for _, clock_id in urgent[:first]]
        if not ids:
            return len(urgent), []
        read = await read_hashes(self._redis, [self.clock_key(i) for i in ids])
        clocks = [(i, c) for i, c in zip(ids, read, strict=True) if c]
        refs = await self.case_refs([c["subject_id"] for _, c in clocks])
        rows = []
        for (clock_id, c), (case_id, number) in zip(clocks, refs, strict=True):
            rows.append({
                "clock_id": clock_id, "rule_id": c["rule_id"], "subject_id": c["subject_id"],
                "case_id": case_id, "case_number": number,
                "court_code": c["court"], "state": c["state"], "due_at": int(c["due_at"]),
                "last_day": c.get("last_day", ""), "warning": c.get("warning", ""),
                "level": int(c.get("level") or 0), "escalated_to": c.get("escalated_to", ""),
                "opened_at": int(c.get("opened_at") or 0),
                "warned_at": int(c.get("warned_at") or 0),
                "breached_at": int(c.get("breached_at") or 0),
            })  # fmt: skip
        return len(urgent), rows

    async def case_refs(self, subjects: Sequence[str]) -> list[tuple[str, str]]:
        """Each subject's case (its id and label, both '' when the subject is of no known
        case): a case itself, or the case an asset, lead, matter or dispute was tied to. The
        label is the case number, or for an application not yet docketed what names it
        (``case_label``)."""
        if not subjects:
            return []
        tied = await self._redis.mget([self.tie_key(s) for s in subjects])
        case_ids = [as_text(t) if t else s for s, t in zip(subjects, tied, strict=True)]
        labels = await self.labels(case_ids)
        refs = []
        for subject, case_id, label in zip(subjects, case_ids, labels, strict=True):
            is_case = label is not None or case_id != subject
            refs.append((case_id if is_case else "", label or ""))
        return refs

    async def labels(self, case_ids: Sequence[str]) -> list[str | None]:
        """Each case's label (``case_label``); None for an id the board has not heard of as
        a case or an application."""
        pipe = self._redis.pipeline(transaction=False)
        for case_id in case_ids:
            pipe.hmget(self.case_key(case_id), ["number", "received_on", "receipt"])
        labels: list[str | None] = []
        for fields in await pipe.execute():
            if all(f is None for f in fields):
                labels.append(None)
            else:
                labels.append(case_label(*(as_text(f) if f else "" for f in fields)))
        return labels

    async def cases(self, case_ids: Sequence[str]) -> list[dict[str, str]]:
        """The board's hash of each case (number, court, filed_at, rank, closed, closed_at)."""
        return await read_hashes(self._redis, [self.case_key(i) for i in case_ids])

    async def pending_commands(
        self, courts: Sequence[str], limit: int = 200
    ) -> list[dict[str, Any]]:
        """Command actions pending at ``courts``, the longest waiting first."""
        pipe = self._redis.pipeline(transaction=False)
        for court in courts:
            pipe.zrange(self.commands_key(court), 0, limit - 1, withscores=True)
        waiting = _merged(await pipe.execute())
        ids = [command_id for _, command_id in waiting[:limit]]
        read = await read_hashes(self._redis, [self.command_key(i) for i in ids])
        commands = [{"command_id": i, **c} for i, c in zip(ids, read, strict=True)]
        # A command about no case (调配力量 lends officers) has no case number to show.
        about_cases = [c for c in commands if c.get("case_id")]
        labels = await self.labels([c["case_id"] for c in about_cases])
        for command, label in zip(about_cases, labels, strict=True):
            command["case_number"] = label or ""
        for command in commands:
            command.setdefault("case_number", "")
        return commands
