"""Prompted helpers with structured results: ``classify`` (by embeddings or by a prompt) and ``summarize``.

A prompt written for plain completion works on base models (the bundled one) and chat models alike.
``classify`` by prompt takes the first label the answer names; when it names none, the labels'
embedding similarity decides and the result says so (``method: embedding``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from servers.aiml.arguments import ModelName
from servers.aiml.calls import caller_of, progress_of
from servers.aiml.models import ClassifyResult, SummarizeResult
from servers.aiml.providers.base import GenerationOptions
from servers.aiml.service import AimlService
from servers.aiml.tools_generate import check_input, model_call_hints
from servers.aiml.usage import Usage
from servers.runtime.light_context import never_needs_session, session_needed_when

Label = Annotated[str, Field(min_length=1, max_length=200)]


def combined(first: Usage, second: Usage) -> Usage:
    """One usage for two model calls of a helper: the tokens, cost and time of both."""
    return first.model_copy(
        update={
            "prompt_tokens": first.prompt_tokens + second.prompt_tokens,
            "completion_tokens": first.completion_tokens + second.completion_tokens,
            "total_tokens": first.total_tokens + second.total_tokens,
            "tokens_estimated": first.tokens_estimated or second.tokens_estimated,
            "latency_ms": round(first.latency_ms + second.latency_ms, 3),
            "cost_units": round(first.cost_units + second.cost_units, 6),
            "budget_remaining": second.budget_remaining,
            "fallbacks": [*first.fallbacks, *second.fallbacks],
        }
    )


def classify_prompt(text: str, labels: list[str]) -> str:
    return f"Classify the text into exactly one of these categories: {', '.join(labels)}.\n\nText: {text}\nCategory:"


def summary_prompt(text: str, max_words: int, style: str) -> str:
    lead = "\n- " if style == "bullets" else "\n"
    form = "as short bullet points" if style == "bullets" else "in one paragraph"
    return f"{text}\n\nSummary of the text above {form}, in at most {max_words} words:{lead}"


def named_label(answer: str, labels: list[str]) -> str | None:
    lowered = answer.lower()
    hits = [(lowered.find(label.lower()), label) for label in labels if label.lower() in lowered]
    return min(hits)[1] if hits else None


def within_words(text: str, max_words: int) -> str:
    """``text`` cut after ``max_words`` words, its line breaks (bullets) kept."""
    kept: list[str] = []
    left = max_words
    for line in text.strip().splitlines():
        words = line.split()
        if not words:
            continue
        if left <= 0:
            break
        kept.append(" ".join(words[:left]))
        left -= len(words)
    return "\n".join(kept)


def register_helper_tools(server: MCPServer[Any], service: AimlService) -> None:
    settings = service.settings
    hints = model_call_hints(service)

    async def by_embedding(text: str, labels: list[str], principal: str) -> tuple[str, dict[str, float], Usage]:
        done = await service.embed(None, [text, *labels], principal)
        matrix = numpy.asarray(done.vectors, dtype=numpy.float32)
        matrix /= numpy.maximum(numpy.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        similarity = matrix[1:] @ matrix[0]
        scores = {label: round(float(s), 6) for label, s in zip(labels, similarity, strict=True)}
        return labels[int(numpy.argmax(similarity))], scores, done.usage

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def classify(
        text: Annotated[str, Field(min_length=1, max_length=100_000, description="the text to classify")],
        labels: Annotated[list[Label], Field(min_length=2, max_length=50, description="the categories to choose from")],
        ctx: Context[Any, Any],
        method: Annotated[
            Literal["embedding", "prompt"],
            Field(description="embedding: nearest label by similarity (fast, any model); prompt: ask a model"),
        ] = "embedding",
        model: ModelName = None,
    ) -> ClassifyResult:
        """Put a text into one of the given labels; scores say how close each label was."""
        check_input(service, len(text))
        principal = caller_of(ctx, service)
        unique = list(dict.fromkeys(labels))
        if method == "embedding":
            label, scores, usage = await by_embedding(text, unique, principal)
            return ClassifyResult(label=label, method="embedding", scores=scores, usage=usage)
        cap = service.cap_tokens(16, principal)
        prompt = classify_prompt(text, unique)
        done = await service.generate("completion", model, prompt, GenerationOptions(cap, 0.0, ("\n",)), principal)
        chosen = named_label(done.text, unique)
        if chosen is not None:
            scores = {label: 1.0 if label == chosen else 0.0 for label in unique}
            return ClassifyResult(
                label=chosen, method="prompt", scores=scores, answer=done.text.strip(), usage=done.usage
            )
        label, scores, usage = await by_embedding(text, unique, principal)
        return ClassifyResult(
            label=label, method="embedding", scores=scores, answer=done.text.strip(), usage=combined(done.usage, usage)
        )

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def summarize(
        text: Annotated[str, Field(min_length=1, max_length=1_000_000, description="the text to summarise")],
        ctx: Context[Any, Any],
        max_words: Annotated[int, Field(ge=5, le=2000, description="the summary's length at most")] = 80,
        style: Annotated[
            Literal["paragraph", "bullets"], Field(description="one paragraph or bullet points")
        ] = "paragraph",
        model: ModelName = None,
    ) -> SummarizeResult:
        """A summary of a text in at most max_words words, streamed as progress notifications."""
        check_input(service, len(text))
        principal = caller_of(ctx, service)
        cap = service.cap_tokens(max_words * 2, principal)
        on_text = progress_of(ctx, cap, settings.progress_interval_seconds)
        prompt = summary_prompt(text, max_words, style)
        done = await service.generate(
            "completion", model, prompt, GenerationOptions(cap, 0.3, ("\n\n",)), principal, on_text
        )
        summary = within_words(done.text if style == "paragraph" else "- " + done.text.strip(), max_words)
        return SummarizeResult(
            summary=summary.strip(), style=style, words=len(summary.split()), input_chars=len(text), usage=done.usage
        )
