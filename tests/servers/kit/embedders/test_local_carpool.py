"""Small embedding calls that arrive while the local model is busy share its next run."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio
import numpy
import pytest

from servers.kit.embedders.base import EmbedderError
from servers.kit.embedders.local import LocalEmbedder, _Carpool
from servers.kit.embedders.settings import EmbedderSettings

pytestmark = pytest.mark.anyio


class GatedModel:
    """A stand-in for the model run: records each batch and, when gated, waits for the test to open it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate: anyio.Event | None = None
        self.started = anyio.Event()

    async def run(self, texts: Sequence[str]) -> numpy.ndarray:
        self.batches.append(list(texts))
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if any(text == "boom" for text in texts):
            raise EmbedderError("embedding_failed", "the model failed on this batch")
        return numpy.array([[float(len(text)), 1.0] for text in texts], dtype=numpy.float32)


async def test_calls_made_while_the_model_runs_share_one_run_and_get_their_own_rows() -> None:
    model = GatedModel()
    model.gate = anyio.Event()
    pool = _Carpool(model.run, batch_size=32)
    results: dict[int, numpy.ndarray] = {}

    async def call(index: int) -> None:
        results[index] = await pool.embed(["x" * (index + 1)])

    async with anyio.create_task_group() as group:
        group.start_soon(call, 0)
        await model.started.wait()  # the first call's run is in progress
        for index in range(1, 6):
            group.start_soon(call, index)
        await anyio.wait_all_tasks_blocked()
        model.gate.set()
    assert model.batches == [["x"], ["xx", "xxx", "xxxx", "xxxxx", "xxxxxx"]]
    assert {i: results[i][0][0] for i in results} == {i: float(i + 1) for i in range(6)}


async def test_a_shared_run_never_exceeds_the_batch_size() -> None:
    model = GatedModel()
    model.gate = anyio.Event()
    pool = _Carpool(model.run, batch_size=4)
    async with anyio.create_task_group() as group:
        group.start_soon(pool.embed, ["first"])
        await model.started.wait()
        for index in range(6):
            group.start_soon(pool.embed, [f"t{index}a", f"t{index}b"])
        await anyio.wait_all_tasks_blocked()
        model.gate.set()
    assert [len(batch) for batch in model.batches] == [1, 4, 4, 4]


async def test_a_failed_run_fails_every_call_in_it_and_no_other() -> None:
    model = GatedModel()
    model.gate = anyio.Event()
    pool = _Carpool(model.run, batch_size=2)
    outcomes: dict[str, str] = {}

    async def call(text: str) -> None:
        try:
            await pool.embed([text])
            outcomes[text] = "ok"
        except EmbedderError as exc:
            outcomes[text] = exc.code

    async with anyio.create_task_group() as group:
        group.start_soon(call, "first")
        await model.started.wait()
        for text in ("boom", "shares-with-boom", "later"):
            group.start_soon(call, text)
        await anyio.wait_all_tasks_blocked()
        model.gate.set()
    assert outcomes == {
        "first": "ok",
        "boom": "embedding_failed",
        "shares-with-boom": "embedding_failed",
        "later": "ok",
    }


async def test_a_caller_cancelled_while_it_drives_still_finishes_the_run_for_the_others() -> None:
    model = GatedModel()
    first_gate = model.gate = anyio.Event()
    pool = _Carpool(model.run, batch_size=8)
    results: dict[str, numpy.ndarray] = {}
    driving = anyio.CancelScope()

    async def call(text: str) -> None:
        results[text] = await pool.embed([text])

    async def cancelled_driver() -> None:
        with driving:
            results["b"] = await pool.embed(["b"])

    with anyio.fail_after(30):  # a rider stranded by its driver's cancellation would wait for ever
        await _drive_and_cancel(model, call, cancelled_driver, driving, first_gate)
    assert model.batches == [["a"], ["b", "cc"]]  # the run went on to its end, and was not made twice
    assert results["cc"][0][0] == 2.0


async def _drive_and_cancel(
    model: GatedModel,
    call: Callable[[str], Coroutine[Any, Any, None]],
    cancelled_driver: Callable[[], Coroutine[Any, Any, None]],
    driving: anyio.CancelScope,
    first_gate: anyio.Event,
) -> None:
    async with anyio.create_task_group() as group:
        group.start_soon(call, "a")
        await model.started.wait()
        group.start_soon(cancelled_driver)
        group.start_soon(call, "cc")
        await anyio.wait_all_tasks_blocked()
        second_gate = model.gate = anyio.Event()
        first_gate.set()  # "a" is done; "b"'s caller, first in line, drives the run of "b" and "cc"
        await anyio.wait_all_tasks_blocked()
        assert model.batches == [["a"], ["b", "cc"]]
        driving.cancel()  # while that run waits on the second gate
        await anyio.wait_all_tasks_blocked()
        second_gate.set()


async def test_a_caller_cancelled_while_it_waits_leaves_the_queue_before_its_run() -> None:
    model = GatedModel()
    model.gate = anyio.Event()
    pool = _Carpool(model.run, batch_size=8)
    async with anyio.create_task_group() as group:
        group.start_soon(pool.embed, ["a"])
        await model.started.wait()
        with anyio.CancelScope() as waiting:
            waiting.cancel()
            await pool.embed(["gone"])
        group.start_soon(pool.embed, ["kept"])
        await anyio.wait_all_tasks_blocked()
        model.gate.set()
    assert model.batches == [["a"], ["kept"]]


async def test_the_local_model_gives_the_same_vectors_shared_or_alone() -> None:
    local = LocalEmbedder(EmbedderSettings())
    await local.warm()
    texts = [f"query number {index} about {topic}" for index, topic in enumerate(["cats", "tax", "rust", "tea"] * 2)]
    alone = [await local.embed([text]) for text in texts]
    before = local.model_runs
    shared: dict[int, numpy.ndarray] = {}

    async def call(index: int) -> None:
        shared[index] = await local.embed([texts[index]])

    async with anyio.create_task_group() as group:
        for index in range(len(texts)):
            group.start_soon(call, index)
    assert local.model_runs - before < len(texts)  # some calls shared a run
    for index, vector in enumerate(alone):
        numpy.testing.assert_allclose(shared[index], vector, atol=1e-5)
