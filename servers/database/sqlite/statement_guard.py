"""SQLite's own checks, in layers: one statement per call, an authorizer, ``query_only`` and a deadline.

* :func:`check_single_statement` uses ``sqlite3.complete_statement`` to find where the first
  statement ends and refuses anything but comments after it (sqlite3 itself also refuses a
  second statement in ``execute``).
* :class:`Authorizer` is installed with ``set_authorizer``: in ``read`` mode it allows only
  SELECT, reading columns, recursive CTEs, harmless functions and introspection PRAGMAs; in
  ``write`` mode it also allows data changes and schema DDL; every mode refuses ATTACH/DETACH
  (a pooled connection must not change what it points at) and transaction control (the server
  owns the transaction). It records what it denied, so the error can say so.
* :func:`deadline_handler` is a progress handler that aborts the statement after the timeout.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

from servers.database.errors import DbError, refused

_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
_WRITE_ACTIONS = _READ_ACTIONS | {
    sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_VIEW,
    sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_INDEX,
    sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_ALTER_TABLE,
    sqlite3.SQLITE_REINDEX, sqlite3.SQLITE_ANALYZE, sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE,
    sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_CREATE_TEMP_INDEX, sqlite3.SQLITE_CREATE_TEMP_VIEW,
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_TABLE, sqlite3.SQLITE_DROP_TEMP_INDEX,
    sqlite3.SQLITE_DROP_TEMP_VIEW, sqlite3.SQLITE_DROP_TEMP_TRIGGER,
}  # fmt: skip
_AUTHORIZER_ACTIONS = (
    "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE", "CREATE_TEMP_TRIGGER",
    "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "DELETE", "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX",
    "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER", "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "PRAGMA",
    "READ", "SELECT", "TRANSACTION", "UPDATE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE",
    "CREATE_VTABLE", "DROP_VTABLE", "FUNCTION", "SAVEPOINT", "RECURSIVE",
)  # fmt: skip
_ACTION_NAMES = {getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ") for name in _AUTHORIZER_ACTIONS}
# PRAGMAs that only describe the schema: allowed with an argument (a table or index name).
INTROSPECTION_PRAGMAS = frozenset(
    {
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
        "database_list", "collation_list", "function_list", "module_list", "pragma_list", "compile_options",
        "foreign_key_check", "integrity_check", "quick_check",
    }
)  # fmt: skip
# PRAGMAs that read a setting: allowed only without an argument (with one they would set it).
READABLE_PRAGMAS = frozenset(
    {
        "user_version", "application_id", "schema_version", "page_count", "page_size", "freelist_count",
        "encoding", "journal_mode", "foreign_keys", "data_version", "auto_vacuum", "cache_size", "query_only",
    }
)  # fmt: skip
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
# The tables SQLite writes its schema to: the authorizer sees DDL first as a write to one of them.
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"})
_SCHEMA_WRITES = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}
_STATEMENT_KIND = re.compile(
    r"(?:CREATE\s+(?:(?:TEMP|TEMPORARY)\s+)?(?:UNIQUE\s+)?(?:VIRTUAL\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)"
    r"|DROP\s+(?:TABLE|INDEX|VIEW|TRIGGER)|ALTER\s+TABLE|ANALYZE|REINDEX|VACUUM)\b",
    re.IGNORECASE,
)


def check_single_statement(sql: str) -> str:
    """``sql`` without a trailing semicolon if it holds exactly one statement; refused otherwise."""
    if "\x00" in sql:
        raise refused("the statement contains a NUL byte")
    text = sql.strip()
    if not text:
        raise DbError("syntax_error", "the statement is empty")
    for index, char in enumerate(text):
        if char == ";" and sqlite3.complete_statement(text[: index + 1]):
            rest = text[index + 1 :]
            if _only_comments(rest):
                return text[:index].strip()
            raise refused(
                "exactly one statement per call is allowed, and this text holds more; "
                "send each statement in its own call (the server manages transactions)"
            )
    return text


def _only_comments(text: str) -> bool:
    rest = text.strip()
    while rest:
        if rest.startswith("--"):
            newline = rest.find("\n")
            rest = "" if newline < 0 else rest[newline + 1 :].strip()
        elif rest.startswith("/*"):
            end = rest.find("*/", 2)
            if end < 0:
                return True
            rest = rest[end + 2 :].strip()
        elif rest.startswith(";"):
            rest = rest[1:].strip()
        else:
            return False
    return True


def statement_kind(sql: str) -> str | None:
    """The schema statement ``sql`` starts with (``CREATE TABLE``, ``DROP INDEX``, ``ANALYZE``), if it is one."""
    text = sql.strip()
    while text.startswith(("--", "/*")):
        end = text.find("\n") if text.startswith("--") else text.find("*/") + 1
        text = text[end + 1 :].strip() if end > 0 else ""
    match = _STATEMENT_KIND.match(text)
    return " ".join(match.group(0).upper().split()) if match else None


class Authorizer:
    """The ``set_authorizer`` callback for one call in ``read``, ``write`` or ``admin`` mode.

    ``statement`` names what a refused schema change was: SQLite asks first about the write to its
    schema table (an INSERT into ``sqlite_master`` for a CREATE TABLE), and a denial stops it there.
    """

    def __init__(self, mode: str, statement: str = "") -> None:
        self.mode = mode
        self.statement = statement
        self.denied: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        verdict = self._decide(action, arg1, arg2)
        if verdict is not None:
            self.denied = self.denied or verdict
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def _decide(self, action: int, arg1: str | None, arg2: str | None) -> str | None:
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return "ATTACH/DETACH would change what this connection points at; configure another connection"
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            return "transaction control: the server runs each call in its own transaction"
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            return f"the function {name}() is not allowed" if name in DENIED_FUNCTIONS else None
        if action == sqlite3.SQLITE_PRAGMA:
            return self._pragma((arg1 or "").lower(), arg2)
        if self.mode == "admin" or action in (_WRITE_ACTIONS if self.mode == "write" else _READ_ACTIONS):
            return None
        what = _ACTION_NAMES.get(action, f"action {action}")
        if action in _SCHEMA_WRITES and (arg1 or "").lower() in _SCHEMA_TABLES:
            what = statement_kind(self.statement) or "a schema change"
        if self.mode == "read":
            return f"{what} is not a read"
        return f"{what} needs an admin connection"

    def _pragma(self, name: str, argument: str | None) -> str | None:
        if name in INTROSPECTION_PRAGMAS or (name in READABLE_PRAGMAS and argument is None):
            return None
        if self.mode == "admin":
            return None
        return f"PRAGMA {name}{'' if argument is None else ' = ' + argument} changes settings or is not allowed"


def deadline_handler(timeout_ms: int) -> Callable[[], int]:
    """A progress handler that aborts the running statement once ``timeout_ms`` have passed."""
    deadline = time.monotonic() + timeout_ms / 1000

    def handler() -> int:
        return 1 if time.monotonic() > deadline else 0

    return handler
