"""The shipped Prometheus config and rules: promtool checks, unit tests, and their coverage.

``promtool`` comes with Debian's ``prometheus`` package (installed by .ci/install-system.sh);
when it is missing these tests fail rather than skip, because CI must run them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .stackfiles import DEPLOYMENT_DOC, PROMETHEUS_DIR, load_yaml

RULES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard"}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run .ci/install-system.sh (Debian's prometheus)")
    return subprocess.run(
        [binary, *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{done.args}:\n{done.stdout}\n{done.stderr}"


def _rules() -> list[dict[str, Any]]:
    return [r for path in RULES for g in load_yaml(path)["groups"] for r in g["rules"]]


def _alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in _rules() if "alert" in r}


def test_promtool_check_config() -> None:
    # Also checks every rule file that the config names.
    _assert_ok(_promtool("check", "config", "prometheus.yml"))


def test_promtool_check_rules() -> None:
    assert RULES, "no rule files"
    _assert_ok(_promtool("check", "rules", *(str(p.relative_to(PROMETHEUS_DIR)) for p in RULES)))


def test_config_loads_every_rule_file() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert sorted(config["rule_files"]) == sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in RULES)
    jobs = {sc["job_name"] for sc in config["scrape_configs"]}
    assert {"otelml-processor", "otelcol", "otelcol-app-metrics"} <= jobs


def test_promtool_test_rules() -> None:
    assert UNIT_TESTS, "no rule unit tests"
    done = _promtool("test", "rules", *(str(p.relative_to(PROMETHEUS_DIR)) for p in UNIT_TESTS))
    _assert_ok(done)
    assert done.stdout.count("SUCCESS") == len(UNIT_TESTS), done.stdout


def test_promtool_test_rules_can_fail(tmp_path: Path) -> None:
    # A unit test whose expectation is wrong must fail, so the run above means something.
    src = PROMETHEUS_DIR / "tests" / "drift_test.yml"
    text = src.read_text().replace("severity: warning", "severity: page", 1)
    text = text.replace("../rules/", str(PROMETHEUS_DIR / "rules") + "/")
    broken = tmp_path / "broken_test.yml"
    broken.write_text(text)
    done = _promtool("test", "rules", str(broken))
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


def test_every_alert_has_firing_and_quiet_unit_tests() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in load_yaml(path)["tests"]:
            for t in case.get("alert_rule_test", []):
                (firing if t.get("exp_alerts") else quiet).add(t["alertname"])
    alerts = set(_alerts())
    assert alerts - firing == set(), "alerts without a firing unit test"
    assert alerts - quiet == set(), "alerts without a quiet unit test"
    assert (firing | quiet) - alerts == set(), "unit tests of unknown alerts"


def test_every_recording_rule_has_a_unit_test() -> None:
    tested: set[str] = set()
    for path in UNIT_TESTS:
        for case in load_yaml(path)["tests"]:
            for t in case.get("promql_expr_test", []):
                tested.update(re.findall(r"otelml:[a-z0-9_:]+", t["expr"]))
    records = {r["record"] for r in _rules() if "record" in r}
    # Intermediate rules are exercised through the ratios built on them.
    intermediate = {
        "otelml:performance_confusion:increase1h",
        "otelml:performance_predictions_labeled:increase1h",
    }
    assert records - intermediate - tested == set()


def _anchor(heading: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes.
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_alerts_have_severity_annotations_and_a_runbook_section() -> None:
    doc = DEPLOYMENT_DOC.read_text()
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", doc, flags=re.MULTILINE)}
    for name, rule in _alerts().items():
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert set(rule["annotations"]) == ANNOTATIONS, name
        url = rule["annotations"]["runbook_url"]
        assert url.endswith("docs/deployment.md#" + name.lower()), name
        assert name.lower() in anchors, f"docs/deployment.md has no section {name}"
        assert "$labels" in rule["annotations"]["description"], name
