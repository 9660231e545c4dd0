"""Bind JSON parameters to PostgreSQL's parameter types.

asyncpg wants the Python type of each parameter (an ``int`` for ``int4``, a ``date`` for
``date``); a client sends JSON, so a date arrives as a string. When asyncpg refuses an argument,
the statement's parameter types are read and each string (or number) is converted to what the
type needs. A value that does not convert gets an error naming the parameter and the type.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from servers.database.errors import DbError

_INTS = {"int2", "int4", "int8", "oid"}
_FLOATS = {"float4", "float8"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "on", "1"):
        return True
    if text in ("false", "f", "no", "n", "off", "0"):
        return False
    raise ValueError(value)


def _to_datetime(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "numeric": lambda v: Decimal(str(v)),
    "bool": _to_bool,
    "date": lambda v: dt.date.fromisoformat(str(v)),
    "timestamp": lambda v: _to_datetime(v).replace(tzinfo=None),
    "timestamptz": lambda v: _aware(_to_datetime(v)),
    "time": lambda v: dt.time.fromisoformat(str(v)),
    "uuid": lambda v: uuid.UUID(str(v)),
    "json": lambda v: v if isinstance(v, str) else json.dumps(v),
    "jsonb": lambda v: v if isinstance(v, str) else json.dumps(v),
    "text": str,
    "varchar": str,
    "bpchar": str,
    "name": str,
}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _convert(type_name: str, value: Any) -> Any:
    if value is None:
        return None
    if type_name in _INTS:
        if isinstance(value, bool):
            raise ValueError(value)
        return int(value) if not isinstance(value, float) or value.is_integer() else _fail(value)
    if type_name in _FLOATS:
        return float(value)
    if type_name.startswith("_") and isinstance(value, list):
        return [_convert(type_name[1:], item) for item in value]
    converter = _CONVERTERS.get(type_name)
    return converter(value) if converter else value


def _fail(value: Any) -> Any:
    raise ValueError(value)


def coerce(connection: str, values: Sequence[Any], type_names: Sequence[str]) -> list[Any]:
    """``values`` converted to the parameter types ``type_names`` (asyncpg's type names, e.g. ``int4``)."""
    out: list[Any] = []
    for index, (value, type_name) in enumerate(zip(values, type_names, strict=False), start=1):
        try:
            out.append(_convert(type_name, value))
        except (ValueError, TypeError, InvalidOperation, OverflowError):
            raise DbError(
                "bad_parameter",
                f"connection {connection!r}: parameter ${index} = {value!r} is not a valid {type_name}; "
                "pass a value of that type (dates and times as ISO 8601 text)",
            ) from None
    out.extend(values[len(type_names) :])
    return out


def check_count(connection: str, used: int, given: int) -> None:
    """Refuse a call whose ``params`` do not match the ``$n`` placeholders of the statement."""
    if used != given:
        uses = f"uses $1..${used}" if used else "uses no $n placeholders"
        raise DbError(
            "bad_parameter",
            f"connection {connection!r}: the statement {uses} but {given} params were given; pass exactly {used}",
        )
