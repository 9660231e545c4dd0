"""The analyser of an index's text fields: the same words at index time, query time and in snippets."""

from __future__ import annotations

import tantivy

from servers.search.schema import IndexSchema

TOKENIZER_PREFIX = "search"
MAX_TOKEN_CHARS = 40


def tokenizer_name(schema: IndexSchema) -> str:
    return f"{TOKENIZER_PREFIX}_{schema.language}_{'stem' if schema.stems else 'plain'}"


def analyzer_of(schema: IndexSchema) -> tantivy.TextAnalyzer:
    """Words split on non-alphanumerics, long ones dropped, lower-cased; stop words and stems by language."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
    )
    if schema.stems:
        builder = builder.filter(tantivy.Filter.stopword(schema.language)).filter(
            tantivy.Filter.stemmer(schema.language)
        )
    return builder.build()


def build_schema(schema: IndexSchema) -> tantivy.Schema:
    """The tantivy schema: ``_id`` exact, text analysed with positions, the rest fast fields for filters and sort."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("_id", stored=True, tokenizer_name="raw", fast=True)
    for spec in schema.fields:
        if spec.type == "text":
            builder.add_text_field(spec.name, stored=True, tokenizer_name=tokenizer_name(schema))
        elif spec.type == "keyword":
            builder.add_text_field(spec.name, stored=True, tokenizer_name="raw", fast=True)
        elif spec.type == "number":
            builder.add_float_field(spec.name, stored=True, indexed=True, fast=True)
        else:
            builder.add_date_field(spec.name, stored=True, indexed=True, fast=True)
    return builder.build()
