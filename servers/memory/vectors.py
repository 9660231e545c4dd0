"""Observation vectors for ``recall``: embedded after the write, searched from an in-process matrix.

Writes do not wait for the model: :class:`ObservationEmbedder` embeds observations that have no
vector yet, in batches, beside the serving (woken by each write, and every
:data:`POLL_SECONDS` for what other instances wrote), and stores the vectors with them. Until an
observation has its vector, ``recall`` finds it by keyword. :class:`VectorIndex` keeps one matrix
per namespace, extended with the rows added since it last looked; a hit is shown only if the
observation is still current (superseded, deleted and expired ones are checked against the
store when hits are read). Its scans are exact, batched with the scans asked for meanwhile
(:mod:`servers.memory.scans`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anyio
import numpy as np
import numpy.typing as npt

from servers.kit.embedders.base import EmbedderError
from servers.kit.embedders.factory import EmbedderSet
from servers.memory.scans import ScanBatcher
from servers.memory.store.base import GraphStore

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
REFRESH_ROWS = 20_000


@dataclass
class _Matrix:
    ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entities: list[str] = field(default_factory=list)
    rows: npt.NDArray[np.float32] | None = None
    last_id: int = 0


class VectorIndex:
    """Per namespace, the vectors of its observations, nearest first by cosine (vectors are unit length)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._matrices: dict[str, _Matrix] = {}
        self._lock = anyio.Lock()
        self._scans = ScanBatcher()

    async def refresh(self, namespace: str) -> _Matrix:
        async with self._lock:
            matrix = self._matrices.setdefault(namespace, _Matrix())
            while True:
                rows = await self.store.vectors_since(namespace, matrix.last_id, REFRESH_ROWS)
                if not rows:
                    return matrix
                block = np.stack([np.frombuffer(vector, dtype=np.float32) for _, _, vector in rows])
                if matrix.rows is not None and block.shape[1] != matrix.rows.shape[1]:
                    matrix = self._matrices[namespace] = _Matrix()  # the model changed: start over
                    continue
                matrix.rows = block if matrix.rows is None else np.vstack([matrix.rows, block])
                matrix.ids = np.concatenate([matrix.ids, np.array([r[0] for r in rows], dtype=np.int64)])
                matrix.entities.extend(r[1] for r in rows)
                matrix.last_id = rows[-1][0]

    async def nearest(self, namespace: str, query: npt.NDArray[np.float32], top: int) -> list[tuple[int, str, float]]:
        """(observation id, entity, similarity) of the ``top`` nearest observations."""
        matrix = await self.refresh(namespace)
        rows, ids, entities = matrix.rows, matrix.ids, matrix.entities  # one consistent view for the worker
        if rows is None or rows.shape[1] != query.shape[0]:
            return []
        best, scores = await self._scans.nearest(rows, query, top)
        return [(int(ids[i]), entities[i], float(s)) for i, s in zip(best.tolist(), scores.tolist(), strict=True)]


class ObservationEmbedder:
    """Embeds the observations that have no vector, a batch at a time, with the default embedder."""

    def __init__(self, store: GraphStore, embedders: EmbedderSet, batch_size: int) -> None:
        self.store = store
        self.embedders = embedders
        self.batch_size = batch_size
        self.wake = anyio.Event()
        self.failed: str | None = None

    def written(self) -> None:
        self.wake.set()

    async def embed_pending(self) -> int:
        """Embed one batch of what is pending; the number embedded (0: nothing was pending)."""
        pending = await self.store.pending_embeddings(self.batch_size)
        if not pending:
            return 0
        vectors = await self.embedders.get(None).embed([text for _, text in pending])
        await self.store.store_embeddings(
            [(oid, np.asarray(vectors[i], dtype=np.float32).tobytes()) for i, (oid, _) in enumerate(pending)]
        )
        return len(pending)

    async def run(self) -> None:
        """Embed until cancelled; a failing embedder is logged and retried at the next wake-up."""
        while True:
            try:
                while await self.embed_pending():
                    pass
                self.failed = None
            except EmbedderError as exc:
                if self.failed != str(exc):
                    log.warning("memory: embedding observations failed: %s", exc)
                self.failed = str(exc)
            with anyio.move_on_after(POLL_SECONDS):
                await self.wake.wait()
            self.wake = anyio.Event()
