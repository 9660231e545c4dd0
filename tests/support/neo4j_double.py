"""Neo4jDriverDouble: a stand-in for the parts of ``neo4j.AsyncDriver`` the database server uses.

IT DOES NOT PROVE A LIVE INTEGRATION. No Neo4j server can be installed on these machines; the
double reproduces the driver's documented session behaviour so the classification, budget and
error logic can be tested; the live tests (``NEO4J_URI``) are what check the real thing.

What it reproduces, from the driver's API documentation:
- ``driver.session(database=..., default_access_mode=READ_ACCESS|WRITE_ACCESS, fetch_size=...)`` is
  an async context manager; ``await session.run(query_or_Query, parameters)`` returns a result
  whose ``keys()`` is a tuple, which is async-iterable over ``neo4j.Record`` and whose
  ``await consume()`` returns a real ``neo4j.ResultSummary`` (``query_type`` in r/rw/w/s,
  ``counters``); consuming discards unread records.
- ``EXPLAIN <query>`` plans without running: no records, a summary with the query's type.
- A write (type ``w``, ``rw`` or ``s``) run in a READ session raises ``neo4j.exceptions.ClientError``
  with code ``Neo.ClientError.Statement.AccessMode``, as Neo4j 4+ does; an unknown query raises
  ``CypherSyntaxError``; an unreachable server raises ``ServiceUnavailable``; bad credentials ``AuthError``.

Queries are scripted: ``double.script(text, query_type, rows=[...])``; the text is matched with
whitespace collapsed. ``planned_as`` makes EXPLAIN report another type than running has (a
procedure declared READ that writes), to show the READ session still refuses the write. ``delay`` makes the
first record arrive late (the tool's timeout); ``fail_after``/``failure`` raise an error while the records
stream, after that many (and from ``consume()``, as the driver does when the query fails on the server after
the client stopped reading). ``double.executed`` lists what really ran (EXPLAINs excluded) and
``double.pulled`` counts records handed out, so a test can show a refused write never ran
and that a budget stopped reading early.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from neo4j import READ_ACCESS, Query, Record, ResultSummary
from neo4j.addressing import Address
from neo4j.api import ServerInfo
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

ADDRESS = Address(("neo4j-double", 7687))


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def server_error(code: str, message: str) -> Neo4jError:
    """The exception the driver raises for a server FAILURE with ``code`` (same class hierarchy as the driver's)."""
    return Neo4jError._hydrate_neo4j(code=code, message=message)


@dataclass
class Scripted:
    query_type: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    columns: list[str] | None = None
    planned_as: str | None = None  # what EXPLAIN reports, when it differs from what running does
    delay: float = 0.0  # seconds the server takes before the first record arrives
    fail_after: int | None = None  # records handed out before ``failure`` is raised while streaming
    failure: Exception | None = None


@dataclass
class Executed:
    text: str
    access_mode: str
    parameters: dict[str, Any]
    database: str | None
    timeout: float | None


class ResultDouble:
    def __init__(self, double: Neo4jDriverDouble, scripted: Scripted, *, explain: bool, database: str | None) -> None:
        self._double = double
        self._scripted = scripted
        self._records = [] if explain else [Record(row) for row in scripted.rows]  # type: ignore[no-untyped-call]
        self._explain = explain
        self._database = database
        self._index = 0

    def keys(self) -> tuple[str, ...]:
        if self._scripted.columns is not None:
            return tuple(self._scripted.columns)
        return tuple(self._scripted.rows[0]) if self._scripted.rows else ()

    def __aiter__(self) -> AsyncIterator[Record]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Record]:
        scripted = self._scripted
        if scripted.delay and not self._explain:
            await anyio.sleep(scripted.delay)  # the fault under test (a slow server), not a synchronisation
        while self._index < len(self._records):
            self._fail_if_due()
            record = self._records[self._index]
            self._index += 1
            self._double.pulled += 1
            yield record
        self._fail_if_due(at_end=True)

    def _fail_if_due(self, at_end: bool = False) -> None:
        """Raise the scripted failure once ``fail_after`` records were handed out (or at the end, if fewer)."""
        scripted = self._scripted
        if self._explain or scripted.failure is None or scripted.fail_after is None:
            return
        if self._index >= scripted.fail_after or at_end:
            raise scripted.failure

    async def consume(self) -> ResultSummary:
        if not self._explain and self._scripted.failure is not None and self._scripted.fail_after is not None:
            # Discarding the rest still runs the query to its end on the server, where it fails.
            raise self._scripted.failure
        self._index = len(self._records)  # the rest is discarded, never pulled
        stats = {} if self._explain else {k.replace("_", "-"): v for k, v in self._scripted.counters.items()}
        query_type = self._scripted.query_type
        if self._explain and self._scripted.planned_as is not None:
            query_type = self._scripted.planned_as
        metadata = {
            "server": ServerInfo(ADDRESS, (5, 0)),
            "type": query_type,
            "stats": stats,
            "db": self._database or "neo4j",
        }
        return ResultSummary(ADDRESS, bool(self.keys()), bool(self._records), metadata)


