"""The rule catalogue (``catalogue.yaml`` beside this file), loaded and checked.

Every statutory number of the platform lives in that file with its source and confidence.
A rule of confidence U (unconfirmed) takes its limit from the setting
``ZHIXING_RULE_<ID>_LIMIT`` when it is set, else from the documented default; confirmed
rules cannot be changed by settings.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from zhixing.periods import Unit

__all__ = [
    "CATALOGUE_FILE",
    "EVENT_NAME",
    "Catalogue",
    "CatalogueError",
    "Confidence",
    "EscalationStep",
    "EscalationTarget",
    "Expiry",
    "Extender",
    "Extension",
    "Kind",
    "Period",
    "Policies",
    "Rule",
    "WarningPoint",
    "catalogue",
    "load_catalogue",
]

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
EVENT_NAME = r"^[A-Z][A-Za-z]+$"


class Confidence(StrEnum):
    HIGH = "H"
    MEDIUM = "M"
    UNCONFIRMED = "U"


class Kind(StrEnum):
    CLOCK = "clock"
    GATE = "gate"
    CONSTRAINT = "constraint"


class Expiry(StrEnum):
    SUPERVISION = "supervision"
    LEGAL_EFFECT = "legal_effect"


class EscalationTarget(StrEnum):
    SUPERVISOR = "supervisor"  # 专人
    COURT_LEADER = "court_leader"  # 院领导
    SUPERIOR_COMMAND = "superior_command"  # 上级法院指挥中心


class Extender(StrEnum):
    """Who may extend a clock (the values are ``zhixing.auth.Role`` values)."""

    PRESIDENT = "president"  # 院长


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarningPoint(_Strict):
    """When to warn: exactly one of the fields."""

    working_days_remaining: Annotated[int, Field(ge=1)] | None = None
    days_before: Annotated[int, Field(ge=1)] | None = None
    hours_before: Annotated[int, Field(ge=1)] | None = None
    due_day: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if sum(v is not None for v in self.model_dump().values()) != 1:
            raise ValueError("a warning point has exactly one of its fields")
        return self

    @property
    def key(self) -> str:
        """``name=value`` of its one field. Read field by field, not from a ``model_dump``:
        the deadline engine asks for it for every clock it saves."""
        for name in WARNING_POINT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                return f"{name}={value}"
        raise AssertionError("a warning point has exactly one of its fields")


WARNING_POINT_FIELDS = tuple(WarningPoint.model_fields)


class Period(_Strict):
    unit: Unit
    limit: Annotated[int, Field(ge=0)]

    def describe(self) -> str:
        """The period in words: "5 days", "5 working days", "6 months", "24 hours"."""
        noun = {Unit.WORKING_DAYS: "working day", Unit.CALENDAR_DAYS: "day",
                Unit.CALENDAR_MONTHS: "month", Unit.HOURS: "hour"}[self.unit]  # fmt: skip
        return f"{self.limit} {noun}{'' if self.limit == 1 else 's'}"


class EscalationStep(_Strict):
    to: EscalationTarget
    respond_within: Period


class Extension(_Strict):
    """A clock's limit may be extended, by whom (法发〔2006〕35号 art 1: the president). When
    the request must be made is a gate the deadlines service checks (case.extension-window)."""

    by: Extender


class Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z]+(\.[a-z0-9-]+)+$")]
    title: str
    kind: Kind
    source: str
    confidence: Confidence
    unit: Unit | None = None
    limit: Annotated[int, Field(ge=0)] | None = None
    subject: str | None = None
    starts_on: tuple[Annotated[str, Field(pattern=EVENT_NAME)], ...] = ()
    # Of ``starts_on``, the acts that begin the next cycle of a clock still open and never
    # open one: a re-query's round, started on the due day's warning and read after the
    # resumption stopped the clock, does not reopen it (topics are not ordered with each
    # other).
    restart_only_on: tuple[Annotated[str, Field(pattern=EVENT_NAME)], ...] = ()
    stops_on: tuple[Annotated[str, Field(pattern=EVENT_NAME)], ...] = ()
    pauses_on: tuple[Annotated[str, Field(pattern=EVENT_NAME)], ...] = ()
    resumes_on: tuple[Annotated[str, Field(pattern=EVENT_NAME)], ...] = ()
    # A start event's payload field and the value it must have, or the values it may have.
    when: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    # The opposite: a start event whose payload field has that value (or one of the values)
    # starts no clock of this rule (a non-litigation case's filing and the 6-month limit).
    unless: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    per: tuple[str, ...] = ()
    warnings: str | tuple[WarningPoint, ...] = "default"
    escalation: str | tuple[EscalationStep, ...] = "default"
    on_expiry: Expiry | None = None
    effect: str | None = None
    # A fixed value the rule prescribes that is not a period (e.g. a hotline number).
    value: str | None = None
    # For limits set per act (a command centre's reply deadline): the start event's payload
    # field that carries the limit, which may not exceed ``limit``.
    limit_field: str | None = None
    # For periods that run from a fact the act records after it happened (money arrived on a
    # value date, recorded later): the start event's payload field with that calendar date
    # (YYYY-MM-DD, China time). The clock runs from that day when it is earlier than the
    # event, never later.
    start_field: str | None = None
    # Who may extend the limit; no extension when absent.
    extension: Extension | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind is Kind.CLOCK:
            missing = [
                name
                for name in ("unit", "limit", "subject", "starts_on", "stops_on", "on_expiry")
                if not getattr(self, name) and getattr(self, name) != 0
            ]
            if missing:
                raise ValueError(f"clock {self.id} lacks {', '.join(missing)}")
            self._pauses_pair_up()
            self._restarts_start()
        elif self.restart_only_on:
            raise ValueError(f"rule {self.id}: only a clock has restart_only_on")
        if (self.on_expiry is Expiry.LEGAL_EFFECT) != bool(self.effect):
            raise ValueError(f"rule {self.id}: a legal effect, and only one, states its effect")
        if self.kind is not Kind.CLOCK and (self.extension or self.unless):
            raise ValueError(f"rule {self.id}: only a clock has an extension or an unless")
        return self

    def _restarts_start(self) -> None:
        """A restart-only act is one of the start acts, and some start act opens the clock."""
        strays = [name for name in self.restart_only_on if name not in self.starts_on]
        if strays:
            raise ValueError(
                f"clock {self.id}: restart_only_on names {', '.join(strays)}, not in starts_on"
            )
        if set(self.starts_on) <= set(self.restart_only_on):
            raise ValueError(f"clock {self.id}: every start act is restart-only; none opens it")

    def _pauses_pair_up(self) -> None:
        """The n-th pause event is ended by the n-th resume event (the engine keys each open
        pause by that index), so both lists have the same length, and no event is in either
        list twice or in both."""
        if len(self.pauses_on) != len(self.resumes_on):
            raise ValueError(
                f"clock {self.id}: pauses_on and resumes_on must pair up (index-aligned, "
                f"{len(self.pauses_on)} starts, {len(self.resumes_on)} ends)"
            )
        names = [*self.pauses_on, *self.resumes_on]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"clock {self.id}: {', '.join(repeated)} appear more than once among its "
                "pause and resume events"
            )

    @property
    def setting_name(self) -> str:
        return "ZHIXING_RULE_" + re.sub(r"[.\-]", "_", self.id).upper() + "_LIMIT"

    @property
    def period(self) -> Period:
        assert self.unit is not None and self.limit is not None, self.id
        return Period(unit=self.unit, limit=self.limit)


class Policies(_Strict):
    warnings: dict[str, tuple[WarningPoint, ...]]
    escalation: dict[str, tuple[EscalationStep, ...]]


class Catalogue(_Strict):
    policies: Policies
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {', '.join(duplicates)}")
        for rule in self.rules:
            if isinstance(rule.warnings, str) and rule.warnings not in self.policies.warnings:
                raise ValueError(f"rule {rule.id}: no warning policy {rule.warnings!r}")
            if isinstance(rule.escalation, str) and rule.escalation not in self.policies.escalation:
                raise ValueError(f"rule {rule.id}: no escalation policy {rule.escalation!r}")
        return self

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"no rule {rule_id!r} in the catalogue")

    def title_of(self, rule_id: str) -> str:
        """A rule's title for people; its id if the catalogue does not know it (an event
        recorded under a rule since renamed)."""
        try:
            return self.rule(rule_id).title
        except KeyError:
            return rule_id

    def source_of(self, rule_id: str) -> str:
        """A rule's source (empty if the catalogue does not know the rule)."""
        try:
            return self.rule(rule_id).source
        except KeyError:
            return ""

    def period_text(self, rule_id: str) -> str:
        """A clock's period as messages state it, from the catalogue (never typed again in
        prose): "5 days (rule command.reconsideration)"."""
        return f"{self.rule(rule_id).period.describe()} (rule {rule_id})"

    @property
    def clocks(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind is Kind.CLOCK)

    def warnings_of(self, rule: Rule) -> tuple[WarningPoint, ...]:
        if isinstance(rule.warnings, str):
            return self.policies.warnings[rule.warnings]
        return rule.warnings

    def escalation_of(self, rule: Rule) -> tuple[EscalationStep, ...]:
        if isinstance(rule.escalation, str):
            return self.policies.escalation[rule.escalation]
        return rule.escalation

    def by_event(self) -> dict[str, list[tuple[str, Rule]]]:
        """Event name → (role of the event: start, stop, pause, resume; rule)."""
        index: dict[str, list[tuple[str, Rule]]] = defaultdict(list)
        for rule in self.clocks:
            for role, names in (
                ("start", rule.starts_on),
                ("stop", rule.stops_on),
                ("pause", rule.pauses_on),
                ("resume", rule.resumes_on),
            ):
                for name in names:
                    index[name].append((role, rule))
        return dict(index)


class CatalogueError(ValueError):
    pass


def _apply_settings(raw: dict[str, object], environ: dict[str, str]) -> None:
    """Unconfirmed limits come from their settings when set; confirmed ones never do."""
    rules = raw.get("rules")
    assert isinstance(rules, list)
    for entry in rules:
        rule = Rule.model_validate(entry)
        value = environ.get(rule.setting_name)
        if value is None:
            continue
        if rule.confidence is not Confidence.UNCONFIRMED:
            raise CatalogueError(
                f"{rule.setting_name} is set, but {rule.id} is confirmed ({rule.source}); "
                "statutory limits are not settings"
            )
        if not value.isdigit():
            raise CatalogueError(f"{rule.setting_name}={value!r} is not a whole number")
        entry["limit"] = int(value)


def load_catalogue(path: Path = CATALOGUE_FILE, environ: dict[str, str] | None = None) -> Catalogue:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    _apply_settings(raw, dict(os.environ) if environ is None else environ)
    return Catalogue.model_validate(raw)


@cache
def catalogue() -> Catalogue:
    """The catalogue of this process (settings read once)."""
    return load_catalogue()
