"""What the embedder tests share: a closed port and a counting wrapper."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from servers.kit.embedders.base import Embedder, EmbedderIdentity, Vectors, WarmState


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Counting:
    """Passes everything to ``inner`` and counts the texts it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.calls: list[list[str]] = []

    @property
    def identity(self) -> EmbedderIdentity:
        return self.inner.identity

    @property
    def warm_state(self) -> WarmState:
        return self.inner.warm_state

    async def warm(self) -> None:
        await self.inner.warm()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return await self.inner.embed(texts)

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def texts_embedded(self) -> int:
        return sum(len(call) for call in self.calls)
