"""The seed's prompts as conversations for `chat`: an architecture from a project description, a code fix."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts.base import AssistantMessage, Message, UserMessage
from pydantic import Field


def register_prompts(server: MCPServer[Any]) -> None:
    @server.prompt(title="Design an architecture")
    async def generate_architecture(
        description: Annotated[str, Field(description="what the project does and for whom")],
        tech_stack: Annotated[str, Field(description="languages, frameworks and services to use")] = "",
        requirements: Annotated[str, Field(description="scale, security, latency and other constraints")] = "",
    ) -> list[Message]:
        """A conversation to send to `chat`: the project's description, stack and requirements to an architecture."""
        stack = tech_stack or "free to choose; say why"
        needs = requirements or "none stated; name the ones you assume"
        return [
            UserMessage(
                "You are a software architect. Design the architecture of this project: its components and their "
                "responsibilities, the data flow between them, storage, interfaces, deployment, and the main risks "
                "with how to handle them. Keep it concrete and short.\n\n"
                f"Project: {description}\nTech stack: {stack}\nRequirements: {needs}"
            ),
            AssistantMessage("Architecture:\n"),
        ]

    @server.prompt(title="Fix code from its error")
    async def auto_fix_code(
        code: Annotated[str, Field(description="the code that fails")],
        error: Annotated[str, Field(description="the error message or traceback")],
        language: Annotated[str, Field(description="the code's language")] = "",
    ) -> list[Message]:
        """A conversation to send to `chat`: failing code and its error to the fixed code and the cause."""
        fence = language.lower() if language else ""
        return [
            UserMessage(
                "Fix the code below. First say in one sentence what causes the error, then give the whole fixed "
                "code in one code block, changing only what the fix needs.\n\n"
                f"Error:\n{error}\n\nCode:\n```{fence}\n{code}\n```"
            ),
            AssistantMessage("Cause:"),
        ]
