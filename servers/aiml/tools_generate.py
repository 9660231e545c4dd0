"""The model tools: ``generate`` (plain completion), ``chat`` (messages, tools, an output schema) and ``embed``.

Generations stream: with a progress token the client gets the text so far as progress notifications,
and a cancelled call stops the provider at the next token. The answer is cut at the output budget
(``aiml.max_output_chars``) and the token cap (``aiml.max_tokens_per_call``, and the budget left).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from servers.aiml.arguments import MaxTokens, ModelName, Stop, Temperature
from servers.aiml.calls import caller_of, progress_of
from servers.aiml.errors import AimlError
from servers.aiml.models import ChatResult, EmbedResult, GenerateResult, ToolCall
from servers.aiml.providers.base import GenerationOptions
from servers.aiml.service import AimlService, Generation
from servers.aiml.structured import problem_of, validator_for
from servers.runtime.light_context import never_needs_session, session_needed_when

MessageText = Annotated[str, Field(max_length=1_000_000, description="the message's text")]


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: MessageText


def model_call_hints(service: AimlService) -> ToolAnnotations:
    remote = any(p.kind != "local" for p in service.settings.providers.values())
    return ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=remote)


def check_input(service: AimlService, size: int) -> None:
    if size > service.settings.max_input_chars:
        raise AimlError(
            "input_too_long",
            f"the input is {size} characters, over aiml.max_input_chars ({service.settings.max_input_chars}): shorten it",
        )


def retry_message(problem: str) -> dict[str, str]:
    return {
        "role": "user",
        "content": f"Your answer does not match the required JSON Schema ({problem}). "
        "Answer again with only a JSON value that matches it.",
    }


def register_generate_tools(server: MCPServer[Any], service: AimlService) -> None:
    settings = service.settings
    hints = model_call_hints(service)

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def generate(
        prompt: Annotated[str, Field(min_length=1, max_length=1_000_000, description="the text to continue")],
        ctx: Context[Any, Any],
        model: ModelName = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = 0.7,
        stop: Stop | None = None,
    ) -> GenerateResult:
        """Plain completion of a prompt, streamed as progress notifications (the text so far); cancellable."""
        check_input(service, len(prompt))
        principal = caller_of(ctx, service)
        cap = service.cap_tokens(max_tokens, principal)
        options = GenerationOptions(cap, temperature, tuple(stop or ()))
        on_text = progress_of(ctx, cap, settings.progress_interval_seconds)
        done = await service.generate("completion", model, prompt, options, principal, on_text)
        return GenerateResult(text=done.text, finish_reason=done.finish_reason, max_tokens=cap, usage=done.usage)

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def chat(
        messages: Annotated[list[Message], Field(min_length=1, max_length=500, description="the conversation")],
        ctx: Context[Any, Any],
        model: ModelName = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = 0.7,
        output_schema: Annotated[
            dict[str, Any] | None,
            Field(description="a JSON Schema the answer must match: checked, and retried once with the error"),
        ] = None,
        tools: Annotated[
            list[dict[str, Any]] | None,
            Field(max_length=64, description="tool definitions (OpenAI function format) passed to the model"),
        ] = None,
    ) -> ChatResult:
        """Answer a conversation; with output_schema the answer is JSON checked against it (one retry)."""
        check_input(service, sum(len(m.content) for m in messages))
        validator = validator_for(output_schema) if output_schema is not None else None
        principal = caller_of(ctx, service)
        conversation = [m.model_dump() for m in messages]
        attempts = 0
        while True:
            attempts += 1
            cap = service.cap_tokens(max_tokens, principal)
            options = GenerationOptions(cap, temperature, (), tuple(tools or ()))
            on_text = progress_of(ctx, cap, settings.progress_interval_seconds)
            done = await service.generate("chat", model, conversation, options, principal, on_text)
            if validator is None or done.tool_calls:
                return chat_result(done, None, attempts, cap)
            parsed, problem = problem_of(done.text, validator)
            if problem is None:
                return chat_result(done, parsed, attempts, cap)
            if attempts == 2:
                raise AimlError(
                    "invalid_model_output",
                    f"the answer of {done.usage.provider}/{done.usage.model} did not match output_schema twice "
                    f"(last: {problem}): simplify the schema, give an example in the messages, or use another model",
                )
            conversation = [*conversation, {"role": "assistant", "content": done.text}, retry_message(problem)]

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def embed(
        texts: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=100_000)]],
            Field(min_length=1, max_length=100_000, description="the texts, embedded in batches"),
        ],
        ctx: Context[Any, Any],
        model: ModelName = None,
    ) -> EmbedResult:
        """Vectors of texts (default alias embed), with the model and dimension that made them."""
        if len(texts) > settings.max_embed_texts:
            raise AimlError(
                "too_many_texts",
                f"{len(texts)} texts, over aiml.max_embed_texts ({settings.max_embed_texts}): send them in several calls",
            )
        check_input(service, sum(len(t) for t in texts))
        done = await service.embed(model, texts, caller_of(ctx, service))
        return EmbedResult(
            provider=done.usage.provider,
            model=done.usage.model,
            dimension=done.dimension,
            vectors=[[round(x, 7) for x in row] for row in done.vectors],
            usage=done.usage,
        )


def chat_result(done: Generation, parsed: Any, attempts: int, cap: int) -> ChatResult:
    return ChatResult(
        content=done.text,
        tool_calls=[
            ToolCall(id=c.get("id"), name=str(c.get("name")), arguments=c.get("arguments")) for c in done.tool_calls
        ],
        parsed=parsed,
        attempts=attempts,
        finish_reason=done.finish_reason,
        max_tokens=cap,
        usage=done.usage,
    )
