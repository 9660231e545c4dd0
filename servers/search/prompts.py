"""Prompts: find and summarise the sources that answer a question; search a project folder."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from servers.search.service import SearchService


def register_prompts(server: MCPServer[Any], service: SearchService) -> None:
    @server.prompt(title="Find and summarise sources for a question")
    async def find_sources(
        question: Annotated[str, Field(description="the question to answer")],
        index: Annotated[str, Field(description="the index to search")],
        limit: Annotated[str, Field(description="hits to read (a number)")] = "8",
    ) -> str:
        """Search the index with keywords of the question, read the snippets, and summarise with citations."""
        return (
            f"Find the sources in the search index {index!r} that answer the question below, and summarise them.\n\n"
            f"1. Call `describe_index` with index={index!r} to learn its text, keyword and date fields.\n"
            f'2. Call `search` with index={index!r}, text=the question\'s key words (put exact names in "quotes", '
            f"join alternatives with OR), limit={limit}. Add filters when the question names a category or a period.\n"
            "3. If nothing matches, call `suggest` with the same text and search again with its suggested_query, "
            "or drop the least important word (operator 'or').\n"
            "4. Summarise what the snippets say. Cite every claim with the hit's id as [id]; say which question parts "
            "the sources do not answer. Do not answer from memory.\n\n"
            f"Question: {question}"
        )

    @server.prompt(title="Search a project folder")
    async def search_project(
        folder: Annotated[str, Field(description="a directory under one of the operator's directory roots")],
        question: Annotated[str, Field(description="what to look for")],
        index: Annotated[str, Field(description="the index to keep the folder in")] = "project",
    ) -> str:
        """Index the folder (incrementally) and search it for the question, citing files."""
        backends = ", ".join(sorted(service.backends))
        return (
            f"Look for the answer to the question below in the files of {folder!r} (backends: {backends}).\n\n"
            f"1. Call `index_directory` with index={index!r}, path={folder!r}: a second run only reads changed files.\n"
            f"2. Call `search` with index={index!r}, text=the key words of the question, return_fields=['relative'], "
            "highlight=['content'].\n"
            "3. Answer from the snippets, citing each file by its relative path; say when the files do not answer it.\n\n"
            f"Question: {question}"
        )
