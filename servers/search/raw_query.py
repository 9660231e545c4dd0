"""``raw_query``: the caller's own query DSL on an OpenSearch backend, off unless the operator turns it on.

The body goes to ``_search`` as given, within the same budgets as ``search``: ``size`` is capped at
``max_page_size``, ``_source`` values are cut at ``max_field_chars``, hits stop at
``max_result_bytes`` and aggregations larger than the budget are refused. Scripts are refused
(they run code on the cluster), and so is every backend that is not OpenSearch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, Field

from servers.kit.budgets import OutputBudget, json_size
from servers.search.errors import SearchError
from servers.search.service import SearchService, cut_value

if TYPE_CHECKING:
    # Only for the type: the client it pulls in loads only when an opensearch backend is configured.
    from servers.search.backends.opensearch.engine import OpenSearchBackend

REFUSED_KEYS = frozenset({"script", "script_fields", "runtime_mappings", "stored_fields", "pit"})


class RawHit(BaseModel):
    id: str
    score: float | None
    source: dict[str, Any] = Field(default_factory=dict)
    highlight: dict[str, list[str]] = Field(default_factory=dict)


class RawQueryResult(BaseModel):
    backend: str
    index: str
    total: int | None
    hits: list[RawHit]
    aggregations: dict[str, Any] = Field(default_factory=dict)
    stopped_by: str | None = None


def _refused_key(value: Any) -> str | None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in REFUSED_KEYS:
                return str(key)
            found = _refused_key(inner)
            if found:
                return found
    elif isinstance(value, list):
        for inner in value:
            found = _refused_key(inner)
            if found:
                return found
    return None


async def raw_query(service: SearchService, backend: str | None, index: str, body: dict[str, Any]) -> RawQueryResult:
    """Run ``body`` on ``index`` of an OpenSearch backend.

    Raises:
        SearchError: ``unsupported_query`` on another backend, ``raw_query_refused`` for scripts or
            aggregations over the budget, and the backend's own errors.
    """
    engine, _ = await service.target(backend, index)
    if engine.kind != "opensearch":
        raise SearchError(
            "unsupported_query",
            f"`raw_query` runs on opensearch backends only; {engine.name!r} is {engine.kind}: use `search` instead",
        )
    refused = _refused_key(body)
    if refused:
        raise SearchError("raw_query_refused", f"the body uses {refused!r}, which `raw_query` does not send: remove it")
    settings = service.settings
    sent = {**body, "size": min(int(body.get("size", 10)), settings.max_page_size)}
    answer = await cast("OpenSearchBackend", engine).raw_search(index, sent)
    aggregations = answer.get("aggregations", {})
    if json_size(aggregations) > settings.max_result_bytes:
        raise SearchError(
            "raw_query_refused",
            f"the aggregations are over {settings.max_result_bytes} bytes (search.max_result_bytes): ask for fewer buckets",
        )
    budget = OutputBudget(max_items=settings.max_page_size, max_bytes=settings.max_result_bytes)
    budget.used += json_size(aggregations)
    hits: list[RawHit] = []
    for found in answer.get("hits", {}).get("hits", []):
        hit = RawHit(
            id=str(found.get("_id")),
            score=found.get("_score"),
            source={k: cut_value(v, settings.max_field_chars) for k, v in (found.get("_source") or {}).items()},
            highlight={k: list(v) for k, v in (found.get("highlight") or {}).items()},
        )
        if not budget.admit(json_size(hit.model_dump())) and hits:
            break
        hits.append(hit)
    total = answer.get("hits", {}).get("total")
    return RawQueryResult(
        backend=engine.name,
        index=index,
        total=int(total["value"]) if isinstance(total, dict) else None,
        hits=hits,
        aggregations=aggregations,
        stopped_by=budget.stopped,
    )
