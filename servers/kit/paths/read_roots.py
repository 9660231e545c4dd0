"""The text files a tool may read under the operator's read-only roots: the policy, and the walk as reportable lines.

A server that reads whole directories (the search server's ``index_directory``, the vectorstore's
``ingest_files``) describes its tool as a :class:`Reader`; :func:`read_only_policy` builds the
policy over its roots and deny globs (read-only, whatever the roots' mode) and refuses when the operator allowed no
directory, and :func:`list_text_files` resolves the caller's path under them, walks it
(:func:`~servers.kit.paths.walk.walk_text_files`) and turns every skipped entry into one line
``relative: reason (detail)``. Everything here blocks: run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from servers.kit.paths.policy import ErrorFactory, Policy
from servers.kit.paths.settings import PathRoot
from servers.kit.paths.walk import WalkedFile, walk_text_files


@dataclass(frozen=True)
class Reader:
    """A tool that reads under the operator's roots, and how its errors name them."""

    error: ErrorFactory
    tool: str
    """The tool, such as ``index_directory``."""
    roots_setting: str
    """The setting holding the roots, such as ``search.directory_roots``: with no root the error is coded
    ``no_<its last part>`` (``no_directory_roots``)."""
    instead: str
    """What to call when no directory is allowed, such as ``use `index_documents` instead``."""

    @property
    def no_roots_code(self) -> str:
        return "no_" + self.roots_setting.rsplit(".", 1)[-1]


@dataclass
class ListedFiles:
    """The walk of one path: its real start, the files to read and a line per entry passed over."""

    start: str
    files: list[WalkedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    skipped_total: int = 0
    truncated: bool = False


def read_only_policy(roots: Sequence[PathRoot], deny: Sequence[str], reader: Reader) -> Policy:
    """The path policy over ``roots`` (read-only, whatever their mode) and the deny globs ``deny``.

    Raises:
        CodedToolError: of ``reader.error``, coded ``reader.no_roots_code``, when there is no root.
    """
    if not roots:
        raise reader.error(
            reader.no_roots_code,
            f"the operator allowed no directory for `{reader.tool}` ({reader.roots_setting}); {reader.instead}",
        )
    return Policy.build(
        [(str(root.path), "ro") for root in roots],
        deny,
        error=reader.error,
        roots_hint=f"the operator's {reader.roots_setting} are the only directories `{reader.tool}` reads",
    )


def list_text_files(
    policy: Policy,
    path_text: str,
    *,
    max_files: int,
    max_bytes_per_file: int,
    patterns: Sequence[str],
    max_files_setting: str,
) -> ListedFiles:
    """The text files under ``path_text`` (resolved under the policy's roots) that ``patterns`` take (all when empty).

    Raises:
        CodedToolError: ``outside_roots``, ``denied``, ``not_found`` and the other path errors of the policy.
    """
    scope = policy.operator_scope
    start = policy.resolve(path_text, scope)
    walked = walk_text_files(
        policy,
        scope,
        start,
        max_files=max_files,
        max_bytes_per_file=max_bytes_per_file,
        include=list(patterns) or None,
    )
    listed = ListedFiles(
        start=start.path,
        files=walked.files,
        skipped=[f"{entry.relative}: {entry.reason} ({entry.detail})" for entry in walked.skipped],
        skipped_total=walked.skipped_total,
        truncated=walked.truncated,
    )
    if walked.truncated:
        listed.skipped.append(f"more files: stopped at {max_files_setting} = {max_files}")
    return listed
