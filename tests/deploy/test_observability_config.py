"""The files under deploy/ agree with the compose stack and with the code: Prometheus finds the MCP
instances in Consul and the gateway at its static address, loads the mounted alert rules, and every
series a dashboard or an alert queries is one the gateway or a server really exports on /metrics;
Grafana's datasources and dashboard point at real services, the collector exports to Jaeger."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp.server import MCPServer
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.metrics import BREAKER_STATE_VALUES
from mesh.registry import StaticRegistry
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import build_http_app
from suite.settings import SuiteSettings
from tests.deploy import compose_invariants as inv

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


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


# ---- alert rules: provisioned, well formed, querying only what the code exports ---------------------

RULES = sorted((DEPLOY / "prometheus").glob("*rules*.yml"))

RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
SEVERITIES = {"critical", "warning", "info"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")

# Series Prometheus writes itself for every target it scrapes.
PROMETHEUS_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_KEYWORDS |= {"offset", "bool", "atan2", "inf", "nan", "Inf", "NaN"}
PROMQL_FUNCTIONS = {
    # aggregations
    *("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"),
    *("bottomk", "topk", "quantile", "limitk", "limit_ratio"),
    # functions (Prometheus 3)
    *("abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min"),
    *("day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor"),
    *("histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev"),
    *("histogram_stdvar", "histogram_sum", "double_exponential_smoothing", "hour", "idelta", "increase"),
    *("irate", "label_join", "label_replace", "ln", "log2", "log10", "minute", "month", "predict_linear"),
    *("rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc"),
    *("sqrt", "time", "timestamp", "vector", "year", "pi", "deg", "rad"),
    *("avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time"),
    *("quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time"),
    *("mad_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh"),
    *("tan", "tanh"),
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[\w$]+")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_NAME = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()")
_JOB = re.compile(r"""\bjob\s*=\s*["']([^"']+)["']""")


def promql_parts(expr: str) -> tuple[set[str], set[str]]:
    """(series names, function names) an expression uses: strings, label matchers, ranges and label
    lists are blanked first, so what is left is functions, operators, numbers and series names."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    return set(_NAME.findall(text)) - PROMQL_KEYWORDS, set(_CALL.findall(text))


def bracket_problems(expr: str) -> list[str]:
    """Unbalanced (), {} or [] outside strings."""
    pairs, stack = {")": "(", "}": "{", "]": "["}, []
    for char in _STRING.sub('""', expr):
        if char in "({[":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return [f"unbalanced {char!r}"]
    return [f"unclosed {stack[-1]!r}"] if stack else []


def rule_problems(doc: Any) -> list[str]:
    """What is wrong with an alert rules document (an empty list: nothing)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list) or not doc["groups"]:
        return ["the file needs a non-empty `groups:` list"]
    problems: list[str] = []
    seen: set[str] = set()
    for group in doc["groups"]:
        if not group.get("name") or not group.get("rules"):
            problems.append(f"group {group.get('name')!r}: needs a name and rules")
            continue
        for rule in group["rules"]:
            name = rule.get("alert")
            where = f"{group['name']}/{name}"
            if not isinstance(name, str) or not re.fullmatch(r"[A-Z][A-Za-z0-9]+", name):
                problems.append(f"{where}: `alert:` must name the alert in CamelCase")
            elif name in seen:
                problems.append(f"{where}: the alert is defined twice")
            seen.add(str(name))
            if unknown := set(rule) - RULE_KEYS:
                problems.append(f"{where}: unknown keys {sorted(unknown)}")
            expr = rule.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{where}: `expr:` is missing")
            else:
                problems.extend(f"{where}: {p}" for p in bracket_problems(expr))
            if not DURATION.match(str(rule.get("for", ""))):
                problems.append(f"{where}: `for:` must be a duration such as 5m (a blip must not page)")
            if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
                problems.append(f"{where}: labels.severity must be one of {sorted(SEVERITIES)}")
            annotations = rule.get("annotations") or {}
            for key in ("summary", "description"):
                if not str(annotations.get(key, "")).strip():
                    problems.append(f"{where}: annotations.{key} is missing")
    return problems


def query_problems(exprs: Mapping[str, Iterable[str]], exported: set[str], jobs: set[str]) -> list[str]:
    """Series nothing exports, functions PromQL lacks and jobs Prometheus does not scrape, by source."""
    problems: list[str] = []
    for source, found in exprs.items():
        for expr in found:
            series, functions = promql_parts(expr)
            if not series:
                problems.append(f"{source}: {expr!r} queries no series")
            problems.extend(f"{source}: {s} is not exported by the code" for s in sorted(series - exported))
            problems.extend(f"{source}: {f}() is not a PromQL function" for f in sorted(functions - PROMQL_FUNCTIONS))
            problems.extend(f"{source}: job {j!r} is not scraped" for j in sorted(set(_JOB.findall(expr)) - jobs))
    return problems


def sample_names(exposition: str) -> set[str]:
    """Every sample name a text exposition can carry: a family's TYPE line says which suffixes it has,
    so a labelled counter nothing has touched yet (no samples) still counts."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


