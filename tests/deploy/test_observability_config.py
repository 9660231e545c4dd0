"""The files under deploy/ agree with the compose stack: Prometheus finds the MCP instances in
Consul, Grafana's datasources and dashboard point at real services, the collector exports to Jaeger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import compose_invariants as inv

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def load(relative: str) -> Any:
    return yaml.safe_load((DEPLOY / relative).read_text())


def test_prometheus_discovers_instances_tagged_mcp_in_consul_with_the_mounted_token(compose: dict[str, Any]) -> None:
    config = load("prometheus/prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    mcp = jobs["mcp"]
    assert mcp["metrics_path"] == "/metrics"
    (sd,) = mcp["consul_sd_configs"]
    assert sd["server"] == "consul:8500" and sd["tags"] == ["mcp"]
    token_file = sd["authorization"]["credentials_file"]
    prometheus = compose["services"]["prometheus"]
    mounted = {f"/run/secrets/{s['source']}" for s in prometheus["secrets"]}
    assert token_file in mounted
    assert compose["secrets"]["consul_http_token"] == {"environment": "CONSUL_HTTP_TOKEN"}
    keep = [r for r in mcp["relabel_configs"] if r.get("action") == "keep"]
    assert keep == [{"source_labels": ["__meta_consul_health"], "regex": "passing", "action": "keep"}]
    assert "consul" in prometheus["depends_on"]


def test_grafana_provisions_prometheus_and_jaeger_pointing_at_the_compose_services(compose: dict[str, Any]) -> None:
    datasources = {d["uid"]: d for d in load("grafana/provisioning/datasources/datasources.yml")["datasources"]}
    assert datasources["prometheus"]["url"] == "http://prometheus:9090"
    assert datasources["jaeger"]["url"] == "http://jaeger:16686"
    assert {"prometheus", "jaeger"} <= set(compose["services"])


def _datasource_uids(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["uid"]} if set(node) == {"type", "uid"} else set()
        return found.union(*(_datasource_uids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_datasource_uids(v) for v in node))
    return set()


def test_the_dashboard_is_provisioned_from_the_mounted_folder_and_uses_provisioned_datasources(
    compose: dict[str, Any],
) -> None:
    (provider,) = load("grafana/provisioning/dashboards/dashboards.yml")["providers"]
    folder = provider["options"]["path"]
    grafana_mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{folder}:ro" in grafana_mounts
    dashboards = list((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert [d.name for d in dashboards] == ["mcp-suite-overview.json"]
    dashboard = json.loads(dashboards[0].read_text())
    provisioned = {d["uid"] for d in load("grafana/provisioning/datasources/datasources.yml")["datasources"]}
    assert _datasource_uids(dashboard) <= provisioned
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("calls", "latency", "breaker"):
        assert topic in titles
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(t["expr"] for p in dashboard["panels"] for t in p["targets"])


def test_the_collector_receives_otlp_and_exports_traces_to_jaeger(compose: dict[str, Any]) -> None:
    config = load("otel-collector/config.yaml")
    pipeline = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(config[kind]), kind
    exporter = config["exporters"][pipeline["exporters"][0]]
    assert exporter["endpoint"] == "jaeger:4317"
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    for name, svc in inv.mcp_services(compose).items():
        assert inv.environment_of(svc)["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", name


def test_the_mcp_config_file_selects_consul_and_holds_no_secret() -> None:
    config = load("mcp-suite.yaml")
    assert config["registry"]["kind"] == "consul"
    text = (DEPLOY / "mcp-suite.yaml").read_text().lower()
    assert "password" not in text and "token:" not in text and "://" not in text
