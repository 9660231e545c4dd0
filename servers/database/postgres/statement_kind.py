"""The name of a parsed PostgreSQL statement as a user writes it: ``CREATE TABLE``, ``DROP INDEX``, ``GRANT``.

PostgreSQL's own command tags are not exposed by libpg_query, so the name is read off the parse
tree: a few node types say what they create or drop in a field, the rest are named after their
node type (``CreateFunctionStmt`` -> ``CREATE FUNCTION``).
"""

from __future__ import annotations

import re
from typing import Any

from pglast import ast, enums

# Node types whose name does not read as the statement's first words.
_NODE_NAMES: dict[str, str] = {
    "CreateStmt": "CREATE TABLE",
    "IndexStmt": "CREATE INDEX",
    "ViewStmt": "CREATE VIEW",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "AlterSeqStmt": "ALTER SEQUENCE",
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterDatabaseStmt": "ALTER DATABASE",
    "CreateTrigStmt": "CREATE TRIGGER",
    "CreatePLangStmt": "CREATE LANGUAGE",
    "RuleStmt": "CREATE RULE",
    "CompositeTypeStmt": "CREATE TYPE",
    "CreateEnumStmt": "CREATE TYPE",
    "CreateRangeStmt": "CREATE TYPE",
    "AlterEnumStmt": "ALTER TYPE",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "CreateForeignTableStmt": "CREATE FOREIGN TABLE",
    "CreateFdwStmt": "CREATE FOREIGN DATA WRAPPER",
    "CreateForeignServerStmt": "CREATE SERVER",
    "CreateStatsStmt": "CREATE STATISTICS",
    "CreateAmStmt": "CREATE ACCESS METHOD",
    "CreateEventTrigStmt": "CREATE EVENT TRIGGER",
    "ReassignOwnedStmt": "REASSIGN OWNED",
    "DropOwnedStmt": "DROP OWNED",
    "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
    "SecLabelStmt": "SECURITY LABEL",
    "VariableSetStmt": "SET",
    "VariableShowStmt": "SHOW",
    "ClusterStmt": "CLUSTER",
    "CheckPointStmt": "CHECKPOINT",
    "LoadStmt": "LOAD",
    "SelectStmt": "SELECT",
}
_OBJECT_NAMES = {"MATVIEW": "MATERIALIZED VIEW", "FDW": "FOREIGN DATA WRAPPER", "FOREIGN_SERVER": "SERVER"}
_TRANSACTION_NAMES = {
    "START": "START TRANSACTION", "ROLLBACK_TO": "ROLLBACK TO SAVEPOINT", "SAVEPOINT": "SAVEPOINT",
    "RELEASE": "RELEASE SAVEPOINT", "PREPARE": "PREPARE TRANSACTION", "COMMIT_PREPARED": "COMMIT PREPARED",
    "ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}  # fmt: skip


def statement_kind(node: ast.Node) -> str:
    """What ``node`` is, in the words its statement starts with (``ALTER TABLE``, ``REVOKE``, ``COPY``)."""
    name = type(node).__name__
    if isinstance(node, ast.DropStmt):
        return f"DROP {_object(node.removeType)}"
    if isinstance(node, ast.AlterTableStmt):
        return f"ALTER {_object(node.objtype)}"
    if isinstance(node, ast.RenameStmt):
        return f"ALTER {_object(node.renameType)} RENAME"
    if isinstance(node, ast.AlterObjectSchemaStmt):
        return f"ALTER {_object(node.objectType)} SET SCHEMA"
    if isinstance(node, ast.AlterOwnerStmt):
        return f"ALTER {_object(node.objectType)} OWNER"
    if isinstance(node, ast.CreateTableAsStmt):
        return "CREATE MATERIALIZED VIEW" if _object(node.objtype) == "MATERIALIZED VIEW" else "CREATE TABLE AS"
    if isinstance(node, ast.DefineStmt):
        return f"CREATE {_object(node.kind)}"
    if isinstance(node, ast.GrantStmt | ast.GrantRoleStmt):
        return "GRANT" if node.is_grant else "REVOKE"
    if isinstance(node, ast.VacuumStmt):
        return "VACUUM" if node.is_vacuumcmd else "ANALYZE"
    if isinstance(node, ast.TransactionStmt):
        kind = _enum_name(node.kind).removeprefix("TRANS_STMT_")
        return _TRANSACTION_NAMES.get(kind, kind)
    if isinstance(node, ast.VariableSetStmt) and _enum_name(node.kind).startswith("VAR_RESET"):
        return "RESET"
    if name in _NODE_NAMES:
        return _NODE_NAMES[name]
    return " ".join(re.findall(r"[A-Z][a-z]*", name.removesuffix("Stmt"))).upper()


def _object(value: Any) -> str:
    kind = _enum_name(value).removeprefix("OBJECT_")
    return _OBJECT_NAMES.get(kind, kind.replace("_", " "))


def _enum_name(value: Any) -> str:
    if isinstance(value, enums.ObjectType | enums.TransactionStmtKind | enums.VariableSetKind):
        return value.name
    return str(value)
