"""The write-escape corpus against read-only PostgreSQL access, with what each layer alone does to each attempt.

The layers of a read (servers/database/postgres/engine.py), in the order a statement meets them:

1. the statement guard, :func:`~servers.database.postgres.statement_guard.check_read` (pglast): refuses
   with ``refused``, or ``syntax_error`` when the text does not parse;
2. the extended query protocol: the engine sends the text as one prepared statement, which PostgreSQL
   refuses to hold two statements (SQLSTATE 42601);
3. the read-only transaction (``BEGIN READ ONLY``) and, on a read_only connection, the session setting
   ``default_transaction_read_only=on``: ``read_only`` (SQLSTATE 25006);
4. the read-only role (``SET LOCAL ROLE``, when the connection names one): its privileges (SQLSTATE 42501);
5. the statement timeout (``timeout``, SQLSTATE 57014): it bounds a read, it refuses no escape here
   (test_layers.py shows it on its own).

Each :class:`Escape` says what the whole stack answers (the guard refuses every attempt first), and what
the read-only transaction alone and the role alone answer with the guard bypassed: a tool code and the
SQLSTATE, or ``None`` where that layer does not stop the attempt (the guard is then what does). An
attempt that fails for a missing object (42883, 42704, 26000) was stopped by no layer: it is listed so a
change in it shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What one layer alone answers: the tool error's code and PostgreSQL's SQLSTATE (None when not from the server)."""

    code: str
    sqlstate: str | None = None


READ_ONLY = Outcome("read_only", "25006")
ONE_STATEMENT = Outcome("sql_error", "42601")  # one statement per prepared statement, or a parse error
PRIVILEGE = Outcome("sql_error", "42501")
IN_BLOCK = Outcome("sql_error", "25001")  # cannot run inside a transaction block
MISSING = {state: Outcome("sql_error", state) for state in ("42883", "42704", "26000")}  # no layer: nothing to run
ENDED = Outcome("unavailable")  # the statement ended its own session
VOLATILE = Outcome("sql_error", "0A000")  # a data change inside a non-volatile function


@dataclass(frozen=True)
class Escape:
    sql: str
    guard: str
    """The code the statement guard refuses it with: what the client sees through the whole stack."""
    read_only: Outcome | None
    """The read-only transaction (or the read-only session setting) alone, the guard bypassed."""
    role: Outcome | None
    """The read-only role alone: the guard bypassed, the transaction read-write."""


def _e(sql: str, read_only: Outcome | None, role: Outcome | None, guard: str = "refused") -> Escape:
    return Escape(sql, guard, read_only, role)


