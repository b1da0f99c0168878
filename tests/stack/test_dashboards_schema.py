"""The Grafana files: dashboards generated, valid against Grafana's schema, provisioned, linked."""

from __future__ import annotations

import copy
import importlib.util
import re
from types import ModuleType
from typing import Any

import pytest

from .grafana_schema import validate_dashboard
from .stackfiles import GRAFANA_DIR, PROMETHEUS_DIR, dashboards, load_yaml

DASHBOARDS = dashboards()
DATASOURCE_UID = "otelml-prometheus"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "otelml_grafana_generate", GRAFANA_DIR / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc["panels"] if p["type"] != "row"]


def test_three_dashboards() -> None:
    titles = {d["title"] for d in DASHBOARDS.values()}
    assert titles == {"otelml — models overview", "otelml — feature", "otelml — service + model"}


def test_dashboards_are_the_generator_output() -> None:
    gen = _generator()
    assert set(gen.DASHBOARDS) == set(DASHBOARDS)
    for name, build in gen.DASHBOARDS.items():
        text = (GRAFANA_DIR / "dashboards" / name).read_text()
        assert text == gen.render(build()), f"{name}: run python collector/grafana/generate.py"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_matches_grafana_schema(name: str) -> None:
    assert validate_dashboard(DASHBOARDS[name]) == []


def test_schema_validation_catches_errors() -> None:
    doc = copy.deepcopy(DASHBOARDS["otelml-feature.json"])
    kinds = [p["type"] for p in doc["panels"]]
    ts = kinds.index("timeseries")
    bar = kinds.index("barchart")
    doc["graphTooltip"] = True
    doc["panels"][bar]["options"]["legend"]["placement"] = "middle"
    doc["panels"][ts]["gridPos"]["h"] = "8"
    doc["panels"][ts]["options"]["colour"] = 1
    doc["panels"][ts]["targets"][0]["exp"] = "up"
    doc["templating"]["list"][1]["refresh"] = 7
    doc["panels"][bar + 1]["type"] = "no-such-panel"
    errors = "\n".join(validate_dashboard(doc))
    for expected in (
        "$.graph_tooltip",
        f"$.panels[{bar}].options.legend.placement",
        f"$.panels[{ts}].grid_pos.h",
        f"$.panels[{ts}].options.colour",
        f"$.panels[{ts}].targets[0].exp",
        "$.templating.list_val[1].refresh",
        f"$.panels[{bar + 1}].type",
    ):
        assert expected in errors


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_layout_and_data_source(name: str) -> None:
    doc = DASHBOARDS[name]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in doc["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] < g["x"] + g["w"] <= 24, p["title"]
    for p in _panels(doc):
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        assert p["description"], p["title"]
        for t in p["targets"]:
            assert t["expr"].strip(), p["title"]
    var = {v["name"]: v for v in doc["templating"]["list"]}
    assert var["datasource"]["current"]["value"] == DATASOURCE_UID
    assert {"model", "version", "environment"} <= set(var)


def test_template_variables() -> None:
    for name in ("otelml-models-overview.json", "otelml-feature.json"):
        var = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
        assert var["segment"]["allValue"] == "^$"  # All = the totals (segment="")
    var = {v["name"]: v for v in DASHBOARDS["otelml-feature.json"]["templating"]["list"]}
    assert "feature" in var
    for doc in DASHBOARDS.values():
        for v in doc["templating"]["list"]:
            if v["type"] == "query":
                assert re.fullmatch(r"label_values\(.+, [a-z_]+\)", v["query"]), v["query"]


def test_dashboards_link_each_other() -> None:
    for doc in DASHBOARDS.values():
        assert "otelml" in doc["tags"]
        assert any(
            link["type"] == "dashboards" and link["tags"] == ["otelml"] for link in doc["links"]
        )
    service = DASHBOARDS["otelml-service-model.json"]
    exprs = " ".join(t["expr"] for p in _panels(service) for t in p["targets"])
    assert "http_server_request_duration_seconds" in exprs
    assert "otelml_feature_drift_status" in exprs


def test_alert_dashboard_links_name_existing_dashboards() -> None:
    uids = {d["uid"] for d in DASHBOARDS.values()}
    rules = load_yaml(PROMETHEUS_DIR / "rules" / "alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            uid = re.match(r"/d/([^/?]+)", rule["annotations"]["dashboard"])
            assert uid is not None, rule["alert"]
            assert uid.group(1) in uids, rule["alert"]


def test_provisioning() -> None:
    ds = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "otelml.yaml")
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "prometheus"
    prov = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "otelml.yaml")
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
