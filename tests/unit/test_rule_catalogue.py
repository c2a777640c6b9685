"""The rule catalogue: complete, consistent, and settings only where the law is unconfirmed."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from zhixing.periods import Unit
from zhixing.rules import CATALOGUE_FILE, CatalogueError, Confidence, Kind, load_catalogue


def test_the_shipped_catalogue_loads_and_every_clock_is_complete() -> None:
    catalogue = load_catalogue(environ={})
    assert len(catalogue.clocks) >= 30
    for rule in catalogue.clocks:
        assert rule.starts_on and rule.stops_on and rule.subject and rule.source
        assert catalogue.warnings_of(rule) and catalogue.escalation_of(rule)


@pytest.mark.parametrize(
    ("rule_id", "limit", "unit"),
    [
        ("intake.docket", 7, Unit.CALENDAR_DAYS),
        ("asset.network-query", 5, Unit.WORKING_DAYS),
        ("asset.urgent-lead", 24, Unit.HOURS),
        ("asset.control-term-real-estate", 36, Unit.CALENDAR_MONTHS),
        ("dispute.superior-resolves", 1, Unit.CALENDAR_MONTHS),
        ("dispute.implement", 15, Unit.WORKING_DAYS),
        ("entrustment.start", 15, Unit.CALENDAR_DAYS),
        ("case.close", 6, Unit.CALENDAR_MONTHS),
    ],
)
def test_statutory_limits_match_rules_md(rule_id: str, limit: int, unit: Unit) -> None:
    rule = load_catalogue(environ={}).rule(rule_id)
    assert (rule.limit, rule.unit) == (limit, unit)


def test_an_unconfirmed_limit_is_a_setting_with_its_documented_default() -> None:
    rule = load_catalogue(environ={}).rule("entrustment.handle")
    assert rule.confidence is Confidence.UNCONFIRMED and rule.limit == 10
    changed = load_catalogue(environ={"ZHIXING_RULE_ENTRUSTMENT_HANDLE_LIMIT": "20"})
    assert changed.rule("entrustment.handle").limit == 20


def test_a_confirmed_limit_cannot_be_changed_by_a_setting() -> None:
    with pytest.raises(CatalogueError, match="statutory limits are not settings"):
        load_catalogue(environ={"ZHIXING_RULE_INTAKE_DOCKET_LIMIT": "30"})


def test_a_legal_effect_must_say_what_it_is(tmp_path: Path) -> None:
    raw = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    lapse = next(r for r in raw["rules"] if r["id"] == "asset.control-term-deposits")
    del lapse["effect"]
    broken = tmp_path / "catalogue.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match="states its effect"):
        load_catalogue(broken, environ={})


def test_legal_effects_are_marked() -> None:
    catalogue = load_catalogue(environ={})
    lapsing = {r.id for r in catalogue.clocks if r.effect}
    assert "asset.control-term-deposits" in lapsing
    assert "intake.docket" not in lapsing
    assert all(r.kind is Kind.CLOCK for r in catalogue.rules if r.id in lapsing)


def test_a_period_is_stated_from_the_catalogue_with_its_rule() -> None:
    rules = load_catalogue(environ={})
    assert rules.period_text("command.reconsideration") == "5 days (rule command.reconsideration)"
    assert rules.rule("asset.urgent-lead").period.describe() == "24 hours"
    assert rules.rule("intake.docket").period.describe() == "7 days"


@pytest.mark.parametrize(
    ("rule_id", "restart_only_on", "message"),
    [
        ("zhongben.requery", ["CaseFiled"], "not in starts_on"),
        ("zhongben.requery", ["ZhongbenRuled", "ZhongbenRequeryStarted"], "none opens it"),
        ("zhongben.requery-span", ["ZhongbenRuled"], "only a clock"),
    ],
)
def test_a_restart_only_act_is_one_of_a_clocks_start_acts_and_not_its_only_one(
    tmp_path: Path, rule_id: str, restart_only_on: list[str], message: str
) -> None:
    raw = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    rule = next(r for r in raw["rules"] if r["id"] == rule_id)
    rule["restart_only_on"] = restart_only_on
    broken = tmp_path / "catalogue.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_catalogue(broken, environ={})
