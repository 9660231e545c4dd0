"""The suite's settings (every section) come from embedded defaults, a YAML file and MCP_SUITE_* variables; bad files are refused clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import DEFAULT_PORTS
from mesh.config import ConfigError
from suite.settings import load_suite_settings


def test_with_no_file_the_embedded_defaults_apply(isolated_environment: Path) -> None:
    settings = load_suite_settings()
    assert settings.data_dir == isolated_environment
    assert settings.gateway.port == 8500
    assert settings.filesystem.port == DEFAULT_PORTS["filesystem"] == 8501
    assert settings.gateway.host == "127.0.0.1"
    assert set(settings.gateway.supervisors) == {"intelligence", "multimodal", "system"}


def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "suite.yaml"
    config.write_text("gateway:\n  port: 9100\n  refresh_interval_seconds: 2\n")
    monkeypatch.setenv("MCP_SUITE_GATEWAY__PORT", "9200")
    settings = load_suite_settings(config)
    assert settings.gateway.port == 9200
    assert settings.gateway.refresh_interval_seconds == 2


def test_the_config_file_is_found_through_the_environment_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path.cwd() / "mcp-suite.yaml").write_text("log_level: debug\n")
    assert load_suite_settings().log_level == "debug"
    other = tmp_path / "other.yaml"
    other.write_text("log_level: error\n")
    monkeypatch.setenv("MCP_SUITE_CONFIG", str(other))
    assert load_suite_settings().log_level == "error"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("filesystem:\n  roots:\n    - {path: /tmp, mode: rx}\n", "filesystem.roots.0.mode = 'rx'"),
        ("gateway:\n  port: 99999\n", "gateway.port = 99999"),
        ("gatway:\n  port: 1\n", "gatway: unknown key"),
        ("registry:\n  static:\n    x: {url: ftp://nope}\n", "must start with http"),
        ("registry:\n  static:\n    x: {}\n", "exactly one of 'url' or 'command'"),
        ("gateway: [1, 2\n", "not valid YAML at line"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_an_invalid_file_is_refused_with_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, text: str, fragment: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_suite_settings(config)
    assert fragment in str(caught.value)


def test_a_missing_config_file_is_named() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite_settings("/nonexistent/suite.yaml")


def test_the_command_line_prints_a_config_error_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("gateway:\n  port: -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "suite.cli", "serve", "filesystem", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "gateway.port = -1" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_connection_url_picks_its_engine_and_stays_secret() -> None:
    settings = load_suite_settings(
        database={
            "connections": {"pg": {"url": "postgresql://app:hunter2@db/main"}, "cache": {"url": "redis://h:6379/0"}}
        }
    )
    connections = settings.database.connections
    assert connections["pg"].engine == "postgres"
    assert connections["cache"].engine == "redis"
    assert connections["pg"].access == "read_only"
    assert "hunter2" not in repr(settings)


def test_a_bad_database_url_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_suite_settings(database={"connections": {"pg": {"url": "mysql://app:hunter2@db/main"}}})
    assert "database.connections.pg.url" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_connection_name_outside_the_allowed_characters_is_refused() -> None:
    with pytest.raises(ConfigError, match="connection name"):
        load_suite_settings(database={"connections": {"no spaces": {"url": "sqlite:///x.db"}}})


def test_registry_consul_is_short_for_a_consul_registry() -> None:
    assert load_suite_settings(registry="consul").registry.kind == "consul"
    assert load_suite_settings().registry.kind == "static"


def test_a_server_registers_the_supervisor_groups_the_gateway_config_puts_it_in() -> None:
    from suite.settings import supervisor_meta

    settings = load_suite_settings()
    assert supervisor_meta(settings, "memory") == "intelligence"
    assert supervisor_meta(settings, "database") == "system"
    assert supervisor_meta(settings, "unlisted") == "none"


def test_the_gateway_follows_the_suites_servers_and_those_its_config_names() -> None:
    from suite.settings import watched_servers

    settings = load_suite_settings(gateway={"servers": {"extra": {}}})
    assert watched_servers(settings) == sorted(
        ["filesystem", "database", "vectorstore", "memory", "search", "aiml", "extra"]
    )
