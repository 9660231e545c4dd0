"""The result models of the aiml tools: each carries the call's :class:`~servers.aiml.usage.Usage`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from servers.aiml.usage import Usage


class ModelInfo(BaseModel):
    provider: str
    name: str
    uri: str = Field(description="the model's resource, model://<provider>/<name>")
    kind: Literal["generation", "embedding", "transcription"]
    capabilities: list[str] = Field(description="completion, chat, tools, embedding, vision (images), audio")
    context_length: int | None = None
    dimension: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ProviderHealth(BaseModel):
    name: str
    kind: str
    healthy: bool
    detail: str


class ModelList(BaseModel):
    models: list[ModelInfo]
    providers: list[ProviderHealth]
    aliases: dict[str, list[str]]
    next_cursor: str | None = Field(default=None, description="pass as cursor for the next page")


class GenerateResult(BaseModel):
    text: str
    finish_reason: str = Field(description="stop, length (max tokens), output_budget, or the provider's own")
    max_tokens: int = Field(description="the cap this call ran with (asked, per-call cap, budget left)")
    usage: Usage


class ToolCall(BaseModel):
    id: str | None = None
    name: str
    arguments: Any = Field(description="as the model wrote them: an object, or a JSON text")


class ChatResult(BaseModel):
    content: str = Field(description="the assistant's answer")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    parsed: Any = Field(default=None, description="the answer as JSON, when an output_schema was given")
    attempts: int = Field(description="1, or 2 when the first answer failed the output_schema")
    finish_reason: str
    max_tokens: int
    usage: Usage


class MediaInfo(BaseModel):
    mime_type: str = Field(description="the type its bytes show")
    bytes: int
    source: Literal["data", "path"]


class DescribeResult(BaseModel):
    text: str = Field(description="the model's answer about the image")
    finish_reason: str
    max_tokens: int
    image: MediaInfo
    usage: Usage


class TranscriptSegment(BaseModel):
    start: float = Field(description="seconds from the start")
    end: float
    text: str


class TranscriptionResult(BaseModel):
    text: str
    language: str | None = Field(description="as the provider detected or was told; null when it did not say")
    duration_seconds: float | None = None
    segments: list[TranscriptSegment] = Field(
        default_factory=list, description="timed pieces, when the provider gives them"
    )
    truncated: bool = Field(description="true when text or segments were cut at the output budget")
    audio: MediaInfo
    usage: Usage


class EmbedResult(BaseModel):
    provider: str
    model: str
    dimension: int
    vectors: list[list[float]]
    usage: Usage


class ClassifyResult(BaseModel):
    label: str
    method: Literal["embedding", "prompt"]
    scores: dict[str, float] = Field(description="embedding: cosine similarity per label; prompt: 1 for the answer")
    answer: str | None = Field(default=None, description="prompt: what the model wrote")
    usage: Usage


class SummarizeResult(BaseModel):
    summary: str
    style: Literal["paragraph", "bullets"]
    words: int
    input_chars: int
    usage: Usage


class QueueState(BaseModel):
    provider: str
    running: int
    waiting: int
    max_concurrency: int
    queue_limit: int


class BudgetReport(BaseModel):
    principal: str
    tokens_per_window: int | None
    window_seconds: float
    spent: int
    remaining: int | None
    low: bool = Field(description="true: calls go to the fallback alias first")
    fallback_alias: str


class PolicyReport(BaseModel):
    allowed_models: list[str]
    default_max_tokens: int
    max_tokens_per_call: int
    max_output_chars: int
    model_management: bool
    budget: BudgetReport
    queues: list[QueueState]


class PullResult(BaseModel):
    provider: str
    model: str
    status: str
    completed: int | None = None
    total: int | None = None


class DeleteResult(BaseModel):
    provider: str
    model: str
    deleted: bool
    reason: str | None = None
