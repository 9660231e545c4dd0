"""Exact nearest-row scans: the same answer alone or batched, scans asked for meanwhile sharing a product."""

from __future__ import annotations

import anyio
import numpy as np
import numpy.typing as npt
import pytest

from servers.memory.scans import MIN_PRODUCT, ScanBatcher, nearest_rows

pytestmark = pytest.mark.anyio


def unit_rows(count: int, dimension: int = 32, seed: int = 7) -> npt.NDArray[np.float32]:
    rows = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def exact(rows: npt.NDArray[np.float32], query: npt.NDArray[np.float32], top: int) -> list[int]:
    return [int(i) for i in np.argsort(-(rows @ query), kind="stable")[:top]]


async def test_a_scan_answers_the_nearest_rows_nearest_first() -> None:
    rows, queries = unit_rows(500), unit_rows(3, seed=8)
    batcher = ScanBatcher()
    for query in queries:
        best, scores = await batcher.nearest(rows, query, 10)
        assert best.tolist() == exact(rows, query, 10)
        assert scores.tolist() == sorted(scores.tolist(), reverse=True)
        assert np.allclose(scores, rows[best] @ query)


async def test_scans_asked_for_while_one_runs_share_one_product_and_get_their_own_answers() -> None:
    rows, queries = unit_rows(2_000), unit_rows(MIN_PRODUCT + 2, seed=9)
    batcher = ScanBatcher()
    answers: dict[int, list[int]] = {}

    async def scan(index: int) -> None:
        best, _ = await batcher.nearest(rows, queries[index], 5)
        answers[index] = best.tolist()

    async with anyio.create_task_group() as group:
        for index in range(len(queries)):
            group.start_soon(scan, index)
    assert batcher.products == 2  # the first alone, then everyone who queued behind it
    assert answers == {i: exact(rows, q, 5) for i, q in enumerate(queries)}


async def test_scans_of_different_matrices_are_never_mixed() -> None:
    first, second, query = unit_rows(300, seed=1), unit_rows(300, seed=2), unit_rows(1, seed=3)[0]
    batcher = ScanBatcher()
    answers: dict[str, list[int]] = {}

    async def scan(name: str, rows: npt.NDArray[np.float32]) -> None:
        answers[name] = (await batcher.nearest(rows, query, 3))[0].tolist()

    async with anyio.create_task_group() as group:
        for index in range(MIN_PRODUCT):
            group.start_soon(scan, f"first-{index}", first)
            group.start_soon(scan, f"second-{index}", second)
    assert {answers[f"first-{i}"] == exact(first, query, 3) for i in range(MIN_PRODUCT)} == {True}
    assert {answers[f"second-{i}"] == exact(second, query, 3) for i in range(MIN_PRODUCT)} == {True}


async def test_a_scan_cancelled_while_it_waits_leaves_the_queue_and_the_others_are_answered() -> None:
    rows, queries = unit_rows(1_000), unit_rows(3, seed=4)
    batcher = ScanBatcher()
    answers: dict[int, list[int]] = {}
    doomed = anyio.CancelScope()

    async def scan(index: int) -> None:
        answers[index] = (await batcher.nearest(rows, queries[index], 4))[0].tolist()

    async def doomed_scan() -> None:
        with doomed:
            await scan(1)

    async def cancel() -> None:
        doomed.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(scan, 0)  # runs first: takes the queue and scans in a worker thread
        group.start_soon(doomed_scan)  # queues behind it
        group.start_soon(cancel)
        group.start_soon(scan, 2)
    assert doomed.cancelled_caught and 1 not in answers
    assert answers == {0: exact(rows, queries[0], 4), 2: exact(rows, queries[2], 4)}
    assert batcher.scanned == 2 and not batcher._pool.waiting  # the cancelled scan was not run for nobody


async def test_asking_for_more_rows_than_there_are_answers_them_all_and_none_answers_none() -> None:
    rows, query = unit_rows(6), unit_rows(1, seed=5)[0]
    batcher = ScanBatcher()
    assert sorted((await batcher.nearest(rows, query, 50))[0].tolist()) == list(range(6))
    assert (await batcher.nearest(rows, query, 0))[0].tolist() == []
    assert nearest_rows(np.zeros(0, dtype=np.float32), 3)[0].tolist() == []


async def test_a_query_of_another_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        await ScanBatcher().nearest(unit_rows(10, dimension=32), unit_rows(1, dimension=16)[0], 3)
