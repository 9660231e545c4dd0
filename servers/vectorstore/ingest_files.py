"""The files ``ingest_files`` may read: text files under the operator's ``vectorstore.ingest_roots``.

The checks are the kit's path policy (:mod:`servers.kit.paths`), the filesystem server's own: a
path resolves to its real path and must lie under an ingest root (``outside_roots``), a path
matching a deny glob is ``denied``, and the walk skips denied entries, links out of the roots,
binary and non-UTF-8 files and files over ``vectorstore.max_file_bytes``, reporting each. At most
``vectorstore.max_ingest_files`` files are taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio.to_thread

from servers.kit.paths.policy import Policy
from servers.kit.paths.read_roots import Reader, list_text_files, read_only_policy
from servers.kit.paths.walk import read_text
from servers.kit.tool_errors import CodedToolError
from servers.vectorstore.errors import VectorError
from servers.vectorstore.ingestion import SourceText
from servers.vectorstore.settings import VectorstoreSettings

INGEST_READER = Reader(VectorError, "ingest_files", "vectorstore.ingest_roots", "use `ingest_text` instead")


@dataclass
class FoundFiles:
    sources: list[SourceText] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def ingest_policy(settings: VectorstoreSettings) -> Policy:
    """The path policy of ``ingest_files``: the ingest roots (read-only) and the deny globs.

    Raises:
        VectorError: ``no_ingest_roots`` when the operator allowed no directory.
    """
    return read_only_policy(settings.ingest_roots, settings.ingest_deny, INGEST_READER)


def walk(settings: VectorstoreSettings, path_text: str, patterns: Sequence[str]) -> FoundFiles:
    policy = ingest_policy(settings)
    walked = list_text_files(
        policy,
        path_text,
        max_files=settings.max_ingest_files,
        max_bytes_per_file=settings.max_file_bytes,
        patterns=patterns,
        max_files_setting="vectorstore.max_ingest_files",
    )
    found = FoundFiles(skipped=walked.skipped)
    for file in walked.files:
        try:
            text = read_text(policy, file, settings.max_file_bytes)
        except CodedToolError as exc:
            found.skipped.append(f"{file.relative}: {exc.code} ({exc.detail})")
            continue
        if text.strip():
            found.sources.append(SourceText(source=file.path, text=text))
    return found


async def collect_files(settings: VectorstoreSettings, path_text: str, patterns: Sequence[str]) -> FoundFiles:
    """The text files to ingest under ``path_text`` (walked and read off the event loop)."""
    return await anyio.to_thread.run_sync(walk, settings, path_text, list(patterns))
