"""PostgreSQL: the engine (asyncpg, its own lean pool), the statement guard (pglast), and the PostgreSQL-only tools."""
