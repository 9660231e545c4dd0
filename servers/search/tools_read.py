"""The read tools: always registered, on read-only and read-write servers alike."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.search.arguments import Backend, Cursor, FieldNames, Filters, IndexName, Operator, QueryText, Sorting
from servers.search.models import CountResult, ExplainResult, IndexInfo, IndexList, SearchResult, SuggestResult
from servers.search.raw_query import RawQueryResult
from servers.search.raw_query import raw_query as run_raw_query
from servers.search.service import SearchService
from servers.search.spelling import suggest as suggest_spelling

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def register_raw_query(server: MCPServer[Any], service: SearchService) -> None:
    """``raw_query``: registered only when ``search.raw_query`` is on and an opensearch backend is configured."""

    @server.tool(annotations=READ_ONLY)
    async def raw_query(
        index: IndexName,
        body: Annotated[
            dict[str, Any], Field(description="an OpenSearch _search body (query DSL); size capped, scripts refused")
        ],
        backend: Backend = None,
    ) -> RawQueryResult:
        """Run your own OpenSearch query DSL on an index (opensearch backends only), within the output budgets."""
        return await run_raw_query(service, backend, index, body)


def register_read_tools(server: MCPServer[Any], service: SearchService) -> None:
    @server.tool(annotations=READ_ONLY)
    async def list_indexes(
        backend: Backend = None,
        cursor: Cursor = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="indexes per page")] = 100,
    ) -> IndexList:
        """List the indexes of every configured backend (or one), a page at a time, with their resource URIs."""
        return await service.list_indexes(backend, cursor, limit)

    @server.tool(annotations=READ_ONLY)
    async def describe_index(index: IndexName, backend: Backend = None) -> IndexInfo:
        """An index's fields (mapping), language and stemming, document count and size."""
        return await service.describe(backend, index)

    @server.tool(annotations=READ_ONLY)
    async def search(
        index: IndexName,
        text: QueryText = None,
        backend: Backend = None,
        fields: FieldNames = None,
        filters: Filters = None,
        operator: Operator = "and",
        sort: Sorting = None,
        return_fields: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=48)]] | None,
            Field(default=None, max_length=64, description="stored fields to return per hit (long values cut)"),
        ] = None,
        highlight: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=48)]] | None,
            Field(default=None, max_length=16, description="text fields to show snippets of; omit for those searched"),
        ] = None,
        snippet_chars: Annotated[int | None, Field(ge=32, le=10_000, description="characters per snippet")] = None,
        facets: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=48)]] | None,
            Field(default=None, max_length=16, description="keyword fields to count values of over all matches"),
        ] = None,
        facet_size: Annotated[int, Field(ge=1, le=1000, description="values per facet")] = 10,
        limit: Annotated[
            int | None, Field(ge=1, le=10_000, description="hits per page (capped by the operator)")
        ] = None,
        cursor: Cursor = None,
    ) -> SearchResult:
        """Full-text search with one structured query: text, filters, sort, fields, snippets, facets, cursor pages.

        Hits carry highlighted snippets and the fields asked for, not whole documents; facets come with the first page.
        """
        return await service.search(
            backend,
            index,
            text=text,
            fields=fields,
            filters=filters,
            operator=operator,
            sort=sort,
            return_fields=return_fields,
            highlight=highlight,
            snippet_chars=snippet_chars,
            facets=facets,
            facet_size=facet_size,
            limit=limit,
            cursor=cursor,
        )

    @server.tool(annotations=READ_ONLY)
    async def count(
        index: IndexName,
        text: QueryText = None,
        backend: Backend = None,
        fields: FieldNames = None,
        filters: Filters = None,
        operator: Operator = "and",
    ) -> CountResult:
        """How many documents a query (the same text and filters as `search`) matches."""
        return await service.count(backend, index, text, fields, filters, operator)

    @server.tool(annotations=READ_ONLY)
    async def explain(
        index: IndexName,
        id: Annotated[str, Field(min_length=1, max_length=512, description="the document to explain")],
        text: QueryText = None,
        backend: Backend = None,
        fields: FieldNames = None,
        filters: Filters = None,
        operator: Operator = "and",
    ) -> ExplainResult:
        """Why a document matches a query (or does not) and how its score was made."""
        return await service.explain(backend, index, id, text, fields, filters, operator)

    @server.tool(annotations=READ_ONLY)
    async def suggest(
        index: IndexName,
        text: Annotated[str, Field(min_length=1, max_length=4096, description="the query that found too little")],
        backend: Backend = None,
        fields: FieldNames = None,
        operator: Operator = "and",
    ) -> SuggestResult:
        """Did you mean: spellings from the index for the words that match nothing, and what the fixed query finds."""
        return await suggest_spelling(service, backend, index, text, fields, operator)
