"""PostgreSQL operations views: the costliest statements (pg_stat_statements) and a health summary.

Both read statistics views only, in the same read-only transaction as every other read.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from servers.database.postgres.engine import PostgresEngine
from servers.database.postgres.models import DbHealth, LongTransaction, TopQueries, TopQuery, VacuumHint

ENABLE_HINT = (
    "pg_stat_statements is not enabled on this database. To enable it: add "
    "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, restart PostgreSQL, then run "
    "CREATE EXTENSION pg_stat_statements; in this database (as a superuser or the database owner)."
)
_ORDER = {"total_time": "total_exec_time", "mean_time": "mean_exec_time", "calls": "calls"}

TOP = """
SELECT left(query, 2000), calls, total_exec_time, mean_exec_time, rows,
       shared_blks_hit::float8 / nullif(shared_blks_hit + shared_blks_read, 0)
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY {order} DESC LIMIT $1
"""

VACUUM = """
SELECT schemaname || '.' || relname, n_live_tup, n_dead_tup, last_vacuum::text, last_autovacuum::text,
       last_analyze IS NULL AND last_autoanalyze IS NULL
FROM pg_stat_user_tables
WHERE (n_dead_tup >= 1000 AND n_dead_tup > 0.1 * greatest(n_live_tup, 1))
   OR (n_live_tup >= 10000 AND last_analyze IS NULL AND last_autoanalyze IS NULL)
ORDER BY n_dead_tup DESC LIMIT 20
"""

LONG = """
SELECT pid, state, extract(epoch FROM now() - xact_start)::float8, left(coalesce(query, ''), 200)
FROM pg_stat_activity
WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND now() - xact_start > make_interval(secs => $1)
ORDER BY xact_start LIMIT 20
"""


async def top_queries(engine: PostgresEngine, order_by: str, limit: int) -> TopQueries:
    async with engine.reading() as conn:
        installed = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not installed:
            return TopQueries(connection=engine.name, available=False, message=ENABLE_HINT, order_by=order_by)
        try:
            records = await conn.fetch(TOP.format(order=_ORDER[order_by]), limit)
        except asyncpg.ObjectNotInPrerequisiteStateError:
            return TopQueries(connection=engine.name, available=False, message=ENABLE_HINT, order_by=order_by)
    queries = [
        TopQuery(
            query=r[0],
            calls=r[1],
            total_ms=round(r[2], 3),
            mean_ms=round(r[3], 3),
            rows=r[4],
            cache_hit_ratio=None if r[5] is None else round(r[5], 4),
        )
        for r in records
    ]
    return TopQueries(connection=engine.name, available=True, order_by=order_by, queries=queries)


async def db_health(engine: PostgresEngine, long_seconds: float) -> DbHealth:
    async with engine.reading() as conn:
        version = await conn.fetchval("SHOW server_version")
        used = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        maximum = int(await conn.fetchval("SHOW max_connections"))
        ratio = await conn.fetchval(
            "SELECT sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0) "
            "FROM pg_statio_user_tables"
        )
        vacuum = await conn.fetch(VACUUM)
        long = await conn.fetch(LONG, long_seconds)
    hints = []
    for table, live, dead, last_vacuum, last_auto, never_analyzed in vacuum:
        dead_ratio = dead / max(live + dead, 1)
        if dead >= 1000 and dead > 0.1 * max(live, 1):
            hint = f"{dead} dead rows ({dead_ratio:.0%}): run VACUUM (ANALYZE) {table}; check autovacuum settings"
        else:
            hint = f"never analyzed: run ANALYZE {table} so the planner has statistics"
        if never_analyzed and "never analyzed" not in hint:
            hint += "; it was never analyzed either"
        hints.append(
            VacuumHint(
                table=table,
                live_rows=live,
                dead_rows=dead,
                dead_ratio=round(dead_ratio, 4),
                last_vacuum=last_vacuum,
                last_autovacuum=last_auto,
                hint=hint,
            )
        )
    notes = []
    if used >= 0.8 * maximum:
        notes.append(f"{used} of {maximum} connections in use: close idle clients or add a pooler (PgBouncer)")
    if ratio is not None and ratio < 0.9:
        notes.append(f"cache hit ratio {ratio:.1%} is low: the working set may not fit in shared_buffers")
    return DbHealth(
        connection=engine.name,
        server_version=str(version),
        connections_used=int(used),
        connections_max=maximum,
        cache_hit_ratio=None if ratio is None else round(ratio, 4),
        vacuum_hints=hints,
        long_transactions=[LongTransaction(pid=r[0], state=r[1], seconds=round(r[2], 1), query=r[3]) for r in long],
        notes=notes,
    )
