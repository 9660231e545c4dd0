"""The write tools: registered only when the server is not read-only.

Every write tells ``subscriptions/listen`` streams that its collection's resource changed (and,
for create and delete, that the resource list changed). Long writes report progress when the
client sent a progress token and stop between batches when the call is cancelled.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from servers.kit.confirmation import DeletionConfirmation, ask_to_delete
from servers.kit.notifications import announce_change, progress_reporter
from servers.vectorstore import writes
from servers.vectorstore.arguments import Backend, CollectionName, EmbedderName, Ids, Where
from servers.vectorstore.errors import VectorError
from servers.vectorstore.ingest_files import collect_files
from servers.vectorstore.ingestion import Chunking, SourceText, ingest
from servers.vectorstore.models import (
    CollectionCreated,
    CollectionDeleted,
    DeleteResult,
    IngestResult,
    MetadataValue,
    ReembedResult,
    WriteResult,
)
from servers.vectorstore.service import VectorService, uri_of

WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
DESTROY = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

MetadataArg = Annotated[
    dict[str, MetadataValue] | None,
    Field(max_length=64, description="metadata: string, number or boolean values"),
]
ChunkSize = Annotated[int, Field(ge=50, le=20_000, description="characters per chunk")]
Overlap = Annotated[int, Field(ge=0, le=10_000, description="characters shared by consecutive chunks")]


class DocumentIn(BaseModel):
    text: str = Field(min_length=1, description="the text to embed and store")
    id: str | None = Field(default=None, min_length=1, max_length=512, description="omit for a content-hash id")
    metadata: dict[str, MetadataValue] = Field(default_factory=dict, max_length=64)


class DocumentUpdate(BaseModel):
    id: str = Field(min_length=1, max_length=512)
    text: str | None = Field(default=None, min_length=1, description="a new text (re-embedded)")
    metadata: dict[str, MetadataValue] | None = Field(default=None, max_length=64, description="merged into the old")
    replace_metadata: bool = Field(default=False, description="replace the metadata instead of merging it")


async def confirm_deletion(
    collection: str, ctx: Context[Any, Any], backend: str | None = None, confirm: bool = False
) -> Elicit[DeletionConfirmation] | DeletionConfirmation:
    """Ask the user through elicitation when the client can; otherwise the caller's ``confirm`` argument decides."""
    return ask_to_delete(ctx, f"the collection {collection!r}", backend, confirm)


async def changed(ctx: Context[Any, Any], backend: str, collection: str, listing: bool = False) -> None:
    await announce_change(ctx, uri_of(backend, collection), listing)


