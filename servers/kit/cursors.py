"""Opaque pagination cursors: a page position bound to a fingerprint of the query it belongs to.

A cursor is URL-safe base64 of compact JSON holding the position's fields and ``q``, the
fingerprint of the call that issued it (tool, target and arguments). A cursor replayed against
another query, or one this server never issued, is refused with ``invalid_cursor`` instead of
returning a page of something else.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from servers.kit.tool_errors import CodedToolError

_QUERY_KEY = "q"


def fingerprint(*parts: object) -> str:
    """A short, stable digest of the arguments that define a query (anything JSON can show, else ``str()``)."""
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]


def encode_cursor(fields: Mapping[str, Any], query: str) -> str:
    """The cursor holding ``fields`` (JSON values; not the key ``q``) for the query fingerprinted ``query``."""
    raw = json.dumps({**fields, _QUERY_KEY: query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: str, *, repeat: str = "repeat the same arguments with it") -> dict[str, Any]:
    """The fields of ``cursor``, which must have been issued for ``query``.

    Raises:
        CodedToolError: ``invalid_cursor`` when the text is not a cursor or belongs to another query;
            ``repeat`` says what the caller should send again with it.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        owner = data.pop(_QUERY_KEY)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise not_issued() from None
    if owner != query:
        raise other_query(repeat)
    return dict(data)


def not_issued() -> CodedToolError:
    return CodedToolError("invalid_cursor", "the cursor is not one this server issued; start again without it")


def other_query(repeat: str = "repeat the same arguments with it") -> CodedToolError:
    return CodedToolError("invalid_cursor", f"the cursor belongs to a different query; {repeat}, or start without it")


def offset_cursor(position: int, query: str) -> str:
    """The cursor of a list paged by position: the next page starts at item ``position``."""
    return encode_cursor({"p": position}, query)


def offset_of(cursor: str | None, query: str) -> int:
    """Where the page of ``cursor`` starts (0 without a cursor).

    Raises:
        CodedToolError: ``invalid_cursor`` for a cursor of another query or one this server never issued.
    """
    if not cursor:
        return 0
    fields = decode_cursor(cursor, query)
    if "p" not in fields:
        raise not_issued()
    position = fields["p"]
    if not isinstance(position, int) or position < 0:
        raise other_query()
    return position
