"""``ollama_double``: an in-process stand-in for Ollama's REST API, for tests where no Ollama runs.

It reproduces the documented wire behaviour the official client relies on (docs/api.md of Ollama):
``GET /api/version`` and ``/api/tags``; ``POST /api/show`` (``model_info`` with
``<arch>.context_length`` / ``.embedding_length``, ``capabilities``); streamed ``POST /api/generate``
and ``/api/chat`` as NDJSON lines ending with ``done: true`` and the token counts
(``prompt_eval_count``, ``eval_count``), tool calls as ``message.tool_calls`` with object arguments;
images on a chat message as ``images`` (a list of base64 strings, for vision models such as llava,
whose ``capabilities`` list ``vision``; text that is not base64 is refused with 400 ``illegal
base64 data at input byte <n>``, Go's own decoding error); ``POST /api/embed`` (``embeddings``,
``prompt_eval_count``); streamed ``POST /api/pull`` (``pulling manifest``, per-layer
``total``/``completed``, ``success``, or an ``error`` line for an unknown model); ``DELETE /api/delete``; and a 404 ``{"error": "model '<name>' not found"}`` for a model it
lacks. It answers with scripted text (``answers``), so tests can check what reached the client.
It proves the provider speaks this protocol, not that a live Ollama behaves the same.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHAT_MODEL = "llama3.2:1b"
EMBED_MODEL = "nomic-embed-text:latest"
VISION_MODEL = "llava:7b"
VISION_SPEC: dict[str, Any] = {"family": "llama", "capabilities": ["completion", "vision"], "context": 4096}
"""A vision model's entry for ``OllamaDouble.models`` (not served unless a test adds it)."""
BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=")
PULLABLE = {"qwen2.5:0.5b": 3 * 1024 * 1024}


