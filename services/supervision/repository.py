"""The supervision service's records in Redis: the only code that knows their keys.

Records (under ``supervision:``), each JSON, listed per court (``IndexedRecords``):
- ``task:<id>`` (index ``task-court:<code>``, under the court that answers it and the court
  whose clock breached) and ``clock-tasks:<clock id>``: the tasks of a clock;
- ``clock:<clock id>``: a hash of what the clock's events said (due time, last day);
- ``petition:<id>`` (index ``petition-court:<code>``) and ``petition-case:<case id>``: the
  registered petitions naming a case (its repeat count);
- ``interference:<id>`` (index ``interference-court:<code>``) and
  ``interference-case:<case id>``; records are written once and never changed;
- ``officer:<id>`` (index ``officer-court:<code>``): an officer's postings;
- ``case:<id>``: a hash of the case's number, handling court, filing day and responsible
  officer (承办人), and
  ``case-number:<number>``: the case id of a number (what petitions name cases by);
- ``subject-case:<id>``: the case an asset, lead, command, entrustment or dispute belongs to
  (a clock's subject is the aggregate of the event that started it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from zhixing.records import IndexedRecords, Record
from zhixing.state import KeySpace, as_text, text_hash, transact

T = TypeVar("T")


# Every member of KEYS[1] (a case's records) moved from the index KEYS[2] to KEYS[3].
_MOVE_INDEXED = """
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  redis.call('SREM', KEYS[2], id)
  redis.call('SADD', KEYS[3], id)
end
return #ids
"""


class SupervisionRecords:
    def __init__(self, redis: aioredis.Redis, keys: KeySpace) -> None:
        self.redis = redis
        self.keys = keys
        self.tasks = IndexedRecords(redis, keys, "task", index="task-court")
        self.petitions = IndexedRecords(redis, keys, "petition", index="petition-court")
        self.register = IndexedRecords(redis, keys, "interference", index="interference-court")
        self.officers = IndexedRecords(redis, keys, "officer", index="officer-court")

    def clock_tasks_key(self, clock_id: str) -> str:
        return self.keys.key("clock-tasks", clock_id)

    def clock_key(self, clock_id: str) -> str:
        return self.keys.key("clock", clock_id)

    def petition_case_key(self, case_id: str) -> str:
        return self.keys.key("petition-case", case_id)

    def interference_case_key(self, case_id: str) -> str:
        return self.keys.key("interference-case", case_id)

    def case_key(self, case_id: str) -> str:
        return self.keys.key("case", case_id)

    def case_number_key(self, case_number: str) -> str:
        return self.keys.key("case-number", case_number)

    async def transact(self, watch: Sequence[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        return await transact(self.redis, list(watch), body)

    # --- cases ---------------------------------------------------------------------------

    def keep_case(
        self, pipe: Pipeline, case_id: str, case_number: str, court_code: str, filed_on: str = ""
    ) -> None:
        pipe.hset(self.case_key(case_id), mapping={"court_code": court_code})
        if case_number:
            pipe.hset(self.case_key(case_id), "case_number", case_number)
            pipe.set(self.case_number_key(case_number), case_id)
        if filed_on:  # a petition naming the case is received on that day or later
            pipe.hset(self.case_key(case_id), "filed_on", filed_on)

    def keep_officer(self, pipe: Pipeline, case_id: str, officer_id: str) -> None:
        """The case's responsible officer (承办人) now: the one whose acts its clocks watch,
        who may not answer a task about their own breach."""
        pipe.hset(self.case_key(case_id), "officer_id", officer_id)

    def subject_case_key(self, subject_id: str) -> str:
        return self.keys.key("subject-case", subject_id)

    def keep_subject_case(self, pipe: Pipeline, subject_id: str, case_id: str) -> None:
        pipe.set(self.subject_case_key(subject_id), case_id, nx=True)

    async def case_of_subject(self, subject_id: str) -> str | None:
        """The case a clock's subject is, or belongs to; None when unknown."""
        if await self.redis.exists(self.case_key(subject_id)):
            return subject_id
        case_id = await self.redis.get(self.subject_case_key(subject_id))
        return as_text(case_id) if case_id is not None else None

    def move_case(self, pipe: Pipeline, case_id: str, from_court: str, to_court: str) -> None:
        """The case is handled by ``to_court`` now: so are its interference records, listed
        under that court's register (in the same transaction, one script: the projection
        cannot read the case's records before it writes)."""
        pipe.hset(self.case_key(case_id), "court_code", to_court)
        if from_court and from_court != to_court:
            pipe.eval(
                _MOVE_INDEXED, 3, self.interference_case_key(case_id),
                self.register.index_key(from_court), self.register.index_key(to_court),
            )  # fmt: skip

    async def courts_of_cases(self, case_ids: Sequence[str]) -> dict[str, str]:
        """The handling court of each of these cases this service knows, now."""
        wanted = sorted(set(case_ids))
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for case_id in wanted:
                pipe.hget(self.case_key(case_id), "court_code")
            courts = await pipe.execute()
        return {c: as_text(court) for c, court in zip(wanted, courts, strict=True) if court}

    async def case(self, case_id: str) -> dict[str, str] | None:
        """The case's number and handling court, as filed and moved."""
        raw = await self.redis.hgetall(self.case_key(case_id))
        return {"case_id": case_id, "case_number": "", **text_hash(raw)} if raw else None

    async def case_by_number(self, case_number: str) -> dict[str, str] | None:
        case_id = await self.redis.get(self.case_number_key(case_number))
        return await self.case(as_text(case_id)) if case_id is not None else None

    # --- clocks and tasks ------------------------------------------------------------------

    def note_clock(self, pipe: Pipeline, clock_id: str, *, due_at: str, last_day: str) -> None:
        pipe.hset(self.clock_key(clock_id), mapping={"due_at": due_at, "last_day": last_day})

    async def clock(self, clock_id: str) -> dict[str, str]:
        return text_hash(await self.redis.hgetall(self.clock_key(clock_id)))

    async def task_ids_of_clock(self, clock_id: str, client: Any = None) -> list[str]:
        members = await (client or self.redis).smembers(self.clock_tasks_key(clock_id))
        return sorted(as_text(m) for m in members)

    def add_task(self, pipe: Pipeline, task: Record) -> None:
        courts = sorted({task["court_code"], task["breached_court"]})
        self.tasks.add(pipe, task["task_id"], task, courts)
        pipe.sadd(self.clock_tasks_key(task["clock_id"]), task["task_id"])

    # --- petitions ---------------------------------------------------------------------------

    async def petitions_of_case(self, case_id: str, client: Any = None) -> set[str]:
        members = await (client or self.redis).smembers(self.petition_case_key(case_id))
        return {as_text(m) for m in members}

    def count_petition(self, pipe: Pipeline, case_id: str, petition_id: str) -> None:
        pipe.sadd(self.petition_case_key(case_id), petition_id)

    async def repeat_counts(self, case_ids: Sequence[str]) -> list[int]:
        """How many registered petitions name each case."""
        if not case_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.scard(self.petition_case_key(case_id))
            return [int(n) for n in await pipe.execute()]

    # --- the register ------------------------------------------------------------------------

    def add_interference(self, pipe: Pipeline, record: Record) -> None:
        self.register.add(pipe, record["record_id"], record, [record["court_code"]])
        pipe.sadd(self.interference_case_key(record["case_id"]), record["record_id"])

    async def interference_of_case(self, case_id: str) -> list[Record]:
        ids = sorted(as_text(i) for i in await self.redis.smembers(
            self.interference_case_key(case_id)))  # fmt: skip
        return await self.register.many(ids)
