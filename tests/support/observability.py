"""Reading what the suite emits in tests: Prometheus exposition text and finished OpenTelemetry spans,
and a fresh interpreter for what can happen only once per process (installing a tracer provider).

OpenTelemetry allows one global tracer provider per process, so :func:`captured_spans` installs
one SDK provider the first time it is used and then only switches capture on and off around a
test: spans finished outside a capture are dropped, not kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with the project importable, no ``OTEL_*``/``MCP_SUITE_*`` variables
    from this environment, and ``env`` added (a tracer provider can be installed once per process)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCP_SUITE_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def parse_exposition(text: str) -> dict[str, dict[Labels, float]]:
    """``{sample name: {labels: value}}`` of a Prometheus text exposition (raises on invalid text)."""
    found: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return found


def value(samples: dict[str, dict[Labels, float]], name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels`` (0 when none: a counter not yet touched)."""
    wanted = frozenset(labels.items())
    return sum(v for found, v in samples.get(name, {}).items() if wanted <= found)


class _CaptureSwitch(SpanProcessor):
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.capturing = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self.capturing:
            self.exporter.export((span,))


_switch: _CaptureSwitch | None = None


@contextmanager
def captured_spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during the block (of every tracer in the process: gateway, SDK, servers)."""
    global _switch
    if _switch is None:
        _switch = _CaptureSwitch()
        provider = TracerProvider()
        provider.add_span_processor(_switch)
        trace.set_tracer_provider(provider)
    _switch.exporter.clear()
    _switch.capturing = True
    try:
        yield _switch.exporter
    finally:
        _switch.capturing = False
