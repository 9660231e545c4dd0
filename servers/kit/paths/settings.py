"""The settings shape of allowed directories: what a server's ``roots:`` / ``deny:`` fields hold.

The filesystem's ``roots`` and ``deny`` and the vectorstore's ``ingest_roots`` and ``ingest_deny``
are both these: a list of :class:`PathRoot` and a tuple of deny globs (default
:data:`DEFAULT_DENY_GLOBS`), turned into a :class:`~servers.kit.paths.policy.Policy` with
``Policy.build([(str(root.path), root.mode) for root in roots], deny, error=...)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import field_validator

from mesh.config import StrictModel

DEFAULT_DENY_GLOBS: tuple[str, ...] = (".env*", ".git/", "*.pem", "*.key", "id_*")


class PathRoot(StrictModel):
    """One directory the operator allows: ``rw`` (read-write) or ``ro`` (read-only)."""

    path: Path
    mode: Literal["rw", "ro"] = "rw"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        text = str(value)
        if "\x00" in text:
            raise ValueError("a root path may not contain a NUL byte")
        return Path(os.path.expanduser(text)).absolute()
