"""The search server: one structured full-text query over tantivy (embedded), PostgreSQL and OpenSearch."""