async def scraped(app: ASGIApp) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def exported_series() -> set[str]:
    """What a real gateway app and a real server app answer on GET /metrics, plus Prometheus's own series."""
    gateway_app, _gateway = build_gateway_app(GatewaySettings(), StaticRegistry({}))
    sample = ServerDefinition(name="sample", build=lambda _settings: MCPServer("sample"))
    server_app = build_http_app(sample, sample.build(SuiteSettings()), SuiteSettings())
    gateway_names = sample_names(await scraped(gateway_app))
    server_names = sample_names(await scraped(server_app))
    assert {n for n in gateway_names if n.startswith("mcp_")} and {n for n in server_names if n.startswith("mcp_")}
    return gateway_names | server_names | PROMETHEUS_SERIES


def queried_expressions() -> dict[str, list[str]]:
    """Every expression of every dashboard panel and every rule, by file."""
    exprs: dict[str, list[str]] = {}
    for board in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        panels = json.loads(board.read_text())["panels"]
        exprs[board.name] = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    for rules in RULES:
        groups = yaml.safe_load(rules.read_text())["groups"]
        exprs[rules.name] = [str(rule["expr"]) for group in groups for rule in group["rules"]]
    return exprs


def scrape_jobs() -> set[str]:
    return {job["job_name"] for job in load("prometheus/prometheus.yml")["scrape_configs"]}


def alerts() -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule for path in RULES for g in yaml.safe_load(path.read_text())["groups"] for rule in g["rules"]
    }


@pytest.mark.anyio
async def test_every_series_the_dashboards_and_alerts_query_is_one_the_gateway_or_a_server_exports() -> None:
    exprs = queried_expressions()
    assert {"mcp-suite-overview.json", "alert-rules.yml"} <= set(exprs)
    assert query_problems(exprs, await exported_series(), scrape_jobs()) == []
    queried = {name: set().union(*(promql_parts(e)[0] for e in found)) for name, found in exprs.items()}
    for needed in (
        "mcp_gateway_calls_total",
        "mcp_gateway_queue_depth",
        "mcp_gateway_breaker_state",
        "mcp_gateway_denied_total",
    ):
        assert needed in queried["mcp-suite-overview.json"], needed
    for needed in ("mcp_gateway_calls_total", "mcp_gateway_call_duration_seconds_bucket"):
        assert needed in queried["alert-rules.yml"], needed
    for needed in ("mcp_gateway_breaker_state", "mcp_gateway_registry_degraded", "mcp_gateway_denied_total", "up"):
        assert needed in queried["alert-rules.yml"], needed


@pytest.mark.anyio
async def test_a_misspelled_series_an_unknown_function_or_an_unscraped_job_is_reported() -> None:
    exported = await exported_series()
    broken = {
        "typo.yml": [
            'sum(rate(mcp_gateway_calls_totl{outcome!="ok"}[5m])) > 0',
            "mcp_gateway_call_duration_seconds > 1",  # a histogram is queried through _bucket/_sum/_count
            "rte(mcp_gateway_retries_total[5m]) > 1",
            'up{job="gatway"} == 0',
            "vector(1) > 0",
        ]
    }
    assert query_problems(broken, exported, scrape_jobs()) == [
        "typo.yml: mcp_gateway_calls_totl is not exported by the code",
        "typo.yml: mcp_gateway_call_duration_seconds is not exported by the code",
        "typo.yml: rte() is not a PromQL function",
        "typo.yml: job 'gatway' is not scraped",
        "typo.yml: 'vector(1) > 0' queries no series",
    ]


