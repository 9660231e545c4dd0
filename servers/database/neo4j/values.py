"""Neo4j values as JSON, and records cut to a row and byte budget.

Nodes become ``{"element_id", "labels", "properties"}``, relationships ``{"element_id", "type",
"start_element_id", "end_element_id", "properties"}``, paths ``{"nodes", "relationships"}``;
temporal values their ISO 8601 text (nanoseconds kept; a date-time in a named time zone ends with the zone id
in brackets, as Neo4j writes it: ``2024-03-31T03:30:00+02:00[Europe/Paris]``, since the offset alone loses the
rules of the zone), points ``{"srid", "coordinates"}``, bytes ``{"base64"}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from neo4j.graph import Node, Path, Relationship
from neo4j.spatial import Point
from neo4j.time import Date, DateTime, Duration, Time

from servers.kit.budgets import BudgetLimit, OutputBudget, json_size


def to_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Node):
        return {
            "element_id": value.element_id,
            "labels": sorted(value.labels),
            "properties": {k: to_json(v) for k, v in value.items()},
        }
    if isinstance(value, Relationship):
        return {
            "element_id": value.element_id,
            "type": value.type,
            "start_element_id": value.start_node.element_id if value.start_node is not None else None,
            "end_element_id": value.end_node.element_id if value.end_node is not None else None,
            "properties": {k: to_json(v) for k, v in value.items()},
        }
    if isinstance(value, Path):
        return {
            "nodes": [to_json(node) for node in value.nodes],
            "relationships": [to_json(rel) for rel in value.relationships],
        }
    if isinstance(value, DateTime):
        zone = _zone_id(value.tzinfo)
        return value.iso_format() + (f"[{zone}]" if zone else "")
    if isinstance(value, Date | Time):
        return value.iso_format()
    if isinstance(value, Duration):
        return value.iso_format()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Point):
        return {"srid": value.srid, "coordinates": [to_json(c) for c in value]}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    return str(value)


def _zone_id(tzinfo: dt.tzinfo | None) -> str | None:
    """The IANA name of a named time zone (pytz's ``zone``, zoneinfo's ``key``); None for a fixed offset or UTC."""
    name = getattr(tzinfo, "zone", None) or getattr(tzinfo, "key", None)
    return name if isinstance(name, str) and name != "UTC" else None


@dataclass
class Rows:
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    reason: BudgetLimit | None = None


async def collect(records: AsyncIterator[Any], columns: Iterable[str], max_rows: int, max_bytes: int) -> Rows:
    """Up to ``max_rows`` records (and about ``max_bytes`` of JSON) from ``records``; stops at the first one past."""
    out = Rows(columns=list(columns))
    allowed = OutputBudget(max_rows, max_bytes)
    async for record in records:
        row = {str(key): to_json(value) for key, value in record.items()}
        if not allowed.admit(json_size(row) + 1):
            out.truncated, out.reason = True, allowed.stopped
            break
        out.rows.append(row)
    return out
