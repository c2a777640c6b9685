"""The Grafana dashboard (deploy/grafana) asks only for metrics the platform registers, by
labels they have, and shows what court IT watches: consumer lag, dead letters, the clocks'
lateness and request latency."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import services
import zhixing
from tools.devinfra import ROOT
from tools.localrun import SERVICES

DASHBOARD = ROOT / "deploy" / "grafana" / "zhixing-command.json"

# Labels Prometheus adds to every scraped series, and the histogram's bucket bound.
TARGET_LABELS = frozenset({"job", "instance", "le"})
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
     "unless", "offset"}
)  # fmt: skip


def registered() -> dict[str, frozenset[str]]:
    """Every series name the library and the services register, with its label names."""
    for name in zhixing.__all__:
        importlib.import_module(f"zhixing.{name}")
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    series: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        suffixes = SAMPLE_SUFFIXES[family.type]
        for suffix in suffixes:
            series[family.name + suffix] = frozenset()
    # Label names are not in a family until a child exists; each collector knows its own
    # (prometheus_client keeps them private: should that change, the label check fails).
    collectors: dict[str, Any] = REGISTRY._names_to_collectors
    for name in series:
        labels = getattr(collectors.get(name), "_labelnames", ())
        series[name] = frozenset(labels)
    return series


def expressions() -> list[str]:
    """The dashboard's queries, and the alerting rules' (alerts.yml)."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [
        v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"
    ]  # fmt: skip
    return exprs + [rule["expr"] for rule in alert_rules()]


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DASHBOARD.parent / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_example_scrape_config_loads_the_alerting_rules() -> None:
    config = yaml.safe_load((DASHBOARD.parent / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    # An outbox that nothing relays (an answering process with none of role all beside it).
    alerted = {name for rule in alert_rules() for name in parse(rule["expr"])[0]}
    assert "zhixing_outbox_oldest_age_seconds" in alerted


def parse(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names an expression uses (a small PromQL reader:
    label matchers, ``by``/``without`` lists, functions and ranges told apart)."""
    labels: set[str] = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (regexes, variables)
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges: [5m], [$__rate_interval]
    for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", text):
        labels |= {g.strip() for g in grouping.split(",") if g.strip()}
    text = re.sub(r"\b(?:by|without)\s*\([^)]*\)", " ", text)
    # label_values(metric, label) in a variable's query
    for metric, label in re.findall(r"label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)", text):
        labels.add(label)
        text = text.replace(f"label_values({metric}, {label})", f" {metric} ")
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)\s*(\()?", text):
        word, call = match.group(1), match.group(2)
        if not call and word not in KEYWORDS:
            names.add(word)
    return names, labels


def test_the_reader_finds_metrics_and_labels() -> None:
    names, labels = parse(
        'histogram_quantile(0.95, sum by (service, le) (rate(zhixing_http_request_seconds_bucket'
        '{job=~"$job", route!~".*/stream"}[$__rate_interval]))) > 0'
    )  # fmt: skip
    assert names == {"zhixing_http_request_seconds_bucket"}
    assert labels == {"service", "le", "job", "route"}


def test_every_expression_names_only_registered_metrics_by_their_labels() -> None:
    series = registered()
    found: set[str] = set()
    for expr in expressions():
        names, labels = parse(expr)
        assert names, f"no metric in {expr!r}"
        for name in names:
            assert name in series, f"{name} is not registered by the platform ({expr})"
            found.add(name)
        allowed = TARGET_LABELS.union(*(series[n] for n in names))
        assert labels <= allowed, f"{expr}: labels {sorted(labels - allowed)} unknown"
    assert len(found) >= 10


@pytest.mark.parametrize(
    "metric",
    [
        "zhixing_consumer_lag_messages",
        "zhixing_events_dead_lettered_total",
        "zhixing_deadline_fire_lateness_seconds_bucket",
        "zhixing_http_request_seconds_bucket",
        "zhixing_outbox_oldest_age_seconds",
    ],
)
def test_what_court_it_watches_has_a_panel(metric: str) -> None:
    assert any(metric in parse(expr)[0] for expr in expressions())


def test_every_panel_has_a_chinese_title_and_names_its_metric() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] == "zhixing-command"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in board["panels"]:
        assert re.search(r"[\u4e00-\u9fff]", panel["title"]), panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        metrics = set().union(*(parse(t["expr"])[0] for t in panel["targets"]))
        described = {re.sub(r"_(bucket|count|sum)$", "", m) for m in metrics}
        assert any(m in panel["description"] for m in described), panel["title"]


def test_the_example_scrape_config_names_every_service_with_metrics() -> None:
    config = yaml.safe_load((DASHBOARD.parent / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"127.0.0.1:{s.http_port}" for s in SERVICES if s.http_port}
