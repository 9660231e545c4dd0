"""The model-management tools, ``pull_model`` and ``delete_model``: Ollama providers only.

Registered only when ``aiml.allow_model_management`` is on and the server is not read-only. Each is
confirmed by the user through elicitation when the client can ask, else by ``confirm: true``; a pull
reports its progress (bytes completed of total) as it streams.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from servers.aiml.errors import AimlError, unsupported
from servers.aiml.models import DeleteResult, PullResult
from servers.aiml.providers.ollama.provider import OllamaProvider, PullProgress
from servers.aiml.service import AimlService
from servers.kit.confirmation import ask_or_take

PULL = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

ProviderName = Annotated[str, Field(min_length=1, max_length=64, description="an ollama provider of the server")]
OllamaModel = Annotated[
    str, Field(min_length=1, max_length=300, pattern=r"^[A-Za-z0-9._:/-]+$", description="e.g. llama3.2:1b")
]
Confirm = Annotated[
    bool, Field(description="true to go ahead, for clients without elicitation (they are asked instead)")
]


class Confirmation(BaseModel):
    confirm: bool = Field(description="true goes ahead")


def asker(action: Literal["pull", "delete"]) -> Any:
    async def ask(
        provider: str, model: str, ctx: Context[Any, Any], confirm: bool = False
    ) -> Elicit[Confirmation] | Confirmation:
        what = (
            f"Download the model {model!r} to the Ollama provider {provider!r}? It may take gigabytes."
            if action == "pull"
            else f"Delete the model {model!r} from the Ollama provider {provider!r}? It must be pulled again to use it."
        )
        return ask_or_take(ctx, what, Confirmation, confirm)

    return ask


def confirmed(decision: ElicitationResult[Confirmation], ctx: Context[Any, Any], tool: str, model: str) -> str | None:
    """Why the call does nothing (declined), or ``None`` to go ahead; ``confirmation_required`` without one."""
    if not isinstance(decision, AcceptedElicitation):
        return f"the user answered {decision.action}: nothing was done"
    if decision.data.confirm:
        return None
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        raise AimlError(
            "confirmation_required",
            f"`{tool}` changes the models of the provider: call it again with confirm: true for {model!r}",
        )
    return "the user did not confirm: nothing was done"


def ollama_of(service: AimlService, name: str) -> OllamaProvider:
    provider = service.provider(name)
    if not isinstance(provider, OllamaProvider):
        raise unsupported(name, "pulling or deleting models (Ollama providers only)")
    return provider


def register_admin_tools(server: MCPServer[Any], service: AimlService) -> None:
    @server.tool(annotations=PULL)
    async def pull_model(
        provider: ProviderName,
        model: OllamaModel,
        decision: Annotated[ElicitationResult[Confirmation], Resolve(asker("pull"))],
        ctx: Context[Any, Any],
        confirm: Confirm = False,
    ) -> PullResult:
        """Download a model to an Ollama provider, reporting progress; confirmed by the user first."""
        ollama = ollama_of(service, provider)
        declined = confirmed(decision, ctx, "pull_model", model)
        if declined is not None:
            return PullResult(provider=provider, model=model, status=declined)
        last: PullProgress | None = None
        async for step in ollama.pull(model):
            last = step
            await ctx.report_progress(step.completed or 0, step.total, step.status)
        service.health.forget(provider)
        if last is None:
            return PullResult(provider=provider, model=model, status="success")
        return PullResult(
            provider=provider, model=model, status=last.status, completed=last.completed, total=last.total
        )

    @server.tool(annotations=DELETE)
    async def delete_model(
        provider: ProviderName,
        model: OllamaModel,
        decision: Annotated[ElicitationResult[Confirmation], Resolve(asker("delete"))],
        ctx: Context[Any, Any],
        confirm: Confirm = False,
    ) -> DeleteResult:
        """Delete a model from an Ollama provider: confirmed by the user (elicitation) or by confirm=true."""
        ollama = ollama_of(service, provider)
        declined = confirmed(decision, ctx, "delete_model", model)
        if declined is not None:
            return DeleteResult(provider=provider, model=model, deleted=False, reason=declined)
        await ollama.delete(model)
        await ctx.notify_resources_changed()
        return DeleteResult(provider=provider, model=model, deleted=True)
