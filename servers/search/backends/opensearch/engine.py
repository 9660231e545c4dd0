"""The OpenSearch backend: every index ``<index_prefix><name>`` on a cluster any number of instances share.

Calls go through the official ``opensearch-py`` async client: ``indices.create/get_mapping/delete``,
``bulk`` (writes refresh before they answer, so a search right after sees them), ``mget``,
``search`` (``multi_match`` / ``bool``, ``highlight``, ``terms`` aggregations, ``sort`` with the id
as tie-breaker), ``count``, ``explain`` and the ``term`` suggester. Elasticsearch answers the same
calls. :func:`client_for` builds the client; the tests swap in a double of these REST calls.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from servers.search.backends.base import (
    ExplainStep,
    Explanation,
    FacetCount,
    Hit,
    IndexStats,
    SearchBackend,
    SearchOutcome,
)
from servers.search.backends.opensearch.compile import compile_plan
from servers.search.backends.opensearch.mapping import META_KEY, index_body
from servers.search.backends.settings import BackendSettings
from servers.search.errors import SearchError, unknown_index
from servers.search.request import PagePlan, QueryPlan
from servers.search.schema import IndexSchema, json_value

MAX_EXPLAIN_STEPS = 40
SUGGEST_SIZE = 10


def client_for(settings: BackendSettings) -> AsyncOpenSearch:
    auth = None
    if settings.username is not None:
        auth = (settings.username, settings.password.get_secret_value() if settings.password else "")
    return AsyncOpenSearch(
        hosts=[settings.url],
        http_auth=auth,
        timeout=settings.timeout_seconds,
        verify_certs=settings.verify_certs,
    )


def _flatten(node: dict[str, Any], depth: int, steps: list[ExplainStep]) -> None:
    if len(steps) >= MAX_EXPLAIN_STEPS:
        return
    steps.append(ExplainStep(str(node.get("description", "")), float(node.get("value", 0.0)), depth))
    for child in node.get("details", []) or []:
        _flatten(child, depth + 1, steps)


class OpenSearchBackend(SearchBackend):
    kind = "opensearch"

    def __init__(self, name: str, settings: BackendSettings) -> None:
        super().__init__(name)
        self.settings = settings
        self.prefix = settings.index_prefix
        self._client: AsyncOpenSearch | None = None
        self._schemas: dict[str, IndexSchema] = {}

    @property
    def client(self) -> AsyncOpenSearch:
        if self._client is None:
            raise SearchError("backend_unavailable", f"backend {self.name!r} is not open")
        return self._client

    def _unavailable(self, exc: Exception) -> SearchError:
        return SearchError("backend_unavailable", f"backend {self.name!r} did not answer: {type(exc).__name__}")

    async def open(self) -> None:
        if self._client is None:
            self._client = client_for(self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ping(self) -> str:
        try:
            info = await self.client.info()
        except (OSConnectionError, TransportError) as exc:
            raise self._unavailable(exc) from None
        version = info.get("version", {})
        return f"{version.get('distribution', 'elasticsearch')} {version.get('number', '?')}"

    def _name(self, index: str) -> str:
        return self.prefix + index

    async def list_indexes(self) -> list[str]:
        try:
            found = await self.client.indices.get_mapping(index=f"{self.prefix}*")
        except NotFoundError:
            return []
        names = []
        for full, body in found.items():
            if full.startswith(self.prefix) and META_KEY in (body.get("mappings", {}).get("_meta") or {}):
                names.append(full[len(self.prefix) :])
        return sorted(names)

    async def create_index(self, index: str, schema: IndexSchema) -> None:
        try:
            await self.client.indices.create(index=self._name(index), body=index_body(schema))
        except RequestError as exc:
            if "already_exists" in str(exc.error):
                raise SearchError("index_exists", f"backend {self.name!r} has an index {index!r} already") from None
            raise SearchError("backend_refused", f"OpenSearch refused the index: {exc.error}") from None
        self._schemas[index] = schema

    async def schema_of(self, index: str) -> IndexSchema:
        known = self._schemas.get(index)
        if known is not None:
            return known
        try:
            found = await self.client.indices.get_mapping(index=self._name(index))
        except NotFoundError:
            raise unknown_index(self.name, index) from None
        meta = (found.get(self._name(index), {}).get("mappings", {}).get("_meta") or {}).get(META_KEY)
        if meta is None:
            raise unknown_index(self.name, index)
        schema = IndexSchema.model_validate(meta)
        self._schemas[index] = schema
        return schema

    async def delete_index(self, index: str) -> int:
        held = (await self.stats(index)).documents
        await self.client.indices.delete(index=self._name(index))
        self._schemas.pop(index, None)
        return held

    async def stats(self, index: str) -> IndexStats:
        await self.schema_of(index)
        counted = await self.client.count(index=self._name(index))
        measured = await self.client.indices.stats(index=self._name(index), metric="store")
        size = measured.get("_all", {}).get("total", {}).get("store", {}).get("size_in_bytes")
        return IndexStats(int(counted["count"]), int(size) if size is not None else None, f"index {self._name(index)}")

    async def _bulk(self, actions: list[dict[str, Any]]) -> dict[str, Any]:
        answer: dict[str, Any] = await self.client.bulk(body=actions, refresh="true")
        if answer.get("errors"):
            first = next(
                (item for entry in answer["items"] for item in entry.values() if item.get("error")), {"error": "?"}
            )
            reason = first["error"].get("reason") if isinstance(first["error"], dict) else first["error"]
            raise SearchError("backend_refused", f"OpenSearch refused a document ({first.get('_id')}): {reason}")
        return answer

    async def upsert(self, index: str, schema: IndexSchema, documents: list[tuple[str, dict[str, Any]]]) -> int:
        actions: list[dict[str, Any]] = []
        for doc_id, fields in documents:
            actions.append({"index": {"_index": self._name(index), "_id": doc_id}})
            actions.append({"id": doc_id, **{k: json_value(v) for k, v in fields.items()}})
        await self._bulk(actions)
        return len(documents)

    async def delete(self, index: str, ids: list[str]) -> int:
        await self.schema_of(index)
        answer = await self._bulk([{"delete": {"_index": self._name(index), "_id": i}} for i in ids])
        return sum(1 for entry in answer["items"] if entry["delete"].get("result") == "deleted")

    async def fetch(self, index: str, ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        await self.schema_of(index)
        answer = await self.client.mget(
            index=self._name(index), body={"ids": ids}, params={"_source": ",".join(fields) or "false"}
        )
        return {d["_id"]: d.get("_source", {}) for d in answer["docs"] if d.get("found")}

    async def search(self, index: str, schema: IndexSchema, query: QueryPlan, page: PagePlan) -> SearchOutcome:
        by_field = bool(page.sort) and page.sort[0][0] != "_score"
        sort: list[Any] = [{f: {"order": o}} for f, o in page.sort if f != "_score"] if by_field else ["_score"]
        sort.append({"id": {"order": "asc"}})
        body: dict[str, Any] = {
            "query": compile_plan(query),
            "from": page.offset,
            "size": page.limit,
            "sort": sort,
            "track_total_hits": True,
            "_source": list(page.return_fields) or False,
        }
        if page.highlight:
            body["highlight"] = {
                "pre_tags": ["<b>"],
                "post_tags": ["</b>"],
                "fields": {f: {"fragment_size": page.snippet_chars, "number_of_fragments": 1} for f in page.highlight},
            }
        if page.facets:
            body["aggs"] = {
                f: {"terms": {"field": f, "size": page.facet_size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
                for f in page.facets
            }
        answer = await self._search(index, body)
        hits = []
        for found in answer["hits"]["hits"]:
            hits.append(
                Hit(
                    id=found["_id"],
                    score=None if by_field else float(found.get("_score") or 0.0),
                    sort_values=list(found.get("sort", [])[: len(page.sort)]) if by_field else [],
                    fields={k: v for k, v in (found.get("_source") or {}).items() if k in page.return_fields},
                    snippets={k: list(v) for k, v in (found.get("highlight") or {}).items()},
                )
            )
        facets = {
            f: [FacetCount(str(b["key"]), int(b["doc_count"])) for b in answer.get("aggregations", {})[f]["buckets"]]
            for f in page.facets
        }
        return SearchOutcome(total=int(answer["hits"]["total"]["value"]), hits=hits, facets=facets)

    async def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = await self.client.search(index=self._name(index), body=body)
        except NotFoundError:
            raise unknown_index(self.name, index) from None
        except RequestError as exc:
            raise SearchError(
                "unsupported_query", f"OpenSearch could not run the query: {exc.error}; simplify it"
            ) from None
        return answer

    async def count(self, index: str, schema: IndexSchema, query: QueryPlan) -> int:
        answer = await self.client.count(index=self._name(index), body={"query": compile_plan(query)})
        return int(answer["count"])

    async def explain(self, index: str, schema: IndexSchema, query: QueryPlan, doc_id: str) -> Explanation:
        try:
            answer = await self.client.explain(index=self._name(index), id=doc_id, body={"query": compile_plan(query)})
        except NotFoundError:
            return Explanation(found=False, matched=False, score=None)  # a 404: no document of this id
        if not answer.get("matched"):
            return Explanation(found=True, matched=False, score=None)
        steps: list[ExplainStep] = []
        _flatten(answer["explanation"], 0, steps)
        return Explanation(found=True, matched=True, score=float(answer["explanation"]["value"]), steps=steps)

    async def vocabulary(self, index: str, schema: IndexSchema, word: str, field: str) -> list[tuple[str, int]]:
        body = {
            "size": 0,
            "suggest": {
                "spelling": {
                    "text": word,
                    "term": {"field": f"{field}.plain", "suggest_mode": "always", "max_edits": 2, "size": SUGGEST_SIZE},
                }
            },
        }
        answer = await self._search(index, body)
        return [
            (option["text"], int(option["freq"]))
            for entry in answer.get("suggest", {}).get("spelling", [])
            for option in entry.get("options", [])
        ]

    async def raw_search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer of ``_search`` with the caller's own DSL ``body`` (``raw_query``)."""
        await self.schema_of(index)
        return await self._search(index, body)
