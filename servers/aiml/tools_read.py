"""The read tools: ``list_models``, ``show_model`` and ``show_policy`` (what the gateway's supervisor reads)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.aiml.calls import caller_of
from servers.aiml.catalog import all_models, provider_health, show
from servers.aiml.models import BudgetReport, ModelInfo, ModelList, PolicyReport, QueueState
from servers.aiml.service import AimlService
from servers.kit.budgets import capped
from servers.kit.cursors import fingerprint, offset_cursor, offset_of
from servers.runtime.light_context import never_needs_session, session_needed_when

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def policy_report(service: AimlService, principal: str) -> PolicyReport:
    settings = service.settings
    state = service.budgets.state(principal)
    return PolicyReport(
        allowed_models=list(settings.allowed_models),
        default_max_tokens=settings.default_max_tokens,
        max_tokens_per_call=settings.max_tokens_per_call,
        max_output_chars=settings.max_output_chars,
        model_management=settings.allow_model_management and not settings.read_only,
        budget=BudgetReport(
            principal=principal,
            tokens_per_window=state.limit,
            window_seconds=state.window_seconds,
            spent=state.spent,
            remaining=state.remaining,
            low=service.budgets.is_low(principal),
            fallback_alias=settings.budget.fallback_alias,
        ),
        queues=[
            QueueState(
                provider=name,
                running=queue.running,
                waiting=queue.waiting,
                max_concurrency=settings.providers[name].max_concurrency,
                queue_limit=queue.queue_limit,
            )
            for name, queue in sorted(service.queues.items())
        ],
    )


def register_read_tools(server: MCPServer[Any], service: AimlService) -> None:
    settings = service.settings

    @server.tool(annotations=READ)
    async def list_models(
        provider: Annotated[str | None, Field(max_length=64, description="one provider; omitted: all")] = None,
        kind: Annotated[
            Literal["generation", "embedding", "transcription"] | None, Field(description="only this kind")
        ] = None,
        limit: Annotated[int | None, Field(ge=1, le=10_000, description="models per page")] = None,
        cursor: Annotated[str | None, Field(max_length=1000, description="next_cursor of the previous page")] = None,
    ) -> ModelList:
        """The models of every healthy provider, each provider's health, and the aliases."""
        query = fingerprint("list_models", provider, kind)
        start = offset_of(cursor, query)
        size = capped(limit, 50, settings.max_page_size)
        models = [m for m in await all_models(service, provider) if kind is None or m.kind == kind]
        page = models[start : start + size]
        more = start + size < len(models)
        return ModelList(
            models=page,
            providers=await provider_health(service),
            aliases={name: list(targets) for name, targets in sorted(settings.aliases.items())},
            next_cursor=offset_cursor(start + size, query) if more else None,
        )

    @server.tool(annotations=READ)
    async def show_model(
        model: Annotated[str, Field(min_length=1, max_length=300, description="<provider>/<model> or an alias")],
    ) -> ModelInfo:
        """One model's context length, dimension, capabilities and details."""
        return await show(service, model)

    @server.tool(annotations=READ)
    @session_needed_when(never_needs_session)
    async def show_policy(ctx: Context[Any, Any]) -> PolicyReport:
        """The model policy and the caller's token budget: allow-list, caps, queues, tokens spent and left."""
        return policy_report(service, caller_of(ctx, service))
