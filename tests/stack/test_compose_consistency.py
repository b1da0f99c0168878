"""collector/docker-compose.yaml and examples/collector agree with the configs the tests run.

Docker cannot run in CI, so the compose file is checked by reading it: every file it mounts
exists and is one of the tested configs, every ``${env:...}`` of the mounted Collector config is
set, and the addresses the services use meet where the other services listen. The Collector
snippet of examples/collector must carry fanout.yaml's exporter block and pass the real
Collector's ``validate``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml

from e2e import build_collector

from .stackfiles import COLLECTOR_DIR, GRAFANA_DIR, PROMETHEUS_DIR, REPO_ROOT, load_yaml

COMPOSE = COLLECTOR_DIR / "docker-compose.yaml"
CONFIG_DIR = COLLECTOR_DIR / "configs"
TESTED_COLLECTOR_CONFIGS = {CONFIG_DIR / "fanout.yaml", CONFIG_DIR / "loadbalancing.yaml"}
SNIPPET = REPO_ROOT / "examples" / "collector" / "otelcol-snippet.yaml"
NETNS_OWNER = "otelcol"
ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = load_yaml(COMPOSE)
    return doc


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of environment"
    return {k: str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> dict[PurePosixPath, Path]:
    """Return the service's bind mounts: container path -> repository path."""
    out: dict[PurePosixPath, Path] = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith((".", "/")):
            out[PurePosixPath(target)] = (COLLECTOR_DIR / source).resolve()
    return out


def _host_file(service: dict[str, Any], container_path: str) -> Path:
    """Return the repository file that ``container_path`` shows inside the service."""
    path = PurePosixPath(container_path)
    for target, source in _mounts(service).items():
        if path == target or target in path.parents:
            return source / path.relative_to(target)
    raise AssertionError(f"{container_path} is not mounted from the repository")


def _flag(argv: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"expected one --{name}= in {argv}"
    return values[0]


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _expand(text: str, env: dict[str, str]) -> str:
    """Return ``text`` with the Collector's ``${env:NAME:-default}`` filled in from ``env``."""
    return ENV_REF.sub(lambda m: env.get(m.group(1), m.group(2) or ""), text)


def _collector_config() -> tuple[Path, dict[str, str], dict[str, Any]]:
    otelcol = _services()["otelcol"]
    config = _host_file(otelcol, _flag(otelcol["command"], "config"))
    env = _env(otelcol)
    return config, env, yaml.safe_load(_expand(config.read_text(), env))


def _listening_ports() -> dict[str, set[int]]:
    """Return, per service, the ports it listens on inside the shared network namespace."""
    services = _services()
    _, _, collector = _collector_config()
    otelcol = {
        _port(collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]),
        _port(collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]),
        _port(collector["extensions"]["health_check"]["endpoint"]),
        collector["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"][
            "prometheus"
        ]["port"],
    }
    processor_env = _env(services["otelml"])
    processor = {
        _port(processor_env[f"OTELML_{name}__ENDPOINT"])
        for name in ("RECEIVERS__GRPC", "RECEIVERS__HTTP", "EXPORT__PROMETHEUS")
    }
    prometheus = {_port(_flag(services["prometheus"]["command"], "web.listen-address"))}
    grafana = {int(_env(services["grafana"])["GF_SERVER_HTTP_PORT"])}
    app_cmd = services["app"]["command"][-1]
    app = {int(re.search(r"--port (\d+)", app_cmd).group(1))}  # type: ignore[union-attr]
    return {
        "otelcol": {int(p) for p in otelcol},
        "otelml": processor,
        "prometheus": prometheus,
        "grafana": grafana,
        "app": app,
    }


def test_every_bind_mount_exists_in_the_repository() -> None:
    for name, service in _services().items():
        for target, source in _mounts(service).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) is missing"
            assert REPO_ROOT in source.parents, f"{name}: {source} is outside the repository"


def test_services_share_the_collectors_network_namespace() -> None:
    # The tested configs listen and send on 127.0.0.1: the services must share one loopback.
    services = _services()
    assert set(services) == {"otelcol", "otelml", "app", "prometheus", "grafana"}
    for name, service in services.items():
        if name != NETNS_OWNER:
            assert service.get("network_mode") == f"service:{NETNS_OWNER}", name
            assert "ports" not in service, f"{name}: publish ports on {NETNS_OWNER}"
    # No two services listen on the same port, and every published port is one of theirs.
    ports = _listening_ports()
    seen: dict[int, str] = {}
    for name, used in ports.items():
        for port in used:
            assert port not in seen, f"port {port}: {seen[port]} and {name}"
            seen[port] = name
    published = {int(p.split(":")[-1]) for p in services[NETNS_OWNER]["ports"]}
    assert published <= set(seen)
    assert {seen[p] for p in published} == {"app", "otelml", "prometheus", "grafana"}


def test_nothing_is_published_beyond_the_hosts_loopback() -> None:
    # The API changes state: published on every interface it would take orders from the
    # network; on loopback it still must refuse DNS-rebinding pages (Host names not loopback).
    services = _services()
    for mapping in services[NETNS_OWNER]["ports"]:
        assert str(mapping).startswith("127.0.0.1:"), f"{mapping}: publish on 127.0.0.1 only"
    env = _env(services["otelml"])
    for listener in ("EXPORT__PROMETHEUS", "RECEIVERS__HTTP"):
        if not _host_is_loopback(env[f"OTELML_{listener}__ENDPOINT"]):
            assert env.get(f"OTELML_{listener}__ALLOWED_HOSTS") == "localhost", listener


def _host_is_loopback(endpoint: str) -> bool:
    return endpoint.rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]")


