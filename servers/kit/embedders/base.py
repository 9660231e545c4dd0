"""What every embedder is: its identity, its warm state, ``embed`` into unit-length float32 rows.

An :class:`Embedder` turns texts into vectors. Its :class:`EmbedderIdentity` (kind, model,
dimension) is what a vector store pins on a collection: vectors of two identities never meet in
one index. Every failure is an :class:`EmbedderError` whose code says what happened:

* ``embedder_unavailable``: the model could not be loaded, or the endpoint could not be reached
  (refused connection, timeout, a 5xx answer);
* ``embedder_refused``: the endpoint answered with an error (unknown model, bad key, rate limit);
* ``embedding_failed``: an answer came back but is unusable (wrong dimension, wrong count);
* ``unknown_embedder``: a name that no embedder of the server carries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy
import numpy.typing as npt

from servers.kit.tool_errors import CodedToolError

EmbedderKind = Literal["local", "ollama", "openai"]
WarmState = Literal["cold", "warming", "warm", "failed"]
Vectors = npt.NDArray[numpy.float32]


class EmbedderError(CodedToolError):
    """An embedder's failure: ``embedder_unavailable``, ``embedder_refused``, ``embedding_failed``, ``unknown_embedder``."""


@dataclass(frozen=True)
class EmbedderIdentity:
    """Which vector space an embedder writes: what a collection records and checks on every call.

    ``dimension`` is ``0`` for a remote embedder whose dimension is neither configured nor probed yet
    (before its first :meth:`Embedder.warm`).
    """

    kind: EmbedderKind
    model: str
    dimension: int

    def label(self) -> str:
        """``"local:all-MiniLM-L6-v2 (384 dims)"``: how messages and cache keys name the space."""
        return f"{self.kind}:{self.model} ({self.dimension} dims)"

    def same_space(self, other: EmbedderIdentity) -> bool:
        """Whether vectors of ``other`` can be compared with vectors of this identity."""
        return (self.kind, self.model, self.dimension) == (other.kind, other.model, other.dimension)


@runtime_checkable
class Embedder(Protocol):
    """Texts in, L2-normalised float32 rows out; ``warm`` first (``embed`` warms a cold embedder itself)."""

    @property
    def identity(self) -> EmbedderIdentity: ...

    @property
    def warm_state(self) -> WarmState: ...

    async def warm(self) -> None:
        """Load the model or probe the endpoint; idempotent; a failed embedder tries again."""
        ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """``(len(texts), dimension)`` float32, rows of unit length; an empty list gives ``(0, dimension)``."""
        ...

    async def aclose(self) -> None: ...


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """``texts`` in consecutive slices of at most ``size``."""
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def normalised(rows: npt.NDArray[numpy.floating]) -> Vectors:
    """``rows`` as float32 with each row scaled to unit length (a zero row stays zero)."""
    matrix = numpy.asarray(rows, dtype=numpy.float32)
    if matrix.ndim != 2:
        raise ValueError("expected a 2-D array of rows")
    norms = numpy.linalg.norm(matrix, axis=1, keepdims=True)
    out: Vectors = (matrix / numpy.maximum(norms, numpy.float32(1e-12))).astype(numpy.float32, copy=False)
    return out


def empty(dimension: int) -> Vectors:
    """The answer to an empty list of texts."""
    return numpy.zeros((0, dimension), dtype=numpy.float32)
