"""Embedders from settings, and the named set a server holds.

:func:`build_embedder` makes one embedder of the kind its settings name, behind the cache when
one is configured. :class:`EmbedderSet` holds a server's ``embedders:`` map: it picks one by name
(``None`` is the default), finds the one writing a given vector space (:meth:`EmbedderSet.matching`,
how a collection's pinned identity finds its embedder), and warms and closes them all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio

from servers.kit.embedders.base import Embedder, EmbedderError, EmbedderIdentity
from servers.kit.embedders.cache import CachedEmbedder
from servers.kit.embedders.local import LocalEmbedder
from servers.kit.embedders.ollama import OllamaEmbedder
from servers.kit.embedders.openai_compatible import OpenAICompatibleEmbedder
from servers.kit.embedders.settings import EmbedderSettings, EmbeddingCacheSettings

log = logging.getLogger(__name__)


def build_embedder(
    settings: EmbedderSettings,
    cache: EmbeddingCacheSettings | None = None,
    *,
    where: str = "embedders.default",
) -> Embedder:
    """The embedder ``settings`` describe, cached when ``cache`` enables a level.

    ``where`` is the settings' place in the configuration (``vectorstore.embedders.default``):
    error messages name the field to change by it.
    """
    inner: Embedder
    if settings.kind == "local":
        inner = LocalEmbedder(settings)
    elif settings.kind == "ollama":
        inner = OllamaEmbedder(settings, where=where)
    else:
        inner = OpenAICompatibleEmbedder(settings, where=where)
    if cache is not None and (cache.memory_entries > 0 or cache.redis_url is not None):
        return CachedEmbedder(inner, cache)
    return inner


class EmbedderSet:
    """The named embedders of a server, built once from its ``embedders:`` map."""

    def __init__(
        self,
        named: Mapping[str, EmbedderSettings],
        cache: EmbeddingCacheSettings | None,
        default: str = "default",
        *,
        section: str | None = None,
    ) -> None:
        if not named:
            raise ValueError("a server needs at least one embedder")
        if default not in named:
            raise ValueError(f"the default embedder {default!r} is not among {sorted(named)}")
        prefix = f"{section}.embedders" if section else "embedders"
        self.names: list[str] = sorted(named)
        self.default = default
        self.settings: dict[str, EmbedderSettings] = dict(named)
        self._embedders: dict[str, Embedder] = {
            name: build_embedder(item, cache, where=f"{prefix}.{name}") for name, item in named.items()
        }

    def get(self, name: str | None) -> Embedder:
        """The embedder called ``name`` (``None``: the default), or ``unknown_embedder``."""
        key = self.default if name is None else name
        found = self._embedders.get(key)
        if found is None:
            raise EmbedderError(
                "unknown_embedder",
                f"there is no embedder {key!r}; the configured ones are {', '.join(self.names)} "
                f"(default {self.default!r})",
            )
        return found

    def items(self) -> list[tuple[str, Embedder]]:
        return [(name, self._embedders[name]) for name in self.names]

    def matching(self, identity: EmbedderIdentity) -> tuple[str, Embedder] | None:
        """The embedder writing ``identity``'s space (the default first), or ``None``.

        A remote embedder whose dimension is not known yet (not warmed, none configured) matches nothing.
        """
        order = [self.default, *(name for name in self.names if name != self.default)]
        for name in order:
            embedder = self._embedders[name]
            if embedder.identity.same_space(identity):
                return name, embedder
        return None

    async def warm_all(self) -> None:
        """Warm every embedder at once; when any fails, ``embedder_unavailable`` naming each that did.

        The others are warm all the same, and each one's ``warm_state`` tells which is which.
        """
        failures: dict[str, EmbedderError] = {}

        async def warm(name: str, embedder: Embedder) -> None:
            try:
                await embedder.warm()
            except EmbedderError as exc:
                failures[name] = exc

        async with anyio.create_task_group() as group:
            for name, embedder in self.items():
                group.start_soon(warm, name, embedder)
        if failures:
            for name, exc in sorted(failures.items()):
                log.warning("embedder %s failed to warm: %s", name, exc)
            if len(failures) == 1:
                raise next(iter(failures.values()))
            text = "; ".join(f"{name}: {exc}" for name, exc in sorted(failures.items()))
            raise EmbedderError("embedder_unavailable", f"{len(failures)} embedders failed to warm: {text}")

    async def aclose(self) -> None:
        for _name, embedder in self.items():
            try:
                await embedder.aclose()
            except Exception:  # one embedder's failed close must not leak the others' clients
                log.warning("closing an embedder failed", exc_info=True)
