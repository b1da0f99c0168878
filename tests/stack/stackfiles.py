"""Paths of the shipped Prometheus and Grafana files, and small readers for them."""

from __future__ import annotations

import json
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
