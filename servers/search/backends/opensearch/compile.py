"""A checked query plan as OpenSearch query DSL: the same tree as ``bool`` clauses, filters apart.

Words and phrases become ``multi_match`` over the searched fields (``best_fields`` / ``phrase``,
every analysed word required, fuzziness when asked), the tree ``must`` / ``should`` / ``must_not``,
and filters ``bool.filter`` clauses that do not score.
"""

from __future__ import annotations

from typing import Any

from servers.search.query_text import All, AnyOf, Node, Not, Phrase, Term
from servers.search.request import Filter, KeywordFilter, QueryPlan
from servers.search.schema import json_value


def _words(text: str, fields: list[str], fuzziness: int = 0, phrase: bool = False) -> dict[str, Any]:
    match: dict[str, Any] = {"query": text, "fields": fields, "type": "phrase" if phrase else "best_fields"}
    if not phrase:
        match["operator"] = "and"
    if fuzziness:
        match["fuzziness"] = fuzziness
    return {"multi_match": match}


def compile_node(node: Node, fields: list[str]) -> dict[str, Any]:
    if isinstance(node, Term):
        return _words(node.word, fields, node.fuzziness)
    if isinstance(node, Phrase):
        return _words(node.words, fields, phrase=True)
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_node(node.part, fields)]}}
    if isinstance(node, All):
        must = [compile_node(p, fields) for p in node.parts if not isinstance(p, Not)]
        must_not = [compile_node(p.part, fields) for p in node.parts if isinstance(p, Not)]
        clause: dict[str, Any] = {}
        if must:
            clause["must"] = must
        if must_not:
            clause["must_not"] = must_not
        return {"bool": clause}
    assert isinstance(node, AnyOf)
    return {"bool": {"should": [compile_node(p, fields) for p in node.parts], "minimum_should_match": 1}}


def compile_filter(clause: Filter) -> dict[str, Any]:
    if isinstance(clause, KeywordFilter):
        return {"terms": {clause.field: list(clause.values)}}
    bounds: dict[str, Any] = {}
    if clause.lower is not None:
        bounds["gte" if clause.include_lower else "gt"] = json_value(clause.lower)
    if clause.upper is not None:
        bounds["lte" if clause.include_upper else "lt"] = json_value(clause.upper)
    return {"range": {clause.field: bounds}}


def compile_plan(plan: QueryPlan) -> dict[str, Any]:
    text = compile_node(plan.text, list(plan.fields)) if plan.text is not None else {"match_all": {}}
    keep = [compile_filter(c) for c in plan.filters if not c.negate]
    drop = [compile_filter(c) for c in plan.filters if c.negate]
    if not keep and not drop:
        return text
    clause: dict[str, Any] = {"must": [text]}
    if keep:
        clause["filter"] = keep
    if drop:
        clause["must_not"] = drop
    return {"bool": clause}
