"""The aiml service: providers, queues, budgets and metrics, and the one path every model call takes.

:meth:`AimlService.generate` (a completion, a chat, or a prompt about images) resolves the model to
its candidates, skips the ones that are down or lack a needed capability (tools, vision), waits for a
slot in the provider's queue, streams the answer (handing the text so far to ``on_text``) within the
token cap and the output budget, and charges the tokens to the principal. A candidate that is
unavailable or busy before it produced any text hands the call to the next one;
:class:`~servers.aiml.usage.Usage` records which were passed over. :meth:`AimlService.transcribe`
and :meth:`AimlService.embed` take the same path without streaming.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from servers.aiml.errors import FALLBACK_CODES, AimlError, no_capable_model
from servers.aiml.policy.budgets import TokenBudgets
from servers.aiml.policy.queues import ProviderQueue
from servers.aiml.providers.base import (
    Capability,
    Delta,
    Done,
    Embeddings,
    Event,
    GenerationOptions,
    Media,
    Provider,
    Transcription,
)
from servers.aiml.providers.registry import HealthCache, build_provider
from servers.aiml.routing import Candidate, candidates
from servers.aiml.settings import MEDIA_ALIASES, AimlSettings
from servers.aiml.usage import Attempt, Usage, UsageMetrics, cost_of
from servers.kit.embedders.factory import EmbedderSet

log = logging.getLogger(__name__)

OnText = Callable[[str, int], Awaitable[None]]
TOOL_KINDS = frozenset({"openai", "ollama"})
TOKENS_PER_IMAGE = 256
"""The estimate of an image's prompt tokens when a provider does not count them."""
Mode = Literal["completion", "chat", "vision"]


@dataclass(frozen=True)
class VisionPrompt:
    text: str
    images: tuple[Media, ...]


Prompt = str | Sequence[dict[str, Any]] | VisionPrompt


