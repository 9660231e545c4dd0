"""Glob patterns for names and relative paths: ``*``, ``?``, ``[...]``, ``{a,b}`` and ``**``.

A pattern without ``/`` matches an entry's name (``*.py``); a pattern with ``/`` matches the
path relative to where the walk started (``src/**/test_*.py``), where ``**`` spans any number of
directories and ``*`` stays inside one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Matcher = Callable[[str, str], bool]


def _translate(pattern: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = end
        elif char == "{":
            end = pattern.find("}", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                options = pattern[index + 1 : end].split(",")
                out.append("(?:" + "|".join(_translate(option) for option in options) + ")")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def compile_glob(pattern: str, *, case_sensitive: bool = False) -> Matcher:
    """A test ``(relative_path, name) -> bool`` for ``pattern``."""
    text = pattern.strip()
    anchored = "/" in text.strip("/")
    text = text.strip("/") if anchored else text.rstrip("/")
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        regex = re.compile(_translate(text) + r"\Z", flags)
    except re.error:
        regex = re.compile(re.escape(text) + r"\Z", flags)
    if anchored:
        return lambda relative, _name: regex.match(relative) is not None
    return lambda _relative, name: regex.match(name) is not None


def compile_globs(patterns: Sequence[str] | None, *, case_sensitive: bool = False) -> list[Matcher]:
    return [compile_glob(pattern, case_sensitive=case_sensitive) for pattern in patterns or () if pattern.strip()]


def any_match(matchers: Sequence[Matcher], relative: str, name: str) -> bool:
    return any(matcher(relative, name) for matcher in matchers)
