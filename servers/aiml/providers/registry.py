"""The configured providers, built by kind, and their health answers reused for a few seconds."""

from __future__ import annotations

import time
from pathlib import Path

from servers.aiml.providers.base import Health, Provider
from servers.aiml.settings import AimlSettings
from servers.kit.embedders.factory import EmbedderSet


def build_provider(name: str, settings: AimlSettings, data_dir: Path, embedders: EmbedderSet | None) -> Provider:
    own = settings.providers[name]
    if own.kind == "local":
        from servers.aiml.providers.local.provider import LocalProvider

        return LocalProvider(name, own, data_dir, embedders)
    if own.kind == "openai":
        from servers.aiml.providers.openai.provider import OpenAIProvider

        return OpenAIProvider(name, own)
    from servers.aiml.providers.ollama.provider import OllamaProvider

    return OllamaProvider(name, own)


class HealthCache:
    """Each provider's last health answer, asked again once ``health_ttl_seconds`` have passed."""

    def __init__(self, providers: dict[str, Provider]) -> None:
        self.providers = providers
        self._seen: dict[str, tuple[float, Health]] = {}

    async def health(self, name: str) -> Health:
        provider = self.providers[name]
        if provider.kind == "local":  # its state is in memory: always current, never cached
            return await provider.health()
        seen = self._seen.get(name)
        now = time.monotonic()
        if seen is not None and now - seen[0] < provider.settings.health_ttl_seconds:
            return seen[1]
        answer = await provider.health()
        self._seen[name] = (time.monotonic(), answer)
        return answer

    def forget(self, name: str) -> None:
        """Ask again next time: a call just found the provider down (or back)."""
        self._seen.pop(name, None)
