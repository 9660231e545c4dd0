"""Prompts: summarise what is known about something; record the decisions of a conversation."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field


def register_prompts(server: MCPServer[Any]) -> None:
    @server.prompt(title="Summarise what is known about a subject")
    async def summarise_known(
        subject: Annotated[str, Field(description="the person, project or thing to summarise")],
        namespace: Annotated[str, Field(description="the memory namespace to look in")] = "default",
    ) -> str:
        """Recall what the graph holds about a subject and summarise it, naming where each fact came from."""
        return (
            f"Summarise what the memory knows about {subject!r} (namespace {namespace!r}).\n\n"
            f"1. Call `recall` with query={subject!r}, namespace={namespace!r}.\n"
            "2. For the entities that matter most, call `open_nodes` to see all their observations and relations; "
            "call `history` on one whose facts look contradictory to see what superseded what.\n"
            "3. Write a short summary: the facts first, then how the subject relates to other entities. "
            "Mark a fact that only an old or superseded observation supports as uncertain.\n"
            "4. Say plainly what the memory does not know about the subject; do not fill gaps from elsewhere."
        )

    @server.prompt(title="Record the decisions of this conversation")
    async def record_decisions(
        topic: Annotated[str, Field(description="what the conversation was about (a project, a feature)")],
        namespace: Annotated[str, Field(description="the memory namespace to write to")] = "default",
    ) -> str:
        """Write the conversation's decisions into the graph as entities, observations and relations."""
        return (
            f"Record the decisions made in this conversation about {topic!r} in namespace {namespace!r}.\n\n"
            f"1. Call `search_nodes` with query={topic!r} to find the entities that already exist.\n"
            "2. For each decision, add one observation, phrased as a self-contained statement with its reason "
            "('Decided to use PostgreSQL for the memory store because several hosts share it'), with "
            "`add_observations` on the entity it concerns; create missing entities with `create_entities` first.\n"
            "3. When a decision replaces an earlier one, call `supersede_observation` on the old observation "
            "instead of adding a contradicting one.\n"
            "4. Link what the decisions connect with `create_relations`, in active voice ('service uses database').\n"
            "5. Report what you wrote: the entity names, and the versions the writes returned."
        )
