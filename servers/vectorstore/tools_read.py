"""The read tools: always registered, on read-only and read-write servers alike."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.vectorstore.arguments import Backend, CollectionName, Cursor, EmbedderName, Ids, MaxTextChars, Where
from servers.vectorstore.models import CollectionInfo, CollectionList, DocumentCount, DocumentPage, QueryResult
from servers.vectorstore.service import VectorService

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def register_read_tools(server: MCPServer[object], service: VectorService) -> None:
    settings = service.settings

    def text_cap(asked: int | None) -> int:
        return asked or settings.text_preview_chars

    @server.tool(annotations=READ_ONLY)
    async def list_collections(
        backend: Backend = None,
        cursor: Cursor = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="collections per page")] = 100,
    ) -> CollectionList:
        """List the collections of every configured backend (or one), a page at a time, with their resource URIs."""
        return await service.list_collections(backend, cursor, limit)

    @server.tool(annotations=READ_ONLY)
    async def describe_collection(collection: CollectionName, backend: Backend = None) -> CollectionInfo:
        """A collection's count, pinned embedder (kind, model, dimension), distance, fields and index settings."""
        return await service.describe(backend, collection)

    @server.tool(annotations=READ_ONLY)
    async def count_documents(
        collection: CollectionName, backend: Backend = None, where: Where = None
    ) -> DocumentCount:
        """How many documents a collection holds, all or those matching a metadata filter."""
        return await service.count(backend, collection, where)

    @server.tool(annotations=READ_ONLY)
    async def get_documents(
        collection: CollectionName,
        backend: Backend = None,
        ids: Ids = None,
        where: Where = None,
        cursor: Cursor = None,
        limit: Annotated[int, Field(ge=1, le=10_000, description="documents per page (capped by the operator)")] = 50,
        max_text_chars: MaxTextChars = None,
    ) -> DocumentPage:
        """Documents by id or by metadata filter (or all), a page at a time; long texts cut with a marker."""
        return await service.get_documents(
            backend,
            collection,
            ids=ids,
            where=where,
            cursor=cursor,
            limit=min(limit, settings.max_page_size),
            max_text_chars=text_cap(max_text_chars),
        )

    @server.tool(annotations=READ_ONLY)
    async def query(
        collection: CollectionName,
        text: Annotated[str | None, Field(max_length=8192, description="the query text")] = None,
        vector: Annotated[
            list[float] | None,
            Field(
                default=None, min_length=1, max_length=8192, description="a query vector instead of text (dense only)"
            ),
        ] = None,
        backend: Backend = None,
        top_k: Annotated[int, Field(ge=1, le=10_000, description="hits to return (capped by the operator)")] = 10,
        mode: Annotated[
            Literal["dense", "keyword", "hybrid"],
            Field(description="dense (embeddings), keyword (BM25) or hybrid (both, fused by reciprocal rank)"),
        ] = "dense",
        where: Where = None,
        score_threshold: Annotated[
            float | None, Field(description="drop hits scoring below this (the mode's own score)")
        ] = None,
        mmr: Annotated[bool, Field(description="diversify the hits with maximal marginal relevance")] = False,
        mmr_lambda: Annotated[
            float, Field(ge=0, le=1, description="MMR: 1 = relevance only, 0 = diversity only")
        ] = 0.5,
        embedder: EmbedderName = None,
        max_text_chars: MaxTextChars = None,
    ) -> QueryResult:
        """Find the documents nearest a text (or vector): dense, keyword (BM25) or hybrid, filtered, optionally MMR."""
        return await service.query(
            backend,
            collection,
            text=text,
            vector=vector,
            top_k=top_k,
            mode=mode,
            where=where,
            score_threshold=score_threshold,
            use_mmr=mmr,
            mmr_lambda=mmr_lambda,
            embedder=embedder,
            max_text_chars=text_cap(max_text_chars),
        )
