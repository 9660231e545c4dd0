"""How deeply a JSON document nests, measured without parsing it (so a hostile document cannot
exhaust the parser's recursion first)."""

from __future__ import annotations

import re

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body`` has more than ``limit`` nested arrays/objects (brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has openers
    stripped = _STRING.sub(b'""', body) if b'"' in body else body
    depth = 0
    for bracket in _BRACKETS.findall(stripped):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
