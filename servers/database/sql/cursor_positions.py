"""Opaque cursors of ``sql_query``: where the next page starts, bound to the query it belongs to.

A cursor holds the number of rows already returned (``offset``) and, when the query is paged by
keyset, the last row's sort-key value plus how many rows at the end of the page share it
(``skip``), so ties at a page boundary are neither lost nor repeated. It also holds a
fingerprint of the connection, statement and parameters: a cursor replayed against another
query is refused instead of returning rows of something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servers.kit.cursors import decode_cursor, encode_cursor, fingerprint, not_issued, other_query

__all__ = ["Position", "decode", "encode", "fingerprint"]

_REPEAT = "repeat the same sql, params and connection with it"


@dataclass(frozen=True)
class Position:
    """Where a page starts.

    ``offset``: rows returned so far. In keyset mode (``mode="k"``) the rows are walked in two
    segments, the non-null sort keys (``segment="v"``) and the null ones (``"n"``), in the order the
    ORDER BY puts them; ``key`` is the last key seen in the segment and ``skip`` the rows after the
    seek that were already returned (ties of ``key``, or nulls). In offset mode (``"o"``) the next
    page skips ``offset`` rows.
    """

    offset: int = 0
    key: list[Any] | None = None
    skip: int = 0
    mode: str = "k"
    segment: str | None = None


def encode(position: Position, query: str) -> str:
    fields = {"o": position.offset, "k": position.key, "s": position.skip, "m": position.mode, "g": position.segment}
    return encode_cursor(fields, query)


def decode(cursor: str | None, query: str) -> Position:
    """The position in ``cursor`` (the start when there is none); refuses a cursor of another query."""
    if not cursor:
        return Position()
    data = decode_cursor(cursor, query, repeat=_REPEAT)
    try:
        offset, key, skip, mode, segment = data["o"], data["k"], data["s"], data["m"], data["g"]
    except KeyError:
        raise not_issued() from None
    valid = isinstance(offset, int) and isinstance(skip, int) and offset >= 0 and skip >= 0
    valid = valid and mode in ("k", "o") and segment in (None, "v", "n")
    if not valid or not (key is None or isinstance(key, list)):
        raise other_query(_REPEAT)
    return Position(offset=offset, key=key, skip=skip, mode=mode, segment=segment)
