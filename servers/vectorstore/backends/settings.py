"""How one vector backend is configured: the engine, and where it is (a local path, or a server URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from mesh.config import StrictModel


class BackendSettings(StrictModel):
    """One entry of ``vectorstore.backends``.

    With neither ``path`` nor ``url`` the backend is embedded under ``<data_dir>/vectorstore/<name>``.
    A Qdrant local path is locked to one process: replicas need a Qdrant (or Chroma) server.
    ``token`` is Qdrant's API key, or Chroma's token sent in ``auth_header`` (``Authorization: Bearer``
    or ``X-Chroma-Token``). ``timeout_seconds`` bounds each call to a server (embedded calls have none).
    """

    kind: Literal["chroma", "qdrant"] = "chroma"
    path: Path | None = None
    url: str | None = Field(default=None, max_length=2048)
    token: SecretStr | None = None
    auth_header: Literal["Authorization", "X-Chroma-Token"] = "Authorization"
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("a backend url must be http:// or https:// with a host, such as http://127.0.0.1:8000")
        return value

    @model_validator(mode="after")
    def _one_place(self) -> BackendSettings:
        if self.path is not None and self.url is not None:
            raise ValueError("give a backend either a path (embedded) or a url (server), not both")
        return self

    def embedded_path(self, name: str, data_dir: Path) -> Path:
        return self.path if self.path is not None else data_dir / "vectorstore" / name


def redacted_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to show in readiness and descriptions."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
