"""The write tools: registered only when the server is not read-only.

Every write tells ``subscriptions/listen`` streams that its index's resource changed (create and
delete also that the resource list changed). Long writes report progress when the client sent a
progress token and stop between batches when the call is cancelled.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from servers.kit.confirmation import DeletionConfirmation, ask_to_delete
from servers.kit.notifications import announce_change, progress_reporter
from servers.search.arguments import Backend, Ids, IndexName
from servers.search.directory import index_directory as index_files
from servers.search.errors import SearchError
from servers.search.models import DirectoryIndexed, DocumentsDeleted, IndexDeleted, IndexInfo, IndexWrite
from servers.search.schema import FieldSpec, IndexSchema, Language
from servers.search.service import SearchService, uri_of

WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
DESTROY = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

FieldValue = str | float | None


class DocumentIn(BaseModel):
    id: str = Field(min_length=1, max_length=512, description="the document's id: a second write of it replaces it")
    fields: dict[str, FieldValue] = Field(max_length=64, description="field name to value (dates as ISO 8601)")


async def confirm_deletion(
    index: str, ctx: Context[Any, Any], backend: str | None = None, confirm: bool = False
) -> Elicit[DeletionConfirmation] | DeletionConfirmation:
    """Ask the user through elicitation when the client can; otherwise the caller's ``confirm`` argument decides."""
    return ask_to_delete(ctx, f"the search index {index!r}", backend, confirm)


async def changed(ctx: Context[Any, Any], backend: str, index: str, listing: bool = False) -> None:
    await announce_change(ctx, uri_of(backend, index), listing)


def register_write_tools(server: MCPServer[Any], service: SearchService) -> None:
    @server.tool(annotations=CREATE)
    async def create_index(
        index: IndexName,
        fields: Annotated[
            list[FieldSpec], Field(min_length=1, max_length=64, description="the fields and their types")
        ],
        ctx: Context[Any, Any],
        backend: Backend = None,
        language: Annotated[Language, Field(description="the stemmer and stop words of text fields")] = "english",
        stemming: Annotated[bool, Field(description="false: match words exactly (lower-cased) only")] = True,
    ) -> IndexInfo:
        """Create an index: fields typed text (searched), keyword (exact), number or date; a language and stemming."""
        try:
            schema = IndexSchema(fields=fields, language=language, stemming=stemming)
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False, include_input=False))
            raise SearchError("invalid_schema", f"{reasons}: fix the fields and create it again") from None
        info = await service.create_index(backend, index, schema)
        await changed(ctx, info.backend, index, listing=True)
        return info

    @server.tool(annotations=DESTROY)
    async def delete_index(
        index: IndexName,
        decision: Annotated[ElicitationResult[DeletionConfirmation], Resolve(confirm_deletion)],
        ctx: Context[Any, Any],
        backend: Backend = None,
        confirm: Annotated[
            bool, Field(description="true to delete, for clients without elicitation (they are asked instead)")
        ] = False,
    ) -> IndexDeleted:
        """Delete an index and all its documents: confirmed by the user (elicitation) or by confirm=true."""
        info = await service.describe(backend, index)
        if not isinstance(decision, AcceptedElicitation) or not decision.data.confirm:
            capabilities = ctx.client_capabilities
            if isinstance(decision, AcceptedElicitation) and (capabilities is None or capabilities.elicitation is None):
                raise SearchError(
                    "confirmation_required",
                    f"deleting {index!r} removes every document in it: call `delete_index` again with confirm: true",
                )
            answer = decision.action if not isinstance(decision, AcceptedElicitation) else "without confirming"
            return IndexDeleted(
                backend=info.backend,
                name=index,
                deleted=False,
                documents=info.documents,
                reason=f"the user answered {answer}: nothing was deleted",
            )
        engine, held = await service.delete_index(info.backend, index)
        await changed(ctx, engine.name, index, listing=True)
        return IndexDeleted(backend=engine.name, name=index, deleted=True, documents=held)

    @server.tool(annotations=WRITE)
    async def index_documents(
        index: IndexName,
        documents: Annotated[list[DocumentIn], Field(min_length=1, max_length=100_000, description="the documents")],
        ctx: Context[Any, Any],
        backend: Backend = None,
    ) -> IndexWrite:
        """Add or replace documents by id, in batches with progress notifications; a cancelled call stops between batches."""
        pairs = [(d.id, {k: v for k, v in d.fields.items()}) for d in documents]
        written = await service.index_documents(backend, index, pairs, progress_reporter(ctx))
        await changed(ctx, written.backend, index)
        return written

    @server.tool(annotations=DESTROY)
    async def delete_documents(
        index: IndexName, ids: Ids, ctx: Context[Any, Any], backend: Backend = None
    ) -> DocumentsDeleted:
        """Delete documents by id; says how many existed."""
        engine, deleted = await service.delete_documents(backend, index, ids)
        await changed(ctx, engine.name, index)
        return DocumentsDeleted(backend=engine.name, index=index, deleted=deleted)

    @server.tool(annotations=WRITE)
    async def index_directory(
        index: IndexName,
        path: Annotated[str, Field(min_length=1, max_length=4096, description="a directory under a directory root")],
        ctx: Context[Any, Any],
        backend: Backend = None,
        patterns: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=256)]] | None,
            Field(max_length=50, description="globs of the files to take, e.g. '*.md'; omit for every text file"),
        ] = None,
    ) -> DirectoryIndexed:
        """Index the text files under a directory the operator allowed (deny globs skip secrets), incrementally.

        A second run reads only new and changed files and drops the documents of files that are gone.
        """
        result = await index_files(service, backend, index, path, patterns or [], progress_reporter(ctx))
        await changed(ctx, result.backend, index, listing=True)
        return result