class SessionDouble:
    def __init__(self, double: Neo4jDriverDouble, config: dict[str, Any]) -> None:
        self._double = double
        self.access_mode = config.get("default_access_mode", "WRITE")
        self.database = config.get("database")

    async def __aenter__(self) -> SessionDouble:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run(self, query: str | Query, parameters: dict[str, Any] | None = None, **kwargs: Any) -> ResultDouble:
        double = self._double
        double.check_reachable()
        text = query.text if isinstance(query, Query) else query
        timeout = query.timeout if isinstance(query, Query) else None
        normal = _normal(text)
        explain = normal.upper().startswith("EXPLAIN ")
        body = normal[len("EXPLAIN ") :] if explain else normal
        scripted = double.scripted.get(body)
        if scripted is None:
            raise server_error("Neo.ClientError.Statement.SyntaxError", f"Invalid input: the double knows no {body!r}")
        if explain:
            return ResultDouble(double, scripted, explain=True, database=self.database)
        if self.access_mode == READ_ACCESS and scripted.query_type in ("w", "rw", "s"):
            raise server_error(
                "Neo.ClientError.Statement.AccessMode",
                "Writing in read access mode not allowed. Attempted write to internal graph 0 (neo4j)",
            )
        double.executed.append(Executed(normal, self.access_mode, dict(parameters or {}), self.database, timeout))
        return ResultDouble(double, scripted, explain=False, database=self.database)


class Neo4jDriverDouble:
    """A scripted stand-in for ``neo4j.AsyncDriver`` (see the module docstring: not a live integration)."""

    def __init__(self, *, unreachable: bool = False, bad_auth: bool = False) -> None:
        self.scripted: dict[str, Scripted] = {}
        self.executed: list[Executed] = []
        self.pulled = 0
        self.sessions: list[dict[str, Any]] = []
        self.opened_with: list[tuple[str, tuple[str, str] | None]] = []
        self.closed = False
        self.unreachable = unreachable
        self.bad_auth = bad_auth

    def script(
        self,
        text: str,
        query_type: str,
        rows: list[dict[str, Any]] | None = None,
        counters: dict[str, int] | None = None,
        columns: list[str] | None = None,
        planned_as: str | None = None,
        *,
        delay: float = 0.0,
        fail_after: int | None = None,
        failure: Exception | None = None,
    ) -> None:
        """Script ``text``: its type when run, its rows and counters; ``planned_as`` overrides what EXPLAIN says.

        ``delay``: seconds before the first record arrives (for the tool's timeout). ``fail_after`` with
        ``failure``: the exception raised while the records stream, once that many were handed out.
        """
        self.scripted[_normal(text)] = Scripted(
            query_type, list(rows or []), dict(counters or {}), columns, planned_as, delay, fail_after, failure
        )

    def factory(self, uri: str, auth: tuple[str, str] | None) -> Neo4jDriverDouble:
        """The driver factory to pass to ``use_driver_factory``: records the URI and auth it was given."""
        self.opened_with.append((uri, auth))
        return self

    def check_reachable(self) -> None:
        if self.unreachable:
            raise ServiceUnavailable("Couldn't connect to neo4j-double:7687 (resolved to ()): connection refused")
        if self.bad_auth:
            raise server_error(
                "Neo.ClientError.Security.Unauthorized", "The client is unauthorized due to authentication failure."
            )

    def session(self, **config: Any) -> SessionDouble:
        self.sessions.append(dict(config))
        return SessionDouble(self, config)

    async def verify_connectivity(self, **config: Any) -> None:
        self.check_reachable()

    async def close(self) -> None:
        self.closed = True


__all__ = ["AuthError", "Neo4jDriverDouble", "server_error"]
