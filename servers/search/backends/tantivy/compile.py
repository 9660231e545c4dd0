"""A checked query plan as a tantivy ``Query``: the same tree, term by term, analysed like the index."""

from __future__ import annotations

from collections.abc import Sequence

import tantivy
from tantivy import Occur, Query

from servers.search.query_text import All, AnyOf, Node, Not, Phrase, Term
from servers.search.request import Filter, KeywordFilter, QueryPlan

_FIELD_TYPE = {"number": tantivy.FieldType.Float, "date": tantivy.FieldType.Date}


class Compiler:
    def __init__(self, schema: tantivy.Schema, analyzer: tantivy.TextAnalyzer, fields: Sequence[str]) -> None:
        self.schema = schema
        self.analyzer = analyzer
        self.fields = list(fields)

    def words(self, text: str) -> list[str]:
        return [str(token) for token in self.analyzer.analyze(text)]

    def per_field(self, tokens: list[str], fuzziness: int = 0) -> Query | None:
        if not tokens:
            return None  # only stop words: they match nothing and constrain nothing, as in PostgreSQL
        queries = []
        for name in self.fields:
            if len(tokens) == 1 and fuzziness:
                queries.append(Query.fuzzy_term_query(self.schema, name, tokens[0], distance=fuzziness))
            elif len(tokens) == 1:
                queries.append(Query.term_query(self.schema, name, tokens[0], index_option="freq"))
            else:
                queries.append(Query.phrase_query(self.schema, name, list[str | tuple[int, str]](tokens)))
        if len(queries) == 1:
            return queries[0]
        return Query.boolean_query([(Occur.Should, q) for q in queries])

    def node(self, node: Node) -> Query | None:
        if isinstance(node, Term):
            return self.per_field(self.words(node.word), node.fuzziness)
        if isinstance(node, Phrase):
            return self.per_field(self.words(node.words))
        if isinstance(node, Not):
            inner = self.node(node.part)
            if inner is None:
                return None
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, inner)])
        if isinstance(node, All):
            clauses: list[tuple[Occur, Query]] = []
            for part in node.parts:
                if isinstance(part, Not):
                    inner = self.node(part.part)
                    if inner is not None:
                        clauses.append((Occur.MustNot, inner))
                    continue
                compiled = self.node(part)
                if compiled is not None:
                    clauses.append((Occur.Must, compiled))
            if not clauses:
                return None
            if all(occur == Occur.MustNot for occur, _ in clauses):
                clauses.append((Occur.Must, Query.all_query()))
            return Query.boolean_query(clauses)
        assert isinstance(node, AnyOf)
        options = [q for q in (self.node(part) for part in node.parts) if q is not None]
        if not options:
            return None
        return options[0] if len(options) == 1 else Query.boolean_query([(Occur.Should, q) for q in options])

    def filter(self, clause: Filter) -> Query:
        if isinstance(clause, KeywordFilter):
            if len(clause.values) == 1:
                return Query.term_query(self.schema, clause.field, clause.values[0])
            return Query.term_set_query(self.schema, clause.field, list(clause.values))
        return Query.range_query(
            self.schema,
            clause.field,
            _FIELD_TYPE[clause.kind],
            clause.lower,
            clause.upper,
            include_lower=clause.include_lower if clause.lower is not None else True,
            include_upper=clause.include_upper if clause.upper is not None else True,
        )


def compile_plan(schema: tantivy.Schema, analyzer: tantivy.TextAnalyzer, plan: QueryPlan) -> Query:
    """The tantivy query of ``plan``; filters score nothing, so scores are the text's BM25 alone."""
    compiler = Compiler(schema, analyzer, plan.fields)
    text = compiler.node(plan.text) if plan.text is not None else None
    if text is None and plan.text is not None:
        text = Query.empty_query()  # a text of stop words only matches nothing
    clauses: list[tuple[Occur, Query]] = [(Occur.Must, text if text is not None else Query.all_query())]
    for clause in plan.filters:
        occur = Occur.MustNot if clause.negate else Occur.Must
        clauses.append((occur, Query.const_score_query(compiler.filter(clause), 0.0)))
    return clauses[0][1] if len(clauses) == 1 else Query.boolean_query(clauses)
