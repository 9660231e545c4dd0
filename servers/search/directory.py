"""``index_directory``: the text files under a directory the operator allowed, indexed incrementally.

The path policy is the kit's (:mod:`servers.kit.paths`), the filesystem server's own: the start
resolves to its real path under one of ``search.directory_roots`` (``outside_roots`` otherwise),
deny globs hide secrets, and the walk skips links out of the roots, binary and oversized files,
reporting each. Every file is one document whose id is its real path and whose ``fingerprint``
is its size and modification time: a second run reads and writes only the files whose
fingerprint changed, and deletes the documents of files that are gone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from servers.kit.paths.policy import Policy
from servers.kit.paths.read_roots import Reader, list_text_files, read_only_policy
from servers.kit.paths.walk import WalkedFile, read_text
from servers.kit.tool_errors import CodedToolError
from servers.search.errors import SearchError
from servers.search.models import DirectoryIndexed
from servers.search.request import KeywordFilter, PagePlan, QueryPlan
from servers.search.schema import FieldSpec, IndexSchema
from servers.search.service import Progress, SearchService, no_progress
from servers.search.settings import SearchSettings

DIRECTORY_SCHEMA = IndexSchema(
    fields=[
        FieldSpec(name="path", type="text"),
        FieldSpec(name="content", type="text"),
        FieldSpec(name="directory", type="keyword"),
        FieldSpec(name="relative", type="keyword"),
        FieldSpec(name="extension", type="keyword"),
        FieldSpec(name="size", type="number"),
        FieldSpec(name="modified", type="date"),
        FieldSpec(name="fingerprint", type="keyword"),
    ],
    language="english",
    stemming=True,
)
MAX_SKIPPED_SHOWN = 50
DIRECTORY_READER = Reader(SearchError, "index_directory", "search.directory_roots", "use `index_documents` instead")
LOOKUP_BATCH = 500


@dataclass
class Walked:
    start: str
    files: list[tuple[WalkedFile, str, int]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    skipped_total: int = 0
    complete: bool = True


def directory_policy(settings: SearchSettings) -> Policy:
    """The path policy of ``index_directory``: the directory roots (read-only) and the deny globs.

    Raises:
        SearchError: ``no_directory_roots`` when the operator allowed no directory.
    """
    return read_only_policy(settings.directory_roots, settings.directory_deny, DIRECTORY_READER)


def _walk(settings: SearchSettings, path_text: str, patterns: Sequence[str]) -> Walked:
    result = list_text_files(
        directory_policy(settings),
        path_text,
        max_files=settings.max_directory_files,
        max_bytes_per_file=settings.max_file_bytes,
        patterns=patterns,
        max_files_setting="search.max_directory_files",
    )
    walked = Walked(start=result.start, skipped_total=result.skipped_total, complete=not result.truncated)
    walked.skipped = result.skipped
    for file in result.files:
        try:
            stat = os.stat(file.path)
        except OSError as exc:
            walked.skipped.append(f"{file.relative}: unreadable ({exc.strerror})")
            continue
        walked.files.append((file, f"{stat.st_size}-{stat.st_mtime_ns}", stat.st_mtime_ns))
    return walked


def _read(
    settings: SearchSettings, batch: list[tuple[WalkedFile, str, int]], start: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    policy = directory_policy(settings)
    documents: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    for file, print_, mtime_ns in batch:
        try:
            text = read_text(policy, file, settings.max_file_bytes)
        except CodedToolError as exc:
            problems.append(f"{file.relative}: {exc.code} ({exc.detail})")
            continue
        documents.append(
            (
                file.path,
                {
                    "path": file.relative.replace("/", " / "),
                    "content": text,
                    "directory": start,
                    "relative": file.relative,
                    "extension": os.path.splitext(file.path)[1].lstrip(".").lower(),
                    "size": float(file.size),
                    "modified": datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC),
                    "fingerprint": print_,
                },
            )
        )
    return documents, problems


async def _held_ids(service: SearchService, backend: str, index: str, schema: IndexSchema, start: str) -> list[str]:
    engine = await service.backend(backend)
    query = QueryPlan(None, tuple(schema.text_fields), (KeywordFilter("directory", (start,)),))
    ids: list[str] = []
    while True:
        outcome = await engine.search(
            index, schema, query, PagePlan(offset=len(ids), limit=1000, sort=(("relative", "asc"),))
        )
        ids.extend(hit.id for hit in outcome.hits)
        if not outcome.hits or len(ids) >= outcome.total:
            return ids


async def index_directory(
    service: SearchService,
    backend: str | None,
    index: str,
    path: str,
    patterns: Sequence[str],
    progress: Progress = no_progress,
) -> DirectoryIndexed:
    """Index (or bring up to date) ``index`` from the text files under ``path``; creates the index if needed.

    Raises:
        SearchError: ``no_directory_roots``, ``outside_roots``, ``denied``, ``wrong_index_schema`` and the like.
    """
    settings = service.settings
    service.check_allowed(index)
    engine = await service.backend(backend)
    walked = await anyio.to_thread.run_sync(_walk, settings, path, list(patterns))
    if index not in await engine.list_indexes():
        await engine.create_index(index, DIRECTORY_SCHEMA)
    schema = await engine.schema_of(index)
    if schema != DIRECTORY_SCHEMA:
        raise SearchError(
            "wrong_index_schema",
            f"the index {index!r} was not made by `index_directory`; give a new index name for the directory",
        )
    held: dict[str, str] = {}
    ids = [file.path for file, _, _ in walked.files]
    for start in range(0, len(ids), LOOKUP_BATCH):
        found = await engine.fetch(index, ids[start : start + LOOKUP_BATCH], ["fingerprint"])
        held.update({doc_id: str(fields.get("fingerprint")) for doc_id, fields in found.items()})
    changed = [entry for entry in walked.files if held.get(entry[0].path) != entry[1]]
    problems: list[str] = []
    written = 0
    size = settings.batch_size
    for start in range(0, len(changed), size):
        documents, failed = await anyio.to_thread.run_sync(_read, settings, changed[start : start + size], walked.start)
        problems.extend(failed)
        if documents:
            await engine.upsert(index, schema, documents)
        written += len(documents)
        await progress(start + len(documents), len(changed), f"{written} of {len(changed)} changed files indexed")
    removed = 0
    if walked.complete:
        present = set(ids)
        gone = [
            doc_id
            for doc_id in await _held_ids(service, engine.name, index, schema, walked.start)
            if doc_id not in present
        ]
        if gone:
            removed = await engine.delete(index, gone)
    skipped = walked.skipped + problems
    return DirectoryIndexed(
        backend=engine.name,
        index=index,
        files_seen=len(walked.files),
        indexed=written,
        unchanged=len(walked.files) - len(changed),
        removed=removed,
        skipped=skipped[:MAX_SKIPPED_SHOWN],
        skipped_total=walked.skipped_total + len(problems),
    )
