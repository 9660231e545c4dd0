"""scripts/check_file_sizes.py: files over the line limit fail make lint unless pyproject names them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_file_sizes.py"

PYPROJECT = """
[tool.setuptools.packages.find]
include = ["mesh*", "extra*"]

[tool.mcp-suite.file-size]
max_lines = 10
exceptions = {"mesh/excepted.py" = "a generated table"}
"""


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_file_sizes", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> None:
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for package in ("mesh", "mesh/deep", "extra", "unlisted"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
    long = "x = 1\n" * 11
    (root / "mesh" / "short.py").write_text("x = 1\n" * 10, encoding="utf-8")
    (root / "mesh" / "excepted.py").write_text(long, encoding="utf-8")
    (root / "mesh" / "deep" / "long.py").write_text(long, encoding="utf-8")
    (root / "extra" / "long.py").write_text(long, encoding="utf-8")
    (root / "unlisted" / "long.py").write_text(long, encoding="utf-8")


def test_files_over_the_limit_in_the_listed_packages_are_reported_with_their_line_counts(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert _script().offenders(tmp_path) == [("extra/long.py", 11), ("mesh/deep/long.py", 11)]


def test_the_script_exits_1_and_prints_each_offender(tmp_path: Path) -> None:
    _tree(tmp_path)
    script = tmp_path / "scripts" / "check_file_sizes.py"
    script.parent.mkdir()
    script.write_bytes(SCRIPT.read_bytes())
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert run.stdout.splitlines() == ["extra/long.py: 11 lines", "mesh/deep/long.py: 11 lines"]
    assert "[tool.mcp-suite.file-size]" in run.stderr


def test_a_tree_within_the_limit_passes(tmp_path: Path) -> None:
    _tree(tmp_path)
    for path in ("mesh/deep/long.py", "extra/long.py"):
        (tmp_path / path).write_text("x = 1\n", encoding="utf-8")
    assert _script().main(tmp_path) == 0
