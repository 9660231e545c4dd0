"""The parse-level check of PostgreSQL statements, with libpg_query (pglast): PostgreSQL's own parser.

:func:`check_read` lets through exactly one SELECT / VALUES / TABLE / SHOW / EXPLAIN (without
ANALYZE) of those, and refuses anywhere in the tree: a data-modifying statement (so a writable
CTE), ``SELECT INTO``, a locking clause (``FOR UPDATE``/``FOR SHARE``) and a call of a function
with side effects (:data:`READ_DENIED_FUNCTIONS`). :func:`check_write` says what ``sql_execute``
may run per access mode, :func:`check_explain` what ``sql_explain`` may plan. Results are cached
by text, since the same statements come back again and again.

The check is one layer of several: the statement also runs in a read-only transaction with a
statement timeout (and optionally a read-only role), so a function this list does not know still
cannot write.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from pglast.visitors import Visitor

from servers.database.errors import DbError, refused
from servers.database.postgres.statement_kind import statement_kind

# Functions that act outside the query even in a read-only transaction (or read server files,
# or reach other databases). Matched on the unqualified, lower-cased name and on prefixes.
READ_DENIED_FUNCTIONS = frozenset(
    {
        "pg_terminate_backend", "pg_cancel_backend", "pg_signal_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_backup_start", "pg_backup_stop",
        "pg_start_backup", "pg_stop_backup", "set_config", "pg_read_file", "pg_read_binary_file", "pg_stat_file",
        "nextval", "setval", "pg_notify", "pg_log_backend_memory_contexts", "pg_export_snapshot",
        "pg_import_system_collations", "pg_truncate_visibility_map", "pg_current_xact_id", "txid_current",
        "pg_sequence_last_value", "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema",
        "cursor_to_xml", "cursor_to_xmlschema", "pg_prewarm", "pg_file_write", "pg_file_rename", "pg_file_unlink",
        "pg_file_sync", "pg_stat_statements_reset", "lo_import", "lo_export", "lo_unlink", "pg_sleep_for",
    }
)  # fmt: skip
READ_DENIED_PREFIXES = (
    "pg_advisory", "pg_try_advisory", "dblink", "lo_", "pg_ls_", "pg_read_", "pg_stat_reset", "pg_replication_",
    "pg_create_", "pg_drop_replication", "pg_logical_", "pg_wal_", "pg_file_", "binary_upgrade_", "pg_copy_",
)  # fmt: skip
# Functions a read_write connection still may not call (they act on the server, not on data).
WRITE_DENIED_FUNCTIONS = READ_DENIED_FUNCTIONS - {"nextval", "setval", "pg_current_xact_id", "txid_current"}

_WRITE_NODES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
_DML = (*_WRITE_NODES, ast.SelectStmt)
# What sql_execute runs on a read_write connection: data changes and table DDL, in one transaction.
_READ_WRITE_KINDS: tuple[type[Any], ...] = (
    ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt, ast.SelectStmt,
    ast.CreateStmt, ast.CreateTableAsStmt, ast.IndexStmt, ast.ViewStmt, ast.AlterTableStmt, ast.DropStmt,
    ast.TruncateStmt, ast.CommentStmt, ast.RenameStmt, ast.CreateSeqStmt, ast.AlterSeqStmt, ast.CreateSchemaStmt,
    ast.CompositeTypeStmt, ast.CreateEnumStmt, ast.AlterEnumStmt,
)  # fmt: skip
# Admin statements that PostgreSQL refuses inside a transaction block.
_OUTSIDE_TRANSACTION = (
    ast.VacuumStmt, ast.CreatedbStmt, ast.DropdbStmt, ast.AlterSystemStmt, ast.CreateTableSpaceStmt,
    ast.DropTableSpaceStmt, ast.ReindexStmt,
)  # fmt: skip

_KIND_HINTS: dict[str, str] = {
    "TransactionStmt": "transactions are managed by the server (each call is one transaction)",
    "VariableSetStmt": "SET/RESET would change the session or transaction settings",
    "CopyStmt": "COPY reads or writes files and programs on the server",
    "DoStmt": "a DO block runs arbitrary procedural code",
    "CallStmt": "CALL runs a procedure that may write",
    "ListenStmt": "LISTEN/NOTIFY are not queries",
    "NotifyStmt": "LISTEN/NOTIFY are not queries",
    "UnlistenStmt": "LISTEN/NOTIFY are not queries",
    "PrepareStmt": "pass parameters with `params` instead of PREPARE/EXECUTE",
    "ExecuteStmt": "pass parameters with `params` instead of PREPARE/EXECUTE",
    "DeallocateStmt": "pass parameters with `params` instead of PREPARE/EXECUTE",
    "LockStmt": "explicit locks are not allowed",
}


@dataclass(frozen=True)
class SortKey:
    """The single plain column the top-level ORDER BY sorts on: what keyset pagination needs."""

    column: str
    descending: bool


@dataclass(frozen=True)
class ReadStatement:
    """A statement that passed :func:`check_read`: its kind, its text, and how it may be paged."""

    kind: Literal["select", "explain", "show"]
    text: str
    sort_key: SortKey | None
    ordered: bool
    params: int = 0


@dataclass(frozen=True)
class WriteStatement:
    """A statement that passed :func:`check_write`."""

    kind: str
    text: str
    explainable: bool
    in_transaction: bool
    params: int = 0


def _parse_one(sql: str) -> tuple[ast.Node, str]:
    if "\x00" in sql:
        raise refused("the statement contains a NUL byte")
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        raise DbError("syntax_error", f"the statement does not parse: {exc}") from None
    if len(statements) != 1:
        count = len(statements)
        raise refused(
            f"exactly one statement per call is allowed, and this text holds {count}; "
            "send each statement in its own call (and no transaction control: the server manages transactions)"
        )
    raw = statements[0]
    start = raw.stmt_location or 0
    length = raw.stmt_len or (len(sql.encode()) - start)
    text = sql.encode()[start : start + length].decode(errors="replace").strip()
    if raw.stmt is None:
        raise DbError("syntax_error", "the statement is empty")
    return raw.stmt, text


def _function_name(node: ast.FuncCall) -> str:
    parts = [getattr(p, "sval", "") for p in node.funcname or ()]
    return (parts[-1] if parts else "").lower()


def _denied(name: str, denied: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    return name in denied or name.startswith(prefixes)


class _Inspector(Visitor):
    """Walk every node: collect what a read must not contain."""

    def __init__(self, denied: frozenset[str], prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.denied, self.prefixes = denied, prefixes
        self.problem: str | None = None
        self.params = 0

    def visit(self, ancestors: Any, node: Any) -> None:
        if isinstance(node, ast.ParamRef):
            self.params = max(self.params, node.number or 0)
        if self.problem is not None:
            return
        if isinstance(node, _WRITE_NODES):
            self.problem = (
                f"a data-modifying statement ({statement_kind(node)}) inside the query, such as a writable CTE"
            )
        elif isinstance(node, ast.IntoClause):
            self.problem = "SELECT INTO creates a table"
        elif isinstance(node, ast.LockingClause):
            self.problem = "a locking clause (FOR UPDATE / FOR SHARE) takes row locks"
        elif isinstance(node, ast.FuncCall):
            name = _function_name(node)
            if _denied(name, self.denied, self.prefixes):
                self.problem = f"the function {name}() has side effects outside the query"


def _inspect(node: ast.Node, denied: frozenset[str], prefixes: tuple[str, ...]) -> int:
    """Refuse what a read must not contain; the number of ``$n`` parameters the statement uses."""
    inspector = _Inspector(denied, prefixes)
    inspector(node)
    if inspector.problem:
        raise refused(f"{inspector.problem}: refused on a read")
    return inspector.params


def _count_params(node: ast.Node) -> int:
    inspector = _Inspector(frozenset(), ())
    inspector(node)
    return inspector.params


def _sort_key(select: ast.SelectStmt) -> SortKey | None:
    """The keyset key: a single plain output column in ORDER BY, default NULLS order, no LIMIT/OFFSET."""
    sort = select.sortClause or ()
    if len(sort) != 1 or select.limitCount is not None or select.limitOffset is not None:
        return None
    item = sort[0]
    if item.sortby_nulls != enums.SortByNulls.SORTBY_NULLS_DEFAULT or item.useOp:
        return None
    column = item.node
    if not isinstance(column, ast.ColumnRef) or not all(isinstance(f, ast.String) for f in _fields(column)):
        return None
    fields = tuple(f.sval for f in _fields(column))
    name = fields[-1]
    targets = select.targetList or ()
    if any(isinstance(t.val, ast.ColumnRef) and isinstance(_fields(t.val)[-1], ast.A_Star) for t in targets):
        # SELECT * [FROM one table]: every column of the table is an output column, once.
        from_items = select.fromClause or ()
        if len(targets) != 1 or len(from_items) != 1 or not isinstance(from_items[0], ast.RangeVar):
            return None
    else:
        names = [_output_name(t) for t in targets]
        if names.count(name) != 1:
            return None
        target = targets[names.index(name)]
        if len(fields) > 1 and not (
            isinstance(target.val, ast.ColumnRef)
            and tuple(getattr(f, "sval", None) for f in _fields(target.val)) == fields
        ):
            return None
    return SortKey(column=name, descending=item.sortby_dir == enums.SortByDir.SORTBY_DESC)


def _output_name(target: ast.ResTarget) -> str | None:
    if target.name:
        return str(target.name)
    if isinstance(target.val, ast.ColumnRef) and isinstance(_fields(target.val)[-1], ast.String):
        return str(_fields(target.val)[-1].sval)
    return None


def _fields(ref: ast.ColumnRef) -> tuple[Any, ...]:
    return tuple(ref.fields or ()) or (None,)


@lru_cache(maxsize=2048)
def check_read(sql: str) -> ReadStatement:
    """``sql`` if it is one read-only statement; a ``refused`` :class:`DbError` saying why not otherwise."""
    node, text = _parse_one(sql)
    kind: Literal["select", "explain", "show"]
    if isinstance(node, ast.SelectStmt):
        kind = "select"
    elif isinstance(node, ast.VariableShowStmt):
        return ReadStatement("show", text, None, True)
    elif isinstance(node, ast.ExplainStmt):
        if any((o.defname or "").lower() == "analyze" for o in node.options or ()):
            raise refused("EXPLAIN ANALYZE runs the statement; use the `sql_explain` tool with analyze=true")
        if not isinstance(node.query, ast.SelectStmt):
            raise refused("only EXPLAIN of a SELECT is a read; use `sql_explain` to plan other statements")
        kind = "explain"
    else:
        raise _not_a_read(node)
    params = _inspect(node, READ_DENIED_FUNCTIONS, READ_DENIED_PREFIXES)
    if kind == "explain":
        return ReadStatement("explain", text, None, True, params)
    assert isinstance(node, ast.SelectStmt)
    return ReadStatement("select", text, _sort_key(node), bool(node.sortClause), params)


def _not_a_read(node: ast.Node) -> DbError:
    why = _KIND_HINTS.get(type(node).__name__)
    label = statement_kind(node)
    if why:
        return refused(f"{label} is not a read: {why}. Only SELECT, VALUES, TABLE, SHOW and EXPLAIN are allowed here")
    return refused(
        f"{label} is not a read: only SELECT, VALUES, TABLE, SHOW and EXPLAIN are allowed here; "
        "use `sql_execute` on a read_write connection for changes"
    )


@lru_cache(maxsize=1024)
def check_write(sql: str, access: str) -> WriteStatement:
    """What ``sql_execute`` may run: on read_write data changes and table DDL; on admin any single statement."""
    node, text = _parse_one(sql)
    name = type(node).__name__
    if isinstance(node, ast.TransactionStmt):
        raise refused("transaction control is refused: each `sql_execute` call runs in its own transaction")
    params = _count_params(node)
    if access == "admin":
        if isinstance(node, ast.IndexStmt) and node.concurrent:
            return WriteStatement(name, text, False, False, params)
        outside = isinstance(node, _OUTSIDE_TRANSACTION)
        return WriteStatement(name, text, isinstance(node, _DML), not outside, params)
    if not isinstance(node, _READ_WRITE_KINDS) or (isinstance(node, ast.IndexStmt) and node.concurrent):
        why = _KIND_HINTS.get(name, "it acts on the server rather than on data")
        raise refused(
            f"{statement_kind(node)} is refused on a read_write connection ({why}); it needs an admin connection"
        )
    _inspect_write(node)
    return WriteStatement(name, text, isinstance(node, _DML), True, params)


def _inspect_write(node: ast.Node) -> None:
    inspector = _Inspector(WRITE_DENIED_FUNCTIONS, READ_DENIED_PREFIXES)
    inspector.visit = _only_functions(inspector)  # type: ignore[method-assign]
    inspector(node)
    if inspector.problem:
        raise refused(f"{inspector.problem}: refused on a read_write connection (it needs an admin connection)")


def _only_functions(inspector: _Inspector) -> Any:
    def visit(ancestors: Any, node: Any) -> None:
        if inspector.problem is None and isinstance(node, ast.FuncCall):
            name = _function_name(node)
            if _denied(name, inspector.denied, inspector.prefixes):
                inspector.problem = f"the function {name}() acts on the server"

    return visit


@lru_cache(maxsize=1024)
def check_explain(sql: str, writable: bool, access: str) -> tuple[str, bool, int]:
    """The statement to plan (an ``EXPLAIN ...`` prefix is dropped) and whether it is a read.

    Reads follow :func:`check_read`; a data change may be planned only on a writable connection
    (and is then checked like ``sql_execute``).
    """
    node, text = _parse_one(sql)
    if isinstance(node, ast.ExplainStmt):
        if node.query is None:
            raise DbError("syntax_error", "EXPLAIN of nothing")
        node = node.query
        text = RawStream()(node)  # the user's EXPLAIN options are dropped: the tool chooses them
    if isinstance(node, ast.SelectStmt):
        return text, True, _inspect(node, READ_DENIED_FUNCTIONS, READ_DENIED_PREFIXES)
    if isinstance(node, _WRITE_NODES):
        if not writable:
            raise refused("planning a data change is refused on a read_only connection; use a read_write connection")
        return text, False, check_write(text, access).params
    raise refused(f"{statement_kind(node)} cannot be explained: give a SELECT, INSERT, UPDATE, DELETE or MERGE")
