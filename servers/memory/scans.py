"""Exact nearest-row scans, batched: the calls that wait while a scan runs share the next one.

A scan multiplies a namespace's whole matrix by the query. :class:`ScanBatcher` queues the scans
asked for while one is running and runs them together in a worker thread (the product releases
the GIL): from :data:`MIN_PRODUCT` queries of the same matrix on, as one matrix product
(``queries @ rows.T``), which reads the matrix once for all of them; fewer, one by one. Each call
gets the answer its own scan would give: the ``top`` rows by similarity, nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import anyio.to_thread
import numpy as np
import numpy.typing as npt

from servers.kit.carpool import Carpool

MAX_BATCH = 16
"""Queries in one product at most: beyond it the product's output grows past what batching saves."""

MIN_PRODUCT = 4
"""Fewer queries than this are scanned one by one: OpenBLAS's matrix product first copies the whole
matrix, which costs more than two or three matrix-vector products."""

Nearest = tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]


@dataclass(eq=False)
class _Scan:
    rows: npt.NDArray[np.float32]
    query: npt.NDArray[np.float32]
    top: int
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Nearest | None = None
    error: BaseException | None = None


def nearest_rows(scores: npt.NDArray[np.float32], top: int) -> Nearest:
    """The indices of the ``top`` highest ``scores``, highest first, and those scores."""
    count = min(top, scores.shape[0])
    if count <= 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return best, scores[best]


def _run(group: list[_Scan]) -> list[Nearest]:
    """The scans of one matrix (a worker thread's work): one product, or one each below :data:`MIN_PRODUCT`."""
    rows = group[0].rows
    if len(group) < MIN_PRODUCT:
        return [nearest_rows(rows @ scan.query, scan.top) for scan in group]
    scores = np.stack([scan.query for scan in group]) @ rows.T
    return [nearest_rows(scores[i], scan.top) for i, scan in enumerate(group)]


class ScanBatcher:
    """Runs scans one product at a time; scans asked for meanwhile wait and go together
    (a :class:`~servers.kit.carpool.Carpool` of scans)."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self.products = 0  # worker-thread runs, one per matrix per batch
        self.scanned = 0  # queries scanned
        self._pool: Carpool[_Scan] = Carpool(self._run_queued)

    async def nearest(self, rows: npt.NDArray[np.float32], query: npt.NDArray[np.float32], top: int) -> Nearest:
        """The ``top`` rows of ``rows`` nearest ``query`` (unit vectors: by dot product), nearest first."""
        if query.ndim != 1 or rows.ndim != 2 or rows.shape[1] != query.shape[0]:
            raise ValueError(f"a query of shape {query.shape} does not match rows of shape {rows.shape}")
        scan = _Scan(rows, query, top)
        await self._pool.ride(scan)
        assert scan.result is not None
        return scan.result

    async def _run_queued(self, queue: list[_Scan]) -> None:
        taken = queue[: self.max_batch]
        del queue[: self.max_batch]
        groups: dict[int, list[_Scan]] = {}
        for scan in taken:
            groups.setdefault(id(scan.rows), []).append(scan)
        for group in groups.values():
            self.products += 1
            self.scanned += len(group)
            try:
                results = await anyio.to_thread.run_sync(_run, group)
            except Exception as exc:
                for scan in group:
                    scan.error = exc
            else:
                for scan, result in zip(group, results, strict=True):
                    scan.result = result
            for scan in group:
                scan.done.set()
