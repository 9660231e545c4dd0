"""The search server: one structured full-text query over tantivy (embedded) and PostgreSQL."""
