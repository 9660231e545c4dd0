"""The memory service: the tools' operations over one graph store, with access checks and budgets.

Every write checks the caller's right to the namespace and the sizes of what it carries before it
touches the store, so a refused write changes nothing; the store commits it in one transaction and
the answer carries the versions and ids it wrote. Reads page with a cursor within an entity and
token budget. ``recall`` and export/import live in :mod:`.recall` and :mod:`.transfer`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from servers.kit import blas
from servers.kit.cursors import decode_cursor, encode_cursor, fingerprint, offset_cursor, offset_of
from servers.kit.embedders.factory import EmbedderSet
from servers.memory.access import AccessPolicy, Caller
from servers.memory.errors import MemoryToolError, entity_not_found
from servers.memory.models import (
    AddedObservations,
    AddedObservationsResult,
    CreatedEntities,
    CreatedRelations,
    Deleted,
    Entity,
    EntityHistory,
    EntityInput,
    EntityReceipt,
    ExportPage,
    GraphPage,
    ImportResult,
    NamespaceInfo,
    NamespaceList,
    ObservationAddition,
    ObservationDeletion,
    RecallResult,
    RelationInput,
    SupersedeResult,
)
from servers.memory.paging import PageBuilder, observation_detail, relation_model, timestamp
from servers.memory.recall import recall
from servers.memory.settings import MemorySettings
from servers.memory.store.base import (
    EntityRecord,
    GraphStore,
    NewEntity,
    Provenance,
    RelationKey,
    RelationRecord,
    UnknownEntity,
    UnknownObservation,
    VersionConflict,
)
from servers.memory.store.factory import build_store
from servers.memory.transfer import export_lines, import_lines
from servers.memory.vectors import ObservationEmbedder, VectorIndex

RESOURCE_ENTITIES = 50
RESOURCE_RELATIONS = 200


class MemoryService:
    def __init__(
        self,
        settings: MemorySettings,
        data_dir: Path,
        *,
        store: GraphStore | None = None,
        embedders: EmbedderSet | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or build_store(settings, data_dir)
        self.policy = AccessPolicy(settings)
        self.embedders = embedders or EmbedderSet(
            settings.embedders, settings.embedding_cache, settings.default_embedder, section="memory"
        )
        self.embedder = ObservationEmbedder(self.store, self.embedders, settings.embed_batch_size)
        self.vectors = VectorIndex(self.store)

    # -- checks ------------------------------------------------------------------------------------

    def _writable(self, caller: Caller, namespace: str | None) -> str:
        name = self.policy.namespace(namespace)
        self.policy.check_write(caller.principal, name)
        return name

    def _readable(self, caller: Caller, namespace: str | None) -> str:
        name = self.policy.namespace(namespace)
        self.policy.check_read(caller.principal, name)
        return name

    def _count(self, items: Sequence[object], what: str) -> None:
        if len(items) > self.settings.max_items_per_call:
            raise MemoryToolError(
                "too_many_items",
                f"{len(items)} {what} in one call; at most {self.settings.max_items_per_call} "
                "(memory.max_items_per_call): split the call; nothing was written",
            )

    def _texts(self, texts: Sequence[str], what: str) -> None:
        limit = self.settings.max_observation_chars
        for text in texts:
            if len(text) > limit:
                raise MemoryToolError(
                    "too_long",
                    f"an {what} has {len(text)} characters; at most {limit}: shorten it; nothing was written",
                )
            if not text.strip():
                raise MemoryToolError(
                    "empty_text", f"an {what} is empty; send text or leave it out; nothing was written"
                )

    def _names(self, names: Sequence[str]) -> None:
        for name in names:
            if len(name) > self.settings.max_name_chars:
                raise MemoryToolError(
                    "too_long", f"the name {name[:40]!r}... is longer than {self.settings.max_name_chars} characters"
                )

    def _provenance(self, caller: Caller, ttl_seconds: int | None = None) -> Provenance:
        now = time.time()
        if ttl_seconds is not None and ttl_seconds > self.settings.max_ttl_seconds:
            raise MemoryToolError(
                "ttl_too_long",
                f"ttl_seconds {ttl_seconds} is above memory.max_ttl_seconds ({self.settings.max_ttl_seconds})",
            )
        return Provenance(caller.principal, caller.tool, now, None if ttl_seconds is None else now + ttl_seconds)

    # -- the official writes -------------------------------------------------------------------------

    async def create_entities(
        self, caller: Caller, entities: Sequence[EntityInput], namespace: str | None, ttl_seconds: int | None = None
    ) -> CreatedEntities:
        ns = self._writable(caller, namespace)
        self._count(entities, "entities")
        self._names([e.name for e in entities])
        self._texts([o for e in entities for o in e.observations], "observation")
        self._count([o for e in entities for o in e.observations], "observations")
        unique = {e.name: e for e in reversed(entities)}  # the first of each name wins, as its position does
        ordered = [unique[name] for name in dict.fromkeys(e.name for e in entities)]
        news = [NewEntity(e.name, e.entityType, tuple(dict.fromkeys(e.observations))) for e in ordered]
        written = await self.store.create_entities(ns, news, self._provenance(caller, ttl_seconds))
        if any(w.added for w in written):
            self.embedder.written()
        return CreatedEntities(
            entities=[
                Entity(name=w.name, entityType=w.entity_type, observations=[o.content for o in w.added])
                for w in written
            ],
            written=[
                EntityReceipt(name=w.name, version=w.version, observation_ids=[o.id for o in w.added]) for w in written
            ],
            namespace=ns,
        )

    async def create_relations(
        self, caller: Caller, relations: Sequence[RelationInput], namespace: str | None
    ) -> CreatedRelations:
        ns = self._writable(caller, namespace)
        self._count(relations, "relations")
        self._names([n for r in relations for n in (r.source, r.target, r.relationType)])
        keys = list(dict.fromkeys(RelationKey(r.source, r.target, r.relationType) for r in relations))
        try:
            created = await self.store.create_relations(ns, keys, self._provenance(caller))
        except UnknownEntity as missing:
            raise MemoryToolError(
                "not_found",
                f"Entity with name {missing.name} not found in namespace {ns!r}; a relation joins two existing "
                "entities: create it with `create_entities` first; nothing was written",
            ) from None
        return CreatedRelations(relations=[relation_model(r) for r in created], namespace=ns)

    async def add_observations(
        self,
        caller: Caller,
        observations: Sequence[ObservationAddition],
        namespace: str | None,
        ttl_seconds: int | None = None,
    ) -> AddedObservationsResult:
        ns = self._writable(caller, namespace)
        self._count([c for o in observations for c in o.contents], "observations")
        self._texts([c for o in observations for c in o.contents], "observation")
        merged: dict[str, list[str]] = {}
        for o in observations:
            merged.setdefault(o.entityName, []).extend(c for c in o.contents if c not in merged.get(o.entityName, []))
        try:
            written = await self.store.add_observations(ns, list(merged.items()), self._provenance(caller, ttl_seconds))
        except UnknownEntity as missing:
            raise entity_not_found(ns, missing.name) from None
        if any(w.added for w in written):
            self.embedder.written()
        return AddedObservationsResult(
            results=[
                AddedObservations(
                    entityName=w.name,
                    addedObservations=[o.content for o in w.added],
                    version=w.version,
                    observation_ids=[o.id for o in w.added],
                )
                for w in written
            ],
            namespace=ns,
        )

    async def delete_entities(self, caller: Caller, names: Sequence[str], namespace: str | None) -> Deleted:
        ns = self._writable(caller, namespace)
        self._count(names, "entity names")
        count = await self.store.delete_entities(ns, names)
        return Deleted(
            success=True,
            message="Entities deleted successfully",
            namespace=ns,
            entities=count.entities,
            observations=count.observations,
            relations=count.relations,
        )

    async def delete_observations(
        self, caller: Caller, deletions: Sequence[ObservationDeletion], namespace: str | None
    ) -> Deleted:
        ns = self._writable(caller, namespace)
        self._count([o for d in deletions for o in d.observations], "observations")
        count = await self.store.delete_observations(
            ns, [(d.entityName, d.observations) for d in deletions], time.time()
        )
        return Deleted(
            success=True,
            message="Observations deleted successfully",
            namespace=ns,
            observations=count.observations,
            versions=count.versions,
        )

    async def delete_relations(
        self, caller: Caller, relations: Sequence[RelationInput], namespace: str | None
    ) -> Deleted:
        ns = self._writable(caller, namespace)
        self._count(relations, "relations")
        count = await self.store.delete_relations(
            ns, [RelationKey(r.source, r.target, r.relationType) for r in relations]
        )
        return Deleted(success=True, message="Relations deleted successfully", namespace=ns, relations=count.relations)

    # -- the official reads, paged ------------------------------------------------------------------

    def _budget(self, limit: int | None, max_tokens: int | None) -> tuple[int, int]:
        entities = min(limit or self.settings.max_page_entities, self.settings.max_page_entities)
        tokens = min(max_tokens or self.settings.default_page_tokens, self.settings.max_page_tokens)
        return entities, tokens

    async def read_graph(
        self, caller: Caller, namespace: str | None, cursor: str | None, limit: int | None, max_tokens: int | None
    ) -> GraphPage:
        ns = self._readable(caller, namespace)
        query = fingerprint("read_graph", ns)
        after = decode_cursor(cursor, query).get("a") if cursor else None
        if after is not None and not isinstance(after, str):
            raise MemoryToolError("invalid_cursor", "the cursor is not one this server issued; start again without it")
        max_entities, tokens = self._budget(limit, max_tokens)
        now = time.time()
        records = await self.store.list_entities(ns, after, max_entities + 1, now)
        relations = await self.store.relations_from(ns, [r.name for r in records])
        by_source: dict[str, list[RelationRecord]] = {}
        for relation in relations:
            by_source.setdefault(relation.source, []).append(relation)
        page = PageBuilder(max_entities, tokens)
        for record in records:
            if not page.admit(record, by_source.get(record.name, [])):
                break
        more = len(page.entities) < len(records)
        next_cursor = encode_cursor({"a": page.entities[-1].name}, query) if more and page.entities else None
        return GraphPage(
            entities=page.entities,
            relations=page.relations,
            namespace=ns,
            next_cursor=next_cursor,
            truncated_by=page.stopped if more else None,  # type: ignore[arg-type]
            approx_tokens=page.approx_tokens,
        )

    async def search_nodes(
        self,
        caller: Caller,
        query: str,
        namespace: str | None,
        cursor: str | None,
        limit: int | None,
        max_tokens: int | None,
    ) -> GraphPage:
        ns = self._readable(caller, namespace)
        key = fingerprint("search_nodes", ns, query)
        offset = offset_of(cursor, key)
        max_entities, tokens = self._budget(limit, max_tokens)
        now = time.time()
        hits, records, relations = await self.store.search_graph(ns, query, max_entities + 1, offset, now)
        page = self._page_of(records, relations, max_entities, tokens)
        more = len(page.entities) < len(hits)
        scores = {h.name: h.score for h in hits[: len(page.entities)]}
        return GraphPage(
            entities=page.entities,
            relations=page.relations,
            namespace=ns,
            next_cursor=offset_cursor(offset + len(page.entities), key) if more else None,
            truncated_by=page.stopped if more else None,  # type: ignore[arg-type]
            approx_tokens=page.approx_tokens,
            scores=scores,
        )

    async def open_nodes(
        self,
        caller: Caller,
        names: Sequence[str],
        namespace: str | None,
        cursor: str | None,
        max_tokens: int | None,
    ) -> GraphPage:
        ns = self._readable(caller, namespace)
        self._count(names, "names")
        key = fingerprint("open_nodes", ns, list(names))
        offset = offset_of(cursor, key)
        max_entities, tokens = self._budget(None, max_tokens)
        records = await self.store.get_entities(ns, list(names), time.time())
        window = records[offset : offset + max_entities + 1]
        page = await self._page_with_touching(ns, window, max_entities, tokens)
        more = offset + len(page.entities) < len(records)
        return GraphPage(
            entities=page.entities,
            relations=page.relations,
            namespace=ns,
            next_cursor=offset_cursor(offset + len(page.entities), key) if more else None,
            truncated_by=page.stopped if more else None,  # type: ignore[arg-type]
            approx_tokens=page.approx_tokens,
        )

    async def _page_with_touching(
        self, ns: str, records: Sequence[EntityRecord], max_entities: int, tokens: int
    ) -> PageBuilder:
        return self._page_of(
            records, await self.store.relations_touching(ns, [r.name for r in records]), max_entities, tokens
        )

    @staticmethod
    def _page_of(
        records: Sequence[EntityRecord], relations: Sequence[RelationRecord], max_entities: int, tokens: int
    ) -> PageBuilder:
        """A page of ``records``, each with the relations that have it at either end (as the official server does)."""
        touching: dict[str, list[RelationRecord]] = {}
        for relation in relations:
            touching.setdefault(relation.source, []).append(relation)
            if relation.target != relation.source:
                touching.setdefault(relation.target, []).append(relation)
        page = PageBuilder(max_entities, tokens)
        for record in records:
            if not page.admit(record, touching.get(record.name, [])):
                break
        return page

    # -- beyond the official surface -------------------------------------------------------------------

    async def supersede_observation(
        self,
        caller: Caller,
        entity: str,
        old: str | int,
        new: str,
        namespace: str | None,
        expected_version: int | None,
        ttl_seconds: int | None,
    ) -> SupersedeResult:
        ns = self._writable(caller, namespace)
        self._texts([new], "observation")
        try:
            done = await self.store.supersede_observation(
                ns, entity, old, new, self._provenance(caller, ttl_seconds), expected_version
            )
        except UnknownEntity as missing:
            raise entity_not_found(ns, missing.name) from None
        except UnknownObservation as missing:
            raise MemoryToolError(
                "not_found",
                f"{entity!r} has no current observation {missing.observation!r}; `history` lists its observations "
                "and their ids; nothing was written",
            ) from None
        except VersionConflict as conflict:
            raise MemoryToolError(
                "version_conflict",
                f"{entity!r} is at version {conflict.actual}, not {conflict.expected}: another writer changed it. "
                "Read it again (`open_nodes`) and retry with its current version; nothing was written",
            ) from None
        self.embedder.written()
        return SupersedeResult(
            entityName=entity,
            namespace=ns,
            superseded=observation_detail(done.old),
            current=observation_detail(done.new),
            version=done.version,
        )

    async def history(
        self, caller: Caller, entity: str, namespace: str | None, cursor: str | None, limit: int
    ) -> EntityHistory:
        ns = self._readable(caller, namespace)
        key = fingerprint("history", ns, entity)
        offset = offset_of(cursor, key)
        records = await self.store.history(ns, entity, time.time())
        if not records and not await self.store.get_entities(ns, [entity], time.time()):
            raise entity_not_found(ns, entity)
        window = records[offset : offset + limit]
        more = offset + len(window) < len(records)
        return EntityHistory(
            name=entity,
            namespace=ns,
            observations=[observation_detail(r) for r in window],
            next_cursor=offset_cursor(offset + len(window), key) if more else None,
        )

    async def list_namespaces(self, caller: Caller) -> NamespaceList:
        seen = await self.store.namespaces()
        now = time.time()
        infos = []
        for name in self.policy.readable(caller.principal, seen):
            stats = await self.store.stats(name, now)
            infos.append(
                NamespaceInfo(
                    namespace=name,
                    kind=self.policy.access(name).kind,
                    can_write=self.policy.can_write(caller.principal, name),
                    entities=stats.entities,
                    observations=stats.observations,
                    relations=stats.relations,
                )
            )
        return NamespaceList(principal=caller.principal, namespaces=infos)

    async def recall(
        self, caller: Caller, query: str, namespace: str | None, max_tokens: int | None, max_entities: int, hops: int
    ) -> RecallResult:
        ns = self._readable(caller, namespace)
        tokens = min(max_tokens or self.settings.default_page_tokens, self.settings.max_page_tokens)
        embed = self.embedders.get(None) if self.settings.recall_vectors else None
        return await recall(
            self.store, self.vectors if embed is not None else None, embed, ns, query, tokens, max_entities, hops
        )

    async def export_graph(self, caller: Caller, namespace: str | None, cursor: str | None) -> ExportPage:
        return await export_lines(self.store, self._readable(caller, namespace), cursor)

    async def import_graph(
        self, caller: Caller, jsonl: str, namespace: str | None, ttl_seconds: int | None
    ) -> ImportResult:
        ns = self._writable(caller, namespace)
        result = await import_lines(
            self.store,
            ns,
            jsonl,
            self._provenance(caller, ttl_seconds),
            self.settings.max_import_lines,
            self.settings.max_observation_chars,
        )
        self.embedder.written()
        return result

    async def entity_detail(self, caller: Caller, namespace: str, name: str) -> dict[str, object]:
        """The ``memory://<namespace>/entities/<name>`` resource: the entity, its provenance and relations."""
        ns = self._readable(caller, namespace)
        now = time.time()
        found = await self.store.get_entities(ns, [name], now)
        if not found:
            raise entity_not_found(ns, name)
        record = found[0]
        relations = await self.store.relations_touching(ns, [name])
        return {
            "namespace": ns,
            "name": record.name,
            "entityType": record.entity_type,
            "version": record.version,
            "created_at": timestamp(record.created_at),
            "updated_at": timestamp(record.updated_at),
            "created_by": record.principal,
            "expires_at": timestamp(record.expires_at),
            "observations": [observation_detail(o).model_dump() for o in record.observations],
            "relations": [relation_model(r).model_dump(by_alias=True) for r in relations[:RESOURCE_RELATIONS]],
            "relations_total": len(relations),
        }

    async def graph_summary(self, caller: Caller, namespace: str) -> dict[str, object]:
        """The ``memory://<namespace>/graph`` resource: counts and the first entities, never the whole graph."""
        ns = self._readable(caller, namespace)
        now = time.time()
        stats = await self.store.stats(ns, now)
        first = await self.store.list_entities(ns, None, RESOURCE_ENTITIES, now)
        return {
            "namespace": ns,
            "entities": stats.entities,
            "observations": stats.observations,
            "relations": stats.relations,
            "first_entities": [{"name": r.name, "entityType": r.entity_type, "version": r.version} for r in first],
            "more": stats.entities > len(first),
            "read_more_with": "read_graph",
        }

    async def open(self) -> None:
        if self.settings.recall_vectors:
            blas.limit_threads(1)  # recall's scans are short and many: no spinning BLAS workers beside them
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()
