"""The portable filter compiled to a Qdrant ``Filter`` (``must`` / ``should`` / ``must_not``).

Metadata lives under the payload key ``metadata``, so a field ``year`` is the key ``metadata.year``.
Qdrant reads ``.`` and ``[]`` in a key as a path into nested payload: a field name holding them is
``filter_unsupported``. Equality on a number is a closed ``Range`` (``MatchValue`` keeps ``1`` and
``1.0`` apart, the portable language does not); strings use ``MatchValue`` / ``MatchAny``, booleans
``MatchValue``. ``$ne`` and ``$nin`` are ``must_not`` of the positive condition, so a point without
the field matches them, as on Chroma; ``MatchExcept`` is not used because it does not match a point
lacking the field.
"""

from __future__ import annotations

from qdrant_client import models

from servers.vectorstore.backends.base import BackendError
from servers.vectorstore.filters import And, Compare, Filter, Not, Or, Scalar, push_not_down

Condition = models.Condition
PAYLOAD_METADATA = "metadata"
_RESERVED = frozenset('.[]"')


def compile_filter(node: Filter | None, backend: str) -> models.Filter | None:
    """Qdrant's filter for ``node``.

    Raises:
        BackendError: ``filter_unsupported``, naming the construct and the backend.
    """
    if node is None:
        return None
    compiled = _compile(push_not_down(node), backend)
    return compiled if isinstance(compiled, models.Filter) else models.Filter(must=[compiled])


def _key(field: str, backend: str) -> str:
    if _RESERVED & set(field):
        raise BackendError(
            "filter_unsupported",
            f"backend {backend!r} (qdrant) cannot filter on the field name {field!r}: "
            "Qdrant reads '.', '[', ']' and '\"' in a key as a path into nested payload",
        )
    return f"{PAYLOAD_METADATA}.{field}"


def _equal(key: str, value: Scalar) -> models.FieldCondition:
    if isinstance(value, bool | str):
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))
    return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))


def _compile(node: Filter, backend: str) -> Condition:
    if isinstance(node, And):
        return models.Filter(must=[_compile(item, backend) for item in node.items])
    if isinstance(node, Or):
        return models.Filter(should=[_compile(item, backend) for item in node.items])
    if isinstance(node, Not):  # push_not_down leaves none
        raise AssertionError("a $not survived push_not_down")
    key = _key(node.field, backend)
    if isinstance(node, Compare):
        if node.op == "$eq":
            return _equal(key, node.value)
        if node.op == "$ne":
            return models.Filter(must_not=[_equal(key, node.value)])
        value = node.value
        if isinstance(value, bool | str):  # the parser allows numbers only
            raise AssertionError("a range on a non-number survived parsing")
        ranges = {
            "$gt": models.Range(gt=value),
            "$gte": models.Range(gte=value),
            "$lt": models.Range(lt=value),
            "$lte": models.Range(lte=value),
        }
        return models.FieldCondition(key=key, range=ranges[node.op])
    strings = [value for value in node.values if isinstance(value, str)]
    conditions: list[Condition] = []
    if strings:
        conditions.append(models.FieldCondition(key=key, match=models.MatchAny(any=strings)))
    conditions.extend(_equal(key, value) for value in node.values if not isinstance(value, str))
    if node.op == "$nin":
        return models.Filter(must_not=conditions)
    return conditions[0] if len(conditions) == 1 else models.Filter(should=conditions)
