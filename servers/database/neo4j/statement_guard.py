"""Which Cypher a tool may run: lexical checks before the query reaches Neo4j, and the EXPLAIN verdict after.

Layers, each refusing on its own (see :mod:`.tools` for the order):

1. lexical (here): one statement per call; no ``LOAD CSV`` (it fetches files and URLs from the
   database host) and no ``USE`` (it would leave the connection's database) below admin;
   ``CALL`` only of allow-listed procedures in ``cypher_read`` and never of ``dbms.*`` or the
   file/network APOC procedures in ``cypher_write`` below admin. Strings, comments and
   back-quoted names are blanked first, so ``'LOAD CSV'`` in a string is only text.
2. ``EXPLAIN <query>``: Neo4j plans without running and reports the query type; ``cypher_read``
   accepts only ``r``, ``cypher_write`` also ``rw`` and ``w``, schema changes (``s``) need admin
   (:func:`check_query_type`).
3. the session's access mode: ``cypher_read`` runs in a READ session, where Neo4j itself
   refuses any write (``Neo.ClientError.Statement.AccessMode``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from servers.database.neo4j.errors import Neo4jToolError
from servers.database.settings import DatabaseAccess

CypherTool = Literal["cypher_read", "cypher_write"]
MAX_QUERY_CHARS = 100_000

READ_PROCEDURES: frozenset[str] = frozenset(
    {
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "db.schema.nodetypeproperties",
        "db.schema.reltypeproperties",
        "db.schema.visualization",
        "db.indexes",
        "db.constraints",
        "db.info",
        "db.ping",
        "db.index.fulltext.querynodes",
        "db.index.fulltext.queryrelationships",
        "db.index.vector.querynodes",
        "db.index.vector.queryrelationships",
        "dbms.components",
    }
)
# Never through cypher_write below admin: server administration, files and the network.
WRITE_DENIED_PREFIXES: tuple[str, ...] = (
    "dbms.",
    "apoc.load.",
    "apoc.import.",
    "apoc.export.",
    "apoc.cypher.runfile",
    "apoc.cypher.runschemafile",
    "apoc.systemdb.",
    "apoc.trigger.",
    "apoc.log.",
    "apoc.config.",
)

QUERY_TYPES = {"r": "read", "rw": "read-write", "w": "write", "s": "schema change"}

_BLANKED = re.compile(
    r"""//[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`""",
    re.DOTALL,
)
_LEADING = re.compile(r"^\s*(EXPLAIN|PROFILE)\b", re.IGNORECASE)
_CALL = re.compile(r"\bCALL\s+([A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_][\w]*)*)", re.IGNORECASE)
_LOAD_CSV = re.compile(r"\bLOAD\s+CSV\b", re.IGNORECASE)
# USE opens a query, a subquery or a UNION branch (after any EXPLAIN/PROFILE/CYPHER prefix).
_USE = re.compile(r"(?:^|\{|\bUNION|\bALL|\bEXPLAIN|\bPROFILE|\bCYPHER(?:\s+[\w.=]+)*?)\s*USE\b", re.IGNORECASE)


def blank(query: str) -> str:
    """``query`` with comments, string literals and back-quoted names replaced by spaces of the same length."""
    return _BLANKED.sub(lambda match: " " * len(match.group(0)), query)


@dataclass(frozen=True)
class Checked:
    """A query that passed the lexical checks: the text to run and the text to EXPLAIN."""

    text: str
    explain: str


def check_text(tool: CypherTool, access: DatabaseAccess, query: str) -> Checked:
    """Lexical checks of ``query`` for ``tool`` on a connection with ``access``; refusals say what to do."""
    if len(query) > MAX_QUERY_CHARS:
        raise Neo4jToolError("query_too_long", f"a query may be at most {MAX_QUERY_CHARS} characters")
    if "\x00" in query:
        raise Neo4jToolError("invalid_query", "the query contains a NUL character")
    visible = blank(query)
    stripped = visible.rstrip()
    if stripped.endswith(";"):
        query = query[: len(stripped) - 1]
        visible = visible[: len(stripped) - 1]
    if not visible.strip():
        raise Neo4jToolError("invalid_query", "the query is empty (only whitespace or comments)")
    if ";" in visible:
        raise Neo4jToolError(
            "multiple_statements",
            "one statement per call: the query holds a ';' outside strings and comments; send each statement alone",
        )
    if access != "admin":
        if _LOAD_CSV.search(visible):
            raise Neo4jToolError(
                "refused", "LOAD CSV reads files and URLs from the database host; only admin connections may use it"
            )
        if _USE.search(visible):
            raise Neo4jToolError(
                "refused", "USE would leave the connection's database; configure another connection for that database"
            )
        for raw_name in _CALL.findall(visible):
            _check_procedure(tool, re.sub(r"\s+", "", raw_name))
    leading = _LEADING.match(visible)
    explain = query[leading.end() :] if leading else query
    return Checked(text=query, explain=f"EXPLAIN {explain.strip()}")


def _check_procedure(tool: CypherTool, name: str) -> None:
    lowered = name.lower()
    if tool == "cypher_read" and lowered not in READ_PROCEDURES:
        raise Neo4jToolError(
            "refused",
            f"cypher_read calls only these procedures: {', '.join(sorted(READ_PROCEDURES))}; "
            f"{name} is not one (use cypher_write on a read_write connection if it is meant to run)",
        )
    if tool == "cypher_write" and lowered.startswith(WRITE_DENIED_PREFIXES):
        raise Neo4jToolError(
            "refused",
            f"{name} administers the server or reaches files/the network; only an admin connection may call it",
        )


def check_query_type(tool: CypherTool, access: DatabaseAccess, query_type: str | None) -> None:
    """Refuse a query whose EXPLAIN-reported type ``tool`` on ``access`` may not run."""
    if tool == "cypher_read":
        allowed = {"r"}
    elif access == "admin":
        allowed = {"r", "rw", "w", "s"}
    else:
        allowed = {"r", "rw", "w"}
    if query_type in allowed:
        return
    kind = QUERY_TYPES.get(query_type or "", f"unknown ({query_type!r})")
    if tool == "cypher_read":
        what = "use cypher_write on a read_write connection" if query_type in ("rw", "w", "s") else "rephrase it"
        raise Neo4jToolError("refused", f"cypher_read runs only read queries; Neo4j plans this one as {kind}: {what}")
    raise Neo4jToolError(
        "refused", f"Neo4j plans this query as {kind}; schema changes and unknown kinds need an admin connection"
    )
