"""Output budgets: every tool answer stays within a number of items and bytes of JSON.

A tool's result must stay well under the client's context (25k tokens unless the caller asks for
more), so lists are cut at a count and at a size of their JSON. :func:`capped` picks the budget of
one call from what the caller asked, the default and the operator's cap; :class:`OutputBudget`
admits items one at a time and says which limit stopped them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

BudgetLimit = Literal["max_rows", "max_bytes"]
_json_string: Callable[[str], str] = json.encoder.encode_basestring


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, as a client receives it."""
    if isinstance(value, str):  # what json.dumps would write, without making an encoder per call
        return len(_json_string(value).encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def model_size(model: BaseModel) -> int:
    """:func:`json_size` of a model's JSON-mode dump, in one pass of its serializer."""
    return len(model.__pydantic_serializer__.to_json(model))


def capped(requested: int | None, default: int, cap: int) -> int:
    """The budget of one call: what the caller asked for (else ``default``), never above the operator's ``cap``."""
    return min(requested or default, cap)


@dataclass
class OutputBudget:
    """At most ``max_items`` items and about ``max_bytes`` of JSON; ``used`` starts at the enclosing brackets."""

    max_items: int
    max_bytes: int
    used: int = 2
    count: int = 0
    stopped: BudgetLimit | None = None

    def admit(self, size: int) -> bool:
        """Count one more item of ``size`` bytes; ``False`` (and ``stopped`` set) when it does not fit."""
        if self.count >= self.max_items:
            self.stopped = "max_rows"
        elif self.used + size > self.max_bytes:
            self.stopped = "max_bytes"
        else:
            self.count += 1
            self.used += size
        return self.stopped is None
