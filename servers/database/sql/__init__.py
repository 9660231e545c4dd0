"""What the SQL engines (PostgreSQL and SQLite) share: the engine protocol, their results, paging and values."""
