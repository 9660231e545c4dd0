"""Fail when a Python file of the suite's packages is longer than the limit and not a named exception.

The packages are those ``[tool.setuptools.packages.find] include`` names in pyproject.toml; the limit and
the exceptions come from ``[tool.mcp-suite.file-size]``: ``max_lines`` and ``exceptions = {"path" = "why"}``.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_MAX_LINES = 600


def _table(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key, {})
    return data


def package_dirs(root: Path, pyproject: dict[str, Any]) -> list[Path]:
    """The top-level package directories the include globs (``mesh*``, ``servers*``...) name."""
    patterns = {
        pattern.split(".")[0]
        for pattern in _table(pyproject, "tool", "setuptools", "packages", "find").get("include", [])
    }
    return sorted({path for pattern in patterns for path in root.glob(pattern) if (path / "__init__.py").is_file()})


def offenders(root: Path) -> list[tuple[str, int]]:
    """Each file over the limit and not excepted, as ``(path relative to root, line count)``."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    settings = _table(pyproject, "tool", "mcp-suite", "file-size")
    max_lines = int(settings.get("max_lines", DEFAULT_MAX_LINES))
    exceptions = set(settings.get("exceptions", {}))
    found = []
    for package in package_dirs(root, pyproject):
        for path in sorted(package.rglob("*.py")):
            name = path.relative_to(root).as_posix()
            lines = len(path.read_bytes().splitlines())
            if lines > max_lines and name not in exceptions:
                found.append((name, lines))
    return found


def main(root: Path) -> int:
    found = offenders(root)
    for name, lines in found:
        print(f"{name}: {lines} lines")
    if found:
        print(
            "over the line limit: split each by concern, or name it with the reason under"
            " [tool.mcp-suite.file-size] exceptions in pyproject.toml",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent.parent))
