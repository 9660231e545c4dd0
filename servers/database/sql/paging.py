"""The page budget shared by the engines: at most ``max_rows`` rows and ``max_bytes`` bytes of JSON.

A page always holds at least one row (else a wide row would stall the cursor forever): when that
row alone is over the byte budget, its longest text cells are cut and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from servers.database.sql.values import row_bytes

StoppedBy = Literal["end", "row_limit", "byte_budget"]


@dataclass
class Page:
    """The rows kept for this page, why it stopped, and notes for the client."""

    rows: list[list[Any]]
    stopped_by: StoppedBy
    notes: list[str] = field(default_factory=list)


def take_page(rows: list[list[Any]], want: int, max_bytes: int, more_exist: bool) -> Page:
    """Keep rows of ``rows`` (already JSON values) within ``want`` rows and ``max_bytes`` bytes.

    ``more_exist`` says whether rows beyond ``rows`` exist (the caller fetched one extra row).
    """
    kept: list[list[Any]] = []
    used = 2
    for row in rows[:want]:
        size = row_bytes(row)
        if kept and used + size > max_bytes:
            return Page(
                kept, "byte_budget", [f"the page stopped at the {max_bytes}-byte budget; continue with the cursor"]
            )
        if not kept and size > max_bytes:
            cut, note = _shrink(row, max_bytes)
            return Page([cut], "byte_budget" if len(rows) > 1 or more_exist else "end", [note])
        kept.append(row)
        used += size
    if len(rows) > want or more_exist:
        return Page(kept, "row_limit")
    return Page(kept, "end")


def _shrink(row: list[Any], max_bytes: int) -> tuple[list[Any], str]:
    """``row`` with its longest string cells cut so that it fits ``max_bytes``."""
    cut = list(row)
    share = max(64, max_bytes // max(1, len(row)) - 16)
    for index, cell in enumerate(cut):
        if isinstance(cell, str) and len(cell.encode()) > share:
            text = cell.encode()[:share].decode(errors="ignore")
            cut[index] = f"{text}…[cut: {len(cell.encode())} bytes in all]"
    return cut, (
        f"one row is larger than the {max_bytes}-byte budget: its long text cells were cut; "
        "select fewer or narrower columns (e.g. substr(col, 1, 200)) to see them"
    )
