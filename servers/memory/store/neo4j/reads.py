"""The Neo4j store's reads: the graph in pages, search, history, vectors and counts.

A mixin of :class:`~servers.memory.store.neo4j.store.Neo4jGraphStore`, which gives it ``_read``
(one managed read transaction per call). Search asks the full-text index (Lucene's relevance, each
query word as a prefix); on a Neo4j without it, it ranks in the server with BM25 over the documents
that contain the query's words (:mod:`~servers.memory.store.text_rank`), which reads every one of
them: slower on a large namespace, the same answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from neo4j.exceptions import ClientError

from servers.memory.store.base import EntityRecord, NamespaceStats, ObservationRecord, RelationRecord, SearchHit
from servers.memory.store.neo4j import cypher
from servers.memory.store.neo4j.driver import guarded
from servers.memory.store.neo4j.records import entity_key, entity_of, observation_of, relation_of
from servers.memory.store.text_index import folded, merge_ranked, query_words
from servers.memory.store.text_rank import bm25, term_counts

log = logging.getLogger(__name__)
T = TypeVar("T")
Tx = Any
NO_PROCEDURE = "Neo.ClientError.Procedure.ProcedureNotFound"


async def rows(tx: Tx, statement: str, /, **parameters: Any) -> list[dict[str, Any]]:
    """Run ``statement`` in ``tx`` and read every record as a dict."""
    result = await tx.run(statement, parameters)
    found: list[dict[str, Any]] = await result.data()
    return found


def _relation_order(r: RelationRecord) -> tuple[str, str, str]:
    return r.source, r.target, r.relation_type


class Neo4jReads:
    fulltext: bool

    async def _read(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        raise NotImplementedError

    @staticmethod
    async def _hydrate(tx: Tx, namespace: str, found: list[dict[str, Any]], now: float) -> list[EntityRecord]:
        if not found:
            return []
        names = [row["name"] for row in found]
        by_entity: dict[str, list[ObservationRecord]] = {name: [] for name in names}
        for row in await rows(tx, cypher.OBSERVATIONS_OF, namespace=namespace, names=names, now=now):
            by_entity[row["entity"]].append(observation_of(row))
        return [entity_of(row, tuple(sorted(by_entity[row["name"]], key=lambda o: o.id))) for row in found]

    @guarded
    async def list_entities(self, namespace: str, after: str | None, limit: int, now: float) -> list[EntityRecord]:
        async def work(tx: Tx) -> list[EntityRecord]:
            found = await rows(tx, cypher.LIST_ENTITIES, namespace=namespace, after=after or "", now=now, limit=limit)
            return await self._hydrate(tx, namespace, found, now)

        return await self._read(work)

    async def _get_entities(self, tx: Tx, namespace: str, names: Sequence[str], now: float) -> list[EntityRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        found = await rows(tx, cypher.GET_ENTITIES, keys=[entity_key(namespace, n) for n in unique], now=now)
        order = {name: i for i, name in enumerate(unique)}
        found.sort(key=lambda row: order[row["name"]])
        return await self._hydrate(tx, namespace, found, now)

    @guarded
    async def get_entities(self, namespace: str, names: Sequence[str], now: float) -> list[EntityRecord]:
        return await self._read(lambda tx: self._get_entities(tx, namespace, names, now))

    @staticmethod
    async def _relations(tx: Tx, query: str, namespace: str, names: Sequence[str]) -> list[RelationRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        found = await rows(tx, query, keys=[entity_key(namespace, n) for n in unique])
        return sorted((relation_of(row) for row in found), key=_relation_order)

    @guarded
    async def relations_touching(
        self, namespace: str, names: Sequence[str], *, both_ends: bool = False
    ) -> list[RelationRecord]:
        query = cypher.RELATIONS_WITHIN if both_ends else cypher.RELATIONS_TOUCHING
        return await self._read(lambda tx: self._relations(tx, query, namespace, names))

    @guarded
    async def relations_from(self, namespace: str, names: Sequence[str]) -> list[RelationRecord]:
        return await self._read(lambda tx: self._relations(tx, cypher.RELATIONS_FROM, namespace, names))

    async def _ranked(
        self, tx: Tx, namespace: str, words: list[str], window: int, now: float, any_word: bool
    ) -> list[tuple[str, float]]:
        if not words:
            return []
        if self.fulltext:
            query = (" OR " if any_word else " AND ").join(f"{word}*" for word in words)
            try:
                found = await rows(tx, cypher.FULLTEXT_SEARCH, query=query, namespace=namespace, now=now, limit=window)
                return [(row["name"], float(row["score"])) for row in found]
            except ClientError as exc:
                if exc.code != NO_PROCEDURE:
                    raise
                self.fulltext = False
                log.warning("memory: this Neo4j has no full-text procedures; search_nodes ranks in the server")
                raise
        return await self._ranked_here(tx, namespace, words, window, now, any_word)

    @staticmethod
    async def _ranked_here(
        tx: Tx, namespace: str, words: list[str], window: int, now: float, any_word: bool
    ) -> list[tuple[str, float]]:
        """BM25 in the server over the documents holding the query's words (the fallback without full-text)."""
        query = cypher.ANY_WORD if any_word else cypher.ALL_WORDS
        found = await rows(tx, query, namespace=namespace, words=words, now=now)
        postings: dict[str, dict[str, int]] = {}
        lengths: dict[str, int] = {}
        for row in found:
            counts = term_counts(row["doc"])
            lengths[row["name"]] = sum(counts.values())
            for word in words:
                tf = sum(n for term, n in counts.items() if term.startswith(word))
                if tf:
                    postings.setdefault(word, {})[row["name"]] = tf
        if not any_word and len(postings) < len(words):
            return []
        [stats] = await rows(tx, cypher.TEXT_STATS, namespace=namespace)
        documents, average = int(stats["documents"]), float(stats["average"] or 1.0)
        return bm25(postings, lengths, documents, average, any_word=any_word)[:window]

    async def _search(
        self, tx: Tx, namespace: str, query: str, limit: int, offset: int, now: float, any_word: bool
    ) -> list[SearchHit]:
        window = offset + limit
        ranked = await self._ranked(tx, namespace, query_words(query), window, now, any_word)
        found = await rows(
            tx, cypher.SUBSTRING, namespace=namespace, needle=folded(query), now=now, limit=window + len(ranked)
        )
        return [SearchHit(n, s) for n, s in merge_ranked(ranked, [row["name"] for row in found], limit, offset)]

    async def _searching(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run a search; once more, ranking in the server, if the full-text procedure turned out to be missing."""
        try:
            return await self._read(work)
        except ClientError as exc:
            if exc.code != NO_PROCEDURE:
                raise
            return await self._read(work)

    @guarded
    async def search(
        self, namespace: str, query: str, limit: int, offset: int, now: float, *, any_word: bool = False
    ) -> list[SearchHit]:
        return await self._searching(lambda tx: self._search(tx, namespace, query, limit, offset, now, any_word))

    @guarded
    async def search_graph(
        self, namespace: str, query: str, limit: int, offset: int, now: float
    ) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
        async def work(tx: Tx) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
            hits = await self._search(tx, namespace, query, limit, offset, now, False)
            records = await self._get_entities(tx, namespace, [h.name for h in hits], now)
            relations = await self._relations(tx, cypher.RELATIONS_TOUCHING, namespace, [r.name for r in records])
            return hits, records, relations

        return await self._searching(work)

    @guarded
    async def history(self, namespace: str, entity: str, now: float) -> list[ObservationRecord]:
        found = await self._read(lambda tx: rows(tx, cypher.HISTORY, namespace=namespace, name=entity, now=now))
        return [observation_of(row) for row in found]

    @guarded
    async def pending_embeddings(self, limit: int) -> list[tuple[int, str]]:
        found = await self._read(lambda tx: rows(tx, cypher.PENDING, limit=limit))
        return [(int(row["id"]), row["content"]) for row in found]

    @guarded
    async def vectors_since(self, namespace: str, after_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        found = await self._read(
            lambda tx: rows(tx, cypher.VECTORS_SINCE, namespace=namespace, after=after_id, limit=limit)
        )
        return [(int(row["id"]), row["entity"], bytes(row["vector"])) for row in found]

    @guarded
    async def observations_by_id(self, namespace: str, ids: Sequence[int], now: float) -> list[ObservationRecord]:
        if not ids:
            return []
        found = await self._read(
            lambda tx: rows(tx, cypher.OBSERVATIONS_BY_ID, ids=list(ids), namespace=namespace, now=now)
        )
        return [observation_of(row) for row in found]

    @guarded
    async def stats(self, namespace: str, now: float) -> NamespaceStats:
        [row] = await self._read(lambda tx: rows(tx, cypher.STATS, namespace=namespace, now=now))
        return NamespaceStats(namespace, int(row["entities"]), int(row["observations"]), int(row["relations"]))

    @guarded
    async def namespaces(self) -> list[str]:
        found = await self._read(lambda tx: rows(tx, cypher.NAMESPACES))
        return [row["namespace"] for row in found]
