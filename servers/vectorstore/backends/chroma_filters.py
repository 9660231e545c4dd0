"""The portable filter compiled to Chroma's ``where``.

Chroma has no ``$not`` (it is pushed down first, :func:`~servers.vectorstore.filters.push_not_down`),
wants ``$and``/``$or`` with two items or more (a single one is unwrapped), and refuses an ``$in`` list
mixing types: numbers become ``$eq``/``$ne`` per value (its ``$eq`` compares ``1`` and ``1.0`` as equal,
its ``$in`` keeps them apart), strings and booleans stay grouped in one ``$in``/``$nin``. Field names
starting with ``#`` and ``chroma:document`` are Chroma's own: ``filter_unsupported``.
"""

from __future__ import annotations

from typing import Any

from servers.vectorstore.backends.base import BackendError
from servers.vectorstore.filters import And, Compare, Filter, Member, Not, Or, is_number, push_not_down

Where = dict[str, Any]


def unsupported_field(field: str) -> str | None:
    if field.startswith("#") or field == "chroma:document":
        return f"the field name {field!r} (Chroma reserves names starting with '#' and 'chroma:document')"
    return None


def compile_where(node: Filter | None, backend: str) -> Where | None:
    """Chroma's ``where`` for ``node``.

    Raises:
        BackendError: ``filter_unsupported``, naming the construct and the backend.
    """
    if node is None:
        return None
    return _compile(push_not_down(node), backend)


def _join(op: str, parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else {op: parts}


def _compile(node: Filter, backend: str) -> Where:
    if isinstance(node, And | Or):
        return _join("$and" if isinstance(node, And) else "$or", [_compile(item, backend) for item in node.items])
    if isinstance(node, Not):  # push_not_down leaves none
        raise AssertionError("a $not survived push_not_down")
    reason = unsupported_field(node.field)
    if reason is not None:
        raise BackendError("filter_unsupported", f"backend {backend!r} (chroma) cannot filter on {reason}")
    if isinstance(node, Compare):
        return {node.field: {node.op: node.value}}
    assert isinstance(node, Member)
    positive = node.op == "$in"
    parts: list[Where] = []
    for kind in (str, bool):
        group = [value for value in node.values if type(value) is kind]
        if group:
            parts.append({node.field: {node.op: group}})
    for value in node.values:
        if is_number(value):
            parts.append({node.field: {"$eq" if positive else "$ne": value}})
    return _join("$or" if positive else "$and", parts)
