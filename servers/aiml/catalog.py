"""The models of every provider, as the read tools and ``model://`` resources show them."""

from __future__ import annotations

from servers.aiml.errors import AimlError
from servers.aiml.models import ModelInfo, ProviderHealth
from servers.aiml.providers.base import ModelCard
from servers.aiml.routing import split
from servers.aiml.service import AimlService


def uri_of(provider: str, model: str) -> str:
    return f"model://{provider}/{model}"


def info_of(card: ModelCard) -> ModelInfo:
    return ModelInfo(
        provider=card.provider,
        name=card.name,
        uri=uri_of(card.provider, card.name),
        kind=card.kind,
        capabilities=list(card.capabilities),
        context_length=card.context_length,
        dimension=card.dimension,
        details=card.details,
    )


async def provider_health(service: AimlService) -> list[ProviderHealth]:
    rows = []
    for name in sorted(service.providers):
        health = await service.health.health(name)
        rows.append(
            ProviderHealth(name=name, kind=service.providers[name].kind, healthy=health.ok, detail=health.detail)
        )
    return rows


async def all_models(service: AimlService, provider: str | None = None) -> list[ModelInfo]:
    """The models of the healthy providers (one provider when named), sorted by provider and name."""
    names = [provider] if provider else sorted(service.providers)
    found: list[ModelInfo] = []
    for name in names:
        service.provider(name)
        if not (await service.health.health(name)).ok:
            continue
        try:
            cards = await service.providers[name].models()
        except AimlError:
            continue  # went down between the health answer and the listing: readiness reports it
        found.extend(info_of(card) for card in cards)
    return sorted(found, key=lambda m: (m.provider, m.name))


async def show(service: AimlService, name: str) -> ModelInfo:
    """One model by ``<provider>/<model>`` or alias (its first candidate the allow-list admits)."""
    first = service.resolve(name, name, "anonymous")[0] if "/" not in name else split(name)
    return info_of(await service.provider(first.provider).show(first.model))
