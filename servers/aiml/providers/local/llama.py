"""The bundled generator: one ``llama_cpp.Llama`` per model file and process, loaded once, used by one call at a time.

llama.cpp keeps one KV cache per ``Llama``, so generations run one after another (an anyio lock);
each already uses every core it was given. A streamed completion pulls its tokens one at a time in a
worker thread, so the event loop stays free and a cancelled call stops at the next token: the
generator is closed, which ends llama.cpp's loop.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import anyio

from servers.aiml.errors import AimlError
from servers.aiml.providers.base import Delta, Done, Event, GenerationOptions

log = logging.getLogger(__name__)

_LOADED: dict[tuple[str, int, int], Any] = {}
_LOAD_LOCK = threading.Lock()


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def load_llama(path: Path, context_length: int, threads: int) -> Any:
    """The process's ``Llama`` for ``path`` (loaded on first call, under a lock).

    Raises:
        AimlError: ``model_unavailable`` when llama-cpp-python is missing or the file does not load.
    """
    key = (str(path), context_length, threads)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            from llama_cpp import Llama
        except ImportError:
            raise AimlError(
                "model_unavailable",
                "llama-cpp-python is not installed: `make up` builds it (see docs/servers/aiml.md)",
            ) from None
        try:
            llama = Llama(model_path=str(path), n_ctx=context_length, n_threads=threads, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise AimlError("model_unavailable", f"the model {path.name} did not load: {exc}") from None
        _LOADED[key] = llama
        return llama


class LlamaRunner:
    """Streamed completions on one loaded ``Llama``, one at a time."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self._turn = anyio.Lock()
        self.context_length = int(llama.n_ctx())
        self.active = 0

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=True))

    async def stream(self, prompt: str, options: GenerationOptions) -> AsyncGenerator[Event, None]:
        async with self._turn:
            prompt_tokens = await anyio.to_thread.run_sync(self.count_tokens, prompt)
            room = self.context_length - prompt_tokens
            if room <= 0:
                raise AimlError(
                    "input_too_long",
                    f"the prompt is {prompt_tokens} tokens and the model's context is {self.context_length}: shorten it",
                )
            chunks: Iterator[dict[str, Any]] = self.llama.create_completion(
                prompt,
                max_tokens=min(options.max_tokens, room),
                temperature=options.temperature,
                stop=list(options.stop) or None,
                stream=True,
            )
            produced = 0
            finish = "length"
            self.active += 1
            try:
                while True:
                    chunk = await anyio.to_thread.run_sync(next, chunks, None)
                    if chunk is None:
                        break
                    choice = chunk["choices"][0]
                    if choice.get("text"):
                        produced += 1
                        yield Delta(text=choice["text"])
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
                yield Done(prompt_tokens=prompt_tokens, completion_tokens=produced, finish_reason=finish)
            finally:
                # Closing the generator ends llama.cpp's loop; it runs in a thread as its last step may compute.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_close, chunks)
                self.active -= 1


def _close(chunks: Iterator[dict[str, Any]]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
