"""The portable filter language: what parses, what is refused (naming the place), and how $not is pushed down."""

from __future__ import annotations

from typing import Any

import pytest

from servers.vectorstore.backends.base import BackendError
from servers.vectorstore.backends.chroma_filters import compile_where
from servers.vectorstore.backends.qdrant_filters import compile_filter
from servers.vectorstore.filters import (
    MAX_DEPTH,
    And,
    Compare,
    FilterError,
    Member,
    Not,
    Or,
    fields_of,
    parse_filter,
    push_not_down,
)


def test_a_bare_value_is_equality_and_several_keys_are_all_of_them() -> None:
    assert parse_filter({"a": 1}) == Compare("a", "$eq", 1)
    assert parse_filter({"a": "x", "b": {"$gt": 2.5}}) == And((Compare("a", "$eq", "x"), Compare("b", "$gt", 2.5)))
    assert parse_filter({"$or": [{"a": True}, {"b": {"$in": [1, "y"]}}]}) == Or(
        (Compare("a", "$eq", True), Member("b", "$in", (1, "y")))
    )
    assert parse_filter({"$not": {"a": 1}}) == Not(Compare("a", "$eq", 1))
    assert parse_filter(None) is None


@pytest.mark.parametrize(
    ("raw", "place"),
    [
        ({}, "filter"),
        ({"$and": []}, "filter.$and"),
        ({"$and": {"a": 1}}, "filter.$and"),
        ({"$or": [{"a": 1}, "text"]}, "filter.$or[1]"),
        ({"$xor": [{"a": 1}]}, "filter.$xor"),
        ({"a": {"$regex": "x"}}, "filter.a.$regex"),
        ({"a": {"$gt": 1, "$lt": 3}}, "filter.a"),
        ({"a": {"$gt": "x"}}, "filter.a.$gt"),
        ({"a": {"$lte": True}}, "filter.a.$lte"),
        ({"a": {"$in": []}}, "filter.a.$in"),
        ({"a": {"$nin": "x"}}, "filter.a.$nin"),
        ({"a": {"$in": [1, [2]]}}, "filter.a.$in[1]"),
        ({"a": None}, "filter.a"),
        ({"a": float("nan")}, "filter.a"),
        ({"$and": [{"b": 1}, {"c": {"$eq": {"d": 1}}}]}, "filter.$and[1].c.$eq"),
        ({"$not": [{"a": 1}]}, "filter.$not"),
    ],
)
def test_a_malformed_filter_is_refused_naming_the_place(raw: dict[str, Any], place: str) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filter(raw)
    assert refused.value.code == "invalid_filter"
    assert refused.value.detail.startswith(f"{place}: ")


def test_a_filter_nested_too_deep_is_refused() -> None:
    raw: dict[str, Any] = {"a": 1}
    for _ in range(MAX_DEPTH + 1):
        raw = {"$not": raw}
    with pytest.raises(FilterError, match="deeper"):
        parse_filter(raw)


def test_not_is_pushed_down_by_de_morgan() -> None:
    node = parse_filter({"$not": {"$and": [{"a": 1}, {"$or": [{"b": {"$gt": 2}}, {"c": {"$in": ["x"]}}]}]}})
    assert node is not None
    assert push_not_down(node) == Or(
        (Compare("a", "$ne", 1), And((Compare("b", "$lte", 2), Member("c", "$nin", ("x",)))))
    )
    double = parse_filter({"$not": {"$not": {"a": {"$lt": 1}}}})
    assert double is not None and push_not_down(double) == Compare("a", "$lt", 1)
    assert fields_of(node) == {"a", "b", "c"}


def test_chroma_gets_two_item_logic_and_type_grouped_lists() -> None:
    assert compile_where(parse_filter({"$or": [{"a": 1}]}), "c") == {"a": {"$eq": 1}}
    assert compile_where(parse_filter({"$not": {"a": {"$in": ["x", "y", True, 2]}}}), "c") == {
        "$and": [{"a": {"$nin": ["x", "y"]}}, {"a": {"$nin": [True]}}, {"a": {"$ne": 2}}]
    }


def test_qdrant_compares_numbers_by_range_and_negates_with_must_not() -> None:
    compiled = compile_filter(parse_filter({"a": {"$ne": 2}}), "q")
    assert compiled is not None and compiled.must is None
    (negated,) = compiled.must_not  # type: ignore[misc]
    assert negated.key == "metadata.a"
    assert negated.range.gte == 2 and negated.range.lte == 2


def test_each_compiler_refuses_the_field_names_its_engine_reserves() -> None:
    with pytest.raises(BackendError, match="filter_unsupported: backend 'c' \\(chroma\\)"):
        compile_where(parse_filter({"#document": "x"}), "c")
    with pytest.raises(BackendError, match="filter_unsupported: backend 'q' \\(qdrant\\)"):
        compile_filter(parse_filter({"$not": {"a.b": 1}}), "q")
    assert compile_where(parse_filter({"a.b": 1}), "c") == {"a.b": {"$eq": 1}}
