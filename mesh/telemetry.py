"""Structured logging: one JSON object per line on stderr (stdout belongs to the stdio transport)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from opentelemetry import trace

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """``{"ts":..., "level":..., "logger":..., "msg":..., **extra}``: easy to grep, easy to ship."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:  # only while a span is recording (tracing configured)
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "info", *, service: str | None = None) -> None:
    """Send every log record of the process to stderr as JSON lines; idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    from mesh.security.redaction import RedactionFilter  # tokens and secrets never reach a log line

    handler.addFilter(RedactionFilter())
    if service:
        handler.addFilter(_ServiceFilter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that log every request at INFO would drown the suite's own lines.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "mcp.server.streamable_http_manager", "mcp.server.lowlevel"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class _ServiceFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True
