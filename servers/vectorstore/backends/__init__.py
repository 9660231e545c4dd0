"""The vector engines behind the vectorstore server: Chroma and Qdrant, embedded or as servers.

:func:`open_backend` builds one from its settings; nothing connects until ``open()``.
"""

from __future__ import annotations

from pathlib import Path

from servers.vectorstore.backends.base import BackendError, Hit, StoredDocument, VectorBackend
from servers.vectorstore.backends.settings import BackendSettings

__all__ = ["BackendError", "BackendSettings", "Hit", "StoredDocument", "VectorBackend", "open_backend"]


def open_backend(name: str, settings: BackendSettings, data_dir: Path) -> VectorBackend:
    """The backend ``name`` described by ``settings`` (embedded ones under ``data_dir``), not yet opened."""
    if settings.kind == "chroma":
        from servers.vectorstore.backends.chroma import ChromaBackend

        return ChromaBackend(name, settings, data_dir)
    from servers.vectorstore.backends.qdrant import QdrantBackend

    return QdrantBackend(name, settings, data_dir)