def register_write_tools(server: MCPServer[Any], service: VectorService) -> None:
    settings = service.settings

    @server.tool(annotations=CREATE)
    async def create_collection(
        collection: CollectionName,
        ctx: Context[Any, Any],
        backend: Backend = None,
        embedder: Annotated[str | None, Field(max_length=64, description="a configured embedder")] = None,
        distance: Annotated[Literal["cosine", "l2", "ip"], Field(description="the similarity measure")] = "cosine",
        metadata_fields: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=128)]] | None,
            Field(max_length=64, description="metadata fields meant for filtering"),
        ] = None,
        description: Annotated[str, Field(max_length=2000, description="what the collection holds")] = "",
    ) -> CollectionCreated:
        """Create a collection pinned to an embedder (kind, model, dimension), with its distance and fields."""
        info = await service.create_collection(
            backend,
            collection,
            embedder=embedder,
            distance=distance,
            metadata_fields=metadata_fields or [],
            description=description,
        )
        await changed(ctx, info.backend, collection, listing=True)
        return CollectionCreated(collection=info)

    @server.tool(annotations=DESTROY)
    async def delete_collection(
        collection: CollectionName,
        decision: Annotated[ElicitationResult[DeletionConfirmation], Resolve(confirm_deletion)],
        ctx: Context[Any, Any],
        backend: Backend = None,
        confirm: Annotated[
            bool, Field(description="true to delete, for clients without elicitation (they are asked instead)")
        ] = False,
    ) -> CollectionDeleted:
        """Delete a collection and all its documents: confirmed by the user (elicitation) or by confirm=true."""
        engine, _ = await service.collection(backend, collection)
        if not isinstance(decision, AcceptedElicitation):
            return CollectionDeleted(
                backend=engine.name,
                name=collection,
                deleted=False,
                documents=await engine.count(collection),
                reason=f"the user answered {decision.action}: nothing was deleted",
            )
        if not decision.data.confirm:
            capabilities = ctx.client_capabilities
            if capabilities is None or capabilities.elicitation is None:
                raise VectorError(
                    "confirmation_required",
                    f"deleting {collection!r} removes every document in it: call `delete_collection` again with "
                    "confirm: true",
                )
            return CollectionDeleted(
                backend=engine.name,
                name=collection,
                deleted=False,
                documents=await engine.count(collection),
                reason="the user did not confirm; nothing was deleted",
            )
        held = await service.delete_collection(engine.name, collection)
        service.keywords.cache.forget(engine.name, collection)
        await changed(ctx, engine.name, collection, listing=True)
        return CollectionDeleted(backend=engine.name, name=collection, deleted=True, documents=held)

    @server.tool(annotations=WRITE)
    async def upsert_documents(
        collection: CollectionName,
        documents: Annotated[list[DocumentIn], Field(min_length=1, max_length=100_000, description="the documents")],
        ctx: Context[Any, Any],
        backend: Backend = None,
        embedder: EmbedderName = None,
    ) -> WriteResult:
        """Add or replace documents (ids optional: content-hash ids make sending them again idempotent).

        Written in batches with progress notifications; a cancelled call stops between batches.
        """
        docs = [writes.NewDocument(text=d.text, id=d.id, metadata=dict(d.metadata)) for d in documents]
        written = await writes.upsert_documents(
            service, backend, collection, docs, embedder=embedder, progress=progress_reporter(ctx)
        )
        await changed(ctx, written.backend, collection)
        return written

    @server.tool(annotations=WRITE)
    async def ingest_text(
        collection: CollectionName,
        text: Annotated[str, Field(min_length=1, description="the text to chunk and store")],
        source: Annotated[str, Field(min_length=1, max_length=1024, description="where it came from (a URL, a title)")],
        ctx: Context[Any, Any],
        backend: Backend = None,
        chunk_size: ChunkSize = 1000,
        overlap: Overlap = 150,
        metadata: MetadataArg = None,
        embedder: EmbedderName = None,
    ) -> IngestResult:
        """Chunk a text (overlapping, on sentence boundaries) and store the chunks with source, index and offsets."""
        result = await ingest(
            service,
            backend,
            collection,
            [SourceText(source, text)],
            chunking=Chunking(chunk_size, overlap),
            metadata=dict(metadata or {}),
            embedder=embedder,
            progress=progress_reporter(ctx),
        )
        await changed(ctx, result.backend, collection)
        return result

    @server.tool(annotations=WRITE)
    async def ingest_files(
        collection: CollectionName,
        path: Annotated[
            str, Field(min_length=1, max_length=4096, description="a file or directory under an ingest root")
        ],
        ctx: Context[Any, Any],
        backend: Backend = None,
        patterns: Annotated[
            list[str] | None, Field(max_length=50, description="globs of the files to take, e.g. '*.md'")
        ] = None,
        chunk_size: ChunkSize = 1000,
        overlap: Overlap = 150,
        metadata: MetadataArg = None,
        embedder: EmbedderName = None,
    ) -> IngestResult:
        """Ingest the text files under a directory the operator allowed (deny globs skip secrets), chunked."""
        found = await collect_files(settings, path, patterns or [])
        result = await ingest(
            service,
            backend,
            collection,
            found.sources,
            chunking=Chunking(chunk_size, overlap),
            metadata=dict(metadata or {}),
            embedder=embedder,
            progress=progress_reporter(ctx),
            skipped=found.skipped,
        )
        await changed(ctx, result.backend, collection)
        return result

    @server.tool(annotations=WRITE)
    async def update_documents(
        collection: CollectionName,
        updates: Annotated[list[DocumentUpdate], Field(min_length=1, max_length=10_000, description="the changes")],
        ctx: Context[Any, Any],
        backend: Backend = None,
        embedder: EmbedderName = None,
    ) -> WriteResult:
        """Change documents' texts (re-embedded) or metadata (a metadata-only change keeps the vector)."""
        changes = [
            writes.DocumentChange(id=u.id, text=u.text, metadata=u.metadata, replace_metadata=u.replace_metadata)
            for u in updates
        ]
        result = await writes.update_documents(
            service, backend, collection, changes, embedder=embedder, progress=progress_reporter(ctx)
        )
        await changed(ctx, result.backend, collection)
        return result

    @server.tool(annotations=DESTROY)
    async def delete_documents(
        collection: CollectionName,
        ctx: Context[Any, Any],
        backend: Backend = None,
        ids: Ids = None,
        where: Where = None,
    ) -> DeleteResult:
        """Delete documents by id or by metadata filter (one of them is required)."""
        engine, deleted = await writes.delete_documents(service, backend, collection, ids, where)
        await changed(ctx, engine.name, collection)
        return DeleteResult(backend=engine.name, collection=collection, deleted=deleted)

    @server.tool(annotations=CREATE)
    async def reembed_collection(
        collection: CollectionName,
        ctx: Context[Any, Any],
        embedder: Annotated[str | None, Field(max_length=64, description="the embedder to move to")] = None,
        backend: Backend = None,
    ) -> ReembedResult:
        """Embed every text of a collection again with another embedder and pin it to that one (with progress)."""
        result = await writes.reembed_collection(
            service, backend, collection, embedder, progress=progress_reporter(ctx)
        )
        service.keywords.cache.forget(result.backend, collection)
        await changed(ctx, result.backend, collection)
        return result
