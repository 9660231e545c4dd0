"""CPU time, which load changes little: per indexed document and per query, the server's side against the engine's.

:func:`ingest_cpu` writes the same documents in this process twice, into two fresh tantivy indexes:
with tantivy's own API (one writer, one commit, the fields made Python values as the service makes
them) and through :class:`~servers.search.service.SearchService` in calls of ``call_size``, and
gives the CPU microseconds per document of each (every thread of the process counts: tantivy indexes in
its own). :func:`process_cpu` reads a child process's CPU seconds from ``/proc``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import tantivy

from servers.search.backends.tantivy.analysis import analyzer_of, build_schema, tokenizer_name
from servers.search.schema import IndexSchema, normalise_document
from servers.search.service import SearchService
from servers.search.settings import SearchSettings
from suite.bench.search_corpus import FIELDS

WRITER_HEAP = 64 * 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` (every thread) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _direct(folder: Path, schema: IndexSchema, docs: list[dict[str, Any]]) -> None:
    index = tantivy.Index(build_schema(schema), path=str(folder))
    index.register_tokenizer(tokenizer_name(schema), analyzer_of(schema))
    writer = index.writer(heap_size=WRITER_HEAP, num_threads=2)
    for doc in docs:
        fields = normalise_document(schema, doc["fields"], "document")
        writer.add_document(tantivy.Document(_id=doc["id"], **fields))
    writer.commit()
    writer.wait_merging_threads()


async def _service(data_dir: Path, schema: IndexSchema, docs: list[dict[str, Any]], call_size: int) -> None:
    service = SearchService(SearchSettings(max_documents_per_call=call_size), data_dir)
    await service.create_index(None, "cpu", schema)
    for start in range(0, len(docs), call_size):
        pairs = [(d["id"], dict(d["fields"])) for d in docs[start : start + call_size]]
        await service.index_documents(None, "cpu", pairs)
    await service.close_backends()


def ingest_cpu(docs: list[dict[str, Any]], call_size: int) -> tuple[float, float]:
    """CPU microseconds per document of ``docs`` written with tantivy's API, then through the service."""
    schema = IndexSchema.model_validate({"fields": FIELDS})
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-search-cpu-") as tmp:
        (Path(tmp) / "direct").mkdir()
        started = time.process_time()
        _direct(Path(tmp) / "direct", schema, docs)
        direct = time.process_time() - started
        started = time.process_time()
        anyio.run(_service, Path(tmp) / "service", schema, docs, call_size)
        service = time.process_time() - started
    return direct * 1e6 / len(docs), service * 1e6 / len(docs)
