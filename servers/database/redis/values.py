"""Redis replies as JSON within a row and byte budget.

Bulk strings become text when they are valid UTF-8 and ``{"base64": ...}`` otherwise. The
top-level collection counts as rows: a list or a map keeps at most ``max_rows`` entries, and
every reply stops growing once its JSON size would pass ``max_bytes`` (a long string is cut
short). Whatever was dropped sets ``truncated`` with the reason.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from servers.kit.budgets import BudgetLimit, OutputBudget, json_size

TruncatedReason = BudgetLimit


def to_json(value: Any) -> Any:
    """A RESP reply (bytes, ints, lists, maps, sets, errors) as plain JSON values, with no budget."""
    if isinstance(value, bytes):
        return text_or_base64(value)
    if isinstance(value, dict):
        return {_key(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    if isinstance(value, Exception):
        return {"error": str(value)}
    return value


def text_or_base64(value: bytes) -> str | dict[str, str]:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def _key(value: Any) -> str:
    converted = to_json(value)
    return converted if isinstance(converted, str) else json.dumps(converted)


@dataclass
class Budgeted:
    value: Any
    items: int | None
    truncated: bool
    reason: TruncatedReason | None


def budget(reply: Any, max_rows: int, max_bytes: int) -> Budgeted:
    """``reply`` as JSON cut to ``max_rows`` top-level entries and about ``max_bytes`` of JSON."""
    if isinstance(reply, dict):
        entries: list[tuple[str, Any]] = []
        allowed = OutputBudget(max_rows, max_bytes)
        for key, item in reply.items():
            converted_key, converted = _key(key), to_json(item)
            if not allowed.admit(json_size(converted_key) + json_size(converted) + 2):
                return Budgeted(dict(entries), len(reply), True, allowed.stopped)
            entries.append((converted_key, converted))
        return Budgeted(dict(entries), len(reply), False, None)
    if isinstance(reply, (list, tuple, set, frozenset)):
        items: list[Any] = []
        allowed = OutputBudget(max_rows, max_bytes)
        for item in reply:
            converted = to_json(item)
            if not allowed.admit(json_size(converted) + 1):
                return Budgeted(items, len(reply), True, allowed.stopped)
            items.append(converted)
        return Budgeted(items, len(reply), False, None)
    converted = to_json(reply)
    if isinstance(converted, str):
        if len(converted.encode("utf-8")) <= max_bytes:
            return Budgeted(converted, None, False, None)
        cut = converted.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
        return Budgeted(cut, None, True, "max_bytes")
    if json_size(converted) > max_bytes:
        return Budgeted(None, None, True, "max_bytes")
    return Budgeted(converted, None, False, None)
