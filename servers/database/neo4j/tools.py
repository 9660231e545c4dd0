"""The Neo4j tools: cypher_read and graph_schema always; cypher_write only when a connection allows writes.

``register_neo4j_tools(server, connections)`` gets only the Neo4j connections, by name. A read
passes three layers (see :mod:`.statement_guard`): lexical checks, ``EXPLAIN`` reporting query
type ``r``, and a READ access-mode session in which Neo4j itself refuses writes. Every query is
parameterised (``parameters``), runs under the connection's statement timeout (client side and
as the transaction timeout on the server) and returns at most the row/byte budget.

Tracing: :func:`guarded`, which every use of the driver goes through, opens one ``neo4j <OPERATION>``
backend span: the query's leading clause when it is a known one (``MATCH``, ``CREATE``, ``MERGE``...;
``OTHER`` otherwise), ``CALL`` for the schema procedures; readiness probes open none.
Its ``db.namespace`` is the connection's name; no URL, database, query text or parameter.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from neo4j import READ_ACCESS, WRITE_ACCESS, Query
from pydantic import Field

from mesh import tracing
from servers.database.neo4j.driver import Neo4jHandle, close_neo4j_drivers, neo4j_handle
from servers.database.neo4j.errors import Neo4jToolError, from_driver_error
from servers.database.neo4j.models import CypherResult, GraphSchema, LabelSchema, PropertySchema, RelationshipSchema
from servers.database.neo4j.statement_guard import CypherTool, blank, check_query_type, check_text
from servers.database.neo4j.values import collect
from servers.database.settings import DatabaseConnection
from servers.database.url_redaction import public_url

__all__ = ["close_neo4j_drivers", "neo4j_readiness", "register_neo4j_tools"]

T = TypeVar("T")

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)

QueryArg = Annotated[str, Field(min_length=1, max_length=100_000, description="one Cypher statement")]
ParamsArg = Annotated[
    dict[str, Any] | None,
    Field(description="query parameters, referenced as $name in the query (never paste values into the text)"),
]
ConnectionArg = Annotated[
    str | None,
    Field(max_length=64, description="neo4j connection name (default: the only neo4j connection; list_connections)"),
]

_COUNTERS = (
    "nodes_created",
    "nodes_deleted",
    "relationships_created",
    "relationships_deleted",
    "properties_set",
    "labels_added",
    "labels_removed",
    "indexes_added",
    "indexes_removed",
    "constraints_added",
    "constraints_removed",
    "system_updates",
)


_LEADING_WORD = re.compile(r"\s*([A-Za-z]+)")
# Span operation names: a query's leading clause when it is one of these, else OTHER.
_CLAUSES = frozenset(
    [
        "MATCH",
        "OPTIONAL",
        "CREATE",
        "MERGE",
        "CALL",
        "RETURN",
        "WITH",
        "UNWIND",
        "DELETE",
        "DETACH",
        "SET",
        "REMOVE",
        "FOREACH",
        "LOAD",
        "USE",
        "SHOW",
        "EXPLAIN",
        "PROFILE",
        "CYPHER",
        "DROP",
        "ALTER",
    ]
)


def span_operation(query: str) -> str:
    """The operation name of ``query`` for its span: a known leading clause (comments skipped), never other text."""
    match = _LEADING_WORD.match(blank(query))
    word = match.group(1).upper() if match else ""
    return word if word in _CLAUSES else "OTHER"


async def guarded(
    handle: Neo4jHandle, operation: Callable[[], Awaitable[T]], *, cypher: str | None = None, what: str = "CALL"
) -> T:
    """Run ``operation`` under the statement timeout; driver failures become redacted :class:`Neo4jToolError`.

    The backend span around it is named after the leading clause of ``cypher`` when given, else ``what``.
    """
    if not tracing.active():
        return await _guarded(handle, operation)
    name = span_operation(cypher) if cypher is not None else what
    with tracing.backend_span("neo4j", name, {"db.namespace": handle.name}):
        return await _guarded(handle, operation)


async def _guarded(handle: Neo4jHandle, operation: Callable[[], Awaitable[T]]) -> T:
    try:
        async with asyncio.timeout(handle.timeout):
            return await operation()
    except TimeoutError:
        raise Neo4jToolError(
            "timeout",
            f"connection {handle.name!r}: the query took longer than {handle.connection.statement_timeout_ms} ms "
            "(statement_timeout_ms); narrow it (LIMIT, filters)",
        ) from None
    except Neo4jToolError:
        raise
    except Exception as exc:
        raise from_driver_error(handle.name, exc, handle.secrets()) from None


async def _records(result: Any) -> AsyncIterator[Any]:
    async for record in result:
        yield record


async def run_cypher(
    handle: Neo4jHandle, tool: CypherTool, query: str, parameters: dict[str, Any] | None
) -> CypherResult:
    access = handle.connection.access
    checked = check_text(tool, access, query)
    limits = handle.connection
    mode = READ_ACCESS if tool == "cypher_read" else WRITE_ACCESS

    async def operation() -> CypherResult:
        session_config = {"default_access_mode": mode, "fetch_size": min(limits.max_rows + 1, 1000)}
        if handle.target.database:
            session_config["database"] = handle.target.database
        async with handle.driver.session(**session_config) as session:
            plan = await session.run(Query(checked.explain, timeout=handle.timeout), parameters or {})
            planned = await plan.consume()
            check_query_type(tool, access, planned.query_type)
            result = await session.run(Query(checked.text, timeout=handle.timeout), parameters or {})
            columns = list(result.keys())
            rows = await collect(_records(result), columns, limits.max_rows, limits.max_bytes)
            summary = await result.consume()  # discards what the budget left unread
        counters = {name: int(getattr(summary.counters, name, 0)) for name in _COUNTERS}
        return CypherResult(
            connection=handle.name,
            database=getattr(summary, "database", None) or handle.target.database,
            query_type=planned.query_type or "r",
            columns=columns,
            rows=rows.rows,
            row_count=len(rows.rows),
            truncated=rows.truncated,
            truncated_reason=rows.reason,
            hint="the result passed the row/byte budget: add ORDER BY with SKIP/LIMIT to page, or narrow it"
            if rows.truncated
            else None,
            counters={name: value for name, value in counters.items() if value},
        )

    return await guarded(handle, operation, cypher=checked.text)


def _type_name(text: str) -> str:
    # db.schema.*TypeProperties name types like ":`Person`:`Admin`".
    return ":".join(part.strip("`") for part in text.split(":") if part)


async def read_schema(handle: Neo4jHandle) -> GraphSchema:
    limits = handle.connection

    async def rows(session: Any, query: str) -> list[dict[str, Any]]:
        result = await session.run(Query(query, timeout=handle.timeout))
        return [dict(record.items()) async for record in result]

    async def operation() -> GraphSchema:
        session_config: dict[str, Any] = {"default_access_mode": READ_ACCESS}
        if handle.target.database:
            session_config["database"] = handle.target.database
        async with handle.driver.session(**session_config) as session:
            labels = [row["label"] for row in await rows(session, "CALL db.labels() YIELD label RETURN label")]
            types = [
                row["relationshipType"]
                for row in await rows(
                    session, "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType"
                )
            ]
            node_props = await rows(
                session,
                "CALL db.schema.nodeTypeProperties() YIELD nodeLabels, propertyName, propertyTypes, mandatory "
                "RETURN nodeLabels, propertyName, propertyTypes, mandatory",
            )
            rel_props = await rows(
                session,
                "CALL db.schema.relTypeProperties() YIELD relType, propertyName, propertyTypes, mandatory "
                "RETURN relType, propertyName, propertyTypes, mandatory",
            )
        by_label: dict[str, list[PropertySchema]] = {label: [] for label in labels}
        for row in node_props:
            for label in row.get("nodeLabels") or []:
                if row.get("propertyName"):
                    by_label.setdefault(label, []).append(_property(row))
        by_type: dict[str, list[PropertySchema]] = {name: [] for name in types}
        for row in rel_props:
            name = _type_name(str(row.get("relType") or ""))
            if name and row.get("propertyName"):
                by_type.setdefault(name, []).append(_property(row))
        truncated = len(by_label) > limits.max_rows or len(by_type) > limits.max_rows
        return GraphSchema(
            connection=handle.name,
            labels=[LabelSchema(label=k, properties=_unique(v)) for k, v in sorted(by_label.items())][
                : limits.max_rows
            ],
            relationship_types=[RelationshipSchema(type=k, properties=_unique(v)) for k, v in sorted(by_type.items())][
                : limits.max_rows
            ],
            truncated=truncated,
        )

    return await guarded(handle, operation, what="CALL")


def _property(row: Mapping[str, Any]) -> PropertySchema:
    return PropertySchema(
        name=str(row["propertyName"]),
        types=[str(t) for t in row.get("propertyTypes") or []],
        mandatory=bool(row.get("mandatory")),
    )


def _unique(properties: list[PropertySchema]) -> list[PropertySchema]:
    # A label shared by several node types lists a property once per type: merge them.
    merged: dict[str, PropertySchema] = {}
    for prop in properties:
        seen = merged.get(prop.name)
        if seen is None:
            merged[prop.name] = prop.model_copy()
        else:
            seen.types = sorted(set(seen.types) | set(prop.types))
            seen.mandatory = seen.mandatory and prop.mandatory
    return sorted(merged.values(), key=lambda p: p.name)


def register_neo4j_tools(server: MCPServer[Any], connections: Mapping[str, DatabaseConnection]) -> None:
    """Add the Neo4j tools for ``connections`` (the Neo4j ones only) to ``server``."""
    names = sorted(connections)
    if not names:
        return

    def pick(name: str | None, tool: str) -> Neo4jHandle:
        if name is None:
            if len(names) != 1:
                raise Neo4jToolError("connection_required", f"name a neo4j connection: one of {', '.join(names)}")
            name = names[0]
        connection = connections.get(name)
        if connection is None:
            raise Neo4jToolError(
                "unknown_connection", f"no neo4j connection named {name[:64]!r}; known: {', '.join(names)}"
            )
        if tool == "cypher_write" and connection.access == "read_only":
            raise Neo4jToolError(
                "read_only", f"connection {name!r} is read_only; cypher_write needs a read_write or admin connection"
            )
        return neo4j_handle(name, connection)

    @server.tool(annotations=READ)
    async def cypher_read(
        query: QueryArg, parameters: ParamsArg = None, connection: ConnectionArg = None
    ) -> CypherResult:
        """Run one read-only Cypher query with $parameters; rows come back as JSON within the budget.

        Refused unless Neo4j's EXPLAIN classifies it as a read; it then runs in a READ session.
        CALL is limited to schema and index-query procedures. Nodes are {element_id, labels,
        properties}; relationships {element_id, type, start_element_id, end_element_id, properties}.
        """
        return await run_cypher(pick(connection, "cypher_read"), "cypher_read", query, parameters)

    @server.tool(annotations=READ)
    async def graph_schema(connection: ConnectionArg = None) -> GraphSchema:
        """Labels and relationship types with their property names, types and whether each is always present."""
        return await read_schema(pick(connection, "graph_schema"))

    if any(c.access in ("read_write", "admin") for c in connections.values()):

        @server.tool(annotations=WRITE)
        async def cypher_write(
            query: QueryArg, parameters: ParamsArg = None, connection: ConnectionArg = None
        ) -> CypherResult:
            """Run one Cypher statement that may write (CREATE, MERGE, SET, DELETE) with $parameters.

            Only on read_write or admin connections; returns the rows (budgeted) and counters of
            what changed. Schema changes (indexes, constraints), LOAD CSV, USE and dbms.* procedures
            need an admin connection.
            """
            return await run_cypher(pick(connection, "cypher_write"), "cypher_write", query, parameters)


async def neo4j_readiness(name: str, connection: DatabaseConnection) -> tuple[bool, str]:
    """(ready, detail) for one Neo4j connection: the driver's connectivity check, secrets never shown."""
    shown = public_url(connection.url.get_secret_value())
    try:
        handle = neo4j_handle(name, connection)
        await _guarded(handle, lambda: handle.driver.verify_connectivity())  # no span per health probe
    except Neo4jToolError as exc:
        return False, exc.detail
    return True, f"neo4j {shown} is reachable"
