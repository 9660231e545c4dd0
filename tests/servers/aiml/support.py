"""Helpers for the aiml tests: settings over the bundled model (assembled once), a shared embedder, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from mesh.config import Settings
from servers.aiml.server import build_server
from servers.aiml.service import AimlService
from servers.aiml.settings import aiml_settings
from servers.kit.embedders.factory import EmbedderSet
from servers.kit.embedders.settings import EmbedderSettings
from suite.settings import SuiteSettings
from tests.support.tool_results import data as data
from tests.support.tool_results import text_of as text_of

MODES = ("legacy", "auto")
LOCAL = "local/gemma3-270m"

_EMBEDDERS: EmbedderSet | None = None


def shared_embedders() -> EmbedderSet:
    """One local embedder set for the whole session: the ONNX model loads once."""
    global _EMBEDDERS
    if _EMBEDDERS is None:
        _EMBEDDERS = EmbedderSet({"default": EmbedderSettings()}, None, section="aiml")
    return _EMBEDDERS


def suite_settings(data_dir: Path, model_path: Path, **aiml: Any) -> Settings:
    """The local provider on ``model_path`` (the Llama is loaded once per process and path), plus ``aiml`` keys."""
    providers = {"local": {"kind": "local", "model_path": str(model_path), "context_length": 1024, "threads": 1}}
    providers.update(aiml.pop("providers", {}))
    return SuiteSettings(data_dir=data_dir, aiml={"providers": providers, **aiml})


def service_for(settings: Settings) -> AimlService:
    return AimlService(aiml_settings(settings), settings.data_dir, embedders=shared_embedders())


@asynccontextmanager
async def connect(settings: Settings, mode: str = "auto", **client: Any) -> AsyncIterator[Client]:
    service = service_for(settings)
    async with Client(build_server(settings, service), mode=mode, **client) as session:
        yield session
