"""Opaque pagination cursors: a position plus a fingerprint of the query they belong to."""

from __future__ import annotations

import base64
import hashlib
import json

from servers.filesystem.errors import FsError


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]


def encode(position: int, query: str) -> str:
    raw = json.dumps({"p": position, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, query: str) -> int:
    """The position in ``cursor`` (0 when there is none); refuses a cursor from another query."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = data["p"]
        owner = data["q"]
    except (ValueError, KeyError, TypeError):
        raise FsError("invalid_cursor", "the cursor is not one this server issued; start again without it") from None
    if owner != query or not isinstance(position, int) or position < 0:
        raise FsError(
            "invalid_cursor",
            "the cursor belongs to a different query; repeat the same arguments with it, or start without it",
        )
    return position
