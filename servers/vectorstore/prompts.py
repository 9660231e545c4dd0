"""Prompts: answer a question from a collection with citations; build a collection from a folder."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from servers.vectorstore.service import VectorService


def register_prompts(server: MCPServer[Any], service: VectorService) -> None:
    @server.prompt(title="Answer from a collection, with citations")
    async def answer_with_citations(
        question: Annotated[str, Field(description="the question to answer")],
        collection: Annotated[str, Field(description="the collection to search")],
        top_k: Annotated[str, Field(description="passages to retrieve (a number)")] = "5",
    ) -> str:
        """Retrieve passages with `query` (mode hybrid) and answer citing each passage's id and source."""
        return (
            f"Answer the question below from the collection {collection!r} only.\n\n"
            f"1. Call `query` with collection={collection!r}, text=the question, mode='hybrid', top_k={top_k}.\n"
            "2. Answer from the passages returned. After every claim cite the passage as [id] and, when its "
            "metadata has one, its source (source, chunk).\n"
            "3. If the passages do not answer the question, say so; do not answer from memory.\n\n"
            f"Question: {question}"
        )

    @server.prompt(title="Build a collection from a folder")
    async def build_collection_from_folder(
        folder: Annotated[str, Field(description="a directory under one of the operator's ingest roots")],
        collection: Annotated[str, Field(description="the collection to create or fill")],
        patterns: Annotated[str, Field(description="comma-separated globs of the files to take")] = "*.md,*.txt",
    ) -> str:
        """Create the collection if needed and ingest the folder's text files, then check the result."""
        globs = [p.strip() for p in patterns.split(",") if p.strip()]
        backends = ", ".join(sorted(service.backends))
        return (
            f"Build the collection {collection!r} from the files in {folder!r} (backends: {backends}).\n\n"
            f"1. Call `list_collections`; if {collection!r} is missing, call `create_collection` with that name.\n"
            f"2. Call `ingest_files` with collection={collection!r}, path={folder!r}, patterns={globs}.\n"
            "3. Report how many chunks were written and which files were skipped and why.\n"
            f"4. Call `describe_collection` and `query` with a question the files should answer, to check it."
        )
