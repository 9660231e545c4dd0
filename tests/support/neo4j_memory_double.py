"""Neo4jMemoryDouble: a stand-in for ``neo4j.AsyncDriver`` that runs the memory store's Cypher on a graph in memory.

IT DOES NOT PROVE A LIVE INTEGRATION. No Neo4j server can be installed on these machines. The
double knows each statement of ``servers/memory/store/neo4j/cypher.py`` by its exact text and does
what that Cypher does to an in-memory graph (entity nodes by ``key``, observation nodes by ``id``,
relationships by their ends and type), with the driver's documented behaviour around it:

- ``driver.session(database=...)`` is an async context manager; ``await session.run(text, params)``
  runs one auto-commit statement; ``session.execute_write(fn)`` / ``execute_read(fn)`` run ``fn(tx)``
  as a managed transaction: ``await tx.run(text, params)`` returns a result whose ``await data()``
  is the records as dicts. An exception from ``fn`` rolls the transaction back and propagates; a
  ``TransientError`` (a deadlock) is retried, as the driver retries it. Write transactions run one
  at a time here (Neo4j serialises writers of the same nodes through their locks; the lock order of
  the store is what the live test checks).
- A write statement in a read transaction raises ``ClientError`` ``Neo.ClientError.Statement.AccessMode``;
  an unknown statement ``CypherSyntaxError``; an observation id already there ``ConstraintError``
  (the unique constraint); an unreachable server ``ServiceUnavailable`` (at once: the real driver first
  retries for ``max_transaction_retry_time``).
- Without full-text (``fulltext=False``, a Neo4j without the Lucene procedures), ``CREATE FULLTEXT
  INDEX`` is a syntax error and ``db.index.fulltext.queryNodes`` is ``ProcedureNotFound``. With it,
  the query is the Lucene text the store sends (``word*`` terms joined by ``AND`` or ``OR``), matched
  against the words of ``doc`` and scored by a plain tf-idf: the order of relevance, not Lucene's numbers.

``fail_once(statement, error)`` raises ``error`` the next time ``statement`` runs; ``executed`` lists the
statements run (committed or not) and ``rolled_back`` counts the transactions undone.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from neo4j.exceptions import Neo4jError, ServiceUnavailable, TransientError

from servers.memory.store.neo4j import cypher
from tests.support.neo4j_double import server_error

Row = dict[str, Any]
WORD = re.compile(r"\w+", re.UNICODE)
OBSERVATION_FIELDS = (
    "id",
    "entity",
    "content",
    "hash",
    "created_at",
    "principal",
    "tool",
    "expires_at",
    "superseded_by",
    "superseded_at",
)
ENTITY_FIELDS = ("name", "type", "version", "created_at", "updated_at", "principal", "expires_at")


@dataclass
class Graph:
    entities: dict[str, Row] = field(default_factory=dict)
    observations: dict[int, Row] = field(default_factory=dict)
    relations: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    schema: set[str] = field(default_factory=set)


def _live(props: Row, now: float) -> bool:
    return props.get("expires_at") is None or props["expires_at"] > now


def _set(props: Row, values: Row) -> None:
    """``SET n += values``: a null removes the property."""
    for key, value in values.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value


class Neo4jMemoryDouble:
    """A driver double for the memory store (see the module docstring: not a live integration)."""

    def __init__(self, *, fulltext: bool = True) -> None:
        self.graph = Graph()
        self.fulltext = fulltext
        self.unreachable = False
        self.executed: list[str] = []
        self.rolled_back = 0
        self.opened_with: list[tuple[str, Any, dict[str, Any]]] = []
        self.closed = False
        self._failures: dict[str, list[Exception]] = {}
        self._lock = anyio.Lock()
        self._names = {getattr(cypher, name): name for name in dir(cypher) if name.isupper()}
        self._writes = {
            name
            for name in self._names.values()
            if any(word in getattr(cypher, name) for word in ("CREATE", "MERGE", "SET ", "DELETE"))
        }

    # -- the driver's surface ---------------------------------------------------------------------

    def factory(self, uri: str, auth: Any, **config: Any) -> Neo4jMemoryDouble:
        self.opened_with.append((uri, auth, config))
        return self

    def session(self, **config: Any) -> _Session:
        return _Session(self)

    async def close(self) -> None:
        self.closed = True

    def fail_once(self, statement: str, error: Exception) -> None:
        self._failures.setdefault(statement, []).append(error)

    def name_of(self, statement: str) -> str:
        return self._names.get(statement, "?")

    # -- running statements -----------------------------------------------------------------------

    def run(self, statement: str, parameters: Row, *, read_only: bool) -> list[Row]:
        if self.unreachable:
            raise ServiceUnavailable("Couldn't connect to neo4j-double:7687 (resolved to ()): connection refused")
        name = self._names.get(statement)
        if name is None:
            raise server_error("Neo.ClientError.Statement.SyntaxError", "Invalid input: the double knows no such query")
        self.executed.append(name)
        pending = self._failures.get(statement)
        if pending:
            raise pending.pop(0)
        if read_only and name in self._writes:
            raise server_error(
                "Neo.ClientError.Statement.AccessMode",
                "Writing in read access mode not allowed. Attempted write to internal graph 0 (neo4j)",
            )
        handler: Callable[[Graph, Row], list[Row]] = getattr(self, f"_{name.lower()}")
        return handler(self.graph, parameters)

    async def transaction(self, work: Callable[[_Tx], Awaitable[Any]], *, read_only: bool) -> Any:
        """A managed transaction: rolled back on any exception, retried on a transient one (as the driver does)."""
        for _attempt in range(5):
            async with self._lock:
                saved = copy.deepcopy(self.graph)
                try:
                    return await work(_Tx(self, read_only))
                except TransientError:
                    self.graph = saved
                    self.rolled_back += 1
                except BaseException:
                    self.graph = saved
                    self.rolled_back += 1
                    raise
        raise server_error("Neo.TransientError.Transaction.DeadlockDetected", "gave up after retries")

    # -- schema ------------------------------------------------------------------------------------

    def _constraint_entity(self, g: Graph, p: Row) -> list[Row]:
        g.schema.add("memory_entity_key")
        return []

    def _constraint_observation(self, g: Graph, p: Row) -> list[Row]:
        g.schema.add("memory_observation_id")
        return []

    def _index_entity_namespace(self, g: Graph, p: Row) -> list[Row]:
        g.schema.add("memory_entity_namespace")
        return []

    def _index_observation_entity(self, g: Graph, p: Row) -> list[Row]:
        g.schema.add("memory_observation_entity")
        return []

    def _fulltext_index(self, g: Graph, p: Row) -> list[Row]:
        if not self.fulltext:
            raise server_error("Neo.ClientError.Statement.SyntaxError", "Invalid input 'FULLTEXT': expected 'INDEX'")
        g.schema.add("memory_entity_text")
        return []

    def _counter(self, g: Graph, p: Row) -> list[Row]:
        g.counters.setdefault("observation", 0)
        return []

    def _ping(self, g: Graph, p: Row) -> list[Row]:
        return [{"name": "Neo4j Kernel", "version": "5.26.0-double"}]

    # -- writes ------------------------------------------------------------------------------------

    def _reserve_ids(self, g: Graph, p: Row) -> list[Row]:
        if "observation" not in g.counters:
            return []
        g.counters["observation"] += p["count"]
        return [{"last": g.counters["observation"]}]

    def _lock_entities(self, g: Graph, p: Row) -> list[Row]:
        found = sorted((g.entities[k] for k in p["keys"] if k in g.entities), key=lambda e: e["key"])
        return [{f: e.get(f) for f in ("name", "type", "version", "expires_at")} for e in found]

    def _current_observations(self, g: Graph, p: Row) -> list[Row]:
        return [self._observation(o) for o in self._of(g, p["namespace"], p["name"]) if o.get("superseded_by") is None]

    def _history_ids(self, g: Graph, p: Row) -> list[Row]:
        return [{"id": o["id"]} for o in self._of(g, p["namespace"], p["name"])]

    def _merge_entity(self, g: Graph, p: Row) -> list[Row]:
        if p["key"] in g.entities:
            return [{"created": False}]
        g.entities[p["key"]] = {"key": p["key"]}
        _set(g.entities[p["key"]], p["props"])
        return [{"created": True}]

    def _delete_entity(self, g: Graph, p: Row) -> list[Row]:
        if p["key"] not in g.entities:
            return []
        touching = [k for k in g.relations if p["key"] in (k[0], k[1])]
        for k in touching:
            del g.relations[k]
        del g.entities[p["key"]]
        return [{"relations": len(touching)}]

    def _create_observations(self, g: Graph, p: Row) -> list[Row]:
        for row in p["rows"]:
            if row["id"] in g.observations:
                raise server_error(
                    "Neo.ClientError.Schema.ConstraintValidationFailed",
                    f"Node already exists with label `MemoryObservation` and property `id` = {row['id']}",
                )
            g.observations[row["id"]] = {}
            _set(g.observations[row["id"]], row)
        return []

    def _delete_observations(self, g: Graph, p: Row) -> list[Row]:
        deleted = sum(1 for oid in p["ids"] if g.observations.pop(oid, None) is not None)
        return [{"deleted": deleted}]

    def _supersede(self, g: Graph, p: Row) -> list[Row]:
        if p["id"] in g.observations:
            _set(g.observations[p["id"]], {"superseded_by": p["by"], "superseded_at": p["at"]})
        return []

    def _update_entity(self, g: Graph, p: Row) -> list[Row]:
        if p["key"] in g.entities:
            values = {"version": p["version"], "updated_at": p["at"], "doc": p["doc"], "length": p["length"]}
            _set(g.entities[p["key"]], values)
        return []

    def _set_text(self, g: Graph, p: Row) -> list[Row]:
        if p["key"] in g.entities:
            _set(g.entities[p["key"]], {"doc": p["doc"], "length": p["length"]})
        return []

    def _create_relation(self, g: Graph, p: Row) -> list[Row]:
        if p["source"] not in g.entities or p["target"] not in g.entities:
            return []
        key = (p["source"], p["target"], p["type"])
        if key in g.relations:
            return [{"created": False}]
        g.relations[key] = {"created_at": p["at"], "principal": p["principal"]}
        return [{"created": True}]

    def _delete_relation(self, g: Graph, p: Row) -> list[Row]:
        found = g.relations.pop((p["source"], p["target"], p["type"]), None)
        return [{"deleted": 0 if found is None else 1}]

    def _store_vectors(self, g: Graph, p: Row) -> list[Row]:
        for row in p["rows"]:
            if row["id"] in g.observations:
                g.observations[row["id"]]["vector"] = bytes(row["vector"])
        return []

    def _expired_observations(self, g: Graph, p: Row) -> list[Row]:
        due = {(o["namespace"], o["entity"]) for o in g.observations.values() if not _live(o, p["now"])}
        return [{"namespace": ns, "entity": name} for ns, name in sorted(due)]

    def _expired_entities(self, g: Graph, p: Row) -> list[Row]:
        return [
            {"namespace": e["namespace"], "entity": e["name"]} for e in g.entities.values() if not _live(e, p["now"])
        ]

    def _delete_expired_observations(self, g: Graph, p: Row) -> list[Row]:
        due = [o["id"] for o in self._of(g, p["namespace"], p["name"]) if not _live(o, p["now"])]
        for oid in due:
            del g.observations[oid]
        return [{"deleted": len(due)}]

    # -- reads -------------------------------------------------------------------------------------

    @staticmethod
    def _of(g: Graph, namespace: str, entity: str) -> list[Row]:
        found = [o for o in g.observations.values() if o["namespace"] == namespace and o["entity"] == entity]
        return sorted(found, key=lambda o: o["id"])

    @staticmethod
    def _observation(o: Row) -> Row:
        return {f: o.get(f) for f in OBSERVATION_FIELDS}

    @staticmethod
    def _entity(e: Row) -> Row:
        return {f: e.get(f) for f in ENTITY_FIELDS}

    def _in(self, g: Graph, namespace: str, now: float) -> list[Row]:
        return [e for e in g.entities.values() if e["namespace"] == namespace and _live(e, now)]

    def _list_entities(self, g: Graph, p: Row) -> list[Row]:
        found = sorted(
            (e for e in self._in(g, p["namespace"], p["now"]) if e["name"] > p["after"]), key=lambda e: e["name"]
        )
        return [self._entity(e) for e in found[: p["limit"]]]

    def _get_entities(self, g: Graph, p: Row) -> list[Row]:
        found = [g.entities[k] for k in p["keys"] if k in g.entities]
        return [self._entity(e) for e in found if _live(e, p["now"])]

    def _observations_of(self, g: Graph, p: Row) -> list[Row]:
        found = [
            o
            for name in p["names"]
            for o in self._of(g, p["namespace"], name)
            if o.get("superseded_by") is None and _live(o, p["now"])
        ]
        return [self._observation(o) for o in sorted(found, key=lambda o: o["id"])]

    def _history(self, g: Graph, p: Row) -> list[Row]:
        return [self._observation(o) for o in self._of(g, p["namespace"], p["name"]) if _live(o, p["now"])]

    def _relation_rows(self, g: Graph, keep: Callable[[str, str], bool]) -> list[Row]:
        return [
            {
                "source": g.entities[s]["name"],
                "target": g.entities[t]["name"],
                "type": kind,
                "created_at": props["created_at"],
                "principal": props["principal"],
            }
            for (s, t, kind), props in g.relations.items()
            if keep(s, t)
        ]

    def _relations_from(self, g: Graph, p: Row) -> list[Row]:
        return [row for key in p["keys"] for row in self._relation_rows(g, lambda s, t, k=key: s == k)]

    def _relations_touching(self, g: Graph, p: Row) -> list[Row]:
        keys = set(p["keys"])
        return self._relation_rows(g, lambda s, t: s in keys or t in keys)

    def _relations_within(self, g: Graph, p: Row) -> list[Row]:
        keys = set(p["keys"])
        return self._relation_rows(g, lambda s, t: s in keys and t in keys)

    def _fulltext_search(self, g: Graph, p: Row) -> list[Row]:
        if not self.fulltext or "memory_entity_text" not in g.schema:
            raise server_error(
                "Neo.ClientError.Procedure.ProcedureNotFound",
                "There is no procedure with the name `db.index.fulltext.queryNodes` registered for this database "
                "instance.",
            )
        any_term = " OR " in p["query"]
        prefixes = [term.rstrip("*") for term in re.split(r" (?:AND|OR) ", p["query"])]
        docs = {key: WORD.findall(e.get("doc", "").lower()) for key, e in g.entities.items()}
        scores: dict[str, float] = {}
        for prefix in prefixes:
            holders = {key: sum(1 for w in words if w.startswith(prefix)) for key, words in docs.items()}
            holders = {key: tf for key, tf in holders.items() if tf}
            idf = math.log(1 + len(docs) / (1 + len(holders)))
            for key, tf in holders.items():
                scores[key] = scores.get(key, 0.0) + (1 + math.log(tf)) * idf
        matched = {
            key for key in scores if any_term or all(any(w.startswith(pre) for w in docs[key]) for pre in prefixes)
        }
        found = [
            {"name": g.entities[key]["name"], "score": scores[key]}
            for key in matched
            if g.entities[key]["namespace"] == p["namespace"] and _live(g.entities[key], p["now"])
        ]
        found.sort(key=lambda row: (-row["score"], row["name"]))
        return found[: p["limit"]]

    def _words(self, g: Graph, p: Row, test: Callable[[Any], bool]) -> list[Row]:
        return [
            {"name": e["name"], "doc": e.get("doc", "")}
            for e in self._in(g, p["namespace"], p["now"])
            if test(word in e.get("doc", "") for word in p["words"])
        ]

    def _all_words(self, g: Graph, p: Row) -> list[Row]:
        return self._words(g, p, all)

    def _any_word(self, g: Graph, p: Row) -> list[Row]:
        return self._words(g, p, any)

    def _text_stats(self, g: Graph, p: Row) -> list[Row]:
        lengths = [e.get("length", 0) for e in g.entities.values() if e["namespace"] == p["namespace"]]
        return [{"documents": len(lengths), "average": sum(lengths) / len(lengths) if lengths else None}]

    def _substring(self, g: Graph, p: Row) -> list[Row]:
        found = sorted(e["name"] for e in self._in(g, p["namespace"], p["now"]) if p["needle"] in e.get("doc", ""))
        return [{"name": name} for name in found[: p["limit"]]]

    def _pending(self, g: Graph, p: Row) -> list[Row]:
        found = sorted(
            (o for o in g.observations.values() if o.get("vector") is None and o.get("superseded_by") is None),
            key=lambda o: o["id"],
        )
        return [{"id": o["id"], "content": o["content"]} for o in found[: p["limit"]]]

    def _vectors_since(self, g: Graph, p: Row) -> list[Row]:
        found = sorted(
            (
                o
                for o in g.observations.values()
                if o["namespace"] == p["namespace"] and o["id"] > p["after"] and o.get("vector") is not None
            ),
            key=lambda o: o["id"],
        )
        return [{"id": o["id"], "entity": o["entity"], "vector": o["vector"]} for o in found[: p["limit"]]]

    def _observations_by_id(self, g: Graph, p: Row) -> list[Row]:
        found = [g.observations[oid] for oid in p["ids"] if oid in g.observations]
        return [
            self._observation(o)
            for o in found
            if o["namespace"] == p["namespace"] and o.get("superseded_by") is None and _live(o, p["now"])
        ]

    def _stats(self, g: Graph, p: Row) -> list[Row]:
        ns, now = p["namespace"], p["now"]
        observations = [
            o
            for o in g.observations.values()
            if o["namespace"] == ns and o.get("superseded_by") is None and _live(o, now)
        ]
        relations = [k for k in g.relations if g.entities[k[0]]["namespace"] == ns]
        return [{"entities": len(self._in(g, ns, now)), "observations": len(observations), "relations": len(relations)}]

    def _drop_namespaces(self, g: Graph, p: Row) -> list[Row]:
        doomed = set(p["namespaces"])
        keys = [k for k, e in g.entities.items() if e["namespace"] in doomed]
        ids = [oid for oid, o in g.observations.items() if o["namespace"] in doomed]
        for key in keys:
            self._delete_entity(g, {"key": key})
        for oid in ids:
            del g.observations[oid]
        return [{"deleted": len(keys) + len(ids)}]

    def _namespaces(self, g: Graph, p: Row) -> list[Row]:
        return [{"namespace": ns} for ns in sorted({e["namespace"] for e in g.entities.values()})]


class _Result:
    def __init__(self, found: list[Row]) -> None:
        self._rows = found

    async def data(self) -> list[Row]:
        return [dict(row) for row in self._rows]

    async def consume(self) -> None:
        self._rows = []


class _Tx:
    def __init__(self, double: Neo4jMemoryDouble, read_only: bool) -> None:
        self._double, self._read_only = double, read_only

    async def run(self, statement: str, parameters: Row | None = None, **kwargs: Any) -> _Result:
        return _Result(self._double.run(statement, {**(parameters or {}), **kwargs}, read_only=self._read_only))


class _Session:
    def __init__(self, double: Neo4jMemoryDouble) -> None:
        self._double = double

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run(self, statement: str, parameters: Row | None = None, **kwargs: Any) -> _Result:
        async def auto_commit(tx: _Tx) -> _Result:
            return await tx.run(statement, parameters, **kwargs)

        result: _Result = await self._double.transaction(auto_commit, read_only=False)
        return result

    async def execute_write(self, work: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        return await self._double.transaction(lambda tx: work(tx, *args, **kwargs), read_only=False)

    async def execute_read(self, work: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        return await self._double.transaction(lambda tx: work(tx, *args, **kwargs), read_only=True)


__all__ = ["Neo4jError", "Neo4jMemoryDouble"]