@dataclass
class OllamaDouble:
    models: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            CHAT_MODEL: {"family": "llama", "capabilities": ["completion", "tools"], "context": 131072},
            EMBED_MODEL: {"family": "nomic-bert", "capabilities": ["embedding"], "context": 8192, "dimension": 8},
        }
    )
    images: list[bytes] = field(default_factory=list)
    """The decoded images of every chat message received, in order."""
    answers: list[str] = field(default_factory=list)
    default_answer: str = "Hello from the double."
    tool_call: dict[str, Any] | None = None
    down: bool = False
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    step: anyio.Event | None = None

    def answer(self) -> str:
        return self.answers.pop(0) if self.answers else self.default_answer

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/version", self.version, methods=["GET"]),
                Route("/api/tags", self.tags, methods=["GET"]),
                Route("/api/show", self.show, methods=["POST"]),
                Route("/api/generate", self.generate, methods=["POST"]),
                Route("/api/chat", self.chat, methods=["POST"]),
                Route("/api/embed", self.embed, methods=["POST"]),
                Route("/api/pull", self.pull, methods=["POST"]),
                Route("/api/delete", self.delete, methods=["DELETE"]),
            ]
        )

    async def _body(self, request: Request) -> dict[str, Any]:
        body = json.loads(await request.body() or b"{}")
        self.requests.append((request.url.path, body))
        return body

    def _unavailable(self) -> Response | None:
        if self.down:
            return JSONResponse({"error": "server busy, please try again"}, status_code=503)
        return None

    def _missing(self, name: str) -> Response:
        return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)

    async def version(self, _request: Request) -> Response:
        return self._unavailable() or JSONResponse({"version": "0.5.7"})

    async def tags(self, _request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        rows = [
            {
                "name": name,
                "model": name,
                "modified_at": "2026-11-01T10:00:00Z",
                "size": 1_300_000_000,
                "digest": "sha256:" + "0" * 64,
                "details": {
                    "format": "gguf",
                    "family": spec["family"],
                    "parameter_size": "1B",
                    "quantization_level": "Q4_K_M",
                },
            }
            for name, spec in self.models.items()
        ]
        return JSONResponse({"models": rows})

    async def show(self, request: Request) -> Response:
        body = await self._body(request)
        name = body.get("model") or body.get("name") or ""
        spec = self.models.get(name)
        if spec is None:
            return self._missing(name)
        arch = spec["family"].replace("-", "")
        info: dict[str, Any] = {"general.architecture": arch, f"{arch}.context_length": spec["context"]}
        if "dimension" in spec:
            info[f"{arch}.embedding_length"] = spec["dimension"]
        return JSONResponse(
            {
                "modelfile": "",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": {
                    "format": "gguf",
                    "family": spec["family"],
                    "parameter_size": "1B",
                    "quantization_level": "Q4_K_M",
                },
                "model_info": info,
                "capabilities": spec["capabilities"],
                "modified_at": "2026-11-01T10:00:00Z",
            }
        )

    def _words(self, text: str, limit: int) -> list[str]:
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1].rstrip()
        return words[:limit]

    async def _lines(self, rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        async for row in rows:
            yield (json.dumps(row) + "\n").encode()

    async def generate(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        body = await self._body(request)
        if body.get("model") not in self.models:
            return self._missing(str(body.get("model")))
        limit = int((body.get("options") or {}).get("num_predict") or 128)
        words = self._words(self.answer(), limit)
        prompt_tokens = max(1, len(str(body.get("prompt", ""))) // 4)

        async def rows() -> AsyncIterator[dict[str, Any]]:
            for word in words:
                if self.step is not None:
                    await self.step.wait()
                yield {"model": body["model"], "created_at": "2026-12-03T00:00:00Z", "response": word, "done": False}
            reason = "length" if len(words) >= limit else "stop"
            yield {
                "model": body["model"],
                "response": "",
                "done": True,
                "done_reason": reason,
                "prompt_eval_count": prompt_tokens,
                "eval_count": len(words),
            }

        return StreamingResponse(self._lines(rows()), media_type="application/x-ndjson")

    async def chat(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        body = await self._body(request)
        if body.get("model") not in self.models:
            return self._missing(str(body.get("model")))
        limit = int((body.get("options") or {}).get("num_predict") or 128)
        for message in body.get("messages") or []:
            for image in message.get("images") or []:
                try:
                    self.images.append(base64.b64decode(image, validate=True))
                except (binascii.Error, ValueError):
                    at = next((i for i, c in enumerate(image) if c not in BASE64_ALPHABET), 0)
                    return JSONResponse({"error": f"illegal base64 data at input byte {at}"}, status_code=400)
        prompt_tokens = sum(max(1, len(str(m.get("content", ""))) // 4) for m in body.get("messages") or [])
        call = self.tool_call if body.get("tools") else None
        words = [] if call else self._words(self.answer(), limit)

        async def rows() -> AsyncIterator[dict[str, Any]]:
            for word in words:
                yield {"model": body["model"], "message": {"role": "assistant", "content": word}, "done": False}
            if call is not None:
                yield {
                    "model": body["model"],
                    "message": {"role": "assistant", "content": "", "tool_calls": [{"function": call}]},
                    "done": False,
                }
            yield {
                "model": body["model"],
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": prompt_tokens,
                "eval_count": len(words) or 1,
            }

        return StreamingResponse(self._lines(rows()), media_type="application/x-ndjson")

    async def embed(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        body = await self._body(request)
        name = str(body.get("model"))
        spec = self.models.get(name)
        if spec is None or "dimension" not in spec:
            return self._missing(name)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        rows = [[float((len(t) + i) % 7) + 1.0 for i in range(spec["dimension"])] for t in texts]
        return JSONResponse(
            {"model": name, "embeddings": rows, "prompt_eval_count": sum(len(t.split()) for t in texts)}
        )

    async def pull(self, request: Request) -> Response:
        body = await self._body(request)
        name = str(body.get("model") or body.get("name"))
        size = PULLABLE.get(name)

        async def rows() -> AsyncIterator[dict[str, Any]]:
            yield {"status": "pulling manifest"}
            if size is None:
                yield {"error": "pull model manifest: file does not exist"}
                return
            digest = "sha256:" + "a" * 64
            for done in range(0, size + 1, size // 4):
                yield {"status": f"pulling {digest[7:19]}", "digest": digest, "total": size, "completed": done}
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            self.models[name] = {"family": "qwen2", "capabilities": ["completion"], "context": 32768}
            yield {"status": "success"}

        return StreamingResponse(self._lines(rows()), media_type="application/x-ndjson")

    async def delete(self, request: Request) -> Response:
        body = await self._body(request)
        name = str(body.get("model") or body.get("name"))
        if self.models.pop(name, None) is None:
            return self._missing(name)
        return Response(status_code=200)
