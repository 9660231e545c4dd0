"""Figures read off PostgreSQL's answers: a plan's cost and rows (EXPLAIN text), a command tag's row count."""

from __future__ import annotations

import re

_COST = re.compile(r"\(cost=[\d.]+\.\.([\d.]+) rows=(\d+)")
_ACTUAL_ROWS = re.compile(r"\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)")


def plan_figures(lines: list[str], analyze: bool) -> tuple[float | None, int | None]:
    """Total cost and rows of the plan's top node; for a data change, of the node under it."""
    if not lines:
        return None, None
    top = lines[0]
    cost_match = _COST.search(top)
    cost = float(cost_match.group(1)) if cost_match else None
    target = top
    if re.match(r"\s*(Insert|Update|Delete|Merge) on", top):
        target = next((line for line in lines[1:] if "->" in line), top)
    pattern = _ACTUAL_ROWS if analyze else _COST
    match = pattern.search(target)
    rows = int(match.group(1) if analyze else match.group(2)) if match else None
    return cost, rows


def affected_rows(status: str) -> int | None:
    """The row count at the end of a command tag (``INSERT 0 3``, ``UPDATE 2``); None for a tag without one."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else None
