"""The shared backend: PostgreSQL full-text search (tsvector columns, GIN indexes, ts_rank, ts_headline)."""
