"""The network query (网络查控): a filed case is queried on every channel for every debtor;
the agency worker sends the units that are due and applies the answers; a channel that
keeps failing, or is never answered, is reported and can be retried by an officer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from redis.asyncio.client import Pipeline

from services.asset_control.agency import AgencySettings
from services.asset_control.domain import (
    HOLDING,
    AssetStatus,
    QueryRef,
    asset_id_for,
    requery_completed,
    summary,
)
from services.asset_control.handler import Handler
from services.asset_control.leads import Leads
from services.asset_control.repository import AssetRecords
from services.asset_control.seizures import Seizures
from zhixing.assets import CHANNELS
from zhixing.auth import Identity
from zhixing.bounds import MAX_ASSETS_PER_CASE
from zhixing.errors import NotFound
from zhixing.persons import id_number_text
from zhixing.projection import INFRASTRUCTURE_ERRORS
from zhixing.service import ServiceContext
from zhixing.v1 import agency_gateway_pb2 as agency_pb
from zhixing.v1 import asset_events_pb2 as pb
from zhixing.v1 import case_events_pb2

log = structlog.get_logger(__name__)


class NetworkQuery(Handler):
    def __init__(
        self, ctx: ServiceContext, records: AssetRecords, settings: AgencySettings,
        seizures: Seizures, leads: Leads,
    ) -> None:  # fmt: skip
        super().__init__(ctx, records, settings)
        self.seizures = seizures
        self.leads = leads

    def on_case_filed(
        self, pipe: Pipeline, filed: case_events_pb2.CaseFiled, event_id: str
    ) -> dict[str, Any]:
        """Queue the network query on every channel for every debtor, and the leads; the
        case record, as written.

        Called from the consumer inside its transaction (``pipe`` is in MULTI mode); the
        event is applied once, so no read is needed.
        """
        debtors = [{"name": d.name, "id_number": id_number_text(d.id_number)}
                   for d in filed.debtors]  # fmt: skip
        case: dict[str, Any] = {
            "case_id": filed.case_id,
            "court_code": filed.court_code,
            "case_number": filed.case_number,
            "claim_fen": filed.claim_amount_fen,
            "costs_fen": filed.costs_fen,
            "needed_fen": filed.claim_amount_fen + filed.costs_fen,
            "debtors": debtors,
            "parties": [p.name for p in filed.applicants] + [d["name"] for d in debtors],
            "reserved_fen": 0,
            "assets": [],
            "leads": [],
        }
        self.start_round(pipe, case, causation_id=event_id)
        for lead in filed.asset_leads:
            self.leads.record_lead(
                pipe, case, lead.lead_id, lead.description, lead.channel, lead.urgent
            )
        self.records.put(pipe, self.records.case_key(filed.case_id), case)
        return case

    def start_round(self, pipe: Pipeline, case: dict[str, Any], causation_id: str = "") -> int:
        """Start the case's next query round (the first at filing): every channel for
        every debtor, queued fairly (``schedule.py``), NetworkQueryStarted staged; the
        round is set on ``case``, which the caller writes. Units of the round before that
        are still queued leave the queue when they come due (their round is not the
        case's). Returns the round."""
        round_ = case["query"]["round"] + 1 if "query" in case else 1
        units = [
            {"debtor": i, "channel": channel.value, "status": "pending", "attempts": 1,
             "tries": 0, "error": "", "asset_count": 0}
            for i in range(len(case["debtors"]))
            for channel in CHANNELS
        ]  # fmt: skip
        case["query"] = {"round": round_, "status": "running", "units": units}
        now = self.now_ms()
        for unit in range(len(units)):
            member = QueryRef(case["case_id"], round_, unit, 1).member
            self.records.work.schedule_query(pipe, member, case["court_code"], now)
        started = pb.NetworkQueryStarted(
            case_id=case["case_id"], round=round_, channels=[c.value for c in CHANNELS]
        )
        self.stage(pipe, started, case["case_id"], case["court_code"], causation_id=causation_id)
        return round_

    async def any_due(self) -> bool:
        """Whether a submission is due now (a query or control to send, or to resend)."""
        return await self.records.work.any_due(self.now_ms())

    async def due_work(self, limit: int = 200) -> list[str]:
        """Work due now, fairly shared across courts and cases (``schedule.py``)."""
        return await self.records.work.due(self.now_ms(), limit)

    async def ask_again_for_outstanding(self) -> int:
        """At start: every query and control sent and still awaiting its answer is due
        again now, not at its feedback timeout. The outside systems keep what they accepted,
        and a request sent again under its id is answered once; one they lost is answered
        anew (issue 13: after a restart, answers waited out the whole timeout)."""
        now = self.now_ms()
        outstanding = 0
        for case_id in await self.records.work.queued_cases():
            case = await self.records.case(case_id)
            if case is None:
                continue
            query = case["query"]
            members = [
                QueryRef(case_id, query["round"], unit, 0).member
                for unit, state in enumerate(query["units"])
                if state["status"] == "submitted"
            ]
            if members:
                outstanding += len(members)
                async with self.records.redis.pipeline(transaction=False) as pipe:
                    for member in members:
                        self.records.work.hasten_query(pipe, member, case["court_code"], now)
                    await pipe.execute()
        for asset_id in await self.records.work.queued_controls():
            record = await self.records.asset(asset_id)
            if record is not None and record["status"] == AssetStatus.CONTROL_PENDING:
                outstanding += 1
                await self.records.work.hasten_control(asset_id, now)
        return outstanding

    async def query_requests(
        self, due: Mapping[str, Sequence[str]]
    ) -> dict[str, list[tuple[str, agency_pb.SubmitQueryRequest]]]:
        """The requests to send for due query units ({case id: members}), by case, the
        cases read at once; units no longer waiting for an answer leave the due set."""
        case_ids = list(due)
        cases = await self.records.load_many(
            self.records.redis, [self.records.case_key(case_id) for case_id in case_ids]
        )
        wanted: dict[str, list[tuple[str, agency_pb.SubmitQueryRequest]]] = {}
        dropped: list[str] = []
        exhausted: dict[str, list[str]] = {}
        for case_id, case in zip(case_ids, cases, strict=True):
            try:
                sent, gone, spent = self._case_requests(case_id, case, due[case_id])
            except Exception:
                # A record this code cannot read must not hold up the other cases: its
                # units stay due, and the failure is logged each round until mended.
                log.exception("query units of a case could not be read", case_id=case_id)
                continue
            if sent:
                wanted[case_id] = sent
            dropped += gone
            if spent:
                exhausted[case_id] = spent
        if dropped:
            async with self.records.redis.pipeline(transaction=True) as pipe:
                self.records.work.unschedule_query(pipe, *dropped)
                await pipe.execute()
        for case_id, members in exhausted.items():  # rare: each on its own
            await self._report_unanswered(case_id, members)
        return wanted

    def _case_requests(
        self, case_id: str, case: dict[str, Any] | None, members: Sequence[str]
    ) -> tuple[list[tuple[str, agency_pb.SubmitQueryRequest]], list[str], list[str]]:
        """One case's due units: (requests to send, units no longer waiting, units whose
        unanswered submissions are spent)."""
        wanted: list[tuple[str, agency_pb.SubmitQueryRequest]] = []
        dropped: list[str] = []
        exhausted: list[str] = []
        for member in members:
            _, _, round_, unit = member.split("|")
            if case is None or case["query"]["round"] != int(round_):
                dropped.append(member)
                continue
            state = case["query"]["units"][int(unit)]
            if state["status"] not in ("pending", "submitted"):
                dropped.append(member)
                continue
            if self._timed_out(state) and self._unanswered_spent(state):
                exhausted.append(member)
                continue
            debtor = case["debtors"][state["debtor"]]
            ref = QueryRef(case_id, int(round_), int(unit), state["attempts"])
            wanted.append((member, agency_pb.SubmitQueryRequest(
                request_id=ref.request_id, case_id=case_id, court_code=case["court_code"],
                channel=state["channel"], debtor_name=debtor["name"],
                debtor_id_number=debtor["id_number"],
            )))  # fmt: skip
        return wanted, dropped, exhausted

    def _timed_out(self, state: dict[str, Any]) -> bool:
        """Sent, and its feedback timeout passed without an answer."""
        timeout_ms = int(self.settings.feedback_timeout_s * 1000)
        return bool(
            state["status"] == "submitted"
            and self.now_ms() >= state.get("submitted_at", 0) + timeout_ms
        )

    def _unanswered_spent(self, state: dict[str, Any]) -> bool:
        """This timeout would be its last allowed: report it rather than send again."""
        return bool(state.get("timeouts", 0) + 1 >= self.settings.max_attempts)

    async def _report_unanswered(self, case_id: str, members: Sequence[str]) -> None:
        """Units sent again and again and never answered: reported failing (not sent for
        ever); an officer may retry them."""
        key = self.records.case_key(case_id)

        async def body(pipe: Pipeline, loaded: list[Any]) -> None:
            (case,) = loaded
            if case is None:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            for member in members:
                _, _, round_, unit_text = member.split("|")
                state = case["query"]["units"][int(unit_text)]
                if case["query"]["round"] != int(round_) or not (
                    self._timed_out(state) and self._unanswered_spent(state)
                ):
                    continue  # answered or changed meanwhile
                state["timeouts"] = state.get("timeouts", 0) + 1
                state["error"] = f"no answer after {state['tries']} submissions"
                self._fail_unit(pipe, case, int(unit_text), member)
            self.records.put(pipe, key, case)

        await self.records.transact_loaded([key], body)

    async def queries_submitted(
        self, results: Mapping[str, Sequence[tuple[str, str, str | None]]]
    ) -> None:
        """After submitting query units — {case id: [(member, request id, error or None)]}
        —: each waits for feedback, or is retried with backoff, or reported failing. One
        transaction for all the cases, so one round's submissions cost one write."""
        case_ids = list(results)
        keys = [self.records.case_key(case_id) for case_id in case_ids]

        async def body(pipe: Pipeline, loaded: list[Any]) -> None:
            present = [(case_id, key, case)
                       for case_id, key, case in zip(case_ids, keys, loaded, strict=True)
                       if case is not None]  # fmt: skip
            if not present:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            for case_id, key, case in present:
                if self._submitted(pipe, case, results[case_id]):
                    self.records.put(pipe, key, case)

        if not keys:
            return
        try:
            await self.records.transact_loaded(keys, body)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            if len(case_ids) == 1:
                raise
            # A record this code cannot apply to fails the transaction (nothing of it is
            # written): the cases are then recorded one by one, so the others are not held
            # up with it; the first failure is raised after them.
            failures = []
            for case_id in case_ids:
                try:
                    await self.queries_submitted({case_id: results[case_id]})
                except INFRASTRUCTURE_ERRORS:
                    raise  # Redis away: the others would meet it too
                except Exception as exc:
                    log.exception("submitted queries of a case not recorded", case_id=case_id)
                    failures.append(exc)
            if failures:
                raise failures[0] from None

    def _submitted(
        self, pipe: Pipeline, case: dict[str, Any], results: Sequence[tuple[str, str, str | None]]
    ) -> bool:
        """Queue what one case's submitted units become; whether its record changed."""
        case_id = case["case_id"]
        changed = False
        for member, request_id, error in results:
            _, _, round_, unit_text = member.split("|")
            unit = int(unit_text)
            if case["query"]["round"] != int(round_):
                continue
            state = case["query"]["units"][unit]
            if state["status"] not in ("pending", "submitted"):
                self.records.work.unschedule_query(pipe, member)
                continue
            if QueryRef(case_id, int(round_), unit, state["attempts"]).request_id != request_id:
                continue  # a newer attempt superseded this one
            if self._timed_out(state):
                # Sent, and unanswered when its feedback timeout passed: the outside
                # system may have lost it. Counted (``query_requests`` reports the unit
                # failing when they are spent); a unit only hastened by a restart is not.
                state["timeouts"] = state.get("timeouts", 0) + 1
            state["tries"] += 1
            changed = True
            if error is None:
                state["status"] = "submitted"
                state["submitted_at"] = self.now_ms()
                wait = self.settings.feedback_timeout_s
            else:
                state["error"] = error
                wait = self.settings.backoff_s(state["tries"])
            if state["tries"] >= self.settings.max_attempts and error is not None:
                self._fail_unit(pipe, case, unit, member)
            else:
                at = self.now_ms() + int(wait * 1000)
                self.records.work.schedule_query(pipe, member, case["court_code"], at)
        return changed

    @staticmethod
    def _available_again(
        case: dict[str, Any], record: dict[str, Any], asset: agency_pb.AgencyAsset
    ) -> bool:
        """Whether a re-query's report of a known asset finds it of value and held by no
        control, counted once per round. One declined as not worth controlling counts only
        when its value grew since."""
        status = AssetStatus(record["status"])
        if asset.value_fen <= 0 or status in HOLDING:
            return False
        if status is AssetStatus.DECLINED and asset.value_fen <= int(record.get("value_fen", 0)):
            return False
        counted: list[str] = case["query"].setdefault("available_again", [])
        if record["asset_id"] in counted:
            return False
        counted.append(record["asset_id"])
        return True

    def _fail_unit(self, pipe: Pipeline, case: dict[str, Any], unit: int, member: str) -> None:
        state = case["query"]["units"][unit]
        state["status"] = "failed"
        self.records.work.unschedule_query(pipe, member)
        failed = pb.ChannelQueryFailed(
            case_id=case["case_id"],
            round=case["query"]["round"],
            channel=state["channel"],
            attempts=state["tries"],
            last_error=state["error"],
        )
        log.warning(
            "channel query keeps failing",
            case_id=case["case_id"],
            channel=state["channel"],
            attempts=state["tries"],
            error=state["error"],
        )
        self.stage(pipe, failed, case["case_id"], case["court_code"])

    async def apply_answers_of_cases(
        self, answers: Mapping[str, Sequence[tuple[agency_pb.Feedback, QueryRef]]]
    ) -> dict[str, list[str]]:
        """Several cases' answers in one transaction (a feedback batch holds answers for
        many cases): what happened to each answer, case by case in the order given. The
        cases are applied in the order given; an outside asset two of them find is queued
        in that order (its queue is read once and shared)."""
        case_keys = [self.records.case_key(case_id) for case_id in answers]
        reported = [
            (case_id, a.asset_key)
            for case_id, case_answers in answers.items()
            for feedback, _ in case_answers
            for a in feedback.assets
        ]
        asset_keys = sorted({self.records.asset_key(asset_id_for(c, k)) for c, k in reported})
        queue_keys = sorted({self.records.queue_key(k) for _, k in reported})

        async def body(pipe: Pipeline, loaded: list[Any]) -> dict[str, list[str]]:
            # One round trip for the cases, the assets reported and their queues.
            cases = loaded[: len(case_keys)]
            found = loaded[len(case_keys) : len(case_keys) + len(asset_keys)]
            records: dict[str, Any] = dict(zip(asset_keys, found, strict=True))
            queues: dict[str, list[str]] = {
                k: self.records.as_queue(queue)
                for k, queue in zip(
                    queue_keys, loaded[len(case_keys) + len(asset_keys) :], strict=True
                )
            }
            pipe.multi()  # type: ignore[no-untyped-call]
            return {
                case_id: self._apply_case_answers(pipe, key, case, case_answers, records, queues)
                for (case_id, case_answers), key, case in zip(
                    answers.items(), case_keys, cases, strict=True
                )
            }

        return await self.records.transact_loaded([*case_keys, *asset_keys, *queue_keys], body)

    def _apply_case_answers(
        self, pipe: Pipeline, key: str, case: dict[str, Any] | None,
        answers: Sequence[tuple[agency_pb.Feedback, QueryRef]],
        records: dict[str, Any], queues: dict[str, list[str]],
    ) -> list[str]:  # fmt: skip
        """One case's answers, its writes queued on ``pipe`` (in MULTI)."""
        if case is None:
            return ["stale"] * len(answers)
        # The answers recorded together are one event, the assets they found one push to
        # the parties (issue 19: a round costs one event, not one per channel).
        answered = pb.QueryChannelsAnswered(case_id=case["case_id"], round=case["query"]["round"])
        new_ids: list[str] = []
        outcomes = [
            self._answer(pipe, case, f, ref, records, queues, answered, new_ids)
            for f, ref in answers
        ]
        if answered.answers:
            self.stage(pipe, answered, case["case_id"], case["court_code"])
        if new_ids:
            self.seizures.push_to_parties(pipe, case, new_ids)
        if answered.answers and all(
            unit["status"] == "answered" for unit in case["query"]["units"]
        ):
            self._complete_query(pipe, case)
        if any(outcome in ("failed", "answered") for outcome in outcomes):
            self.records.put(pipe, key, case)
        return outcomes

    def _answer(
        self, pipe: Pipeline, case: dict[str, Any], feedback: agency_pb.Feedback, ref: QueryRef,
        records: dict[str, Any], queues: dict[str, list[str]],
        answered: pb.QueryChannelsAnswered, new_ids: list[str],
    ) -> str:  # fmt: skip
        """One channel's answer, applied to ``case`` in memory with its writes queued;
        ``records`` and ``queues`` (by key) are updated with what it records, ``answered``
        with the answer and ``new_ids`` with the assets the parties are to be told of."""
        if case["query"]["round"] != ref.round:
            return "stale"
        if ref.unit >= len(case["query"]["units"]):
            return "unknown"  # no unit of ours: the request id was not one we sent
        state = case["query"]["units"][ref.unit]
        if state["status"] not in ("pending", "submitted") or state["attempts"] != ref.attempt:
            return "duplicate"
        too_many = self._past_assets_bound(case, feedback, records)
        if feedback.status == "failed" or too_many:
            # A failed answer ends this request id; the next try is a new request.
            state["error"] = too_many or feedback.error
            state["attempts"] += 1
            state["status"] = "pending"
            if state["tries"] >= self.settings.max_attempts:
                self._fail_unit(pipe, case, ref.unit, ref.member)
            else:
                delay = int(self.settings.backoff_s(state["tries"]) * 1000)
                at = self.now_ms() + delay
                self.records.work.schedule_query(pipe, ref.member, case["court_code"], at)
            return "failed"
        state["status"] = "answered"
        state["outcome"] = feedback.status
        state["asset_count"] = len(feedback.assets)
        state["error"] = ""
        self.records.work.unschedule_query(pipe, ref.member)
        found_before = len(new_ids)
        # A re-query after 终本 records what it finds and controls nothing by itself: the
        # applicant is told, and resumption is proposed.
        requery = bool(case["query"].get("requery"))
        for asset in feedback.assets:
            record_key = self.records.asset_key(asset_id_for(case["case_id"], asset.asset_key))
            if records[record_key] is not None:
                # Known already. A re-query counts it again when it has value and nothing
                # holds it (an account emptied before, a control released, found by the
                # re-query before and still left alone): property that could pay, and the
                # applicant is told so.
                if requery and self._available_again(case, records[record_key], asset):
                    new_ids.append(records[record_key]["asset_id"])
                continue  # reported by another channel or debtor already
            queue = queues[self.records.queue_key(asset.asset_key)]
            records[record_key] = self.seizures.record_found(
                pipe, case, asset, "requery" if requery else "query", queue
            )
            new_ids.append(records[record_key]["asset_id"])
            if requery:
                # Counted in this round: another channel's or debtor's report of it is not
                # "available again".
                case["query"].setdefault("available_again", []).append(new_ids[-1])
        case["query"]["new_assets"] = case["query"].get("new_assets", 0) + (
            len(new_ids) - found_before
        )
        answered.answers.append(
            pb.ChannelAnswer(
                channel=state["channel"],
                outcome=feedback.status,
                asset_count=len(feedback.assets),
                attempts=state["tries"],
                debtor=state["debtor"],
            )
        )
        return "answered"

    def _past_assets_bound(
        self, case: dict[str, Any], feedback: agency_pb.Feedback, records: dict[str, Any]
    ) -> str:
        """Why the assets ``feedback`` newly reports would take the case past
        ``MAX_ASSETS_PER_CASE``, or "" when they fit. Such an answer is applied as failed
        (asked again, then reported failing): recording part of it would leave the rest
        unknown without saying so."""
        if len(case["assets"]) + len(feedback.assets) <= MAX_ASSETS_PER_CASE:
            return ""  # fits even were every asset new: no need to look them up
        keys = {
            self.records.asset_key(asset_id_for(case["case_id"], asset.asset_key))
            for asset in feedback.assets
        }
        new = [key for key in keys if records[key] is None]
        if len(case["assets"]) + len(new) <= MAX_ASSETS_PER_CASE:
            return ""
        return (
            f"the answer reports {len(new)} new assets and the case holds {len(case['assets'])}: "
            f"more than the {MAX_ASSETS_PER_CASE} one case may record"
        )

    def _complete_query(self, pipe: Pipeline, case: dict[str, Any]) -> None:
        case["query"]["status"] = "completed"
        totals = summary(case)
        liquid = totals["liquid_fen"]
        # Property to price and sell matters only when the money does not cover the need.
        to_dispose = totals["found_nonliquid"] if liquid < case["needed_fen"] else 0
        completed = pb.NetworkQueryCompleted(
            case_id=case["case_id"],
            round=case["query"]["round"],
            asset_count=len(case["assets"]),
            liquid_value_fen=liquid,
            assets_to_dispose=to_dispose,
            needed_fen=case["needed_fen"],
        )
        self.stage(pipe, completed, case["case_id"], case["court_code"])
        if (requery_done := requery_completed(case)) is not None:
            self.stage(pipe, requery_done, case["case_id"], case["court_code"])

    async def retry_failed_channels(self, case_id: str, *, identity: Identity) -> int:
        """Put the channels that kept failing back in the queue for a new series of tries."""
        head = await self.records.case(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        self.check_officer(identity, head["court_code"], f"case {case_id}")
        key = self.records.case_key(case_id)

        async def body(pipe: Pipeline) -> int:
            case = await self.records.load(pipe, key)
            assert case is not None
            failed = [i for i, u in enumerate(case["query"]["units"]) if u["status"] == "failed"]
            if not failed:
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]
            for unit in failed:
                state = case["query"]["units"][unit]
                state.update(status="pending", attempts=state["attempts"] + 1, tries=0, timeouts=0)
                member = QueryRef(case_id, case["query"]["round"], unit, 0).member
                self.records.work.schedule_query(pipe, member, case["court_code"], self.now_ms())
            self.records.put(pipe, key, case)
            return len(failed)

        result: int = await self.records.transact([key], body)
        return result
