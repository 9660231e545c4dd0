"""A checked query plan as PostgreSQL: a ``tsquery`` expression, a ``WHERE`` clause and its parameters.

Words become ``plainto_tsquery`` and phrases ``phraseto_tsquery`` in the index's text-search
configuration, joined with ``&&``, ``||`` and ``!!`` as the tree says; every value is a bind
parameter. Fuzziness has no ``tsquery`` form: such a query is refused with what to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from servers.search.backends.postgres.ddl import column_of, config_of, vector_column
from servers.search.errors import unsupported_query
from servers.search.query_text import All, AnyOf, Node, Not, Phrase, Term
from servers.search.request import Filter, KeywordFilter, QueryPlan
from servers.search.schema import IndexSchema


@dataclass
class CompiledQuery:
    where: str
    tsquery: str | None
    vector: str
    params: list[Any] = field(default_factory=list)

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"


class _Compiler:
    def __init__(self, backend: str, schema: IndexSchema, out: CompiledQuery) -> None:
        self.backend = backend
        self.config = config_of(schema)
        self.schema = schema
        self.out = out

    def node(self, node: Node) -> str:
        if isinstance(node, Term):
            if node.fuzziness:
                raise unsupported_query(
                    self.backend,
                    f"fuzzy words ({node.word}~{node.fuzziness}): PostgreSQL full-text search has no edit distance",
                    "drop the ~ (or use `suggest` for spellings), or query a tantivy backend",
                )
            return f"plainto_tsquery('{self.config}'::regconfig, {self.out.bind(node.word)})"
        if isinstance(node, Phrase):
            return f"phraseto_tsquery('{self.config}'::regconfig, {self.out.bind(node.words)})"
        if isinstance(node, Not):
            return f"(!! {self.node(node.part)})"
        joiner = " && " if isinstance(node, All) else " || "
        assert isinstance(node, All | AnyOf)
        return "(" + joiner.join(self.node(part) for part in node.parts) + ")"

    def filter(self, clause: Filter) -> str:
        column = column_of(self.schema, clause.field)
        if isinstance(clause, KeywordFilter):
            condition = f"{column} = ANY({self.out.bind(list(clause.values))}::text[])"
        else:
            parts = []
            if clause.lower is not None:
                parts.append(f"{column} {'>=' if clause.include_lower else '>'} {self.out.bind(clause.lower)}")
            if clause.upper is not None:
                parts.append(f"{column} {'<=' if clause.include_upper else '<'} {self.out.bind(clause.upper)}")
            condition = " AND ".join(parts)
        return f"NOT coalesce({condition}, false)" if clause.negate else f"({condition})"


def compile_plan(backend: str, schema: IndexSchema, plan: QueryPlan) -> CompiledQuery:
    """The SQL pieces of ``plan`` (a ``tsquery`` expression only when there is text)."""
    out = CompiledQuery(where="TRUE", tsquery=None, vector=vector_column(schema, plan.fields))
    compiler = _Compiler(backend, schema, out)
    conditions = []
    if plan.text is not None:
        out.tsquery = compiler.node(plan.text)
        conditions.append(f"{out.vector} @@ q.tsq")
    conditions.extend(compiler.filter(clause) for clause in plan.filters)
    out.where = " AND ".join(conditions) or "TRUE"
    return out
