"""Database values as JSON: what a row cell becomes in a result, and how many bytes a row costs.

Numbers, strings, booleans and nulls pass through (a Decimal becomes a string to keep its
precision, and a float that JSON cannot hold becomes a string too); dates and times become
ISO 8601; bytes become ``\\x``-prefixed hex as PostgreSQL prints them; arrays stay lists;
anything else (ranges, geometric types, network addresses) becomes its text form.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any

from servers.kit.budgets import json_size

JsonValue = Any


def to_json(value: Any) -> JsonValue:
    """``value`` as something ``json.dumps`` accepts, losslessly where JSON allows."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return str(value)


def row_bytes(row: list[JsonValue]) -> int:
    """The size of ``row`` as compact JSON: what it adds to a response."""
    return json_size(row) + 1


_KEY_TYPES: dict[str, type[Any]] = {
    "int": int,
    "str": str,
    "float": float,
    "decimal": Decimal,
    "date": dt.date,
    "datetime": dt.datetime,
    "uuid": uuid.UUID,
    "bool": bool,
}


def encode_key(value: Any) -> list[Any] | None:
    """A sort-key value as ``[type, text]`` for a cursor, or ``None`` when the type cannot be carried."""
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", value]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, float) and math.isfinite(value):
        return ["float", value]
    if isinstance(value, Decimal) and value.is_finite():
        return ["decimal", str(value)]
    if isinstance(value, dt.datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, dt.date):
        return ["date", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["uuid", str(value)]
    return None


def decode_key(encoded: Any) -> Any:
    """The value :func:`encode_key` carried; ``ValueError`` when it is not one."""
    if not isinstance(encoded, list) or len(encoded) != 2 or encoded[0] not in _KEY_TYPES:
        raise ValueError("not a sort key")
    kind, raw = encoded
    if kind == "decimal":
        return Decimal(raw)
    if kind == "datetime":
        return dt.datetime.fromisoformat(raw)
    if kind == "date":
        return dt.date.fromisoformat(raw)
    if kind == "uuid":
        return uuid.UUID(raw)
    if kind == "float":
        return float(raw)
    if not isinstance(raw, _KEY_TYPES[kind]):
        raise ValueError("not a sort key")
    return raw
