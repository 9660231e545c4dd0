"""The bundled local embedder, run for real: the ONNX model and its tokenizer from the installed packages."""

from __future__ import annotations

import anyio
import numpy
import pytest

from servers.kit.embedders.base import Embedder, EmbedderIdentity
from servers.kit.embedders.local import SHORT_RUN_TEXTS, LocalEmbedder, usable_cores
from servers.kit.embedders.settings import EmbedderSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def embedder() -> LocalEmbedder:
    local = LocalEmbedder(EmbedderSettings(batch_size=4))
    await local.warm()
    return local


async def test_the_local_embedder_is_cold_until_warmed_and_warm_after() -> None:
    local = LocalEmbedder()
    assert isinstance(local, Embedder)
    assert local.warm_state == "cold"
    await local.warm()
    assert local.warm_state == "warm"
    await local.warm()  # idempotent
    assert local.warm_state == "warm"


async def test_its_identity_is_minilm_with_384_dimensions_before_and_after_warming() -> None:
    local = LocalEmbedder()
    expected = EmbedderIdentity(kind="local", model="all-MiniLM-L6-v2", dimension=384)
    assert local.identity == expected
    await local.warm()
    assert local.identity == expected
    assert expected.label() == "local:all-MiniLM-L6-v2 (384 dims)"


async def test_rows_are_float32_of_unit_length_and_384_wide(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed(["a cat on a mat", "the stock market fell", "x"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == numpy.float32
    numpy.testing.assert_allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_similar_sentences_are_closer_than_unrelated_ones(embedder: LocalEmbedder) -> None:
    cat, kitten, bonds = await embedder.embed(
        [
            "A cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "The central bank raised interest rates on government bonds.",
        ]
    )
    assert float(cat @ kitten) > float(cat @ bonds) + 0.2
    assert float(kitten @ cat) > float(kitten @ bonds) + 0.2


async def test_batching_gives_the_same_vectors_as_one_by_one(embedder: LocalEmbedder) -> None:
    texts = [
        "short",
        "a much longer sentence that needs many more tokens than the others in this batch " * 3,
        "",
        "medium length text about vector databases",
        "émojis and accents: café 🍵",
        "tail",
    ]
    batched = await embedder.embed(texts)  # batch_size 4: two batches, padded to their longest
    single = numpy.vstack([await embedder.embed([text]) for text in texts])
    numpy.testing.assert_allclose(batched, single, atol=1e-5)


async def test_an_empty_list_gives_an_empty_matrix(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == numpy.float32


async def test_an_empty_string_gives_a_unit_vector(embedder: LocalEmbedder) -> None:
    (vector,) = await embedder.embed([""])
    assert vector.shape == (384,)
    assert abs(float(numpy.linalg.norm(vector)) - 1.0) < 1e-5


async def test_a_text_past_256_tokens_is_truncated_not_refused(embedder: LocalEmbedder) -> None:
    long_a = "word " * 300 + "apples"
    long_b = "word " * 300 + "oranges"
    a, b = await embedder.embed([long_a, long_b])
    numpy.testing.assert_allclose(a, b, atol=1e-5)  # what differs lies past the cut


async def test_the_thread_count_defaults_to_the_usable_cores_and_can_be_set() -> None:
    assert LocalEmbedder().threads == usable_cores()
    one = LocalEmbedder(EmbedderSettings(threads=1))
    assert one.threads == 1
    (vector,) = await one.embed(["one thread is enough"])
    (again,) = await LocalEmbedder().embed(["one thread is enough"])
    numpy.testing.assert_allclose(vector, again, atol=1e-5)


async def test_a_short_run_uses_one_thread_and_agrees_with_a_long_run_on_every_thread() -> None:
    two = LocalEmbedder(EmbedderSettings(threads=2))
    assert (two.run_threads(1), two.run_threads(SHORT_RUN_TEXTS), two.run_threads(SHORT_RUN_TEXTS + 1)) == (1, 1, 2)
    texts = [f"sentence {n} about vector search and its ranking" for n in range(SHORT_RUN_TEXTS + 3)]
    long_run = await two.embed(texts)
    short_runs = numpy.vstack([await two.embed([text]) for text in texts])
    numpy.testing.assert_allclose(long_run, short_runs, atol=1e-5)


async def test_an_embed_on_a_cold_embedder_warms_it_first() -> None:
    local = LocalEmbedder()
    vectors = await local.embed(["no warm call before"])
    assert vectors.shape == (1, 384)
    assert local.warm_state == "warm"


async def test_concurrent_calls_and_warms_share_one_model_and_agree_with_sequential_ones() -> None:
    local = LocalEmbedder(EmbedderSettings(batch_size=3))
    texts = [[f"sentence {task} number {index}" for index in range(7)] for task in range(6)]
    results: dict[int, numpy.ndarray] = {}

    async def run(task: int) -> None:
        await local.warm()
        results[task] = await local.embed(texts[task])

    async with anyio.create_task_group() as group:
        for task in range(len(texts)):
            group.start_soon(run, task)
    assert local.warm_state == "warm"
    for task, batch in enumerate(texts):
        numpy.testing.assert_allclose(results[task], await local.embed(batch), atol=1e-5)
