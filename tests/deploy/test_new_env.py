"""deploy/new-env.sh turns .env.example into a .env with fresh secrets and never overwrites one."""

from __future__ import annotations

import re
import stat
import subprocess
import uuid
from pathlib import Path

import yaml

from tests.deploy import compose_invariants as inv

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "new-env.sh"


def test_new_env_replaces_every_placeholder_with_a_fresh_url_safe_secret(tmp_path: Path) -> None:
    example = inv.read_env_file(ROOT / ".env.example")
    first, second = tmp_path / "one.env", tmp_path / "two.env"
    for target in (first, second):
        subprocess.run([str(SCRIPT), str(target)], check=True, capture_output=True, timeout=30)
    one, two = inv.read_env_file(first), inv.read_env_file(second)
    assert set(one) == set(example)
    placeholders = {k for k, v in example.items() if v.startswith("change-me")} | {"CONSUL_HTTP_TOKEN"}
    assert len(placeholders) >= 6
    for key in placeholders:
        assert one[key] != example[key] and one[key] != two[key], key
        assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", one[key]), key
    uuid.UUID(one["CONSUL_HTTP_TOKEN"])
    assert {k: v for k, v in one.items() if k not in placeholders} == {
        k: v for k, v in example.items() if k not in placeholders
    }
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    inv.interpolate_document(compose, one)  # every required secret is set


def test_new_env_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("POSTGRES_PASSWORD=kept\n")
    result = subprocess.run([str(SCRIPT), str(target)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "exists" in result.stderr
    assert target.read_text() == "POSTGRES_PASSWORD=kept\n"
