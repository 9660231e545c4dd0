"""An index's schema as an OpenSearch index body: the analysis settings and the mapping.

Text fields use one custom analyser per index (standard tokenizer, lower-case, the language's stop
words and its snowball stemmer: the stems tantivy and PostgreSQL make) and carry a ``plain``
sub-field (lower-cased words only) that ``suggest`` draws spellings from. The document id is kept
in the keyword field ``id`` too (no user field may be named so), which sorts break ties on. The
schema itself rides in the mapping's ``_meta``.
"""

from __future__ import annotations

from typing import Any

from servers.search.schema import IndexSchema

ANALYZER = "mcp_text"
META_KEY = "mcp_search_schema"
SNOWBALL = {
    "english": "English",
    "french": "French",
    "german": "German",
    "spanish": "Spanish",
    "italian": "Italian",
    "portuguese": "Portuguese",
    "dutch": "Dutch",
}


def index_body(schema: IndexSchema) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    chain = ["lowercase"]
    if schema.stems:
        filters["mcp_stop"] = {"type": "stop", "stopwords": f"_{schema.language}_"}
        filters["mcp_stem"] = {"type": "snowball", "language": SNOWBALL[schema.language]}
        chain += ["mcp_stop", "mcp_stem"]
    properties: dict[str, Any] = {"id": {"type": "keyword"}}
    for spec in schema.fields:
        if spec.type == "text":
            properties[spec.name] = {
                "type": "text",
                "analyzer": ANALYZER,
                "fields": {"plain": {"type": "text", "analyzer": "simple"}},
            }
        elif spec.type == "keyword":
            properties[spec.name] = {"type": "keyword"}
        elif spec.type == "number":
            properties[spec.name] = {"type": "double"}
        else:
            properties[spec.name] = {"type": "date"}
    return {
        "settings": {
            "analysis": {
                "filter": filters,
                "analyzer": {ANALYZER: {"type": "custom", "tokenizer": "standard", "filter": chain}},
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {META_KEY: schema.model_dump(mode="json")},
            "properties": properties,
        },
    }
