"""The named connections of one server: the configured ones, or the embedded ``workspace`` SQLite database.

With no connection configured the server gets one, ``workspace``: a read-write SQLite scratch
database at ``<data_dir>/database/workspace.db``, so it is useful out of the box. Lookups by
name refuse an unknown name with the list of known ones; SQL tools default to the first SQL
connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from mesh.config import Settings
from servers.database.errors import DbError
from servers.database.settings import DatabaseConnection, database_settings
from servers.database.url_redaction import public_url, url_secrets

WORKSPACE = "workspace"
SQL_ENGINES = ("postgres", "sqlite")


def workspace_path(settings: Settings) -> Path:
    return settings.data_dir / "database" / "workspace.db"


def effective_connections(settings: Settings) -> dict[str, DatabaseConnection]:
    """The configured connections, or the read-write ``workspace`` SQLite database when there are none."""
    if database_settings(settings).connections:
        return dict(database_settings(settings).connections)
    url = f"sqlite:///{workspace_path(settings)}"
    return {WORKSPACE: DatabaseConnection(url=SecretStr(url), access="read_write")}


@dataclass(frozen=True)
class NamedConnection:
    """One connection with its name, and what may be shown of it."""

    name: str
    config: DatabaseConnection

    @property
    def engine(self) -> str:
        return self.config.engine

    @property
    def access(self) -> str:
        return self.config.access

    @property
    def url(self) -> str:
        return self.config.url.get_secret_value()

    @property
    def public_url(self) -> str:
        return public_url(self.url)

    @property
    def secrets(self) -> list[str]:
        return url_secrets(self.url)

    @property
    def writable(self) -> bool:
        return self.config.access in ("read_write", "admin")


class ConnectionSet:
    """All connections by name, with lookups that answer a wrong name with the names that exist."""

    def __init__(self, connections: Mapping[str, DatabaseConnection]) -> None:
        self.all = {name: NamedConnection(name, config) for name, config in connections.items()}
        self.sql = {name: c for name, c in self.all.items() if c.engine in SQL_ENGINES}

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionSet:
        return cls(effective_connections(settings))

    def of_engine(self, *engines: str) -> dict[str, NamedConnection]:
        return {name: c for name, c in self.all.items() if c.engine in engines}

    def sql_connection(self, name: str | None) -> NamedConnection:
        """The SQL connection ``name`` (default: the first SQL connection); a clear error otherwise."""
        if not self.sql:
            raise DbError("no_sql_connection", "no PostgreSQL or SQLite connection is configured on this server")
        if name is None or name == "":
            return next(iter(self.sql.values()))
        found = self.sql.get(name)
        if found is not None:
            return found
        other = self.all.get(name)
        if other is not None:
            raise DbError(
                "wrong_engine",
                f"connection {name!r} is a {other.engine} connection, not SQL; "
                f"the SQL connections are: {', '.join(sorted(self.sql))}",
            )
        raise DbError(
            "unknown_connection",
            f"there is no connection {name!r}; the connections are: {', '.join(sorted(self.all))} "
            "(`list_connections` describes them)",
        )

    def writable_sql_connection(self, name: str | None) -> NamedConnection:
        """The SQL connection for a write: refused with a pointer to a writable one when it is read-only."""
        writable = [n for n, c in self.sql.items() if c.writable]
        if name is None or name == "":
            if not writable:
                raise DbError("read_only", "every SQL connection of this server is read_only: writes are refused")
            return self.sql[writable[0]]
        connection = self.sql_connection(name)
        if not connection.writable:
            others = f" ({', '.join(writable)})" if writable else ""
            raise DbError(
                "read_only",
                f"connection {name!r} is read_only: writes are refused; use a read_write connection{others}",
            )
        return connection
