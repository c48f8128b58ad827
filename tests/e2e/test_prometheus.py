"""Dashboards and alerts, proven against a real Prometheus that scraped the closed loop.

Prometheus (Debian's package) scrapes the five services every second while the session's
closed loop runs (``live_loop.py``); with the services still up, every Grafana panel's
query must return data and every alert expression must be valid, and Prometheus must have
loaded every rule group healthy. promtool checks the deploy config and runs the alert
unit tests.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
import yaml
from live_loop import PROMETHEUS_DIR, REPO, LiveLoop, PrometheusTools

pytestmark = pytest.mark.integration

GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
JOBS = ("registry", "ingest", "trainer", "serving", "monitor")

GRAFANA_VARIABLES = {
    # What Grafana substitutes before a query reaches Prometheus: all pipelines, and a
    # rate window of four 1s scrapes rounded up (Grafana: max(4 x scrape, interval)).
    "$pipeline": ".*",
    "$__rate_interval": "15s",
}

MAY_BE_EMPTY: dict[tuple[str, str], str] = {
    ("continuum-overview", "Drift share by model version"): (
        "the monitor drops the previous champion's series when a new champion is promoted, "
        "and the new one has none until its first full window is evaluated; the loop often "
        "ends inside that gap (the per-feature drift panel keeps the last window's scores)"
    ),
    ("continuum-overview", "Rollout: promotion metric, champion vs candidate"): (
        "a series per arm of a live rollout step only: the loop's pipelines deploy direct"
    ),
    ("continuum-overview", "Rollout: labelled predictions per arm in the step"): (
        "a series per arm of a live rollout step only: the loop's pipelines deploy direct"
    ),
}
"""(dashboard uid, panel title) -> why its query may return nothing in a healthy run.
Every other panel is written to return data (0 rather than nothing) when all is well."""


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def _substitute(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def _alert_rules() -> list[dict[str, Any]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def _has_a_number(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


# -- static checks (no loop needed) -------------------------------------------------------


def test_promtool_checks_the_deploy_config_with_its_rules(
    prometheus_tools: PrometheusTools,
) -> None:
    config = PROMETHEUS_DIR / "prometheus.yml"
    checked = prometheus_tools.promtool_run("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for path in RULE_FILES:  # the config's rule_files glob found them
        assert f"{path.name}" in checked.stdout + checked.stderr
    rules = prometheus_tools.promtool_run("check", "rules", *map(str, RULE_FILES))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_promtool_alert_unit_tests_pass_and_cover_every_alert(
    prometheus_tools: PrometheusTools,
) -> None:
    tests = PROMETHEUS_DIR / "tests" / "continuum.rules.test.yml"
    run = prometheus_tools.promtool_run("test", "rules", str(tests))
    assert run.returncode == 0, run.stdout + run.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load(tests.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    alerts = {rule["alert"] for rule in _alert_rules()}
    assert tested == alerts
    for test in yaml.safe_load(tests.read_text())["tests"]:
        cases = test["alert_rule_test"]
        assert any(not c["exp_alerts"] for c in cases), f"{test['name']}: no silent case"
        assert any(c["exp_alerts"] for c in cases), f"{test['name']}: no firing case"


def test_every_alert_has_for_severity_summary_and_description() -> None:
    for rule in _alert_rules():
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_grafana_provisioning_points_every_panel_at_the_prometheus_datasource() -> None:
    datasources = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert [(d["uid"], d["url"]) for d in datasources] == [("prometheus", "http://prometheus:9090")]
    [provider] = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "continuum.yml").read_text()
    )["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert [p.name for p in DASHBOARDS] == ["continuum-internals.json", "continuum-overview.json"]
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids.add(dashboard["uid"])
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in _panels(dashboard):
            assert panel["datasource"]["uid"] == "prometheus", panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip(), panel["title"]
                assert target["datasource"]["uid"] == "prometheus", panel["title"]
    assert len(uids) == len(DASHBOARDS)


# -- against the Prometheus that scraped the loop -------------------------------------------


def test_every_service_was_scraped_while_the_loop_ran(live_loop: LiveLoop) -> None:
    prometheus = live_loop.prometheus
    seconds = math.ceil(live_loop.finished_at - live_loop.started_at)
    response = prometheus.query(f"count_over_time(up[{seconds}s])", at=live_loop.finished_at)
    assert response.status_code == 200, response.text
    scrapes = {s["metric"]["job"]: float(s["value"][1]) for s in response.json()["data"]["result"]}
    # A scrape a second while the loop ran (services start a few seconds into it).
    assert set(scrapes) == set(JOBS)
    assert all(count >= seconds / 2 for count in scrapes.values()), (seconds, scrapes)
    up = prometheus.query("up").json()["data"]["result"]
    assert {s["metric"]["job"]: s["value"][1] for s in up} == dict.fromkeys(JOBS, "1")


def test_every_dashboard_panel_query_returns_data(live_loop: LiveLoop) -> None:
    prometheus = live_loop.prometheus
    empty, invalid, queried = [], [], 0
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard):
            for target in panel["targets"]:
                expr = _substitute(target["expr"])
                queried += 1
                # As the dashboard looked when the loop had just closed: at its end or in
                # the few seconds before. One scrape that timed out (1 s, on a busy
                # machine) marks a target's series stale until the next one succeeds,
                # which a dashboard's next refresh would not show either.
                for back in (0, 2, 4, 6, 8):
                    response = prometheus.query(expr, at=live_loop.finished_at - back)
                    body = response.json()
                    if response.status_code != 200 or body["status"] != "success":
                        break
                    if _has_a_number(body["data"]["result"]):
                        break
                if response.status_code != 200 or body["status"] != "success":
                    invalid.append((panel["title"], expr, body.get("error")))
                elif (
                    not _has_a_number(body["data"]["result"])
                    and (dashboard["uid"], panel["title"]) not in MAY_BE_EMPTY
                ):
                    empty.append((dashboard["uid"], panel["title"], expr))
    assert not invalid, invalid
    assert not empty, "panels without data:\n" + "\n".join(map(str, empty))
    assert queried >= 40


def test_every_alert_expression_is_valid(live_loop: LiveLoop) -> None:
    prometheus = live_loop.prometheus
    for rule in _alert_rules():
        response = prometheus.query(rule["expr"], at=live_loop.finished_at)
        assert response.status_code == 200, (rule["alert"], response.text)
        assert response.json()["status"] == "success", rule["alert"]


def test_prometheus_loaded_every_rule_group_healthy(live_loop: LiveLoop) -> None:
    response = live_loop.prometheus.api("rules")
    assert response.status_code == 200, response.text
    groups = {g["name"]: g for g in response.json()["data"]["groups"]}
    expected = {
        group["name"]: {rule.get("alert") or rule.get("record") for rule in group["rules"]}
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
    }
    assert set(groups) == set(expected)
    for name, group in groups.items():
        assert {rule["name"] for rule in group["rules"]} == expected[name]
        for rule in group["rules"]:
            assert rule["health"] == "ok", (name, rule["name"], rule.get("lastError"))


def test_no_continuum_alert_fired_during_a_healthy_loop(live_loop: LiveLoop) -> None:
    """The alerts are quiet when all is well (pending ones would need minutes to fire)."""
    response = live_loop.prometheus.api("alerts")
    firing = [
        a["labels"]
        for a in response.json()["data"]["alerts"]
        if a["state"] == "firing" and re.match("Continuum", a["labels"]["alertname"])
    ]
    assert firing == []