def test_the_query_reader_separates_series_from_functions_labels_ranges_and_strings() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, server) (rate(mcp_x_bucket{server=~"a|b", tool!="rate"}[5m] '
        'offset 1h))) > bool 1e3 unless on (server) count without (instance) (up{job="mcp"} == 1) or vector(0)'
    )
    assert promql_parts(expr) == (
        {"mcp_x_bucket", "up"},
        {"histogram_quantile", "sum", "rate", "count", "vector"},
    )


def test_the_alert_rules_are_well_formed() -> None:
    assert [path.name for path in RULES] == ["alert-rules.yml"]
    for path in RULES:
        assert rule_problems(yaml.safe_load(path.read_text())) == [], path.name


def test_a_rule_without_for_severity_annotations_or_balanced_brackets_is_reported() -> None:
    broken = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {"alert": "Fine", "expr": "up == 0", "for": "1m", "labels": {"severity": "critical"},
                     "annotations": {"summary": "s", "description": "d"}},
                    {"alert": "Fine", "expr": "sum(rate(up[5m]) > 1", "for": "soon", "labels": {},
                     "annotations": {"summary": "s"}, "runbook": "x"},
                ],
            },
            {"name": "empty", "rules": []},
        ]
    }  # fmt: skip
    assert rule_problems(broken) == [
        "g/Fine: the alert is defined twice",
        "g/Fine: unknown keys ['runbook']",
        "g/Fine: unclosed '('",
        "g/Fine: `for:` must be a duration such as 5m (a blip must not page)",
        "g/Fine: labels.severity must be one of ['critical', 'info', 'warning']",
        "g/Fine: annotations.description is missing",
        "group 'empty': needs a name and rules",
    ]
    assert rule_problems({"groups": []}) == ["the file needs a non-empty `groups:` list"]


def test_prometheus_loads_every_rules_file_from_where_compose_mounts_it(compose: dict[str, Any]) -> None:
    loaded = load("prometheus/prometheus.yml")["rule_files"]
    mounts = compose["services"]["prometheus"]["volumes"]
    assert RULES
    for path in RULES:
        (target,) = [m.split(":")[1] for m in mounts if m.startswith(f"./deploy/prometheus/{path.name}:")]
        assert f"./deploy/prometheus/{path.name}:{target}:ro" in mounts
        assert target in loaded, f"{target} is mounted but not in rule_files"
    assert len(loaded) == len(RULES)


def test_prometheus_scrapes_the_gateway_which_does_not_register_in_consul(compose: dict[str, Any]) -> None:
    jobs = {job["job_name"]: job for job in load("prometheus/prometheus.yml")["scrape_configs"]}
    gateway = jobs["gateway"]
    (static,) = gateway["static_configs"]
    service = compose["services"]["gateway"]
    port = service["command"][service["command"].index("--port") + 1]
    assert static["targets"] == [f"{service['hostname']}:{port}"]
    assert gateway.get("metrics_path", "/metrics") == "/metrics"
    assert gateway["honor_labels"] is True  # its series carry the upstream's server/instance labels


def test_the_alerts_cover_the_gateway_its_upstreams_and_the_registry() -> None:
    exprs = {name: " ".join(rule["expr"].split()) for name, rule in alerts().items()}

    def alerting_on(fragment: str) -> list[str]:
        return [name for name, expr in exprs.items() if fragment in expr]

    assert alerting_on('up{job="gateway"} == 0')  # the gateway is down
    assert alerting_on('up{job="mcp"}')  # the servers Prometheus finds in Consul
    assert alerting_on("histogram_quantile(0.95, sum by (le, server) (rate(mcp_gateway_call_duration_seconds_bucket")
    assert alerting_on('mcp_gateway_calls_total{outcome!~"ok|')  # the error ratio leaves out successful answers
    assert alerting_on(f"(mcp_gateway_breaker_state) == {BREAKER_STATE_VALUES['open']}")  # open, as the code encodes it
    assert alerting_on("mcp_gateway_registry_degraded == 1")
    assert alerting_on("sum by (reason) (rate(mcp_gateway_denied_total[5m]))")  # refusals, by why
