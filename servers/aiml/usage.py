"""Usage of one call (tokens, latency, provider, model, cost units) and its Prometheus metrics.

Every result carries a :class:`Usage` in its structured content. :class:`UsageMetrics` counts the
same figures on its own collector registry; the runtime serves it on ``GET /metrics`` beside the call
metrics (``metric_collectors`` of the server).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, Field

from mesh.metrics import CALL_BUCKETS


class Attempt(BaseModel):
    """A candidate model that was tried (or skipped) before the one that answered, and why."""

    model: str = Field(description="<provider>/<model>")
    reason: str


class Usage(BaseModel):
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    tokens_estimated: bool = Field(description="true when the provider did not count and the server estimated")
    latency_ms: float
    first_token_ms: float | None = None
    cost_units: float
    principal: str
    budget_remaining: int | None = Field(description="tokens left in the principal's window; null: no budget")
    fallbacks: list[Attempt] = Field(default_factory=list, description="candidates passed over, in order")


def cost_of(tokens: int, per_1k: float) -> float:
    return round(tokens * per_1k / 1000.0, 6)


class UsageMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tokens = Counter(
            "mcp_aiml_tokens",
            "Tokens used, by provider, model and kind (prompt, completion).",
            ["provider", "model", "kind"],
            registry=self.registry,
        )
        self.cost = Counter(
            "mcp_aiml_cost_units",
            "Cost units spent, by provider and model.",
            ["provider", "model"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mcp_aiml_model_call_seconds",
            "Duration of one model call, by provider and model.",
            ["provider", "model"],
            buckets=CALL_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "mcp_aiml_fallbacks",
            "Candidates passed over before a model answered, by reason code.",
            ["reason"],
            registry=self.registry,
        )

    def record(self, usage: Usage) -> None:
        self.tokens.labels(usage.provider, usage.model, "prompt").inc(usage.prompt_tokens)
        self.tokens.labels(usage.provider, usage.model, "completion").inc(usage.completion_tokens)
        self.cost.labels(usage.provider, usage.model).inc(usage.cost_units)
        self.latency.labels(usage.provider, usage.model).observe(usage.latency_ms / 1000.0)
        for attempt in usage.fallbacks:
            self.fallbacks.labels(attempt.reason.split(":", 1)[0]).inc()
