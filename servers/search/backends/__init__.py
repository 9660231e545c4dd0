"""The engines behind the search server: tantivy (embedded), PostgreSQL and OpenSearch, one subpackage each.

:func:`open_backend` builds one from its settings; nothing connects until ``open()``.
"""

from __future__ import annotations

from pathlib import Path

from servers.search.backends.base import SearchBackend
from servers.search.backends.settings import BackendSettings

__all__ = ["BackendSettings", "SearchBackend", "open_backend"]


def open_backend(name: str, settings: BackendSettings, data_dir: Path) -> SearchBackend:
    """The backend ``name`` described by ``settings`` (embedded ones under ``data_dir``), not yet opened."""
    if settings.kind == "opensearch":
        from servers.search.backends.opensearch.engine import OpenSearchBackend

        return OpenSearchBackend(name, settings)
    if settings.kind == "postgres":
        from servers.search.backends.postgres.engine import PostgresBackend

        return PostgresBackend(name, settings)
    from servers.search.backends.tantivy.engine import TantivyBackend

    return TantivyBackend(name, settings, data_dir)
