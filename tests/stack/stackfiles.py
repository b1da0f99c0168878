"""Paths of the shipped Prometheus and Grafana files, small readers for them, test rewrites."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO_ROOT / "collector"
PROMETHEUS_DIR = COLLECTOR_DIR / "prometheus"
GRAFANA_DIR = COLLECTOR_DIR / "grafana"
DASHBOARD_DIR = GRAFANA_DIR / "dashboards"
DEPLOYMENT_DOC = REPO_ROOT / "docs" / "deployment.md"


def load_yaml(path: Path) -> Any:
    """Return the parsed YAML document at ``path``."""
    with path.open() as f:
        return yaml.safe_load(f)


def dashboards() -> dict[str, dict[str, Any]]:
    """Return every dashboard JSON in collector/grafana/dashboards, by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def prometheus_test_config(
    out_dir: Path,
    targets: Mapping[str, Sequence[str]],
    *,
    interval: str,
    alert_for: str = "2s",
    drop_untargeted: bool = False,
) -> Path:
    """Return the path of the shipped prometheus.yml rewritten for a test, in ``out_dir``.

    Each scrape job gets the targets ``targets[job_name]``; scrapes, rule evaluations and
    timeouts run every ``interval``; every alert's ``for`` is shortened to ``alert_for`` in
    copies of the shipped rule files. With ``drop_untargeted``, jobs without targets are left
    out; otherwise every shipped job must have them.
    """
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    if drop_untargeted:
        config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] in targets]
    assert {j["job_name"] for j in config["scrape_configs"]} == set(targets)
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": list(targets[job["job_name"]])}]
        job["scrape_interval"] = interval
        job["scrape_timeout"] = interval
    rule_files = []
    for rel in config["rule_files"]:
        rules = load_yaml(PROMETHEUS_DIR / rel)
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = alert_for
        out = out_dir / Path(rel).name
        out.write_text(yaml.safe_dump(rules))
        rule_files.append(str(out))
    config["rule_files"] = rule_files
    path = out_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path