def test_collector_runs_a_tested_config_with_every_env_var_set() -> None:
    config, env, _ = _collector_config()
    assert config in TESTED_COLLECTOR_CONFIGS, config
    referenced = set(ENV_REF.findall(config.read_text()))
    names = {name for name, _ in referenced}
    assert names <= set(env), f"unset in the otelcol service: {sorted(names - set(env))}"
    # and nothing set that the config does not read (a typo would be silently ignored)
    assert set(env) == names


def test_collector_image_is_the_built_release() -> None:
    go_mod = (COLLECTOR_DIR / "otelcol" / "go.mod").read_text()
    m = re.search(r"opentelemetry-collector-contrib/exporter/loadbalancingexporter v(\S+)", go_mod)
    assert m is not None
    image = _services()["otelcol"]["image"]
    assert image == f"otel/opentelemetry-collector-contrib:{m.group(1)}"


def test_collector_sends_where_the_processor_listens() -> None:
    _, _, collector = _collector_config()
    processor_env = _env(_services()["otelml"])
    endpoint = collector["exporters"]["otlp_grpc/otelml"]["endpoint"]
    host, port = endpoint.rsplit(":", 1)
    assert host == "127.0.0.1"
    listen = processor_env["OTELML_RECEIVERS__GRPC__ENDPOINT"]
    assert listen.rsplit(":", 1) == ["0.0.0.0", port]
    assert "otelml serve" in _services()["otelml"]["command"][-1]
    assert "otelml[processor]" in processor_env["OTELML_PIP_SPEC"]


def test_app_sends_to_the_collector() -> None:
    app = _services()["app"]
    _, _, collector = _collector_config()
    url = urlsplit(_env(app)["OTEL_EXPORTER_OTLP_ENDPOINT"])
    grpc = collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert f"{url.hostname}:{url.port}" == grpc
    source = _host_file(app, "/app/app.py")
    assert source == REPO_ROOT / "examples" / "fastapi_service" / "app.py"
    assert "uvicorn app:app --app-dir /app" in app["command"][-1]


def test_prometheus_runs_the_shipped_config_and_rules() -> None:
    services = _services()
    prometheus = services["prometheus"]
    config_path = _host_file(prometheus, _flag(prometheus["command"], "config.file"))
    assert config_path == PROMETHEUS_DIR / "prometheus.yml"
    config = load_yaml(config_path)
    for rel in config["rule_files"]:
        assert (config_path.parent / rel).is_file(), rel
    # Its scrape targets are where the processor and the Collector's telemetry listen.
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    ports = _listening_ports()
    processor_metrics = _port(_env(services["otelml"])["OTELML_EXPORT__PROMETHEUS__ENDPOINT"])
    assert targets["otelml-processor"] == [f"127.0.0.1:{processor_metrics}"]
    telemetry = int(_env(services["otelcol"])["OTELCOL_TELEMETRY_PORT"])
    assert telemetry in ports["otelcol"]
    assert targets["otelcol"] == [f"127.0.0.1:{telemetry}"]


def test_grafana_has_the_provisioning_and_dashboards() -> None:
    grafana = _services()["grafana"]
    provisioning = GRAFANA_DIR / "provisioning"
    for kind in ("datasources", "dashboards"):
        inside = f"/etc/grafana/provisioning/{kind}/otelml.yaml"
        assert _host_file(grafana, inside) == provisioning / kind / "otelml.yaml"
    provider = load_yaml(provisioning / "dashboards" / "otelml.yaml")["providers"][0]
    dashboards = _host_file(grafana, provider["options"]["path"])
    assert dashboards == GRAFANA_DIR / "dashboards"
    assert sorted(dashboards.glob("*.json")), "no dashboards to provision"
    datasource = (provisioning / "datasources" / "otelml.yaml").read_text()
    assert "${PROMETHEUS_URL}" in datasource
    url = urlsplit(_env(grafana)["PROMETHEUS_URL"])
    prometheus_listen = _flag(_services()["prometheus"]["command"], "web.listen-address")
    assert url.hostname == "127.0.0.1"
    assert url.port == _port(prometheus_listen)


# --- examples/collector ------------------------------------------------------------------------


def test_snippet_exporter_is_the_tested_one() -> None:
    snippet = load_yaml(SNIPPET)
    fanout = load_yaml(CONFIG_DIR / "fanout.yaml")
    assert snippet["exporters"] == {"otlp_grpc/otelml": fanout["exporters"]["otlp_grpc/otelml"]}
    pipelines = snippet["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    for name, pipeline in pipelines.items():
        assert "otlp_grpc/otelml" in pipeline["exporters"], name
        assert pipeline["receivers"] == fanout["service"]["pipelines"][name]["receivers"]


def test_snippet_passes_the_real_collectors_validate(tmp_path: Path) -> None:
    snippet = load_yaml(SNIPPET)
    # Stand-ins for "your" receivers, processors and backends named in the snippet.
    stand_ins: dict[str, dict[str, Any]] = {
        "otlp_grpc": {"endpoint": "127.0.0.1:1", "tls": {"insecure": True}},
        "otlp_http": {"endpoint": "http://127.0.0.1:1"},
        "prometheus_remote_write": {"endpoint": "http://127.0.0.1:1/api/v1/write"},
    }
    pipelines = snippet["service"]["pipelines"].values()
    exporters = {
        name: stand_ins[name.split("/")[0]]
        for p in pipelines
        for name in p["exporters"]
        if name not in snippet["exporters"]
    }
    config = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80},
            "batch": {},
        },
        "exporters": {**exporters, **snippet["exporters"]},
        "service": snippet["service"],
    }
    path = tmp_path / "existing-collector.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [str(build_collector()), "validate", f"--config={path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
