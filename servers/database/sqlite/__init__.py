"""SQLite: the engine (stdlib ``sqlite3`` in worker threads) and its layered checks (authorizer, ``query_only``, deadline)."""
