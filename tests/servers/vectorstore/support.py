"""Helpers for the vectorstore tests: settings over real engines, a shared warm embedder, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from mesh.config import Settings
from servers.kit.embedders.factory import EmbedderSet
from servers.kit.embedders.settings import EmbedderSettings
from servers.vectorstore.server import build_server
from servers.vectorstore.service import VectorService
from servers.vectorstore.settings import VectorstoreSettings, vectorstore_settings
from suite.settings import SuiteSettings
from tests.support.tool_results import data as data
from tests.support.tool_results import text_of as text_of

BACKENDS = ("chroma", "qdrant")
MODES = ("legacy", "auto")

_EMBEDDERS: EmbedderSet | None = None


def shared_embedders() -> EmbedderSet:
    """One local embedder set for the whole test session: the model loads once."""
    global _EMBEDDERS
    if _EMBEDDERS is None:
        _EMBEDDERS = EmbedderSet({"default": EmbedderSettings()}, None, section="vectorstore")
    return _EMBEDDERS


def suite_settings(data_dir: Path, **vectorstore: Any) -> Settings:
    """Chroma embedded and Qdrant local under ``data_dir``, plus any other ``vectorstore`` keys."""
    section: dict[str, Any] = {"backends": {"chroma": {"kind": "chroma"}, "qdrant": {"kind": "qdrant"}}, **vectorstore}
    return SuiteSettings(data_dir=data_dir, vectorstore=section)


def service_for(data_dir: Path, **vectorstore: Any) -> VectorService:
    own: VectorstoreSettings = vectorstore_settings(suite_settings(data_dir, **vectorstore))
    return VectorService(own, data_dir, embedders=shared_embedders())


@asynccontextmanager
async def connect(settings: Settings, mode: str = "auto", **client: Any) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode, **client) as session:
        yield session


QUERY_DEFAULTS: dict[str, Any] = {
    "vector": None,
    "top_k": 3,
    "mode": "dense",
    "where": None,
    "score_threshold": None,
    "use_mmr": False,
    "mmr_lambda": 0.5,
    "embedder": None,
    "max_text_chars": 2000,
}
"""The arguments of ``VectorService.query`` besides the backend, the collection and the text."""

ANIMALS = [
    "Cats purr when they are content and sleep most of the day.",
    "Dogs bark at strangers and love to fetch sticks in the park.",
    "A kitten chases a ball of yarn across the living room floor.",
]
FINANCE = [
    "The stock market fell sharply after the central bank raised interest rates.",
    "Bond yields climbed as investors sold government debt.",
]
CODE = ["Python is a programming language with dynamic typing and garbage collection."]
CORPUS = [*ANIMALS, *FINANCE, *CODE]