ESCAPES = [
    _e("COMMIT; DROP TABLE {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT 1; DROP TABLE {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("; DROP TABLE {s}.orders", READ_ONLY, PRIVILEGE),
    _e("DROP TABLE {s}.orders", READ_ONLY, PRIVILEGE),
    _e("DELETE FROM {s}.orders", READ_ONLY, PRIVILEGE),
    _e("UPDATE {s}.customers SET name = 'x'", READ_ONLY, PRIVILEGE),
    _e("INSERT INTO {s}.customers VALUES (999, 'x', 'FR')", READ_ONLY, PRIVILEGE),
    _e("WITH d AS (DELETE FROM {s}.orders RETURNING *) SELECT count(*) FROM d", READ_ONLY, PRIVILEGE),
    _e("WITH u AS (UPDATE {s}.customers SET name = 'x' RETURNING id) SELECT * FROM u", READ_ONLY, PRIVILEGE),
    _e("WITH i AS (INSERT INTO {s}.customers VALUES (998, 'y', 'US') RETURNING *) SELECT 1", READ_ONLY, PRIVILEGE),
    _e("SELECT pg_terminate_backend(pg_backend_pid())", ENDED, PRIVILEGE),
    _e("SELECT pg_catalog.pg_cancel_backend(1)", None, None),
    _e("COPY {s}.orders TO PROGRAM 'cat > /dev/null'", None, PRIVILEGE),
    _e("COPY (SELECT 1) TO '/tmp/mcp_escape.txt'", None, PRIVILEGE),
    _e("SET TRANSACTION READ WRITE", None, None),
    _e("SET default_transaction_read_only = off", None, None),
    _e("RESET ALL", None, None),
    _e("BEGIN READ WRITE", None, None),
    _e("DO $$ BEGIN DELETE FROM {s}.orders; END $$", READ_ONLY, PRIVILEGE),
    _e("SELECT set_config('default_transaction_read_only', 'off', false)", None, None),
    _e("SELECT nextval('{s}.counter')", READ_ONLY, PRIVILEGE),
    _e("SELECT setval('{s}.counter', 100)", READ_ONLY, PRIVILEGE),
    _e("SELECT * FROM {s}.orders FOR UPDATE", READ_ONLY, PRIVILEGE),
    _e("SELECT * FROM {s}.customers c WHERE id IN (SELECT id FROM {s}.customers FOR SHARE)", READ_ONLY, PRIVILEGE),
    _e("SELECT * INTO {s}.stolen FROM {s}.customers", READ_ONLY, PRIVILEGE),
    _e("CREATE TABLE {s}.evil AS SELECT 1 AS x", READ_ONLY, PRIVILEGE),
    _e("SELECT 1 /* ; */; DROP TABLE {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT 1 -- harmless\n; DELETE FROM {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT $$;$$; DELETE FROM {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT $tag$ '; $tag$; DELETE FROM {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT E'\\''; DELETE FROM {s}.orders; --'", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT pg_read_file('/etc/passwd')", None, PRIVILEGE),
    _e("SELECT lo_import('/etc/hostname')", None, PRIVILEGE),  # the rollback removes the object
    _e("SELECT lo_export(1, '/tmp/mcp_escape_lo')", MISSING["42704"], PRIVILEGE),
    _e("SELECT pg_advisory_lock(42)", None, None),
    _e("SELECT dblink_exec('dbname=test', 'DROP TABLE {s}.orders')", MISSING["42883"], MISSING["42883"]),
    _e("SELECT query_to_xml('DELETE FROM {s}.orders RETURNING 1', true, false, '')", VOLATILE, VOLATILE),
    _e("SELECT pg_reload_conf()", None, PRIVILEGE),
    _e("CALL {s}.no_such_procedure()", MISSING["42883"], MISSING["42883"]),
    _e("LISTEN mcp_channel", None, None),
    _e("NOTIFY mcp_channel, 'hi'", None, None),
    _e("PREPARE p AS DELETE FROM {s}.orders", None, None),
    _e("EXECUTE p", MISSING["26000"], MISSING["26000"]),
    _e("EXPLAIN ANALYZE DELETE FROM {s}.orders", READ_ONLY, PRIVILEGE),
    _e("EXPLAIN ANALYZE SELECT * FROM {s}.orders", None, None),
    _e("TRUNCATE {s}.orders", READ_ONLY, PRIVILEGE),
    _e("VACUUM {s}.orders", IN_BLOCK, IN_BLOCK),
    _e("LOCK TABLE {s}.orders", None, PRIVILEGE),
    _e("ALTER SYSTEM SET work_mem = '1GB'", IN_BLOCK, IN_BLOCK),
    _e("GRANT ALL ON {s}.orders TO PUBLIC", READ_ONLY, None),  # the role has no grant option: a warning only
    _e("SELECT 1\uff1b DROP TABLE {s}.orders", ONE_STATEMENT, ONE_STATEMENT, "syntax_error"),  # fullwidth ;
    _e("SELECT 1\u200b; DROP TABLE {s}.orders", ONE_STATEMENT, ONE_STATEMENT, "syntax_error"),  # zero-width space
    _e('DELETE FROM {s}.U&"orde\\0072s"', READ_ONLY, PRIVILEGE),  # a unicode-escaped identifier
    _e("select 1; COMMIT; drop table {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
    _e("SELECT * FROM {s}.orders;\n\n; DELETE FROM {s}.orders", ONE_STATEMENT, ONE_STATEMENT),
]

ESCAPE_IDS = [f"escape-{i:02d}" for i in range(len(ESCAPES))]


def stopped_by(layer: str) -> tuple[list[Escape], list[str]]:
    """The attempts that ``layer`` (``read_only`` or ``role``) stops on its own, and their test ids."""
    chosen = [(e, i) for e, i in zip(ESCAPES, ESCAPE_IDS, strict=True) if getattr(e, layer) is not None]
    return [e for e, _ in chosen], [i for _, i in chosen]
