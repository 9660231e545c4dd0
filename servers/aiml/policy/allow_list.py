"""The operator's model allow-list: globs over ``<provider>/<model>``."""

from __future__ import annotations

from fnmatch import fnmatchcase


def allowed(patterns: tuple[str, ...], provider: str, model: str) -> bool:
    name = f"{provider}/{model}"
    return any(fnmatchcase(name, pattern) for pattern in patterns)
