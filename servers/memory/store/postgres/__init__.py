"""The PostgreSQL store: many server instances on many hosts share one database (tsvector + GIN search)."""
