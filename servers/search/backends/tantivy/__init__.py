"""The embedded backend: one on-disk tantivy index per search index (BM25, snippets, aggregations)."""