def estimated_tokens(prompt: Prompt) -> int:
    """A prompt's tokens, estimated from its characters (and images), for a provider that did not count."""
    if isinstance(prompt, VisionPrompt):
        return max(1, len(prompt.text) // 4) + TOKENS_PER_IMAGE * len(prompt.images)
    return max(1, len(str(prompt)) // 4)


@dataclass
class Generation:
    text: str
    finish_reason: str
    usage: Usage
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Transcribed:
    transcription: Transcription
    usage: Usage


@dataclass
class Embedded:
    vectors: list[list[float]]
    dimension: int
    usage: Usage


class AimlService:
    def __init__(
        self,
        settings: AimlSettings,
        data_dir: Path,
        *,
        providers: dict[str, Provider] | None = None,
        embedders: EmbedderSet | None = None,
    ) -> None:
        self.settings = settings
        self.providers: dict[str, Provider] = providers or {
            name: build_provider(name, settings, data_dir, embedders) for name in settings.providers
        }
        self.queues = {
            name: ProviderQueue(name, own.max_concurrency, own.queue_limit) for name, own in settings.providers.items()
        }
        self.health = HealthCache(self.providers)
        self.budgets = TokenBudgets(settings.budget)
        self.metrics = UsageMetrics()

    async def warm_up(self) -> None:
        """Load what must be warm (the local model); a failure is logged and readiness reports it."""

        async def warm(provider: Provider) -> None:
            try:
                await provider.warm()
            except AimlError as exc:
                log.warning("provider %s failed to warm: %s", provider.name, exc)

        async with anyio.create_task_group() as group:
            for provider in self.providers.values():
                group.start_soon(warm, provider)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:  # one provider's failed close must not leak the others' clients
                log.warning("closing provider %s failed", provider.name, exc_info=True)

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise AimlError(
                "unknown_provider", f"no provider {name!r}; the configured ones are {', '.join(sorted(self.providers))}"
            )
        return found

    def cap_tokens(self, asked: int | None, principal: str) -> int:
        """The call's max tokens: what was asked (else the default), within the per-call cap and the budget left.

        Raises:
            AimlError: ``budget_exhausted`` when the principal has no tokens left in the window.
        """
        tokens = min(asked or self.settings.default_max_tokens, self.settings.max_tokens_per_call)
        remaining = self.budgets.state(principal).remaining
        if remaining is not None:
            if remaining <= 0:
                raise AimlError(
                    "budget_exhausted",
                    f"the token budget of {principal!r} is spent for this {self.settings.budget.window_seconds:.0f}s "
                    "window: try again later, or ask the operator for a larger aiml.budget",
                )
            tokens = min(tokens, remaining)
        return tokens

    def resolve(
        self, model: str | None, default_alias: str, principal: str, *, generation: bool = True
    ) -> list[Candidate]:
        """The candidates of a call; a low budget moves generations (not embeddings) to the fallback alias."""
        low = generation and self.budgets.is_low(principal)
        return candidates(self.settings, model, default_alias, budget_low=low)

    async def _usable(self, candidate: Candidate, need_tools: bool, need: Capability | None = None) -> str | None:
        """Why ``candidate`` cannot take the call now, or ``None``."""
        if candidate.provider not in self.providers:
            return "unknown_provider"
        provider = self.providers[candidate.provider]
        if need_tools and provider.kind not in TOOL_KINDS:
            return "unsupported: no tool definitions"
        health = await self.health.health(candidate.provider)
        if not health.ok:
            return f"provider_unavailable: {health.detail}"
        if need is not None:
            try:
                taken = await provider.capabilities(candidate.model)
            except AimlError as exc:
                return f"{exc.code}: {exc.detail}"
            if need not in taken:
                return f"unsupported_capability: takes no {need} input"
        return None

    async def generate(
        self,
        mode: Mode,
        model: str | None,
        prompt: Prompt,
        options: GenerationOptions,
        principal: str,
        on_text: OnText | None = None,
    ) -> Generation:
        """Stream one answer from the first candidate that can give it.

        Raises:
            AimlError: ``no_model_available`` when every candidate was down, busy or unsuitable; the
                provider's own error when it failed after it began to answer, or refused the request.
        """
        attempts: list[Attempt] = []
        need: Capability | None = "vision" if mode == "vision" else None
        alias = "vision" if mode == "vision" else "default"
        for candidate in self.resolve(model, alias, principal):
            reason = await self._usable(candidate, bool(options.tools), need)
            if reason is not None:
                attempts.append(Attempt(model=candidate.label, reason=reason))
                continue
            try:
                return await self._run(candidate, prompt, options, principal, on_text, attempts)
            except AimlError as exc:
                if exc.code not in FALLBACK_CODES:
                    raise
                self.health.forget(candidate.provider)
                attempts.append(Attempt(model=candidate.label, reason=f"{exc.code}: {exc.detail}"))
        raise no_model(model or alias, attempts, need)

    def _open(self, candidate: Candidate, prompt: Prompt, options: GenerationOptions) -> Any:
        provider = self.providers[candidate.provider]
        if isinstance(prompt, VisionPrompt):
            return provider.describe(candidate.model, prompt.text, prompt.images, options)
        if isinstance(prompt, str):
            return provider.complete(candidate.model, prompt, options)
        return provider.chat(candidate.model, prompt, options)

    async def _run(
        self,
        candidate: Candidate,
        prompt: Prompt,
        options: GenerationOptions,
        principal: str,
        on_text: OnText | None,
        attempts: list[Attempt],
    ) -> Generation:
        cap = self.settings.max_output_chars
        parts: list[str] = []
        size = 0
        calls: list[dict[str, Any]] = []
        done: Done | None = None
        finish = "length"
        first: float | None = None
        async with self.queues[candidate.provider].slot():
            started = time.perf_counter()
            stream: AsyncGenerator[Event, None] = self._open(candidate, prompt, options)
            try:
                async for event in stream:
                    if isinstance(event, Done):
                        done = event
                        finish = event.finish_reason
                        continue
                    assert isinstance(event, Delta)
                    calls.extend(event.tool_calls)
                    if not event.text:
                        continue
                    if first is None:
                        first = time.perf_counter()
                    text = event.text[: cap - size]
                    parts.append(text)
                    size += len(text)
                    if on_text is not None:
                        await on_text("".join(parts), len(parts))
                    if size >= cap:
                        finish = "output_budget"
                        break
            except anyio.get_cancelled_exc_class():
                # The client cancelled: what the model already produced is spent all the same.
                self.budgets.charge(principal, estimated_tokens(prompt) + len(parts))
                raise
            except AimlError as exc:
                if parts and exc.code in FALLBACK_CODES:
                    # Part of the answer already reached the client as progress: another model would not continue it.
                    raise AimlError(
                        "generation_interrupted",
                        f"{candidate.label} failed after {len(parts)} pieces of text ({exc.detail}): call again",
                    ) from None
                raise
            finally:
                await stream.aclose()
            elapsed = time.perf_counter() - started
        prompt_tokens = done.prompt_tokens if done else estimated_tokens(prompt)
        completion_tokens = done.completion_tokens if done else len(parts)
        usage = self._usage(
            candidate, principal, prompt_tokens, completion_tokens, elapsed, first, started, attempts, done is None
        )
        return Generation("".join(parts), finish, usage, calls)

    def _usage(
        self,
        candidate: Candidate,
        principal: str,
        prompt_tokens: int,
        completion_tokens: int,
        elapsed: float,
        first: float | None,
        started: float,
        attempts: list[Attempt],
        estimated: bool,
    ) -> Usage:
        total = prompt_tokens + completion_tokens
        self.budgets.charge(principal, total)
        own = self.settings.providers[candidate.provider]
        usage = Usage(
            provider=candidate.provider,
            model=candidate.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total,
            tokens_estimated=estimated,
            latency_ms=round(elapsed * 1000, 3),
            first_token_ms=None if first is None else round((first - started) * 1000, 3),
            cost_units=cost_of(total, own.cost_per_1k_tokens),
            principal=principal,
            budget_remaining=self.budgets.state(principal).remaining,
            fallbacks=list(attempts),
        )
        self.metrics.record(usage)
        return usage

    async def transcribe(self, model: str | None, audio: Media, language: str | None, principal: str) -> Transcribed:
        """The text of ``audio`` from the first candidate of ``model`` (default alias transcribe) that hears.

        Raises:
            AimlError: ``unsupported_capability`` when no candidate transcribes; ``no_model_available`` when
                the ones that do were down or busy; the provider's own refusal.
        """
        self.cap_tokens(1, principal)  # refuses a spent budget
        attempts: list[Attempt] = []
        for candidate in self.resolve(model, "transcribe", principal, generation=False):
            reason = await self._usable(candidate, False, "audio")
            if reason is not None:
                attempts.append(Attempt(model=candidate.label, reason=reason))
                continue
            try:
                async with self.queues[candidate.provider].slot():
                    started = time.perf_counter()
                    heard = await self.providers[candidate.provider].transcribe(candidate.model, audio, language)
                    elapsed = time.perf_counter() - started
            except AimlError as exc:
                if exc.code not in FALLBACK_CODES:
                    raise
                self.health.forget(candidate.provider)
                attempts.append(Attempt(model=candidate.label, reason=f"{exc.code}: {exc.detail}"))
                continue
            usage = self._usage(
                candidate,
                principal,
                heard.prompt_tokens,
                heard.completion_tokens,
                elapsed,
                None,
                started,
                attempts,
                heard.tokens_estimated,
            )
            return Transcribed(heard, usage)
        raise no_model(model or "transcribe", attempts, "audio")

    async def embed(self, model: str | None, texts: Sequence[str], principal: str, batch_size: int = 64) -> Embedded:
        """Vectors of ``texts`` from the first embedding candidate that answers, in batches."""
        self.cap_tokens(1, principal)  # refuses a spent budget
        attempts: list[Attempt] = []
        for candidate in self.resolve(model, "embed", principal, generation=False):
            reason = await self._usable(candidate, False)
            if reason is not None:
                attempts.append(Attempt(model=candidate.label, reason=reason))
                continue
            provider = self.providers[candidate.provider]
            try:
                async with self.queues[candidate.provider].slot():
                    started = time.perf_counter()
                    vectors: list[list[float]] = []
                    tokens = 0
                    estimated = False
                    for start in range(0, len(texts), batch_size):
                        batch: Embeddings = await provider.embed(candidate.model, texts[start : start + batch_size])
                        vectors.extend(batch.vectors)
                        tokens += batch.prompt_tokens
                        estimated = estimated or batch.tokens_estimated
                    elapsed = time.perf_counter() - started
            except AimlError as exc:
                if exc.code not in FALLBACK_CODES:
                    raise
                self.health.forget(candidate.provider)
                attempts.append(Attempt(model=candidate.label, reason=f"{exc.code}: {exc.detail}"))
                continue
            usage = self._usage(candidate, principal, tokens, 0, elapsed, None, started, attempts, estimated)
            return Embedded(vectors, len(vectors[0]) if vectors else 0, usage)
        raise no_model(model or "embed", attempts)


def no_model(name: str, attempts: list[Attempt], need: Capability | None = None) -> AimlError:
    """``no_model_available``; ``unsupported_capability`` when no candidate took the ``need``ed input at all."""
    tried = "; ".join(f"{a.model} ({a.reason})" for a in attempts) or "none"
    if need is not None and attempts and all(a.reason.startswith("unsupported_capability") for a in attempts):
        alias = next(name for name, capability in MEDIA_ALIASES.items() if capability == need)
        return no_capable_model(need, alias, tried)
    return AimlError(
        "no_model_available",
        f"no candidate of {name!r} could answer: {tried}. Try again later or name another model",
    )
