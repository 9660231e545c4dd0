"""PostgreSQL introspection from the catalogs: schemas, tables, and one table in detail.

Every query runs through :meth:`PostgresEngine.reading`: a read-only transaction with the
connection's timeout and role. ``describe_table`` finds a table by ``schema.table``, by a name
visible on the search path, or by a name unique across schemas.
"""

from __future__ import annotations

from servers.database.errors import DbError
from servers.database.postgres.engine import PostgresEngine
from servers.database.sql import cursor_positions
from servers.database.sql.models import (
    ColumnInfo,
    ForeignKeyInfo,
    IndexInfo,
    SchemaInfo,
    SchemaList,
    TableDescription,
    TableInfo,
    TableList,
)

_KINDS = {"r": "table", "v": "view", "m": "materialized view", "f": "foreign table", "p": "partitioned table"}

LIST_SCHEMAS = """
SELECT n.nspname AS name,
       count(c.oid) FILTER (WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')) AS tables
FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
GROUP BY n.nspname ORDER BY n.nspname
"""

LIST_TABLES = """
SELECT n.nspname, c.relname, c.relkind::text, c.reltuples::bigint, obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
  AND (($1::text IS NULL AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%'
        AND n.nspname NOT LIKE 'pg_toast%') OR n.nspname = $1::text)
  AND ($2::text IS NULL OR c.relname ILIKE $2::text)
ORDER BY n.nspname, c.relname LIMIT $3 OFFSET $4
"""

FIND_TABLE = """
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.reltuples::bigint, obj_description(c.oid, 'pg_class'),
       pg_table_is_visible(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND c.relname = $1::text
  AND ($2::text IS NULL OR n.nspname = $2::text) AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY pg_table_is_visible(c.oid) DESC, n.nspname
"""

COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""

CONSTRAINTS = """
SELECT con.conname, con.contype::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
       con.confrelid::regclass::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)
FROM pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'f') ORDER BY con.conname
"""

INDEXES = """
SELECT i.relname, ix.indisunique, ix.indisprimary, pg_get_indexdef(ix.indexrelid),
       ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true) FROM generate_series(1, ix.indnkeyatts) k ORDER BY k)
FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid WHERE ix.indrelid = $1 ORDER BY i.relname
"""


def _estimate(value: int | None) -> int | None:
    return None if value is None or value < 0 else int(value)


async def list_schemas(engine: PostgresEngine) -> SchemaList:
    async with engine.reading() as conn:
        records = await conn.fetch(LIST_SCHEMAS)
    return SchemaList(connection=engine.name, schemas=[SchemaInfo(name=r[0], tables=r[1]) for r in records])


async def list_tables(
    engine: PostgresEngine, schema: str | None, pattern: str | None, limit: int, cursor: str | None
) -> TableList:
    fp = cursor_positions.fingerprint("tables", engine.name, schema, pattern)
    position = cursor_positions.decode(cursor, fp)
    async with engine.reading() as conn:
        records = await conn.fetch(LIST_TABLES, schema, pattern, limit + 1, position.offset)
    tables = [
        TableInfo(schema_name=r[0], name=r[1], kind=_KINDS.get(r[2], r[2]), row_estimate=_estimate(r[3]), comment=r[4])
        for r in records[:limit]
    ]
    more = len(records) > limit
    next_cursor = (
        cursor_positions.encode(cursor_positions.Position(offset=position.offset + limit, mode="o"), fp)
        if more
        else None
    )
    return TableList(connection=engine.name, tables=tables, next_cursor=next_cursor)


async def describe_table(engine: PostgresEngine, table: str, schema: str | None) -> TableDescription:
    if schema is None and "." in table:
        schema, table = table.split(".", 1)
    async with engine.reading() as conn:
        found = await conn.fetch(FIND_TABLE, table, schema)
        if not found:
            where = f" in schema {schema!r}" if schema else ""
            raise DbError(
                "not_found", f"connection {engine.name!r}: there is no table {table!r}{where}; `list_tables` shows them"
            )
        if schema is None and len(found) > 1 and not found[0][6]:
            schemas = ", ".join(r[1] for r in found)
            raise DbError(
                "ambiguous",
                f"connection {engine.name!r}: table {table!r} exists in several schemas ({schemas}); pass `schema`",
            )
        oid, schema_name, name, kind, estimate, comment, _ = found[0]
        columns = await conn.fetch(COLUMNS, oid)
        constraints = await conn.fetch(CONSTRAINTS, oid)
        indexes = await conn.fetch(INDEXES, oid)
    primary = next((list(c[2]) for c in constraints if c[1] == "p"), [])
    return TableDescription(
        connection=engine.name,
        schema_name=schema_name,
        table=name,
        kind=_KINDS.get(kind, kind),
        columns=[
            ColumnInfo(name=c[0], type=c[1], nullable=c[2], default=c[3], primary_key=c[0] in primary, comment=c[4])
            for c in columns
        ],
        primary_key=primary,
        foreign_keys=[
            ForeignKeyInfo(name=c[0], columns=list(c[2]), references_table=c[3], references_columns=list(c[4]))
            for c in constraints
            if c[1] == "f"
        ],
        indexes=[IndexInfo(name=i[0], unique=i[1], primary=i[2], definition=i[3], columns=list(i[4])) for i in indexes],
        row_estimate=_estimate(estimate),
        comment=comment,
    )
